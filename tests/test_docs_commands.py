"""Every ``featherface VERB ...`` command quoted in README.md and docs/*.md parses.

The docs are what newcomers copy; this keeps them from drifting from the CLI. Commands are taken
from fenced code blocks (line continuations joined, comments dropped) and from inline code spans,
then handed to the real argparse parser (parse only: nothing runs)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from featherface.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# "featherface VERB" or "python -m featherface.cli VERB" (torchrun); the verb is checked afterwards
_START = re.compile(r"(?<![\w./\[-])featherface(?:\.cli)?\s+(?=[a-z])")
_STOP_TOKENS = {"|", "||", "&&", ";", ">", ">>", "2>", "&"}


def _fenced_lines(text: str) -> list[str]:
    """The logical lines of every fenced code block but Python ones (``\\`` continuations joined)."""
    lines: list[str] = []
    fence: str | None = None
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            fence = None if fence is not None else (raw.strip()[3:].strip() or "text")
            pending = ""
            continue
        if fence is None or fence == "python":
            continue
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return lines


def _inline_spans(text: str) -> list[str]:
    """Inline code spans outside fences (a span may wrap onto the next line, as markdown allows)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


ELIDED = "..."  # a placeholder in the docs: "the rest", or a value when it follows an option


def _argv(fragment: str) -> list[str] | None:
    """The argv after ``featherface`` in ``fragment`` (``...`` kept as :data:`ELIDED`), or None
    when it quotes no verb."""
    m = _START.search(fragment)
    if m is None or re.search(r"\b(from|import)\s+featherface", fragment):
        return None
    try:
        tokens = shlex.split(fragment[m.end():], comments=True)
    except ValueError:  # an unbalanced quote in prose: take the plain words
        tokens = fragment[m.end():].split()
    argv: list[str] = []
    for tok in tokens:
        if tok in _STOP_TOKENS:
            break
        if tok in ("...", "…"):
            tok = ELIDED
        tok = tok.strip("[]") if tok.startswith("[") or tok.endswith("]") and "=" not in tok else tok
        if tok:
            argv.append(tok)
    return argv or None


def documented_commands() -> list[tuple[str, list[str], bool]]:
    """``(where, argv, whole)`` of every quoted command, deduplicated; ``whole``: a code block's
    line without ``...``, which must parse as it stands (an inline span may quote a verb's flag
    without the verb's required arguments)."""
    seen: set[tuple[str, ...]] = set()
    found: list[tuple[str, list[str], bool]] = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        fragments = [(f, True) for f in _fenced_lines(text)] + [(f, False) for f in _inline_spans(text)]
        for fragment, fenced in fragments:
            argv = _argv(fragment)
            if argv is None or tuple(argv) in seen:
                continue
            seen.add(tuple(argv))
            found.append((f"{path.relative_to(ROOT)}: featherface {' '.join(argv)}", argv,
                          fenced and ELIDED not in argv))
    return found


COMMANDS_IN_DOCS = documented_commands()


def _option(verb_parser: argparse.ArgumentParser, token: str) -> argparse.Action | None:
    """The action ``token`` names (exactly, or as argparse's unambiguous prefix)."""
    if not token.startswith("-") or len(token) < 2:
        return None
    name = token.split("=", 1)[0]
    actions = verb_parser._option_string_actions
    if name in actions:
        return actions[name]
    matches = {a for opt, a in actions.items() if opt.startswith(name) and name.startswith("--")}
    return matches.pop() if len(matches) == 1 else None


def _placeholder(action: argparse.Action) -> str:
    """A value the option accepts, for a ``...`` that stands for its value."""
    if action.choices:
        return str(next(iter(action.choices)))
    for candidate in ("1", "0.5", "x"):
        try:
            if action.type is None or action.type(candidate) is not None:
                return candidate
        except Exception:
            continue
    return "x"


def _concrete(verb_parser: argparse.ArgumentParser, argv: list[str], whole: bool) -> list[str]:
    """``argv`` with each ``...`` replaced by a value (after an option taking one) or dropped, and,
    in an inline span, a last option without its value checked and dropped."""
    out: list[str] = []
    for tok in argv:
        if tok == ELIDED:
            prev = _option(verb_parser, out[-1]) if out and "=" not in out[-1] else None
            if prev is not None and prev.nargs != 0:
                out.append(_placeholder(prev))
            continue
        out.append(tok)
    if not whole and len(out) > 1:
        last = _option(verb_parser, out[-1])
        assert out[-1][:1] != "-" or last is not None, f"featherface {out[0]} has no option {out[-1]}"
        if last is not None and last.nargs != 0 and "=" not in out[-1]:
            out.pop()
    return out


def test_the_docs_quote_commands_of_most_verbs() -> None:
    verbs = {argv[0] for _, argv, _ in COMMANDS_IN_DOCS}
    assert len(COMMANDS_IN_DOCS) > 50
    assert verbs >= {"detect", "blur", "crop", "serve", "train", "eval", "export", "ablate"}


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


@pytest.mark.parametrize("where,argv,whole", COMMANDS_IN_DOCS, ids=[w for w, _, _ in COMMANDS_IN_DOCS])
def test_documented_command_parses(parser: argparse.ArgumentParser, where: str, argv: list[str],
                                   whole: bool) -> None:
    assert argv[0] in COMMANDS, f"{where}: '{argv[0]}' is not a featherface verb"
    verb_parser = parser._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
    args = _concrete(verb_parser, argv, whole)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            message = err.getvalue().strip()
            if not whole and "the following arguments are required" in message:
                return  # a flag quoted in prose, or an elided command: its flags parsed
            pytest.fail(f"{where}\n  exit {exc.code}: {message}")


def test_the_check_catches_a_drifted_flag(parser: argparse.ArgumentParser) -> None:
    """The extraction sees fenced, continued and inline commands, and a flag a verb lacks fails."""
    text = ("```bash\nfeatherface detect a.jpg \\\n    --no-such-flag 1   # comment\n```\n"
            "```python\nfrom featherface import FaceDetector\n```\n"
            "prose `featherface blur --mode pixelate` and `featherface crop --size`\n")
    fenced = [_argv(f) for f in _fenced_lines(text)]
    inline = [_argv(f) for f in _inline_spans(text)]
    assert fenced == [["detect", "a.jpg", "--no-such-flag", "1"]]  # the Python block is skipped
    assert inline == [["blur", "--mode", "pixelate"], ["crop", "--size"]]
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        parser.parse_args(fenced[0])

"""The ``featherface`` command: one entry point with verbs (detect, info, list, train, eval, ...).

Each verb lives in ``featherface/commands/<verb>.py`` and exposes ``add_parser(subparsers)``,
which registers its options and sets ``func=run``; ``run(args) -> int`` returns the exit code.
Verbs are imported lazily so ``featherface --help`` stays fast and one broken optional dependency
(say onnxruntime) does not take the other verbs down.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings
from typing import Any, NoReturn, Sequence

from featherface import __version__
from featherface.errors import FeatherFaceError

# verb -> module under featherface.commands
COMMANDS: dict[str, str] = {
    "detect": "detect",
    "info": "info",
    "list": "list_models",
    "eval": "evaluate",
    "train": "train",
    "export": "export",
    "bench": "bench",
    "compare": "compare",
    "autolabel": "autolabel",
    "serve": "serve",
    "blur": "blur",
    "crop": "crop",
    "ablate": "ablate",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``featherface VERB: error: argument --x: ...`` and exit 2
    (the usage block argparse prints first is noise next to the one line that matters; ``-h``
    shows it)."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


# optional packages -> the extra that installs them
OPTIONAL_EXTRAS: dict[str, str] = {
    "onnx": "onnx", "onnxruntime": "onnx", "onnxscript": "onnx", "matplotlib": "plot", "tensorboard": "train",
    "PIL": "dev", "scipy": "dev",
    "starlette": "serve", "uvicorn": "serve", "multipart": "serve", "python_multipart": "serve",
    "prometheus_client": "serve", "motpy": "track", "filterpy": "track",
}


def _one_line(text: str) -> str:
    """A message as one line: newlines (a path holding one, a YAML error's context) are escaped."""
    text = str(text).strip()
    return text.replace("\r", "\\r").replace("\n", "\\n") if ("\n" in text or "\r" in text) else text


def expected_error(exc: BaseException) -> str | None:
    """The one-line message of an expected failure (exit 2), or ``None`` for a bug (exit 1).

    Expected: our own :class:`FeatherFaceError` subclasses; ``OSError`` (a path the user named is
    missing, unreadable, full, read-only...); a missing optional package; running out of memory."""
    if isinstance(exc, FeatherFaceError):
        return str(exc)
    if isinstance(exc, ImportError):
        name = (getattr(exc, "name", None) or "").split(".")[0]
        if name in OPTIONAL_EXTRAS:
            return (f"this needs the optional package '{name}', which is not installed: "
                    f"pip install 'featherface[{OPTIONAL_EXTRAS[name]}]' (or pip install {name})")
        return None
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename is not None and exc.filename2 is not None:
            return f"{exc.filename} -> {exc.filename2}: {why}"
        if exc.filename is not None:
            return f"{exc.filename}: {why}"
        return why
    if isinstance(exc, MemoryError):
        return "out of memory" + (f" ({exc})" if str(exc) else "") + ": use smaller inputs or batches"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="featherface",
        description="FeatherFace V2 Ultra / V1 face detection: detect, train, evaluate, export, benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"featherface {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also accepted after the verb)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"featherface.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("featherface.commands."):
                continue  # verb not built yet
            raise
        mod.add_parser(sub, verb)
    for verb_parser in sub.choices.values():
        verb_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                 help="show the full traceback of an error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Exit codes: 0 done; 1 some inputs failed (the verb says which) or an
    unexpected error (a bug: one line, the traceback with ``--debug``); 2 a usage or expected
    error (one line ``featherface VERB: error: ...``); 130 interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prog = f"featherface {args.command}"
    debug = bool(getattr(args, "debug", False))
    def show_warning(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None,
                     line: Any = None) -> None:
        print(f"{prog}: warning: {_one_line(str(message))}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning  # one line per warning, without the source line
            if hasattr(args, "open_timeout"):  # a verb that reads videos and streams (detect, blur, crop)
                from featherface.commands.media import apply_source_args

                apply_source_args(args)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # the error boundary: one line, never a traceback unless --debug
        message = expected_error(exc)
        if debug:
            traceback.print_exc()
        if message is not None:
            print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)
            return 2
        first = _one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"{prog}: internal error: {type(exc).__name__}" + (f": {first}" if first else "") + hint,
              file=sys.stderr)
        return 1
    finally:
        if hasattr(args, "open_timeout"):
            from featherface.io.sources import set_default_timeouts

            set_default_timeouts(None)  # a later in-process run starts afresh


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

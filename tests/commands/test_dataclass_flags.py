"""One dataclass-to-flags mechanism (issue 29): featherface.commands.dataclass_flags builds the
generated flags of every verb (detector options, blur, crop, train)."""

from __future__ import annotations

import argparse
import inspect
from dataclasses import dataclass

import pytest

from featherface.commands import options, train
from featherface.commands.argtypes import unit_float
from featherface.commands.dataclass_flags import FieldFlag, add_dataclass_flags, flag_name, show_default


@dataclass(frozen=True)
class _Opts:
    score: float = 0.25
    size_px: int = 112
    mode: str = "a"
    fast: bool = False
    steps: tuple[float, ...] = (0.5, 1.0)


FLAGS = {
    "score": FieldFlag("a score", type=unit_float, aliases=("--s",), metavar="S"),
    "size_px": FieldFlag("a size", type=int, flag="--size", aliases=("-n",), group="geometry"),
    "mode": FieldFlag("50% of the modes", choices=("a", "b")),
    "fast": FieldFlag("go fast", action="store_true"),
    "steps": FieldFlag("steps", type=float, nargs="+", group="geometry"),
}


def test_flags_take_the_dataclass_defaults_names_and_spellings() -> None:
    p = argparse.ArgumentParser()
    assert add_dataclass_flags(p, _Opts(), FLAGS) == list(FLAGS)
    args = p.parse_args([])
    assert vars(args) == {"score": 0.25, "size_px": 112, "mode": "a", "fast": False, "steps": (0.5, 1.0)}
    args = p.parse_args(["--s", "0.5", "-n", "64", "--mode", "b", "--fast", "--steps", "1", "2"])
    assert (args.score, args.size_px, args.mode, args.fast, args.steps) == (0.5, 64, "b", True, [1.0, 2.0])
    text = p.format_help()
    assert "a score (default: 0.25)" in text and "50% of the modes (default: a)" in text
    assert "go fast\n" in text  # a switch shows no default
    assert "geometry:" in text and "-n SIZE_PX, --size SIZE_PX" in text and "(default: 0.5 1)" in text
    with pytest.raises(SystemExit):
        p.parse_args(["--score", "2"])  # the type checks the range


def test_overrides_helps_absent_and_unknown_names() -> None:
    p = argparse.ArgumentParser()
    add_dataclass_flags(p, _Opts(), FLAGS, ["score", "mode"], overrides={"score": None},
                        helps={"mode": "which mode"}, title="options")
    assert vars(p.parse_args([])) == {"score": None, "mode": "a"}
    assert "options:" in p.format_help() and "which mode (default: a)" in p.format_help()
    absent = argparse.ArgumentParser()
    add_dataclass_flags(absent, _Opts(), FLAGS, ["score", "steps"], absent=True)
    assert vars(absent.parse_args([])) == {}  # not given: not on the Namespace (a file's value stays)
    assert "(default: 0.25)" in absent.format_help() and "(default: 0.5 1)" in absent.format_help()
    with pytest.raises(ValueError, match="no flag declared for bogus"):
        add_dataclass_flags(argparse.ArgumentParser(), _Opts(), FLAGS, ["bogus"])


def test_show_default_and_flag_name() -> None:
    assert [show_default(v) for v in (None, "", (), True, False, 0.5, [1.0, 640], 3)] == \
        [None, None, None, "on", "off", "0.5", "1 640", "3"]
    assert flag_name("score_threshold") == "--score-threshold"


def test_every_generator_of_the_verbs_uses_it() -> None:
    from featherface.commands import blur, crop

    for fn in (options.add_detector_args, train.add_config_args, blur.add_parser, crop.add_parser):
        assert "add_dataclass_flags(" in inspect.getsource(fn), fn.__qualname__

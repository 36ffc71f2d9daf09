"""The detector options of the verbs (featherface/commands/options.py): declared once, with the
defaults of DetectorOptions (= FaceDetector's), the same spellings in every verb, the old spellings
as aliases, and ``--weights none`` meaning an untrained network everywhere."""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import featherface.inference.detector as detector_module
from featherface import FaceDetector
from featherface.cli import build_parser, main
from featherface.commands.bench import parse_weights
from featherface.commands.options import DETECTOR_FLAGS, add_detector_args, detector_options, weights_arg
from featherface.errors import ConfigError
from featherface.inference.options import DetectorOptions, is_random_weights

REPO = Path(__file__).resolve().parents[2]


def _verb(verb: str) -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices[verb]  # type: ignore[union-attr]


def _flags(verb: str) -> set[str]:
    return {s for a in _verb(verb)._actions for s in a.option_strings}


def test_face_detector_takes_exactly_the_options_with_their_defaults():
    params = {n: p for n, p in inspect.signature(FaceDetector).parameters.items()}
    assert tuple(params) == DetectorOptions.field_names()
    defaults = DetectorOptions()
    for name, p in params.items():
        assert p.default == getattr(defaults, name), name


def test_flags_default_to_the_dataclass():
    parser = argparse.ArgumentParser()
    add_detector_args(parser)
    args = parser.parse_args([])
    assert detector_options(args) == DetectorOptions()
    for name in DETECTOR_FLAGS:
        if name != "weights":  # None on the Namespace: not given (the dataclass's "default" then)
            assert getattr(args, name) == getattr(DetectorOptions(), name), name
    with pytest.raises(ValueError, match="not detector options"):
        add_detector_args(argparse.ArgumentParser(), ("bogus",))


def test_old_spellings_are_aliases():
    parser = argparse.ArgumentParser()
    add_detector_args(parser)
    args = parser.parse_args(["--threshold", "0.6", "--nms", "0.3", "--onnx", "m.onnx"])
    opts = detector_options(args)
    assert (opts.score_threshold, opts.nms_threshold, opts.onnx_path) == (0.6, 0.3, "m.onnx")
    args = parser.parse_args(["--score-threshold", "0.7", "--nms-threshold", "0.2", "--onnx-path", "x.onnx"])
    assert (args.score_threshold, args.nms_threshold, args.onnx_path) == (0.7, 0.2, "x.onnx")


@pytest.mark.parametrize("verb,names", [
    ("detect", ("--model", "--weights", "--score-threshold", "--threshold", "--nms-threshold", "--nms",
                "--input-size", "--max-size", "--device", "--backend", "--onnx-path", "--onnx", "--threads",
                "--vote-iou")),
    ("eval", ("--model", "--weights", "--score-threshold", "--threshold", "--nms-threshold", "--nms",
              "--input-size", "--device", "--vote-iou")),
    ("compare", ("--model", "--weights", "--score-threshold", "--threshold", "--nms-threshold", "--nms",
                 "--input-size", "--threads")),
    ("export", ("--model", "--weights", "--score-threshold", "--threshold", "--nms-threshold", "--nms")),
    ("autolabel", ("--score-threshold", "--threshold")),
])
def test_every_verb_spells_them_the_same(verb, names):
    assert set(names) <= _flags(verb), set(names) - _flags(verb)


def test_verb_defaults():
    def parsed(*argv):
        return build_parser().parse_args(list(argv))

    detect = parsed("detect", "x.jpg")
    assert detector_options(detect) == DetectorOptions()
    ev = parsed("eval", "--images", "d")
    assert ev.score_threshold is None and ev.nms_threshold is None  # decided per mode (WIDER: 0.02)
    assert parsed("compare", "x.jpg").nms_threshold is None  # each detector's own
    assert parsed("export").score_threshold == DetectorOptions.score_threshold
    assert parsed("autolabel", "x.jpg", "-o", "l.txt").score_threshold is None  # build_teacher's own
    assert detector_options(parsed("detect", "x.jpg", "--vote-iou", "0")).vote_iou == 0.0
    assert parsed("eval", "--human-sets", "d").vote_iou == DetectorOptions.vote_iou


def test_vote_iou_out_of_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["detect", "x.jpg", "--vote-iou", "1.5"])
    assert "--vote-iou" in capsys.readouterr().err


def test_autolabel_help_states_build_teachers_default():
    from featherface.peers.factory import build_teacher

    default = inspect.signature(build_teacher).parameters["score_threshold"].default
    helptext = next(a.help for a in _verb("autolabel")._actions if "--score-threshold" in a.option_strings)
    assert f"(default: {default:g})" in helptext


@pytest.mark.parametrize("text,expected", [("none", "none"), ("None", "none"), ("random", "none"),
                                           ("RANDOM", "none"), ("default", "default"), ("w.pt", "w.pt")])
def test_weights_arg(text, expected):
    assert weights_arg(text) == expected
    assert DetectorOptions(weights=weights_arg(text)).random_weights == (expected == "none")


def test_weights_arg_refuses_an_empty_path():
    with pytest.raises(argparse.ArgumentTypeError, match="empty path"):
        weights_arg(" ")


@pytest.mark.parametrize("verb", [["detect", "x.jpg"], ["eval", "--images", "d"], ["compare", "x.jpg"], ["export"]])
def test_weights_none_is_random_in_every_verb(verb):
    args = build_parser().parse_args([*verb, "--weights", "none"])
    assert is_random_weights(args.weights) and detector_options(args).weights is None


def test_face_detector_weights_none_string_is_random():
    with pytest.warns(UserWarning, match="random, untrained weights"):
        det = FaceDetector("featherface-v1", weights="none")
    assert det.weights_path is None
    with pytest.warns(UserWarning, match="random, untrained weights"):
        FaceDetector.from_options(DetectorOptions(model="featherface-v1", weights="random"))


def test_detect_weights_none_builds_a_random_network(tmp_path, monkeypatch, capsys):
    from tests.fuzz.conftest import stub_detector
    import cv2
    import numpy as np

    calls = []
    monkeypatch.setattr(detector_module, "FaceDetector", lambda **kw: calls.append(kw) or stub_detector())
    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((64, 64, 3), 128, np.uint8))
    assert main(["detect", str(tmp_path / "a.jpg"), "--weights", "random", "--threshold", "0.6", "--nms", "0.3",
                 "--json", str(tmp_path / "d.json"), "--quiet"]) == 0
    capsys.readouterr()
    assert calls[0]["weights"] is None and calls[0]["score_threshold"] == 0.6 and calls[0]["nms_threshold"] == 0.3
    assert json.loads((tmp_path / "d.json").read_text())["score_threshold"] == 0.6


def test_export_weights_none_is_random(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["export", "--format", "torchscript", "--weights", "none", "--model", "featherface-v1",
                 "--input-size", "64", "--no-verify", "-o", str(out)]) == 0
    assert "[untrained random weights]" in capsys.readouterr().out and out.is_file()
    # --weights none and --random are one choice
    with pytest.raises(SystemExit):
        main(["export", "--weights", "w.pt", "--random"])
    capsys.readouterr()


def test_human_sets_weights_none_is_a_random_row():
    from featherface.peers.factory import build_detectors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dets, notes = build_detectors([], weights="none", model="featherface-v1")
        spec_dets, _ = build_detectors(["featherface-v1:random"])
    assert list(dets) == ["featherface-v1:none"] and not notes
    assert dets["featherface-v1:none"].weights_path is None
    assert len(spec_dets) == 1 and next(iter(spec_dets.values())).weights_path is None


def test_bench_weights():
    assert parse_weights(["featherface-v1=a.pt", "featherface-v2-ultra=b.pt"]) == {
        "featherface-v1": "a.pt", "featherface-v2-ultra": "b.pt"}
    assert parse_weights(["featherface-v1=a.pt", "featherface-v1=none"]) == {}
    assert parse_weights(["featherface-v1=a.pt", "none"]) == {}
    with pytest.raises(ConfigError, match="MODEL=PATH"):
        parse_weights(["a.pt"])


def test_help_builds_without_torch_or_opencv_beyond_the_package():
    """``featherface VERB --help`` adds no torch / OpenCV / onnx import of its own: with the package
    __init__ skipped (a stub package), building every verb's parser must not need them."""
    code = f"""
import sys, types, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "cv2", "onnx", "onnxruntime", "scipy", "matplotlib"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
pkg = types.ModuleType("featherface"); pkg.__path__ = [{str(REPO / "featherface")!r}]; pkg.__version__ = "test"
sys.modules["featherface"] = pkg
from featherface.cli import build_parser
p = build_parser()
for verb, sub in p._subparsers._group_actions[0].choices.items():
    sub.format_help()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr

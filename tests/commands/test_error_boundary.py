"""The CLI's error boundary (featherface/cli.py): every expected failure is one line
``featherface VERB: error: ...`` and exit 2; a bug is one line and exit 1, its traceback with --debug."""

from __future__ import annotations

import sys

import pytest
import torch

import featherface.commands.info as info_module
from featherface.cli import expected_error, main
from featherface.errors import ConfigError, ImageError


def _one_error_line(capsys, verb: str) -> str:
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1, cap.err
    assert lines[0].startswith(f"featherface {verb}: error: "), lines[0]
    assert "Traceback" not in cap.err
    return lines[0]


# the cases of item 5 of issue 14 (and their neighbours): refused before any work, one line, exit 2
CASES = [
    (["info", "--size", "0"], "--size"),
    (["info", "--size", "100000"], "--size"),
    (["info", "--set", "fpn_channels=33"], "fpn_channels=33"),
    (["info", "--set", "fpn_channels=-4"], "fpn_channels=-4"),
    (["train", "--synthetic", "4", "--seed", "-1"], "--seed"),
    (["train", "--synthetic", "4", "--warmup-epochs", "inf"], "--warmup-epochs"),
    (["train", "--synthetic", "4", "--lr", "nan"], "--lr"),
    (["train", "--synthetic", "4", "--set", "warmup_epochs=inf"], "warmup_epochs"),
    (["train", "--synthetic", "4", "--set", "seed=-1"], "seed"),
    (["train", "--synthetic", "4", "--device", "bogus"], "bogus"),
    (["export", "--random", "--opset", "99"], "--opset"),
    (["export", "--random", "--opset", "16"], "--opset"),
    (["export", "--random", "--calibration-images", "0"], "--calibration-images"),
    (["export", "--random", "--postprocess", "--score-threshold", "nan"], "--score-threshold"),
    (["export", "--random", "--postprocess", "--max-detections", "-1"], "--max-detections"),
    (["compare", "x.jpg", "--grid-cell-width", "0"], "--grid-cell-width"),
    (["compare", "x.jpg", "--threads", "0"], "--threads"),
    (["eval", "--predictions", "p", "--plot", "pr.xyz"], "pr.xyz"),
    (["eval", "--predictions", "p", "--plot", "pr"], "--plot"),
    (["eval", "--predictions", "p", "--iou", "0"], "--iou"),
    (["detect", "x.jpg", "--device", "bogus", "--weights", "none"], "bogus"),
    (["detect", "x.jpg", "--input-size", "100000"], "--input-size"),
    (["detect", "x.jpg", "--threshold", "nan"], "--threshold"),
    (["detect", "x.jpg", "--threshold", "1.5"], "--threshold"),
    (["detect", "x.jpg", "--threads", "1.5"], "--threads"),
    (["autolabel", "x.jpg", "-o", "l.txt", "--val-fraction", "nan"], "--val-fraction"),
    (["autolabel", "x.jpg", "-o", "l.txt", "--min-size", "nan"], "--min-size"),
    (["bench", "--sizes", "0"], "--sizes"),
]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_expected_failures_are_one_line_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse-level refusals
        rc = exc.code
    assert rc == 2
    line = _one_error_line(capsys, argv[0])
    assert needle in line, line


def test_export_opset_does_not_dump_the_graph(capsys, tmp_path, monkeypatch):
    """torch printed the whole TorchScript graph (380 KB) to stdout for an unsupported opset."""
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--random", "--opset", "21", "--input-size", "64", "--no-verify"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "opset" in cap.err and cap.err.count("\n") == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("verb", [["detect", "x.jpg", "--weights", "none"], ["train", "--synthetic", "4"]])
def test_cuda_without_cuda(verb, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*verb, "--device", "cuda"]) == 2
    assert "CUDA is not available" in _one_error_line(capsys, verb[0])


def test_missing_optional_extra_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails as if not installed
    assert main(["export", "--random", "--input-size", "64", "-o", "m.onnx"]) == 2
    line = _one_error_line(capsys, "export")
    assert "'onnx'" in line and "featherface[onnx]" in line
    assert not (tmp_path / "m.onnx").exists()


def test_missing_matplotlib_refused_before_the_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["eval", "--predictions", str(tmp_path), "--plot", str(tmp_path / "pr.png")]) == 2
    assert "matplotlib" in _one_error_line(capsys, "eval")


@pytest.mark.parametrize("exc,code,needle", [
    (ConfigError("bad value"), 2, "bad value"),
    (ImageError("a.jpg: cannot decode"), 2, "a.jpg"),
    (FileNotFoundError(2, "No such file or directory", "/no/such"), 2, "/no/such: No such file"),
    (PermissionError(13, "Permission denied", "/ro/out.json"), 2, "/ro/out.json: Permission denied"),
    (OSError(28, "No space left on device"), 2, "No space left"),
    (ModuleNotFoundError("No module named 'onnxruntime'", name="onnxruntime"), 2, "featherface[onnx]"),
    (ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"), 2, "featherface[plot]"),
    (MemoryError(), 2, "out of memory"),
    (ConfigError("line one\nline two"), 2, "line one\\nline two"),  # never a multi-line message
    (RuntimeError("a bug\nwith details"), 1, "internal error: RuntimeError: a bug (run with --debug"),
    (ModuleNotFoundError("No module named 'numpyy'", name="numpyy"), 1, "internal error: ModuleNotFoundError"),
    (AssertionError(), 1, "internal error: AssertionError (run with --debug"),
])
def test_boundary_classifies(exc, code, needle, capsys, monkeypatch):
    def boom(args):
        raise exc

    monkeypatch.setattr(info_module, "run", boom)
    assert main(["info"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err, err
    assert err.startswith("featherface info: ")


def test_debug_shows_the_traceback(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("a real bug")

    monkeypatch.setattr(info_module, "run", boom)
    for argv in (["--debug", "info"], ["info", "--debug"]):  # before or after the verb
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and "in boom" in err and "run with --debug" not in err
        assert err.strip().splitlines()[-1] == "featherface info: internal error: RuntimeError: a real bug"


def test_expected_error_helper():
    assert expected_error(ValueError("x")) is None
    assert expected_error(KeyError("x")) is None
    assert expected_error(IsADirectoryError(21, "Is a directory", "d")) == "d: Is a directory"


def test_keyboard_interrupt_is_130(capsys, monkeypatch):
    def stop(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(info_module, "run", stop)
    assert main(["info"]) == 130
    assert capsys.readouterr().err == "featherface info: interrupted\n"


def test_warnings_are_one_line(capsys, monkeypatch):
    import warnings

    def warn(args):
        warnings.warn("careful\nnow", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(info_module, "run", warn)
    assert main(["info"]) == 0
    assert capsys.readouterr().err == "featherface info: warning: careful\\nnow\n"


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["detect"])  # missing PATH
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("featherface detect: error: ") and "--help" in err
    with pytest.raises(SystemExit):
        main(["nosuchverb"])
    assert capsys.readouterr().err.startswith("featherface: error: argument COMMAND: invalid choice")

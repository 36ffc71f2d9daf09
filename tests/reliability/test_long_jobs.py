"""Issue 28, case 5 and the rest of case 6: inputs of long jobs are checked before the work, and
an export that fails late leaves no file at its output paths."""

from __future__ import annotations

import os
import time

import pytest

from featherface.cli import main


@pytest.mark.parametrize("kind", ["fifo", "file", "missing", "empty"])
def test_int8_calibration_is_checked_before_the_export(kind, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    calib = tmp_path / "calib.jpg"
    if kind == "fifo":
        os.mkfifo(calib)
    elif kind == "file":
        calib.write_bytes(b"\xff\xd8\xff")
    elif kind == "empty":
        calib = tmp_path / "photos"
        calib.mkdir()
    out = tmp_path / "q.onnx"
    t0 = time.monotonic()
    rc = main(["export", "--weights", "none", "--int8", "--calibration", str(calib), "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(calib) in err, err
    assert {"fifo": "not a folder", "file": "not a folder", "missing": "not found", "empty": "no images"}[kind] in err
    assert time.monotonic() - t0 < 5  # before the model is exported
    assert list(tmp_path.glob("q*")) == []


def test_a_late_int8_failure_leaves_no_fp32_model_behind(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    from featherface.export import quantize

    def broken(*args, **kwargs):
        raise MemoryError("calibration ran out of memory")

    monkeypatch.setattr(quantize, "quantize_onnx_int8", broken)
    out = tmp_path / "q.onnx"
    rc = main(["export", "--weights", "none", "--int8", "--calibration", "synthetic", "--output", str(out),
               "--no-verify", "--input-size", "64"])
    assert rc == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither q.onnx nor q.int8.onnx, no temporaries

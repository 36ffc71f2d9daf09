"""``featherface export --format tflite`` (LiteRT through litert-torch): a one-line error without the
converter, and, where it is installed, the same outputs as PyTorch at the file's one input size."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from featherface.cli import main
from featherface.errors import ConfigError
from featherface.export.tflite import export_tflite


def test_without_the_converter_one_line_and_no_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "litert_torch", None)  # import litert_torch -> ImportError
    out = tmp_path / "v2.tflite"
    assert main(["export", "--format", "tflite", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "litert-torch" in err[0] and "pip install" in err[0]
    assert not out.exists()


def test_onnx_only_options_refused(tmp_path, capsys):
    assert main(["export", "--format", "tflite", "--int8", "--output", str(tmp_path / "a.tflite")]) == 2
    assert main(["export", "--format", "tflite", "--postprocess", "--output", str(tmp_path / "b.tflite")]) == 2
    assert "onnx only" in capsys.readouterr().err


def test_size_must_be_multiples_of_32(model_factory, tmp_path):
    with pytest.raises(ConfigError, match="multiples of 32"):
        export_tflite(model_factory("featherface-v2-ultra"), tmp_path / "x.tflite", input_size=(100, 96))


def test_round_trip_same_outputs(model_factory, tmp_path):
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    from featherface.export.tflite import tflite_runner

    model = model_factory("featherface-v2-ultra").eval()
    path = export_tflite(model, tmp_path / "v2.tflite", input_size=(64, 96))
    x = (np.random.default_rng(0).normal(0, 50, size=(1, 3, 64, 96))).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    got = tflite_runner(path)(x)
    assert list(got) == ["bbox", "cls", "ldm"]
    for k, g in got.items():
        r = ref[k].numpy()
        assert g.shape == r.shape
        assert np.abs(g - r).max() <= 1e-4 * max(1.0, float(np.abs(r).max()))

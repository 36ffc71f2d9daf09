"""On-the-fly ONNX exports: ``OnnxRuntimeBackend.for_model(model)`` without a file exports once to the cache.

The exporter is featherface.export.cache.cached_export, installed by the package root."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from featherface.inference.backends import OnnxRuntimeBackend  # noqa: E402


def test_on_the_fly_export_is_cached(tmp_path, monkeypatch, model_factory):
    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    model = model_factory("featherface-v1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the export matches the model: no weights warning
        first = OnnxRuntimeBackend.for_model(model)
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and first.path == files[0]
    mtime = files[0].stat().st_mtime_ns
    second = OnnxRuntimeBackend.for_model(model)
    assert second.path == first.path and files[0].stat().st_mtime_ns == mtime
    assert first.metadata["trained"] == "unknown"

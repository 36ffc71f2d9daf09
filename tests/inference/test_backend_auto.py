"""``backend="auto"`` (the default): onnxruntime for weights files when installed, else torch;
the export is cached per weights, and a damaged cache entry is rebuilt, not fatal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface import FaceDetector
from featherface.inference import detector as detector_module
from featherface.io.images import read_image

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    return tmp_path / "onnx"


def test_auto_picks_onnxruntime_for_weights_and_caches_the_export(cache: Path, example_image: Path) -> None:
    det = FaceDetector(threads=1)
    assert det.backend.name == "onnxruntime"
    files = list(cache.glob("*.onnx"))
    assert len(files) == 1 and files[0].name.startswith("featherface-v2-ultra-")
    mtime = files[0].stat().st_mtime_ns
    again = FaceDetector(threads=1)
    assert again.backend.name == "onnxruntime" and files[0].stat().st_mtime_ns == mtime  # reused, not rebuilt
    img = read_image(example_image)
    ref = FaceDetector(backend="torch", threads=1).detect(img)
    got = det.detect(img)
    assert len(got) == len(ref) >= 1
    np.testing.assert_allclose([f.box for f in got], [f.box for f in ref], atol=0.05)
    np.testing.assert_allclose([f.score for f in got], [f.score for f in ref], atol=1e-4)


def test_a_damaged_cache_entry_is_rebuilt(cache: Path) -> None:
    FaceDetector(threads=1)
    (path,) = cache.glob("*.onnx")
    path.write_bytes(b"not an onnx model")
    det = FaceDetector(threads=1)
    assert det.backend.name == "onnxruntime"
    assert path.stat().st_size > 100_000


def test_auto_uses_torch_for_modules_random_weights_or_without_onnxruntime(cache: Path, monkeypatch) -> None:
    from featherface.models import create_model

    assert FaceDetector(create_model("featherface-v2-ultra"), threads=1).backend.name == "torch"
    with pytest.warns(UserWarning, match="random"):
        assert FaceDetector(weights=None, threads=1).backend.name == "torch"
    monkeypatch.setattr(detector_module, "onnxruntime_available", lambda: False)
    assert FaceDetector(threads=1).backend.name == "torch"
    assert not list(cache.glob("*.onnx")), "nothing is exported when torch is used"


def test_auto_falls_back_to_torch_with_a_warning_when_export_fails(cache: Path, monkeypatch) -> None:
    from featherface.inference import hooks

    def broken(model):
        raise detector_module.FeatherFaceError("exporter exploded")

    monkeypatch.setattr(hooks, "_onnx_exporter", broken)
    with pytest.warns(UserWarning, match="falls back to torch .*exporter exploded"):
        det = FaceDetector(threads=1)
    assert det.backend.name == "torch"

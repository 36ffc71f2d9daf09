"""A weights file's cached ONNX export found again without torch (featherface.inference.onnx_pointer):
the second ``FaceDetector()`` of a (model, weights file) pair never imports torch and finds the same faces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from featherface.inference import onnx_pointer

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

RUN = """
import json, sys
from featherface import FaceDetector
det = FaceDetector(threads=1)
faces = det.detect(sys.argv[1])
print(json.dumps({"torch": "torch" in sys.modules, "backend": det.backend.name, "name": det.name,
                  "weights": str(det.weights_path), "boxes": [f.box for f in faces], "scores": [f.score for f in faces],
                  "landmarks": [f.landmarks for f in faces]}))
"""


def _run(cache: Path, image: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, str(image)], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "FEATHERFACE_CACHE": str(cache)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_second_detector_runs_the_cached_export_without_torch(tmp_path: Path, example_image: Path) -> None:
    first = _run(tmp_path, example_image)
    assert first["torch"] and first["backend"] == "onnxruntime"  # exported with torch, pointer left
    assert len(list((tmp_path / "onnx").glob("*.json"))) == 1
    second = _run(tmp_path, example_image)
    assert not second["torch"] and second["backend"] == "onnxruntime"
    assert second["name"] == first["name"] and second["weights"] == first["weights"]
    assert len(second["boxes"]) == len(first["boxes"]) >= 1
    np.testing.assert_allclose(second["boxes"], first["boxes"], atol=1e-4)
    np.testing.assert_allclose(second["scores"], first["scores"], atol=1e-6)
    np.testing.assert_allclose(second["landmarks"], first["landmarks"], atol=1e-4)


def test_pointer_round_trip_and_what_it_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights bytes")
    assert onnx_pointer.recall("featherface-v1", weights) is None  # no pointer yet
    onnx = tmp_path / "onnx" / "featherface-v1-abc.onnx"
    onnx.parent.mkdir(parents=True, exist_ok=True)
    onnx.write_bytes(b"onnx")
    onnx_pointer.remember("featherface-v1", weights, onnx, {"epochs": 3})
    assert onnx_pointer.recall("featherface-v1", weights) == (onnx, {"epochs": 3})
    assert onnx_pointer.recall("featherface-v2-ultra", weights) is None  # another model: another key
    weights.write_bytes(b"other weights")  # the file changed: its old pointer is not found
    assert onnx_pointer.recall("featherface-v1", weights) is None
    weights.write_bytes(b"weights bytes")
    onnx.unlink()  # the export is gone: no answer, the torch path exports again
    assert onnx_pointer.recall("featherface-v1", weights) is None
    onnx.write_bytes(b"onnx")
    onnx_pointer.pointer_path("featherface-v1", weights).write_text("{not json")
    assert onnx_pointer.recall("featherface-v1", weights) is None


def test_a_damaged_export_behind_a_pointer_falls_back_to_torch_and_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    from featherface import FaceDetector

    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    ref = FaceDetector(threads=1)
    (path,) = (tmp_path / "onnx").glob("*.onnx")
    path.write_bytes(b"not an onnx model")
    det = FaceDetector(threads=1)
    assert det.backend.name == "onnxruntime" and path.stat().st_size > 100_000
    img = np.full((96, 128, 3), 127, np.uint8)
    assert len(det.detect(img)) == len(ref.detect(img))


def test_a_detector_on_the_cached_export_builds_its_torch_network_on_demand(tmp_path: Path, monkeypatch) -> None:
    from featherface import FaceDetector
    from featherface.models.weights import state_dict_sha256

    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    built = FaceDetector(threads=1)
    lean = FaceDetector(threads=1)
    assert lean._model is None  # nothing built yet: the cached export was found
    assert lean.config.to_dict() == built.config.to_dict()
    assert state_dict_sha256(lean.model.state_dict()) == state_dict_sha256(built.model.state_dict())
    assert str(lean.device) == "cpu" and lean.weights_meta == json.loads(json.dumps(built.weights_meta, default=str))


def test_recall_never_opens_what_is_not_a_regular_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing a FIFO would block forever: the lookup answers ``None`` and the torch path names it."""
    import os

    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    fifo = tmp_path / "w.pt"
    os.mkfifo(fifo)
    assert onnx_pointer.recall("featherface-v1", fifo) is None
    assert onnx_pointer.recall("featherface-v1", tmp_path / "missing.pt") is None


def test_a_shipped_file_is_keyed_by_its_recorded_digest_without_hashing_it_again(monkeypatch: pytest.MonkeyPatch,
                                                                                   tmp_path: Path) -> None:
    from featherface.models import shipped

    fname, digest = shipped.BUILTIN_WEIGHTS["featherface-v2-ultra"]
    assert shipped.shipped_digest(shipped.PACKAGE_WEIGHTS_DIR / fname) == digest
    other = tmp_path / fname
    other.write_bytes(b"not the shipped file")
    assert shipped.shipped_digest(other) is None  # same name elsewhere: hashed as any file
    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    hashed: list[str] = []
    monkeypatch.setattr(onnx_pointer, "file_sha256", lambda p: hashed.append(str(p)) or "h")
    shipped_key = onnx_pointer.pointer_path("featherface-v2-ultra", shipped.PACKAGE_WEIGHTS_DIR / fname)
    assert hashed == []
    onnx_pointer.pointer_path("featherface-v2-ultra", other)
    assert hashed == [str(other)]
    # the recorded digest gives the key the file's own hash would: pointers left before stay valid
    monkeypatch.setattr(onnx_pointer, "file_sha256", lambda p: digest)
    monkeypatch.setattr(onnx_pointer, "shipped_digest", lambda p: None)
    assert onnx_pointer.pointer_path("featherface-v2-ultra", shipped.PACKAGE_WEIGHTS_DIR / fname) == shipped_key

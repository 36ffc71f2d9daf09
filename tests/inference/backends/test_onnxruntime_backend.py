"""The onnxruntime backend of FaceDetector: same faces as torch, metadata checks, a model from the file alone.

The on-the-fly export (no ``onnx_path``) is tested with its writer, in tests/export/test_export_cache.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from featherface import FaceDetector  # noqa: E402
from featherface.errors import ConfigError  # noqa: E402
from featherface.export.onnx_export import export_onnx  # noqa: E402
from featherface.inference.backends.onnxruntime_backend import OnnxRuntimeBackend  # noqa: E402
from featherface.inference.backends.torch_backend import model_for_onnx  # noqa: E402


def test_detector_onnxruntime_gives_same_faces(tmp_path, face_image, model_factory):
    model = model_factory(face_bias=-2.0)
    path = export_onnx(model, tmp_path / "m.onnx", input_size=64)
    # NMS and box voting off for the face-by-face check: a random network's scores cluster within 1e-7
    # of each other, so which near-equal candidate NMS keeps, and which neighbours vote on a box, turn
    # on float noise between runtimes (onnxruntime 1.32 moved one voted box by 9 px); every candidate
    # kept as its prior regressed it, each must have its twin
    torch_all = FaceDetector(model, score_threshold=0.3, nms_threshold=1.0, vote_iou=0.0)
    ort_all = FaceDetector(model, score_threshold=0.3, nms_threshold=1.0, vote_iou=0.0, backend="onnxruntime",
                           onnx_path=path)
    torch_det = FaceDetector(model, score_threshold=0.3)
    ort_det = FaceDetector(model, score_threshold=0.3, backend="onnxruntime", onnx_path=path)
    assert ort_det.backend.name == "onnxruntime"
    for img in (face_image, face_image[:, ::-1]):  # 200x300 -> padded to 224x320 inside the detector
        a, b = torch_all.detect(img), ort_all.detect(img)
        assert len(a) == len(b) > 0
        # the twin: nearest in box, landmarks and score together (boxes clipped at the border can coincide)
        keys_b = np.array([[*f.box, *np.ravel(f.landmarks), 100 * f.score] for f in b])
        for fa in a:
            key_a = np.array([*fa.box, *np.ravel(fa.landmarks), 100 * fa.score])
            fb = b[int(np.abs(keys_b - key_a).sum(1).argmin())]
            assert np.allclose(fa.box, fb.box, atol=1e-2)
            assert abs(fa.score - fb.score) < 1e-4
            assert np.allclose(fa.landmarks, fb.landmarks, atol=1e-2)
        assert len(torch_det.detect(img)) == len(ort_det.detect(img)) > 0
    # batch of two differently sized images in one call
    ba = torch_det.detect_batch([face_image, face_image[:150, :250]])
    bb = ort_det.detect_batch([face_image, face_image[:150, :250]])
    assert [len(f) for f in ba] == [len(f) for f in bb]


def test_backend_checks_metadata(tmp_path, v2_onnx, model_factory):
    v1 = model_factory("featherface-v1")
    with pytest.raises(ConfigError, match="featherface-v2-ultra"):
        OnnxRuntimeBackend.for_model(v1, v2_onnx)
    v2_other = model_factory(seed=1)  # same architecture, other weights: allowed, with a warning
    with pytest.warns(UserWarning, match="weights"):
        be = OnnxRuntimeBackend.for_model(v2_other, v2_onnx, intra_op_threads=1)
    assert be.metadata["model_name"] == "featherface-v2-ultra"
    out = be(np.zeros((1, 3, 64, 64), np.float32))
    assert set(out) == {"bbox", "cls", "ldm"} and tuple(out["cls"].shape) == (1, 168, 2)
    pp = export_onnx(v1, tmp_path / "pp.onnx", input_size=64, postprocess=True)
    with pytest.raises(ConfigError, match="postprocess"):
        OnnxRuntimeBackend(pp, v1)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError):
        OnnxRuntimeBackend(tmp_path / "junk.onnx")


def test_detector_from_onnx_file_alone(v2_onnx, face_image):
    net = model_for_onnx(v2_onnx)
    assert net.name == "featherface-v2-ultra"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "weights differ" warning: the torch weights are never used
        det = FaceDetector(net, backend="onnxruntime", onnx_path=v2_onnx, score_threshold=0.99)
    assert isinstance(det.detect(face_image), list)

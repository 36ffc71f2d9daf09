"""ONNX export: parity with PyTorch, dynamic shapes, metadata, in-graph post-processing, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from featherface.errors import ConfigError  # noqa: E402
from featherface.inference.backends.metadata import read_onnx_metadata  # noqa: E402
from featherface.ops.anchors import num_priors  # noqa: E402

TOL = 1e-4  # relative to each output's largest magnitude (at least 1): float32 rounding grows with it


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("hw", [(160, 160), (224, 288)])
def test_parity_with_torch_batch2(v2_model, v2_onnx, hw):
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(hw[1])) * 60
    with torch.inference_mode():
        ref = v2_model(x)
    got = dict(zip(("bbox", "cls", "ldm"), _session(v2_onnx).run(["bbox", "cls", "ldm"], {"input": x.numpy()})))
    for k in ("bbox", "cls", "ldm"):
        assert got[k].shape == tuple(ref[k].shape)
        scale = max(1.0, float(np.abs(ref[k].numpy()).max()))
        assert float(np.abs(got[k] - ref[k].numpy()).max()) <= TOL * scale, k


def test_one_file_serves_many_sizes(v2_onnx):
    sess = _session(v2_onnx)
    for b, h, w in [(1, 32, 32), (1, 64, 96), (3, 128, 64), (1, 320, 256)]:
        bbox, cls, ldm = sess.run(None, {"input": np.zeros((b, 3, h, w), np.float32)})
        n = num_priors(h, w)
        assert bbox.shape == (b, n, 4) and cls.shape == (b, n, 2) and ldm.shape == (b, n, 10)


def test_file_is_checked_and_self_describing(v2_model, v2_onnx):
    m = onnx.load(str(v2_onnx))
    onnx.checker.check_model(m, full_check=True)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in m.graph.input] == ["input"]
    assert [o.name for o in m.graph.output] == ["bbox", "cls", "ldm"]
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"] and dims[1].dim_value == 3

    meta = read_onnx_metadata(v2_onnx)
    assert meta["featherface.format"] == "featherface-onnx"
    assert meta["model_name"] == "featherface-v2-ultra"
    assert meta["config"] == json.loads(json.dumps(v2_model.config.to_dict()))
    assert meta["input"]["color_order"] == "BGR" and meta["input"]["mean"] == [104.0, 117.0, 123.0]
    assert meta["input"]["std"] is None and meta["input"]["pad_multiple"] == 32
    assert meta["anchors"]["min_sizes"] == [[16, 32], [64, 128], [256, 512]]
    assert meta["anchors"]["steps"] == [8, 16, 32] and meta["anchors"]["variances"] == [0.1, 0.2]
    assert meta["anchors"]["count_at_640x640"] == 16800
    assert set(meta["outputs"]) >= {"bbox", "cls", "ldm"}
    assert meta["postprocess"] == "none" and meta["quantization"] == "none"
    assert meta["weights"] == "random" and meta["trained"] == "false"
    # visible to onnxruntime consumers as well
    assert _session(v2_onnx).get_modelmeta().custom_metadata_map["model_name"] == "featherface-v2-ultra"


def test_rejects_bad_settings(v2_model, tmp_path):
    from featherface.export.onnx_export import export_onnx

    with pytest.raises(ConfigError):
        export_onnx(v2_model, tmp_path / "a.onnx", opset=16)
    with pytest.raises(ConfigError):
        export_onnx(v2_model, tmp_path / "a.onnx", input_size=100)


def _rows_match(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Same detections as sets (near-equal scores may swap order between backends)."""
    if a.shape != b.shape:
        return False
    d = np.abs(a[:, None, :] - b[None, :, :]).max(-1)
    return bool((d.min(1) <= tol).all() and (d.min(0) <= tol).all())


def test_postprocess_in_graph_matches_detector(tmp_path, face_image, model_factory):
    from featherface import FaceDetector
    from featherface.export.onnx_export import export_onnx
    from featherface.export.postprocess_graph import DetectorWithPostprocess

    model = model_factory(face_bias=-2.0)
    path = export_onnx(model, tmp_path / "pp.onnx", input_size=64, postprocess=True, score_threshold=0.3)
    meta = read_onnx_metadata(path)
    assert meta["postprocess"]["score_threshold"] == 0.3 and "detections" in meta["outputs"]
    sess = _session(path)
    assert [o.name for o in sess.get_outputs()] == ["detections", "batch_index"]

    x = torch.randn(2, 3, 224, 288, generator=torch.Generator().manual_seed(3)) * 60
    det, bidx = sess.run(None, {"input": x.numpy()})
    with torch.inference_mode():
        ref_det, ref_b = DetectorWithPostprocess(model, 0.3).eval()(x)
    for b in (0, 1):
        assert _rows_match(det[bidx == b], ref_det[ref_b == b].numpy(), 2e-3)

    # same faces as the Python detector on an image already padded to a multiple of 32
    img = np.ascontiguousarray(face_image[:192, :288])
    faces = FaceDetector(model, score_threshold=0.3, vote_iou=0).detect(img)  # the graph does not vote
    batch = (img.astype(np.float32) - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1)[None]
    det, bidx = sess.run(None, {"input": np.ascontiguousarray(batch)})
    assert 0 < len(faces) == len(det)
    ref = np.array([[*f.box, f.score] for f in faces], np.float32)
    got = det[:, :5].copy()
    got[:, 0:4:2] = got[:, 0:4:2].clip(0, 288)
    got[:, 1:4:2] = got[:, 1:4:2].clip(0, 192)
    assert _rows_match(got, ref, 2e-3)


def test_cli_defaults_to_the_shipped_weights(tmp_path, capsys):
    """Like every verb, export without --weights uses the weights shipped for the model (issue 29)."""
    from featherface.cli import main

    out = tmp_path / "x.onnx"
    assert main(["export", "--output", str(out), "--input-size", "64", "--no-verify"]) == 0
    meta = read_onnx_metadata(out)
    assert meta["model_name"] == "featherface-v2-ultra" and meta["trained"] == "true"
    assert meta["weights"] == "featherface-v2-ultra.pt"


def test_cli_without_shipped_weights_asks_for_weights_or_random(tmp_path, capsys):
    from featherface.cli import main

    assert main(["export", "--model", "featherface-v2-base", "--output", str(tmp_path / "x.onnx")]) == 2
    assert "featherface-v2-base" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_exports_trained_weights(tmp_path, capsys, model_factory):
    from featherface.cli import main
    from featherface.models.weights import save_weights

    w = save_weights(model_factory("featherface-v1"), tmp_path / "v1.pt")
    out = tmp_path / "v1.onnx"
    assert main(["export", "--weights", str(w), "--output", str(out), "--input-size", "64"]) == 0
    meta = read_onnx_metadata(out)
    assert meta["model_name"] == "featherface-v1" and meta["trained"] == "true" and meta["weights"] == "v1.pt"
    assert "verify: onnxruntime vs PyTorch" in capsys.readouterr().out

"""RetinaFace-mnet0.25 (``neck="fpn"``) through every export path: ONNX parity with torch at two
sizes, metadata that rebuilds the FPN model, the onnxruntime detector backend, the CLI from a
(synthetic) release file, TorchScript, and ONNX files written before the ``neck`` field existed."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from featherface import FaceDetector  # noqa: E402
from featherface.errors import ConfigError  # noqa: E402
from featherface.export.onnx_export import export_onnx, set_metadata  # noqa: E402
from featherface.inference.backends import OnnxRuntimeBackend, model_for_onnx, read_onnx_metadata  # noqa: E402
from featherface.models.fpn import FPN  # noqa: E402
from featherface.ops.anchors import num_priors  # noqa: E402
from tests.models.retinaface_release import write_release_file  # noqa: E402

TOL = 1e-4
NAME = "retinaface-mnet025"


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def rf_model(model_factory):
    return model_factory(NAME, seed=3)


@pytest.fixture(scope="module")
def rf_onnx(rf_model, tmp_path_factory):
    return export_onnx(rf_model, tmp_path_factory.mktemp("rf") / "rf.onnx", input_size=64)


@pytest.mark.parametrize("hw", [(96, 128), (224, 160)])
def test_onnx_parity_with_torch(rf_model, rf_onnx, hw):
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(hw[0])) * 60
    with torch.inference_mode():
        ref = rf_model(x)
    got = dict(zip(("bbox", "cls", "ldm"), _session(rf_onnx).run(["bbox", "cls", "ldm"], {"input": x.numpy()})))
    for k in ("bbox", "cls", "ldm"):
        assert got[k].shape == tuple(ref[k].shape) and got[k].shape[1] == num_priors(*hw)
        # 1e-4 absolute for outputs of order 1; relative to the output's size beyond (random BN
        # statistics give this untrained net outputs up to ~130, where float32 sums differ by ~1.5e-4)
        scale = max(1.0, float(ref[k].abs().max()))
        assert float(np.abs(got[k] - ref[k].numpy()).max()) <= TOL * scale, k


def test_metadata_rebuilds_the_fpn_model(rf_model, rf_onnx):
    meta = read_onnx_metadata(rf_onnx)
    assert meta["model_name"] == NAME and meta["config"]["neck"] == "fpn"
    assert meta["config"] == json.loads(json.dumps(rf_model.config.to_dict()))
    assert onnx.load(str(rf_onnx)).doc_string.startswith(f"{NAME} face detector")
    net = model_for_onnx(rf_onnx)
    assert net.name == NAME and isinstance(net.bifpn, FPN)
    assert sum(p.numel() for p in net.parameters()) == 426_608
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FaceDetector(net, backend="onnxruntime", onnx_path=rf_onnx)


def test_onnxruntime_detector_matches_torch(model_factory, face_image, tmp_path):
    model = model_factory(NAME, seed=4, face_bias=-2.0)
    path = export_onnx(model, tmp_path / "m.onnx", input_size=64)
    a = FaceDetector(model, score_threshold=0.3).detect(face_image)
    b = FaceDetector(model, score_threshold=0.3, backend="onnxruntime", onnx_path=path).detect(face_image)
    assert len(a) == len(b) > 0
    for fa, fb in zip(a, b):
        assert np.allclose(fa.box, fb.box, atol=1e-2) and abs(fa.score - fb.score) < 1e-4
        assert np.allclose(fa.landmarks, fb.landmarks, atol=1e-2)


def test_backend_refuses_featherface_file_for_retinaface(rf_model, v2_onnx):
    with pytest.raises(ConfigError, match="featherface-v2-ultra"):
        OnnxRuntimeBackend.for_model(rf_model, v2_onnx)


def test_files_without_the_neck_field_mean_bifpn(rf_onnx, v2_model, v2_onnx, rf_model, tmp_path):
    """ONNX files written before ``neck`` existed record no such field: they are BiFPN models."""
    def drop_neck(src, dst):
        m = onnx.load(str(src))
        cfg = json.loads({p.key: p.value for p in m.metadata_props}["config"])
        del cfg["neck"]
        set_metadata(m, {"config": json.dumps(cfg)})
        onnx.save(m, str(dst))
        return dst

    old_v2 = drop_neck(v2_onnx, tmp_path / "old_v2.onnx")
    OnnxRuntimeBackend(old_v2, model=v2_model)  # accepted: default neck
    assert model_for_onnx(old_v2).config.neck == "bifpn"
    with pytest.raises(ConfigError, match="neck"):  # an FPN file that lost the field is not an FPN model
        OnnxRuntimeBackend(drop_neck(rf_onnx, tmp_path / "old_rf.onnx"), model=rf_model)


def test_cli_exports_a_release_file(rf_model, tmp_path, capsys):
    from featherface.cli import main

    w = write_release_file(rf_model, tmp_path / "mobilenet0.25_Final.pth")
    out = tmp_path / "r.onnx"
    assert main(["export", "--format", "onnx", "--weights", str(w), "--output", str(out),
                 "--input-size", "64"]) == 0
    text = capsys.readouterr().out
    assert "verify: onnxruntime vs PyTorch" in text
    meta = read_onnx_metadata(out)
    assert meta["model_name"] == NAME and meta["trained"] == "true" and meta["weights"] == w.name
    x = np.random.default_rng(0).normal(0, 50, size=(1, 3, 64, 96)).astype(np.float32)
    with torch.inference_mode():
        ref = rf_model(torch.from_numpy(x))
    got = _session(out).run(["cls"], {"input": x})[0]
    assert float(np.abs(got - ref["cls"].numpy()).max()) <= TOL * max(1.0, float(ref["cls"].abs().max()))
    ts = tmp_path / "r.ts.pt"
    assert main(["export", "--format", "torchscript", "--weights", str(w), "--output", str(ts),
                 "--input-size", "64"]) == 0
    assert "max |diff| 0" in capsys.readouterr().out or ts.is_file()

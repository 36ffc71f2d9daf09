"""Deploy-time folding (``export_onnx(..., deploy=True)``, ``featherface export --deploy``, the cache):
the same outputs within 1e-5 of each output's scale, far fewer graph nodes, the model untouched."""

from __future__ import annotations

import collections
import copy

import numpy as np
import pytest
import torch

from featherface import create_model
from featherface.export.deploy import deploy_model, shuffle_perm
from featherface.models.shuffle import channel_shuffle

TOL = 1e-5


def _close(ref: dict, got: dict) -> float:
    """Largest |difference| over the outputs, relative to each output's largest magnitude (>= 1)."""
    return max(float(np.abs(np.asarray(got[k]) - np.asarray(ref[k])).max() / max(1.0, float(np.abs(np.asarray(ref[k])).max())))
               for k in ("bbox", "cls", "ldm"))


def _outputs(net: torch.nn.Module, x: torch.Tensor) -> dict:
    with torch.no_grad():
        return {k: v.numpy() for k, v in net(x).items()}


def test_shuffle_perm_is_channel_shuffle():
    x = torch.arange(32.0).view(1, 32, 1, 1)
    assert torch.equal(channel_shuffle(x, 4)[0, :, 0, 0], shuffle_perm(32, 4).float())


@pytest.mark.parametrize("name", ["featherface-v2-ultra", "featherface-v1", "retinaface-mnet025"])
def test_folded_copy_same_outputs_random_weights(model_factory, name):
    model = model_factory(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 96, 160, generator=torch.Generator().manual_seed(1)) * 50
    ref = _outputs(model, x)
    for mean_as_conv in (False, True):
        assert _close(ref, _outputs(deploy_model(model, mean_as_conv=mean_as_conv), x)) <= TOL
    after = model.state_dict()  # the model (and so training) is untouched
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name", ["featherface-v2-ultra", "featherface-v1"])
def test_folded_onnx_same_outputs_shipped_weights_and_fewer_nodes(tmp_path, name):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from featherface.export import export_onnx
    from featherface.inference.backends import read_onnx_metadata

    model = create_model(name, pretrained=True).eval()
    x = (torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(2)) * 50)
    ref = _outputs(model, x)
    counts = {}
    for deploy in (False, True):
        path = export_onnx(model, tmp_path / f"{deploy}.onnx", input_size=160, deploy=deploy)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x.numpy()})))
        assert _close(ref, got) <= TOL
        counts[deploy] = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert sum(counts[True].values()) < 0.5 * sum(counts[False].values())
    assert not {"Shape", "Constant", "Unsqueeze", "Cast"} & set(counts[True])  # no shape arithmetic left
    assert counts[True]["Transpose"] == 3 and counts[True]["Reshape"] == 3  # one per level, in the head
    assert "deploy" in read_onnx_metadata(tmp_path / "True.onnx")
    assert "deploy" not in read_onnx_metadata(tmp_path / "False.onnx")


def test_deploy_refuses_dynamo_exporter(tmp_path, model_factory):
    from featherface.errors import ConfigError
    from featherface.export import export_onnx

    with pytest.raises(ConfigError, match="legacy"):
        export_onnx(model_factory("featherface-v1"), tmp_path / "m.onnx", deploy=True, exporter="dynamo")


def test_cached_export_is_folded(tmp_path, monkeypatch, model_factory):
    pytest.importorskip("onnxruntime")
    from featherface.export.cache import cached_export
    from featherface.inference.backends import read_onnx_metadata

    monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path))
    assert "deploy" in read_onnx_metadata(cached_export(model_factory("featherface-v2-ultra")))


def test_cli_export_deploy(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from featherface.cli import main
    from featherface.inference.backends import read_onnx_metadata

    out = tmp_path / "v2.onnx"
    assert main(["export", "--deploy", "--output", str(out), "--input-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "deploy-folded" in printed and "verify:" in printed  # checked against PyTorch after writing
    assert "deploy" in read_onnx_metadata(out)
    assert main(["export", "--deploy", "--exporter", "dynamo", "--output", str(tmp_path / "d.onnx")]) == 2
    assert main(["export", "--deploy", "--format", "torchscript", "--output", str(tmp_path / "t.pt")]) == 2


def test_deploy_with_postprocess_same_faces(tmp_path, model_factory):
    ort = pytest.importorskip("onnxruntime")
    from featherface.export import export_onnx

    model = model_factory("featherface-v2-ultra", face_bias=2.0)
    x = np.random.default_rng(3).normal(0, 50, size=(1, 3, 96, 128)).astype(np.float32)
    dets = []
    for deploy in (False, True):
        path = export_onnx(model, tmp_path / f"{deploy}.onnx", input_size=96, postprocess=True, deploy=deploy)
        dets.append(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0])
    assert dets[0].shape == dets[1].shape and len(dets[0]) > 0
    np.testing.assert_allclose(dets[0], dets[1], atol=1e-3)


@pytest.mark.parametrize("overrides", [
    {"spatial_norm": True}, {"attention_residual": False}, {"fpn_conv": "full"}, {"head_share_levels": True},
    {"share_cbam": False}, {"head_mid_channels": 0}, {"fpn_lateral_groups": 1, "shuffle_groups": 2},
    {"feature_reuse": False, "attention_multiplication": False}, {"backbone_cbam": False},
    {"fpn_layers": 1, "attention_repeats": 1}, {"neck": "fpn"},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_folded_copy_same_outputs_ablation_configs(overrides):
    """Every architecture switch the ablation flips folds exactly too."""
    torch.manual_seed(0)
    model = create_model("featherface-v2-ultra", **overrides).eval()
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(4)) * 50
    assert _close(_outputs(model, x), _outputs(deploy_model(model), x)) <= TOL


@pytest.mark.parametrize("name", ["featherface-v2-ultra", "featherface-v1"])
def test_portable_ops_same_outputs(tmp_path, model_factory, name):
    """``portable=True`` (for pnnx -> ncnn, MNN; benchmarks/mobile_runtimes.py): global pools instead of
    two-axis reductions, the laterals' shuffle as reshapes, no width ReduceSum; the same outputs."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from featherface.errors import ConfigError
    from featherface.export import export_onnx

    model = model_factory(name)
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(5)) * 50
    ref = _outputs(model, x)
    assert _close(ref, _outputs(deploy_model(model, portable=True), x)) <= TOL
    path = export_onnx(model, tmp_path / "p.onnx", input_size=(64, 96), deploy=True, deploy_options={"portable": True})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x.numpy()})))
    assert _close(ref, got) <= TOL
    nodes = onnx.load(str(path)).graph.node
    ops = collections.Counter(n.op_type for n in nodes)
    assert ops["GlobalMaxPool"] > 0 and ops["GlobalAveragePool"] > 0
    shapes = {o for n in nodes if n.op_type == "Shape" for o in n.output}
    assert all(n.input[0] in shapes for n in nodes if n.op_type == "Gather")  # no channel Gather: shape chains only
    for n in nodes:  # what is left of ReduceMax is over the channels (the spatial attention)
        if n.op_type == "ReduceMax":
            assert [list(a.ints) for a in n.attribute if a.name == "axes"] == [[1]]
    with pytest.raises(ConfigError, match="deploy_options"):
        export_onnx(model, tmp_path / "q.onnx", deploy_options={"portable": True})


def test_folded_copy_survives_deepcopy(model_factory):
    """Tracers such as torch.export (litert-torch, benchmarks/mobile_runtimes.py) copy the module:
    the folded fusion weights and the shared-attention grouping must not hang on object ids."""
    folded = deploy_model(model_factory("featherface-v2-ultra"))
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(3)) * 50
    ref = _outputs(folded, x)
    assert _close(ref, _outputs(copy.deepcopy(folded), x)) == 0.0

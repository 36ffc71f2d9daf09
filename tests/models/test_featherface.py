import pytest
import torch

import featherface
from featherface.errors import ConfigError
from featherface.models import create_model, list_models, model_config
from featherface.models.techniques import TECHNIQUES


@pytest.fixture(scope="module")
def v2():
    torch.manual_seed(0)
    return create_model("featherface-v2-ultra").eval()


def test_registry_lists_required_models():
    names = list_models()
    assert "featherface-v2-ultra" in names and "featherface-v1" in names
    assert featherface.list_models() == names


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("featherface-v9")
    with pytest.raises(ConfigError, match="unknown option"):
        create_model("featherface-v2-ultra", not_an_option=1)


def test_output_shapes_at_640(v2):
    with torch.no_grad():
        out = v2(torch.zeros(2, 3, 640, 640))
    assert out["bbox"].shape == (2, 16800, 4)
    assert out["cls"].shape == (2, 16800, 2)
    assert out["ldm"].shape == (2, 16800, 10)


def test_v2_parameter_budget_and_v1_ratio(v2):
    n2 = sum(p.numel() for p in v2.parameters())
    n1 = sum(p.numel() for p in create_model("featherface-v1").parameters())
    assert 235_000 <= n2 <= 250_000
    assert 450_000 <= n1 <= 520_000  # "about 0.49M"
    assert 1.8 <= n1 / n2 <= 2.2  # "V1 roughly twice V2"


def _graph_ops(model, size=128):
    traced = torch.jit.trace(model, torch.zeros(1, 3, size, size), strict=False, check_trace=False)
    return [n.kind() for n in traced.inlined_graph.nodes()]


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_each_technique_switch_changes_graph_and_output(technique):
    torch.manual_seed(0)
    on = create_model("featherface-v2-ultra").eval()
    off = create_model("featherface-v2-ultra", **{technique: False}).eval()
    # same weights wherever both have them
    off.load_state_dict({k: v for k, v in on.state_dict().items() if k in off.state_dict()}, strict=False)
    x = torch.randn(1, 3, 128, 128) * 50
    with torch.no_grad():
        a, b = on(x), off(x)
    assert not torch.allclose(a["cls"], b["cls"]), f"{technique} has no effect on the output"
    assert len(_graph_ops(on)) != len(_graph_ops(off)), f"{technique} does not change the graph"
    assert not getattr(off.config, technique)


def test_all_techniques_off_equals_v2_base():
    base = create_model("featherface-v2-base")
    assert not any(base.config.techniques.values())
    assert all(create_model("featherface-v2-ultra").config.techniques.values())


def test_non_multiple_of_32_input_runs_and_matches_prior_count(v2):
    from featherface.ops.anchors import num_priors

    with torch.no_grad():
        out = v2(torch.zeros(1, 3, 200, 300))
    assert out["cls"].shape[1] == num_priors(200, 300)


def test_models_trace_without_data_dependent_branches(v2):
    x = torch.randn(1, 3, 96, 128)
    traced = torch.jit.trace(v2, x, strict=False)
    y = torch.randn(1, 3, 160, 96)  # another size through the same trace
    with torch.no_grad():
        ref, got = v2(y), traced(y)
    assert torch.allclose(ref["bbox"], got["bbox"], atol=1e-5)


def test_config_round_trip():
    cfg = model_config("featherface-v1")
    from featherface.models import FeatherFaceConfig

    assert FeatherFaceConfig.from_dict(cfg.to_dict()) == cfg


def test_dynamic_sharing_gate_is_differentiable():
    m = create_model("featherface-v2-ultra")
    out = m(torch.randn(2, 3, 64, 64))
    (out["cls"].sum() + out["bbox"].sum()).backward()
    assert m.dynamic_sharing.threshold.grad is not None and m.dynamic_sharing.threshold.grad != 0


def test_forward_features_exposes_pyramids(v2):
    with torch.no_grad():
        feats = v2.forward_features(torch.zeros(1, 3, 128, 128))
    assert [f.shape[1] for f in feats["backbone"]] == [64, 128, 256]
    assert all(f.shape[1] == 32 for f in feats["bifpn"] + feats["enhanced"] + feats["context"])

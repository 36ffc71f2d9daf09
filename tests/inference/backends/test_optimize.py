"""optimize_for_inference: a BatchNorm-folded, channels-last copy with the same outputs; the model untouched."""

from __future__ import annotations

import pytest
import torch

from featherface.inference.backends.optimize import optimize_for_inference


@pytest.mark.parametrize("name", ["featherface-v2-ultra", "featherface-v1"])
def test_optimized_copy_has_same_outputs(name, model_factory):
    model = model_factory(name)
    n_params = sum(p.numel() for p in model.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    assert fast.config == model.config and fast.name == model.name
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0)) * 60
    with torch.inference_mode():
        ref, got = model(x), fast(x)
    for k in ("bbox", "cls", "ldm"):
        assert float((ref[k] - got[k]).abs().max()) <= 1e-4, k
    # the original model is untouched: same parameters, same values, still trainable
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())

"""CBAM: the spatial-attention normalisation flag."""

from __future__ import annotations


def test_spatial_norm_flag_adds_a_batchnorm_and_keeps_outputs_after_folding() -> None:
    """Issue 17's fix: off by default (the shipped architecture), 4 parameters when on, and the
    BN-folded inference copy gives the same outputs."""
    import torch

    from featherface.inference.backends.optimize import optimize_for_inference
    from featherface.models import create_model

    off, on = create_model("featherface-v2-ultra"), create_model("featherface-v2-ultra", spatial_norm=True)
    assert sum(p.numel() for p in on.parameters()) - sum(p.numel() for p in off.parameters()) == 4
    assert on.bifpn_cbam.block(0).spatial.norm is not None and off.bifpn_cbam.block(0).spatial.norm is None
    on.eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        ref = on(x)
        got = optimize_for_inference(on)(x)
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], atol=1e-4, rtol=1e-4)

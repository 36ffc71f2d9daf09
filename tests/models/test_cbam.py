"""CBAM: the spatial-attention normalisation flag."""

from __future__ import annotations


def test_spatial_norm_flag_adds_a_per_map_norm_and_keeps_outputs_after_folding() -> None:
    """Issue 17's fix: off by default (the shipped architecture), 4 parameters when on (scale and
    shift of the two shared spatial maps), and the BN-folded inference copy gives the same outputs."""
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


def test_spatial_norm_is_the_same_in_training_and_evaluation() -> None:
    """No running statistics: the shared map normalises each input on its own, so a model scores
    in eval mode what it trained on (a shared BatchNorm here collapsed at evaluation)."""
    import torch

    from featherface.models.cbam import SpatialAttention

    att = SpatialAttention(7, norm=True)
    torch.nn.init.normal_(att.conv.weight)
    levels = [torch.randn(2, 8, 20, 20) * 5 + 3, torch.randn(2, 8, 10, 10) * 0.1]  # very different inputs
    att.train()
    train_out = [att(x) for x in levels]
    att.eval()
    for x, ref in zip(levels, train_out):
        torch.testing.assert_close(att(x), ref)
    assert not [b for b in att.buffers()]

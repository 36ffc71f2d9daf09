"""CBAM and its repeats: the two fixes of issue 17 (spatial-attention normalisation, residual repeats)."""

from __future__ import annotations

import torch

from featherface.inference.backends.optimize import optimize_for_inference
from featherface.models import create_model
from featherface.models.cbam import SpatialAttention
from featherface.models.techniques import AttentionMultiplication


def test_spatial_norm_flag_adds_a_per_map_norm_and_keeps_outputs_after_folding() -> None:
    """Issue 17's fix: off by default (the shipped architecture), 4 parameters when on (scale and
    shift of the two shared spatial maps), and the BN-folded inference copy gives the same outputs."""
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
    att = SpatialAttention(7, norm=True)
    torch.nn.init.normal_(att.conv.weight)
    levels = [torch.randn(2, 8, 20, 20) * 5 + 3, torch.randn(2, 8, 10, 10) * 0.1]  # very different inputs
    att.train()
    train_out = [att(x) for x in levels]
    att.eval()
    for x, ref in zip(levels, train_out):
        torch.testing.assert_close(att(x), ref)
    assert not [b for b in att.buffers()]


def test_residual_repeats_are_f_times_one_plus_the_mask_and_do_not_shrink() -> None:
    """``F + CBAM(F)`` per repeat: a constant 0.5 mask gives F * 1.5^3 where the plain repeats give
    F * 0.5^3 — the shrinking the residual form exists to avoid."""
    feats = [torch.randn(1, 4, 6, 6), torch.randn(1, 4, 3, 3)]

    def half(xs):
        return [x * 0.5 for x in xs]

    plain = AttentionMultiplication(3)(feats, half)
    residual = AttentionMultiplication(3, residual=True)(feats, half)
    for f, p, r in zip(feats, plain, residual):
        torch.testing.assert_close(p, f * 0.125)
        torch.testing.assert_close(r, f * 1.5 ** 3)


def test_attention_residual_flag_adds_no_parameters_and_changes_outputs() -> None:
    torch.manual_seed(0)
    off = create_model("featherface-v2-ultra", attention_residual=False).eval()
    on = create_model("featherface-v2-ultra", attention_residual=True).eval()
    on.load_state_dict(off.state_dict())  # same tensors: only the wiring differs
    assert on.config.attention_residual and not off.config.attention_residual
    assert create_model("featherface-v2-ultra").config.attention_residual  # the default (README: the ablation)
    assert not create_model("featherface-v2-base").config.attention_residual
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = off(x), on(x)
        folded = optimize_for_inference(on)(x)
    assert not torch.allclose(a["cls"], b["cls"])
    torch.testing.assert_close(folded["cls"], b["cls"], atol=1e-4, rtol=1e-4)

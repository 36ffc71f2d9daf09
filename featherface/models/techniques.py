"""The five "V2 Ultra" techniques of the design sheet, each a small module that can be switched off.

All act on the three BiFPN outputs ``[F3, F4, F5]`` (strides 8/16/32, equal width). The sheet gives
only loose formulas; how each one is resolved is written in its docstring. None has data-dependent
Python control flow, so every combination traces and exports to ONNX. Resizing between levels uses
a static factor (2 or 4): nearest upsampling to the target's size, and ``ceil``-mode average pooling
for downsampling, which matches the backbone's ``ceil(H/2)`` level sizes for any input size.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from featherface.models.layers import DepthwiseSeparableConv

Features = list[torch.Tensor]


def resize_to_level(x: torch.Tensor, src_level: int, dst_level: int, ref: torch.Tensor) -> torch.Tensor:
    """Move ``x`` from pyramid level ``src_level`` to ``dst_level`` (``ref`` has the target size)."""
    if src_level == dst_level:
        return x
    if src_level > dst_level:  # coarser -> finer
        return F.interpolate(x, size=ref.shape[-2:], mode="nearest")
    f = 2 ** (dst_level - src_level)
    return F.avg_pool2d(x, kernel_size=f, stride=f, ceil_mode=True)


class SmartFeatureReuse(nn.Module):
    """Technique 1 — smart feature reuse (0 parameters).

    Sheet: ``F3' = F3 + attention(F4) + downsample(F5)``, ``F5' = F5 + attention(F4) + upsample(F3)``.
    The resampling directions are swapped in the sheet (F5 is coarser than F3), so we resolve it as:
    ``F3' = F3 + up(A(F4)) + up(F5)`` and ``F5' = F5 + down(A(F4)) + down(F3)``; ``F4`` is unchanged.
    ``A`` is the (shared) BiFPN CBAM, re-used, so the technique adds no weights: the finest level
    gets context from above and the coarsest gets detail from below.
    """

    def forward(self, feats: Sequence[torch.Tensor], attention: Callable[[torch.Tensor], torch.Tensor]) -> Features:
        """``attention`` is passed in (not owned) so its weights stay counted where they live."""
        f3, f4, f5 = feats
        a4 = attention(f4)
        f3n = f3 + resize_to_level(a4, 1, 0, f3) + resize_to_level(f5, 2, 0, f3)
        f5n = f5 + resize_to_level(a4, 1, 2, f5) + resize_to_level(f3, 0, 2, f5)
        return [f3n, f4, f5n]


class AttentionMultiplication(nn.Module):
    """Technique 2 — attention multiplication (0 parameters): ``CBAM(CBAM(CBAM(F)))``.

    Applies the *shared* BiFPN CBAM ``repeats`` times per level instead of once. Switched off, the
    model applies it once (the plain "shared CBAM on the BiFPN outputs" stage). ``residual``: each
    application is ``F + CBAM(F)``, i.e. ``F * (1 + mask)``, so stacked masks in [0, 1] re-weight
    the features without shrinking them towards zero (attention residual learning).
    """

    def __init__(self, repeats: int = 3, residual: bool = False):
        super().__init__()
        if repeats < 1:
            raise ValueError("repeats must be >= 1")
        self.repeats = repeats
        self.residual = bool(residual)

    def forward(self, feats: Sequence[torch.Tensor],
                attention: Callable[[Sequence[torch.Tensor]], Features]) -> Features:
        out = list(feats)
        for _ in range(self.repeats):
            att = attention(out)
            out = [f + a for f, a in zip(out, att)] if self.residual else list(att)
        return out

    def extra_repr(self) -> str:
        return f"repeats={self.repeats}, residual={self.residual}"


class ProgressiveEnhancement(nn.Module):
    """Technique 3 — progressive enhancement (0 parameters), fine to coarse.

    Sheet: ``L1 = enhance_small(F3)``, ``L2 = enhance_medium(F4, L1)``, ``L3 = enhance_large(F5, L2, L1)``.
    Resolved as: ``L1 = F3 + (F3 - avgpool3x3(F3))`` (local-contrast boost of the level that sees
    small faces), ``L2 = F4 + down(L1)``, ``L3 = F5 + (down(L2) + down(L1)) / 2`` — each level is
    enhanced by everything finer than it, already enhanced.
    """

    def forward(self, feats: Sequence[torch.Tensor]) -> Features:
        f3, f4, f5 = feats
        l1 = f3 + (f3 - F.avg_pool2d(f3, 3, 1, 1, count_include_pad=False))
        l2 = f4 + resize_to_level(l1, 0, 1, f4)
        l3 = f5 + 0.5 * (resize_to_level(l2, 1, 2, f5) + resize_to_level(l1, 0, 2, f5))
        return [l1, l2, l3]


class MultiScaleImportance(nn.Module):
    """Technique 4 — multi-scale importance weighting (0 parameters).

    Sheet: ``weights = compute_importance_weights(features)``; ``fusion = weighted_sum(features, weights)``.
    Resolved as: per image, the importance of level ``i`` is its share of the total mean energy,
    ``w_i = E_i / sum_j E_j`` with ``E_i = mean(F_i^2)``; every level then receives the weighted
    sum of all levels resized to its resolution: ``F_j' = F_j + sum_i w_i * resize(F_i -> j)``.
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, feats: Sequence[torch.Tensor]) -> Features:
        energy = torch.stack([f.pow(2).mean(dim=(1, 2, 3)) for f in feats], dim=1)  # (B, L)
        w = energy / (energy.sum(dim=1, keepdim=True) + self.eps)
        out = []
        for j, fj in enumerate(feats):
            fused = fj + 0  # start from the level itself
            for i, fi in enumerate(feats):
                fused = fused + w[:, i].view(-1, 1, 1, 1) * resize_to_level(fi, i, j, fj)
            out.append(fused)
        return out


class DynamicWeightSharing(nn.Module):
    """Technique 5 — dynamic weight sharing (~1.4K parameters at 32 channels).

    Sheet: ``if similarity(A, B) > threshold: shared_processing(features)``. A hard ``if`` on data
    would neither train nor export, so it is a differentiable gate: with ``d_i`` the global-average
    descriptor of level ``i`` and ``s`` the cosine similarity of neighbouring levels (a level's
    ``s`` is the mean over its neighbours), ``g = sigmoid(temperature * (s - threshold))`` with a
    learnable ``threshold``; each level becomes ``F_i + g_i * shared(F_i)``, ``shared`` being one
    depthwise-separable conv used by all levels.
    """

    def __init__(self, channels: int = 32, threshold: float = 0.5, temperature: float = 10.0):
        super().__init__()
        self.shared = DepthwiseSeparableConv(channels, channels, act="relu")
        self.threshold = nn.Parameter(torch.tensor(float(threshold)))
        self.temperature = temperature

    def forward(self, feats: Sequence[torch.Tensor]) -> Features:
        desc = [f.mean(dim=(2, 3)) for f in feats]  # (B, C) each
        n = len(feats)
        pair = [F.cosine_similarity(desc[i], desc[i + 1], dim=1) for i in range(n - 1)]
        out = []
        for i, f in enumerate(feats):
            neigh = [pair[k] for k in (i - 1, i) if 0 <= k < n - 1]
            s = torch.stack(neigh, 0).mean(0)
            g = torch.sigmoid(self.temperature * (s - self.threshold)).view(-1, 1, 1, 1)
            out.append(f + g * self.shared(f))
        return out


TECHNIQUES = ("feature_reuse", "attention_multiplication", "progressive_enhancement",
              "multiscale_weighting", "dynamic_sharing")

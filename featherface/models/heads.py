"""Prediction heads: per anchor, 2 class logits (background, face), 4 box deltas, 10 landmark deltas.

Outputs are flattened in the prior order of :mod:`featherface.ops.anchors` — level by level, row
by row, column by column, anchor by anchor — so ``output[:, i]`` belongs to prior ``i``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from featherface.models.layers import DepthwiseSeparableConv


def _flatten(x: torch.Tensor, per_anchor: int) -> torch.Tensor:
    """(B, A*k, H, W) -> (B, H*W*A, k)."""
    b = x.shape[0]
    return x.permute(0, 2, 3, 1).reshape(b, -1, per_anchor)


class LevelHead(nn.Module):
    """Class / box / landmark 1x1 convolutions for one level (the RetinaFace head)."""

    def __init__(self, in_ch: int, num_anchors: int = 2, num_classes: int = 2):
        super().__init__()
        self.num_classes = num_classes
        self.cls = nn.Conv2d(in_ch, num_anchors * num_classes, 1)
        self.bbox = nn.Conv2d(in_ch, num_anchors * 4, 1)
        self.ldm = nn.Conv2d(in_ch, num_anchors * 10, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _flatten(self.bbox(x), 4), _flatten(self.cls(x), self.num_classes), _flatten(self.ldm(x), 10)


class SharedMultiHead(nn.Module):
    """V2 Ultra head: a shared trunk (3x3 depthwise-separable conv, ``in_ch -> mid_ch``) feeding the
    three task convolutions, so the tasks share one feature computation per level.

    Args:
        in_ch: input width per level.
        mid_ch: width of the shared trunk (16 in V2 Ultra); ``0`` drops the trunk (plain RetinaFace heads, V1).
        num_levels: number of pyramid levels.
        num_anchors: anchors per cell per level.
        share_across_levels: one head for all levels instead of one per level.
    """

    def __init__(self, in_ch: int = 32, mid_ch: int = 16, num_levels: int = 3, num_anchors: int = 2,
                 share_across_levels: bool = False, num_classes: int = 2):
        super().__init__()
        n_heads = 1 if share_across_levels else num_levels
        self.num_levels = num_levels
        self.share_across_levels = share_across_levels

        def make() -> nn.Module:
            if mid_ch > 0:
                return nn.Sequential(
                    DepthwiseSeparableConv(in_ch, mid_ch, act="relu"),
                    LevelHead(mid_ch, num_anchors, num_classes),
                )
            return LevelHead(in_ch, num_anchors, num_classes)

        self.heads = nn.ModuleList(make() for _ in range(n_heads))

    def forward(self, feats: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        boxes, logits, ldms = [], [], []
        for i, f in enumerate(feats):
            head = self.heads[0 if self.share_across_levels else i]
            b, c, l = head(f)
            boxes.append(b)
            logits.append(c)
            ldms.append(l)
        return {"bbox": torch.cat(boxes, 1), "cls": torch.cat(logits, 1), "ldm": torch.cat(ldms, 1)}

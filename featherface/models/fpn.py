"""RetinaFace's FPN: 1x1 laterals, then a top-down pass with nearest upsampling and a 3x3 merge conv.

This is the neck of the published RetinaFace-mnet0.25 (Deng et al., 2020), so that model is one
configuration of :class:`~featherface.models.featherface.FeatherFace` (``neck="fpn"``) and its
released weights load into it (:mod:`featherface.models.retinaface_keys`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from featherface.models.bifpn import resize_like
from featherface.models.layers import conv_bn_act


class FPN(nn.Module):
    """Lateral 1x1 conv-BN-LeakyReLU per level; ``P_l += up(P_{l+1})`` then a 3x3 merge, top down.

    Args:
        in_channels: widths of the backbone levels (64, 128, 256 for MobileNetV1-0.25).
        channels: common output width (64 in RetinaFace-mnet0.25).
        leaky_slope: slope of the LeakyReLUs (RetinaFace uses 0.1 for widths <= 64).
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 64, leaky_slope: float = 0.1):
        super().__init__()
        self.lateral = nn.ModuleList(conv_bn_act(c, channels, 1, leaky_slope=leaky_slope) for c in in_channels)
        # merge[i] refines level i after the coarser level was added (no merge on the top level)
        self.merge = nn.ModuleList(conv_bn_act(channels, channels, 3, leaky_slope=leaky_slope)
                                   for _ in range(len(in_channels) - 1))
        self.out_channels = channels

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x = [m(f) for m, f in zip(self.lateral, feats)]
        for lvl in range(len(x) - 2, -1, -1):
            x[lvl] = self.merge[lvl](x[lvl] + resize_like(x[lvl + 1], x[lvl]))
        return x

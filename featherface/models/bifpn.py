"""BiFPN (EfficientDet's weighted bidirectional FPN), light variant for three pyramid levels.

Each layer runs a top-down pass (P5 -> P3) then a bottom-up pass (P3 -> P5). Every node fuses its
inputs with *fast normalised fusion* — ``sum(relu(w_i) * x_i) / (sum(relu(w_i)) + eps)`` with one
learnable scalar per input — and refines the result with a 3x3 depthwise-separable conv (``"separable"``)
or a full 3x3 conv (``"full"``). Lateral 1x1 convs first bring every backbone level to ``channels``;
``lateral_groups > 1`` makes them grouped (followed by a channel shuffle) which is how V2 Ultra
keeps the 256->32 projection cheap.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from featherface.models.layers import DepthwiseSeparableConv, conv_bn_act
from featherface.models.shuffle import ChannelShuffle


def resize_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour resize of ``x`` to ``ref``'s spatial size (export-friendly: size from shape)."""
    return F.interpolate(x, size=ref.shape[-2:], mode="nearest")


def downsample2(x: torch.Tensor) -> torch.Tensor:
    """Stride-2 3x3 max-pool; yields ceil(H/2) like the backbone's stride-2 convs, so levels align."""
    return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class FastNormalizedFusion(nn.Module):
    """Weighted sum with non-negative, normalised learnable weights (EfficientDet, eq. 3)."""

    def __init__(self, n_inputs: int, eps: float = 1e-4):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_inputs))
        self.eps = eps

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        w = F.relu(self.weight)
        w = w / (w.sum() + self.eps)
        out = inputs[0] * w[0]
        for i in range(1, len(inputs)):
            out = out + inputs[i] * w[i]
        return out


class BiFPNLayer(nn.Module):
    """One top-down + bottom-up pass over ``n_levels`` maps of equal width."""

    def __init__(self, channels: int, n_levels: int = 3, conv: str = "separable", leaky_slope: float = 0.1):
        super().__init__()
        if conv not in ("separable", "full"):
            raise ValueError("conv must be 'separable' or 'full'")

        def node() -> nn.Module:
            if conv == "separable":
                return DepthwiseSeparableConv(channels, channels, leaky_slope=leaky_slope)
            return conv_bn_act(channels, channels, 3, leaky_slope=leaky_slope)

        self.n_levels = n_levels
        # top-down nodes for levels n-2 .. 0, bottom-up nodes for levels 1 .. n-1
        self.td_fuse = nn.ModuleList(FastNormalizedFusion(2) for _ in range(n_levels - 1))
        self.td_conv = nn.ModuleList(node() for _ in range(n_levels - 1))
        self.bu_fuse = nn.ModuleList(
            FastNormalizedFusion(3 if lvl < n_levels - 1 else 2) for lvl in range(1, n_levels)
        )
        self.bu_conv = nn.ModuleList(node() for _ in range(n_levels - 1))

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        n = self.n_levels
        td: list[torch.Tensor] = [feats[-1]]  # from the top level down
        for k, lvl in enumerate(range(n - 2, -1, -1)):
            fused = self.td_fuse[k]([feats[lvl], resize_like(td[-1], feats[lvl])])
            td.append(self.td_conv[k](fused))
        td = td[::-1]  # index by level
        outs = [td[0]]
        for k, lvl in enumerate(range(1, n)):
            down = downsample2(outs[-1])
            inputs = [feats[lvl], td[lvl], down] if lvl < n - 1 else [feats[lvl], down]
            outs.append(self.bu_conv[k](self.bu_fuse[k](inputs)))
        return outs


class BiFPN(nn.Module):
    """Lateral projections + ``num_layers`` BiFPN layers.

    Args:
        in_channels: widths of the backbone levels (64, 128, 256 for MobileNetV1-0.25).
        channels: common width of the pyramid (32 in V2 Ultra).
        num_layers: number of stacked BiFPN layers (2 in V2 Ultra).
        conv: ``"separable"`` (depthwise-separable, BiFPN_Light) or ``"full"`` 3x3 convs.
        lateral_groups: groups of the lateral 1x1 convs; >1 adds a channel shuffle after them.
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 32, num_layers: int = 2,
                 conv: str = "separable", lateral_groups: int = 1, leaky_slope: float = 0.1):
        super().__init__()
        lat: list[nn.Module] = []
        for c in in_channels:
            g = lateral_groups if c % lateral_groups == 0 and channels % lateral_groups == 0 else 1
            block: list[nn.Module] = [conv_bn_act(c, channels, 1, groups=g, leaky_slope=leaky_slope)]
            if g > 1:
                block.append(ChannelShuffle(g))
            lat.append(nn.Sequential(*block))
        self.lateral = nn.ModuleList(lat)
        self.layers = nn.ModuleList(
            BiFPNLayer(channels, len(in_channels), conv, leaky_slope) for _ in range(num_layers)
        )
        self.out_channels = channels

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x = [m(f) for m, f in zip(self.lateral, feats)]
        for layer in self.layers:
            x = layer(x)
        return x

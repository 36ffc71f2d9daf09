"""Channel shuffle (ShuffleNet): lets grouped convolutions exchange information at zero parameters."""

from __future__ import annotations

import torch
from torch import nn


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels across ``groups``: (B, g*c, H, W) -> view (B, g, c) -> transpose -> flatten."""
    b, ch, h, w = x.shape
    return x.reshape(b, groups, ch // groups, h, w).transpose(1, 2).reshape(b, ch, h, w)


class ChannelShuffle(nn.Module):
    """Module wrapper of :func:`channel_shuffle`; ``groups=1`` is the identity."""

    def __init__(self, groups: int = 4):
        super().__init__()
        if groups < 1:
            raise ValueError("groups must be >= 1")
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return x
        if x.shape[1] % self.groups:
            raise ValueError(f"{x.shape[1]} channels are not divisible into {self.groups} groups")
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"

"""SSH context module (Najibi et al., 2017) as used by RetinaFace, with optional grouped convs.

Three parallel branches with 3x3, 5x5 and 7x7 receptive fields; like RetinaFace, the 5x5 and 7x7
fields are built from stacked 3x3 convs (two and three), which shares the first conv of the 7x7
branch with the 5x5 branch and costs far fewer parameters than true 5x5/7x7 kernels. Outputs are
concatenated (1/2 + 1/4 + 1/4 of ``out_ch``) and passed through ReLU. ``groups=4`` is V2 Ultra's
SSH_Grouped; ``groups=1`` is the plain SSH of V1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from featherface.models.layers import conv_bn_act


class SSH(nn.Module):
    """SSH context block.

    Args:
        in_ch: input channels.
        out_ch: output channels (divisible by 4, and its quarters by ``groups``).
        groups: groups of every 3x3 conv (4 in SSH_Grouped).
        leaky_slope: slope of the inner LeakyReLUs (RetinaFace uses 0.1 for narrow outputs).
    """

    def __init__(self, in_ch: int, out_ch: int, groups: int = 1, leaky_slope: float = 0.1):
        super().__init__()
        if out_ch % 4:
            raise ValueError("SSH out_ch must be divisible by 4")
        half, quarter = out_ch // 2, out_ch // 4
        for n in (in_ch, half, quarter):
            if n % groups:
                raise ValueError(f"SSH width {n} not divisible by groups={groups}")
        self.conv3 = conv_bn_act(in_ch, half, 3, groups=groups, act=None)
        self.conv5_1 = conv_bn_act(in_ch, quarter, 3, groups=groups, act="leaky", leaky_slope=leaky_slope)
        self.conv5_2 = conv_bn_act(quarter, quarter, 3, groups=groups, act=None)
        self.conv7_2 = conv_bn_act(quarter, quarter, 3, groups=groups, act="leaky", leaky_slope=leaky_slope)
        self.conv7_3 = conv_bn_act(quarter, quarter, 3, groups=groups, act=None)
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.conv3(x)
        t = self.conv5_1(x)
        b5 = self.conv5_2(t)
        b7 = self.conv7_3(self.conv7_2(t))
        return F.relu(torch.cat([b3, b5, b7], dim=1))

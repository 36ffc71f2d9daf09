"""Small convolution building blocks shared by the model modules."""

from __future__ import annotations

from torch import nn


def conv_bn_act(
    in_ch: int,
    out_ch: int,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "leaky",
    leaky_slope: float = 0.1,
) -> nn.Sequential:
    """Conv (no bias, BN follows) + BatchNorm + optional activation.

    ``act`` is ``"leaky"`` (LeakyReLU, the RetinaFace MobileNet convention), ``"relu"`` or ``None``.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act == "leaky":
        layers.append(nn.LeakyReLU(leaky_slope, inplace=True))
    elif act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act is not None:
        raise ValueError(f"unknown activation {act!r}")
    return nn.Sequential(*layers)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 (each with BN): ~1/8 of a full 3x3 conv's parameters at 32 ch."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, act: str | None = "leaky", leaky_slope: float = 0.1):
        super().__init__()
        self.depthwise = conv_bn_act(in_ch, in_ch, 3, stride, groups=in_ch, act=act, leaky_slope=leaky_slope)
        self.pointwise = conv_bn_act(in_ch, out_ch, 1, 1, act=act, leaky_slope=leaky_slope)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))

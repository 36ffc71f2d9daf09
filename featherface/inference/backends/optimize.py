"""Faster PyTorch-eager inference of a FeatherFace network, with the same outputs.

Profiling V2 Ultra at 640x640 (``featherface bench``, torch profiler ranges per block) puts about
half of the eager time in the MobileNetV1-0.25 backbone, and inside it in three kinds of kernels:
eval-mode BatchNorm as a separate pass over every feature map, depthwise 3x3 convolutions with only
8-16 channels at 320x320 (oneDNN's NCHW depthwise path is very slow for so few channels), and
the 1x1 convolutions. None of this needs an architecture change:

* **Conv+BatchNorm folding** — every ``Conv2d`` followed by an eval ``BatchNorm2d`` becomes one
  convolution with ``w' = w * gamma / sqrt(var + eps)`` and ``b' = beta - mean * gamma / sqrt(var + eps)``
  (the ONNX export does the same folding). Identical maths, one pass fewer per layer.
* **channels_last** — weights and input in NHWC, where oneDNN's depthwise kernels are fast.

:func:`optimize_for_inference` returns an optimised *copy*; the model (and its parameter count,
state_dict and training behaviour) is untouched. Outputs agree with the original to float32
rounding (max abs difference ~1e-5 on outputs of magnitude ~1-10; ``tests/inference/backends`` checks 1e-4).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def fold_conv_bn(model: nn.Module) -> int:
    """Fold every eval ``BatchNorm2d`` that directly follows a ``Conv2d`` in an ``nn.Sequential`` (in place).

    The BatchNorm is replaced by ``nn.Identity``. Returns the number of folded pairs.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                seq[i + 1] = nn.Identity()
                folded += 1
    return folded


class InferenceModel(nn.Module):
    """Wraps an optimised network: converts the input's memory format, keeps ``config``/``name``."""

    def __init__(self, net: nn.Module, channels_last: bool = True):
        super().__init__()
        self.net = net
        self.channels_last = channels_last
        self.config = getattr(net, "config", None)
        self.name = getattr(net, "name", type(net).__name__)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def forward(self, x: torch.Tensor) -> Any:
        return self.net(self._layout(x))

    def forward_features(self, x: torch.Tensor) -> Any:
        """The wrapped network's feature pyramids (a teacher's features for distillation)."""
        return self.net.forward_features(self._layout(x))

    @property
    def head(self) -> nn.Module:
        """The wrapped network's head: ``head(forward_features(x)["context"]) == forward(x)``."""
        return self.net.head


def optimize_for_inference(model: nn.Module, fold_bn: bool = True, channels_last: bool = True) -> InferenceModel:
    """An eval-only, faster copy of ``model`` for PyTorch eager inference (outputs unchanged).

    Args:
        model: a FeatherFace network (any ``nn.Module`` built from Conv/BN Sequentials works).
        fold_bn: fold BatchNorm into the preceding convolutions.
        channels_last: run in NHWC memory format.
    """
    net = copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    if fold_bn:
        fold_conv_bn(net)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return InferenceModel(net, channels_last).eval()

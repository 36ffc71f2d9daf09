"""MobileNetV1 with width multiplier 0.25: the backbone of RetinaFace-mnet0.25 and both FeatherFaces.

The layout (channels 8-16-32-32-64-64 | 128 x6 | 256 x2, LeakyReLU 0.1) is the one used by the
common RetinaFace releases, so their ImageNet-pretrained ``mobilenet0.25`` checkpoints load into it
(see :func:`load_backbone_checkpoint`). Exactly 213,072 parameters.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from featherface.models.layers import DepthwiseSeparableConv, conv_bn_act


class MobileNetV1(nn.Module):
    """MobileNetV1 body returning the stride-8/16/32 feature maps (P3, P4, P5).

    Args:
        width_mult: channel multiplier relative to MobileNetV1-1.0 (0.25 gives 64/128/256 outputs).
        leaky_slope: slope of the LeakyReLU activations.
    """

    def __init__(self, width_mult: float = 0.25, leaky_slope: float = 0.1):
        super().__init__()

        def c(n: int) -> int:
            return max(8, int(n * width_mult))

        def dw(i: int, o: int, s: int) -> DepthwiseSeparableConv:
            return DepthwiseSeparableConv(c(i), c(o), s, leaky_slope=leaky_slope)

        self.stage1 = nn.Sequential(
            conv_bn_act(3, c(32), 3, 2, leaky_slope=leaky_slope),
            dw(32, 64, 1),
            dw(64, 128, 2),
            dw(128, 128, 1),
            dw(128, 256, 2),
            dw(256, 256, 1),
        )
        self.stage2 = nn.Sequential(dw(256, 512, 2), *[dw(512, 512, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(dw(512, 1024, 2), dw(1024, 1024, 1))
        self.out_channels = (c(256), c(512), c(1024))
        self.strides = (8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p3 = self.stage1(x)
        p4 = self.stage2(p3)
        p5 = self.stage3(p4)
        return [p3, p4, p5]


def retinaface_backbone_key_map(model: MobileNetV1) -> dict[str, str]:
    """Map the RetinaFace-release key layout onto ours.

    Their ``conv_dw`` blocks are ``Sequential(dw_conv, dw_bn, act, pw_conv, pw_bn, act)`` (indices
    0,1,3,4) and ``conv_bn`` is ``Sequential(conv, bn, act)``; ours nest depthwise/pointwise.
    """
    mapping: dict[str, str] = {}
    for stage_name in ("stage1", "stage2", "stage3"):
        stage = getattr(model, stage_name)
        for i, block in enumerate(stage):
            if isinstance(block, DepthwiseSeparableConv):
                for ours, theirs in (("depthwise.0", "0"), ("depthwise.1", "1"), ("pointwise.0", "3"), ("pointwise.1", "4")):
                    for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                        mapping[f"{stage_name}.{i}.{theirs}.{suffix}"] = f"{stage_name}.{i}.{ours}.{suffix}"
    return mapping


def backbone_tensors(state_dict: dict) -> "OrderedDict[str, torch.Tensor]":
    """The backbone's tensors of any checkpoint layout, with ``module.`` (DataParallel) and
    ``body.``/``backbone.`` (RetinaFace / FeatherFace) prefixes stripped: keys ``stage1.*`` ...
    Everything else (an ImageNet classifier, a detector's neck and heads) is left out."""
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k, v in state_dict.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            continue
        for prefix in ("module.", "body.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if k.startswith(("stage1.", "stage2.", "stage3.")):
            out[k] = v
    return out


def load_backbone_checkpoint(model: MobileNetV1, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Load an ImageNet MobileNetV1-0.25 checkpoint (RetinaFace-release layout or ours).

    Keys are read through :func:`backbone_tensors` (prefixes stripped, non-backbone tensors
    ignored). Returns the list of our keys that were loaded; raises ``KeyError`` if a backbone
    parameter is missing or has the wrong shape.
    """
    cleaned = backbone_tensors(state_dict)
    mapping = retinaface_backbone_key_map(model)
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for k, v in cleaned.items():
        key = k if k in ours else mapping.get(k)
        if key is None:
            continue
        if ours[key].shape != v.shape:
            raise KeyError(f"backbone weight {k} has shape {tuple(v.shape)}, expected {tuple(ours[key].shape)}")
        out[key] = v
    missing = [k for k in ours if k not in out and not k.endswith("num_batches_tracked")]
    if missing:
        raise KeyError(f"backbone checkpoint lacks {len(missing)} parameters, e.g. {missing[:3]}")
    model.load_state_dict(out, strict=False)
    return sorted(out)

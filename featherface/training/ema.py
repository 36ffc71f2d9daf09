"""Exponential moving average of model weights (the averaged model usually detects better).

The decay ramps up as ``decay * (1 - exp(-updates / ramp))`` so the average does not stay anchored
to the random initial weights during the first thousands of steps (the YOLO/timm practice). Float
parameters and buffers are averaged; integer buffers (BatchNorm's ``num_batches_tracked``) are
copied.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

__all__ = ["ModelEMA", "unwrap_model"]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


class ModelEMA:
    """Keeps ``self.module``, an averaged copy of a model, updated after each optimizer step."""

    def __init__(self, model: nn.Module, decay: float = 0.9998, ramp: float = 2000.0, updates: int = 0) -> None:
        self.module = copy.deepcopy(unwrap_model(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = float(decay)
        self.ramp = float(ramp)
        self.updates = int(updates)

    def current_decay(self) -> float:
        return self.decay * (1.0 - math.exp(-self.updates / self.ramp)) if self.ramp > 0 else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend the model's current weights into the average."""
        self.updates += 1
        d = self.current_decay()
        src = unwrap_model(model).state_dict()
        for k, v in self.module.state_dict().items():
            s = src[k].detach()
            if v.dtype.is_floating_point:
                v.mul_(d).add_(s.to(v.dtype), alpha=1.0 - d)
            else:
                v.copy_(s)

    def state_dict(self) -> dict[str, Any]:
        """Plain dict (tensors and numbers) so a checkpoint stays loadable with ``weights_only=True``."""
        return {"decay": self.decay, "ramp": self.ramp, "updates": self.updates,
                "state_dict": {k: v.detach().clone() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = float(state["decay"])
        self.ramp = float(state.get("ramp", self.ramp))
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["state_dict"])

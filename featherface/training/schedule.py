"""Learning-rate schedule as a pure function of the optimizer step.

Because the rate depends only on the step count (not on a chain of per-step updates), a resumed
run sets exactly the rate the uninterrupted run would have used, and nothing but the step needs
to be checkpointed. Warm-up is linear from ``warmup_start_factor * lr`` over ``warmup_epochs``
(a fraction of an epoch is allowed); then "step" multiplies by ``gamma`` at each milestone epoch
(RetinaFace: x0.1 at 190 and 220 of 250) or "cosine" anneals to ``min_lr_factor * lr``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

__all__ = ["LRSchedule"]


class LRSchedule:
    """Sets ``optimizer``'s learning rate for each step (call :meth:`apply` before ``step()``)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        base_lr: float,
        steps_per_epoch: int,
        epochs: int,
        schedule: str = "step",
        milestones: Sequence[float] = (190, 220),
        gamma: float = 0.1,
        warmup_epochs: float = 0.0,
        warmup_start_factor: float = 1e-3,
        min_lr_factor: float = 0.01,
    ) -> None:
        if steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be >= 1")
        self.optimizer = optimizer
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.schedule = schedule
        self.milestones = sorted(float(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_steps = int(round(warmup_epochs * steps_per_epoch))
        self.warmup_start_factor = float(warmup_start_factor)
        self.min_lr_factor = float(min_lr_factor)
        self.total_steps = self.epochs * self.steps_per_epoch
        self.last_step = -1

    def factor(self, step: int) -> float:
        """Multiplier of ``base_lr`` for 0-based optimizer step ``step``."""
        f = 1.0
        if self.schedule == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            f = self.min_lr_factor + (1.0 - self.min_lr_factor) * 0.5 * (1.0 + math.cos(math.pi * t))
        else:
            epoch = step // self.steps_per_epoch  # decays happen at epoch boundaries
            f = self.gamma ** sum(1 for m in self.milestones if epoch >= m)
        if step < self.warmup_steps:
            w = self.warmup_start_factor + (1.0 - self.warmup_start_factor) * step / self.warmup_steps
            f *= w
        return f

    def lr(self, step: int) -> float:
        return self.base_lr * self.factor(step)

    def apply(self, step: int) -> float:
        """Set the rate of every parameter group for ``step`` and return it."""
        lr = self.lr(step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        self.last_step = int(step)
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "base_lr": self.base_lr, "steps_per_epoch": self.steps_per_epoch,
                "epochs": self.epochs, "schedule": self.schedule}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = int(state.get("last_step", -1))

"""Training: the multibox loss, prior matching, configuration, EMA and the trainer.

Light names (loss, matching, config) import eagerly; the trainer (which pulls in the data
pipeline and OpenCV) loads on first use, so ``from featherface.training import MultiBoxLoss``
stays cheap.
"""

from __future__ import annotations

from typing import Any

from featherface.training.config import TrainConfig, load_config
from featherface.training.loss import LossOutput, MultiBoxLoss, hard_negative_mask
from featherface.training.matching import MatchResult, PaddedTargets, match_priors, pad_targets

_LAZY = {
    "Trainer": "featherface.training.trainer",
    "TrainResult": "featherface.training.trainer",
    "NonFiniteLossError": "featherface.training.trainer",
    "train": "featherface.training.trainer",
    "load_backbone_init": "featherface.training.trainer",
    "ModelEMA": "featherface.training.ema",
    "LRSchedule": "featherface.training.schedule",
    "read_checkpoint": "featherface.training.checkpoint",
    "evaluate_recall": "featherface.training.quick_eval",
}

__all__ = ["TrainConfig", "load_config", "LossOutput", "MultiBoxLoss", "hard_negative_mask", "MatchResult",
           "PaddedTargets", "match_priors", "pad_targets", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'featherface.training' has no attribute {name!r}")

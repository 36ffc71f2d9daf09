"""Training: the multibox loss, prior matching, configuration, EMA and the trainer.

Only the configuration imports eagerly (``featherface train --help`` builds its flags from it,
without torch); the rest loads on first use, so ``from featherface.training import MultiBoxLoss``
stays cheap and the trainer (the data pipeline and OpenCV) comes only when asked for.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports
from featherface.training.config import TrainConfig, load_config

_LAZY = {
    "LossOutput": "featherface.training.loss",
    "MultiBoxLoss": "featherface.training.loss",
    "hard_negative_mask": "featherface.training.loss",
    "MatchResult": "featherface.training.matching",
    "PaddedTargets": "featherface.training.matching",
    "match_priors": "featherface.training.matching",
    "pad_targets": "featherface.training.matching",
    "Trainer": "featherface.training.trainer",
    "TrainResult": "featherface.training.trainer",
    "NonFiniteLossError": "featherface.training.trainer",
    "train": "featherface.training.trainer",
    "load_backbone_init": "featherface.training.trainer",
    "ModelEMA": "featherface.training.ema",
    "LRSchedule": "featherface.training.schedule",
    "read_checkpoint": "featherface.training.checkpoint",
    "evaluate_recall": "featherface.training.quick_eval",
    "average_weights": "featherface.training.soup",
    "save_average": "featherface.training.soup",
}

__all__ = ["TrainConfig", "load_config", *_LAZY]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

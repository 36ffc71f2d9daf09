"""Training data: label parsers, augmentation, the dataset and a synthetic face generator.

Names are re-exported lazily so ``import featherface.data.labels`` (used by evaluation and the
auto-labeller) does not pull in torch through the dataset module.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ImageAnnotation": "labels",
    "load_annotations": "labels",
    "detect_layout": "labels",
    "parse_retinaface_labels": "labels",
    "parse_labelv2_labels": "labels",
    "parse_wider_gt": "labels",
    "write_retinaface_labels": "labels",
    "BGR_MEAN": "transforms",
    "TrainTransform": "transforms",
    "EvalTransform": "transforms",
    "FaceDataset": "dataset",
    "collate_faces": "dataset",
    "make_synthetic_dataset": "synthetic",
    "render_synthetic_image": "synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'featherface.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"featherface.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

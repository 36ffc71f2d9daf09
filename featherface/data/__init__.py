"""Training data: label parsers, augmentation, the dataset and a synthetic face generator.

Names are re-exported lazily so ``import featherface.data.labels`` (used by evaluation and the
auto-labeller) does not pull in torch through the dataset module.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

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
    "MixedFaceDataset": "mixed",
    "make_synthetic_dataset": "synthetic",
    "render_synthetic_image": "synthetic",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, {k: f"{__name__}.{v}" for k, v in _EXPORTS.items()})

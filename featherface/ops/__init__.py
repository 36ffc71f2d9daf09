"""Detection ops: priors, box/landmark coding, IoU, NMS, matching, alignment, anonymisation.

Names are exported lazily, so ``featherface.ops.align`` or ``featherface.ops.anonymize`` (numpy and
OpenCV only) can be imported without loading torch, which the box and prior ops need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PriorBox": "anchors", "feature_map_sizes": "anchors", "generate_priors": "anchors", "num_priors": "anchors",
    "box_iou": "boxes", "cxcywh_to_xyxy": "boxes", "decode_boxes": "boxes", "decode_landmarks": "boxes",
    "encode_boxes": "boxes", "encode_landmarks": "boxes", "xyxy_to_cxcywh": "boxes",
    "batched_nms": "nms", "nms": "nms", "nms_numpy": "nms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'featherface.ops' has no attribute {name!r}")
    return getattr(importlib.import_module(f"featherface.ops.{module}"), name)

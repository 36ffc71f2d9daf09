"""Detection ops: priors, box/landmark coding, IoU, NMS, matching, alignment, anonymisation.

Names are exported lazily, so ``featherface.ops.align`` or ``featherface.ops.anonymize`` (numpy and
OpenCV only) can be imported without loading torch, which the box and prior ops need.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

_EXPORTS = {
    "PriorBox": "anchors", "feature_map_sizes": "anchors", "generate_priors": "anchors", "num_priors": "anchors",
    "box_iou": "boxes", "cxcywh_to_xyxy": "boxes", "decode_boxes": "boxes", "decode_landmarks": "boxes",
    "encode_boxes": "boxes", "encode_landmarks": "boxes", "xyxy_to_cxcywh": "boxes", "iou_matrix": "iou",
    "batched_nms": "nms_torch", "nms": "nms_torch", "nms_numpy": "nms", "nms_reference_numpy": "nms",
    "batched_nms_numpy": "nms", "prior_array": "priors", "PriorGrid": "priors",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, {k: f"{__name__}.{v}" for k, v in _EXPORTS.items()})

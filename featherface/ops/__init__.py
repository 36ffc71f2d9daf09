"""Detection ops: priors, box/landmark coding, IoU, NMS."""

from featherface.ops.anchors import PriorBox, feature_map_sizes, generate_priors, num_priors
from featherface.ops.boxes import (
    box_iou,
    cxcywh_to_xyxy,
    decode_boxes,
    decode_landmarks,
    encode_boxes,
    encode_landmarks,
    xyxy_to_cxcywh,
)
from featherface.ops.nms import batched_nms, nms, nms_numpy

__all__ = [
    "PriorBox", "feature_map_sizes", "generate_priors", "num_priors", "box_iou", "cxcywh_to_xyxy",
    "decode_boxes", "decode_landmarks", "encode_boxes", "encode_landmarks", "xyxy_to_cxcywh",
    "batched_nms", "nms", "nms_numpy",
]

"""Non-maximum suppression for torch tensors: :mod:`featherface.ops.nms` (numpy, one rule) behind
tensor inputs and outputs on the inputs' device, for training code and the export's eager NMS."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from featherface.ops.nms import batched_nms_numpy, nms_numpy, nms_reference_numpy

__all__ = ["batched_nms", "nms", "nms_reference"]


def _kept(numpy_nms: Callable[..., np.ndarray], boxes: torch.Tensor, scores: torch.Tensor,
          iou_threshold: float, *groups: torch.Tensor) -> torch.Tensor:
    """``numpy_nms`` on host copies (integer boxes as float32, bfloat16 scores as float32), the kept
    indices as a long tensor on ``boxes``' device."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    b = boxes if boxes.is_floating_point() else boxes.float()
    s = scores.float() if scores.dtype == torch.bfloat16 else scores
    keep = numpy_nms(*(t.detach().cpu().numpy() for t in (b, s, *groups)), iou_threshold)
    return torch.from_numpy(np.ascontiguousarray(keep, dtype=np.int64)).to(boxes.device)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (into ``boxes``, x1y1x2y2) kept by greedy NMS, highest score first (ties: lower index first)."""
    return _kept(nms_numpy, boxes, scores, iou_threshold)


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """:func:`nms` as the reference loop (:func:`featherface.ops.nms.nms_reference_numpy`), for any input."""
    return _kept(nms_reference_numpy, boxes, scores, iou_threshold)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS run independently per group id (e.g. image of a batch); returns indices, best first per group."""
    return _kept(batched_nms_numpy, boxes, scores, iou_threshold, groups)

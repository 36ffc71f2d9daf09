"""Non-maximum suppression for torch tensors: :mod:`featherface.ops.nms` (numpy, one rule) behind
tensor inputs and outputs on the inputs' device, for training code and the export's eager NMS."""

from __future__ import annotations

import numpy as np
import torch

from featherface.ops.nms import batched_nms_numpy, nms_numpy, nms_reference_numpy

__all__ = ["batched_nms", "nms", "nms_reference"]


def _host(t: torch.Tensor, dtype: torch.dtype | None = None) -> np.ndarray:
    t = t.detach().cpu()
    return (t if dtype is None else t.to(dtype)).numpy()


def _on(keep: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(keep, dtype=np.int64)).to(like.device)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (into ``boxes``, x1y1x2y2) kept by greedy NMS, highest score first (ties: lower index first)."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    b = boxes if boxes.is_floating_point() else boxes.float()
    return _on(nms_numpy(_host(b), _host(scores, torch.float32 if scores.dtype == torch.bfloat16 else None),
                         iou_threshold), boxes)


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """:func:`nms` as the reference loop (:func:`featherface.ops.nms.nms_reference_numpy`), for any input."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    b = boxes if boxes.is_floating_point() else boxes.float()
    return _on(nms_reference_numpy(_host(b), _host(scores, torch.float32 if scores.dtype == torch.bfloat16 else None),
                                   iou_threshold), boxes)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS run independently per group id (e.g. image of a batch); returns indices, best first per group."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    b = boxes if boxes.is_floating_point() else boxes.float()
    return _on(batched_nms_numpy(_host(b), _host(scores, torch.float32 if scores.dtype == torch.bfloat16 else None),
                                 _host(groups), iou_threshold), boxes)

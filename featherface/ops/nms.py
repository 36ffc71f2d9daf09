"""Non-maximum suppression (no torchvision).

Greedy NMS keeps box ``i`` iff no *kept* higher-scoring box overlaps it by more than the
threshold. :func:`nms` hands well-formed boxes to OpenCV's C++ ``cv2.dnn.NMSBoxes`` (the same
rule: stable descending score order, keep while IoU <= threshold; 10x faster than a Python loop
for the ~50-300 candidates of a photo) and anything else (NaN, empty or inverted boxes) to
:func:`nms_reference`, a numpy loop in which only kept boxes are compared with the rest.
:func:`nms_numpy` is the same on numpy arrays (the peer detectors' decoders, the evaluation's
flip-test merge).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (into ``boxes``, x1y1x2y2) kept by greedy NMS, highest score first (ties: lower index first)."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    b = boxes.detach().cpu().double().numpy().reshape(-1, 4)
    sc = scores.detach().cpu().float().numpy().reshape(-1)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    if (np.isfinite(b).all() and np.isfinite(sc).all() and (w > 0).all() and (h > 0).all()
            and (sc > 0).all() and 0.0 <= iou_threshold <= 1.0):
        xywh = np.stack([b[:, 0], b[:, 1], w, h], 1)
        keep = np.asarray(cv2.dnn.NMSBoxes(xywh, sc, 0.0, float(iou_threshold)), dtype=np.int64).reshape(-1)
        return torch.from_numpy(keep).to(boxes.device)
    return nms_reference(boxes, scores, iou_threshold)


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """:func:`nms` as a numpy loop, for any input (NaN scores, zero-area or inverted boxes).

    Each *kept* box is compared with the still-alive boxes ranked below it, and those it overlaps
    too much are dropped: the work is (kept boxes) x (candidates), not the full pairwise matrix,
    so 5,000 low-threshold candidates cost milliseconds. The IoU arithmetic is :func:`box_iou`'s,
    in the boxes' own dtype, so decisions are the same as a full-matrix NMS.
    """
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    b = boxes[order] if boxes.is_floating_point() else boxes[order].float()
    arr = b.detach().cpu().numpy()
    x1, y1, x2, y2 = (np.ascontiguousarray(arr[:, k]) for k in range(4))
    areas = (x2 - x1).clip(min=0) * (y2 - y1).clip(min=0)
    zero = arr.dtype.type(0)
    tiny = arr.dtype.type(1e-12)
    thr = float(iou_threshold)
    idx = np.arange(arr.shape[0])
    keep: list[int] = []
    while idx.size:
        i = int(idx[0])
        keep.append(i)
        rest = idx[1:]
        if rest.size == 0:
            break
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(min=zero)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(min=zero)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, tiny), zero)
        idx = rest[~(iou > thr)]
    return order[torch.as_tensor(keep, dtype=torch.long, device=order.device)]


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int | None = None) -> np.ndarray:
    """:func:`nms` on numpy arrays (boxes x1y1x2y2, any shape reshaped to ``(N, 4)``; in float64):
    int64 indices kept, best score first, at most ``top_k`` of them (``None``: all)."""
    b = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    sc = torch.as_tensor(np.asarray(scores, dtype=np.float64).reshape(-1))
    keep = nms(b, sc, iou_threshold).numpy().astype(np.int64)
    return keep if top_k is None else keep[:top_k]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS run independently per group id (e.g. image of a batch); returns indices, best first per group."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    kept = []
    for g in torch.unique(groups):
        idx = torch.nonzero(groups == g).flatten()
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    return torch.cat(kept)

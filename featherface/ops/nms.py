"""Non-maximum suppression on numpy arrays (no torchvision, no torch).

Greedy NMS keeps box ``i`` iff no *kept* higher-scoring box overlaps it by more than the
threshold. :func:`nms_numpy` hands well-formed boxes to OpenCV's C++ ``cv2.dnn.NMSBoxes`` (the
same rule: stable descending score order, keep while IoU <= threshold; 10x faster than a Python
loop for the ~50-300 candidates of a photo) and anything else (NaN, empty or inverted boxes) to
:func:`nms_reference_numpy`, a loop in which only kept boxes are compared with the rest. Torch
code calls the same functions through :mod:`featherface.ops.nms_torch`; the detector's
post-processing calls them directly, so it runs without torch.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["batched_nms_numpy", "nms_numpy", "nms_reference_numpy"]


def _descending(scores: np.ndarray) -> np.ndarray:
    """Indices by score, best first, ties in input order; NaN scores first (torch's descending sort)."""
    nan = np.isnan(scores)
    return np.lexsort((-np.where(nan, 0, scores), ~nan)) if nan.any() else np.argsort(-scores, kind="stable")


def nms_reference_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """:func:`nms_numpy` as a loop, for any input (NaN scores, zero-area or inverted boxes).

    Each *kept* box is compared with the still-alive boxes ranked below it, and those it overlaps
    too much are dropped: the work is (kept boxes) x (candidates), not the full pairwise matrix,
    so 5,000 low-threshold candidates cost milliseconds. The arithmetic is in the boxes' own
    floating dtype (float32 for integer boxes), so decisions are those of a full-matrix NMS."""
    arr = np.asarray(boxes)
    arr = arr.reshape(-1, 4) if arr.dtype.kind == "f" else arr.reshape(-1, 4).astype(np.float32)
    if arr.shape[0] == 0:
        return np.zeros((0,), dtype=np.int64)
    order = _descending(np.asarray(scores).reshape(-1))
    arr = arr[order]
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
    return order[np.asarray(keep, dtype=np.int64)].astype(np.int64)


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int | None = None) -> np.ndarray:
    """Indices (int64, into ``boxes`` x1y1x2y2, any shape reshaped to ``(N, 4)``) kept by greedy NMS,
    highest score first (ties: lower index first), at most ``top_k`` of them (``None``: all)."""
    b = np.asarray(boxes)
    sc = np.asarray(scores).reshape(-1)
    if b.size == 0:
        return np.zeros((0,), dtype=np.int64)
    b64 = b.reshape(-1, 4).astype(np.float64)
    s32 = sc.astype(np.float32)
    w, h = b64[:, 2] - b64[:, 0], b64[:, 3] - b64[:, 1]
    if (np.isfinite(b64).all() and np.isfinite(s32).all() and (w > 0).all() and (h > 0).all()
            and (s32 > 0).all() and 0.0 <= iou_threshold <= 1.0):
        xywh = np.stack([b64[:, 0], b64[:, 1], w, h], 1)
        keep = np.asarray(cv2.dnn.NMSBoxes(xywh, s32, 0.0, float(iou_threshold)), dtype=np.int64).reshape(-1)
    else:
        keep = nms_reference_numpy(b, sc, iou_threshold)
    return keep if top_k is None else keep[:top_k]


def batched_nms_numpy(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou_threshold: float) -> np.ndarray:
    """NMS run independently per group id (e.g. image of a batch); indices, groups ascending, best first in each."""
    groups = np.asarray(groups).reshape(-1)
    if groups.size == 0:
        return np.zeros((0,), dtype=np.int64)
    kept = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        kept.append(idx[nms_numpy(boxes[idx], scores[idx], iou_threshold)])
    return np.concatenate(kept).astype(np.int64)

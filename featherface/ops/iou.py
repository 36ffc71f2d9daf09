"""IoU of boxes held as numpy arrays (tracking, matching, evaluation): no torch.

The same arithmetic as :func:`featherface.ops.boxes.box_iou` (the training side's tensors), in
float64; the WIDER FACE toolkit's ``+1`` pixel IoU is a different rule and stays with its
protocol (:func:`featherface.evaluation.widerface.wider_iou`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["iou_matrix"]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every box of ``a`` (N, 4) with every box of ``b`` (M, 4), ``x1 y1 x2 y2`` in continuous
    pixels, computed in float64 -> ``(N, M)`` array; 0 where the union is empty."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(min=0).prod(axis=-1)
    area_a = (a[:, 2] - a[:, 0]).clip(min=0) * (a[:, 3] - a[:, 1]).clip(min=0)
    area_b = (b[:, 2] - b[:, 0]).clip(min=0) * (b[:, 3] - b[:, 1]).clip(min=0)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)

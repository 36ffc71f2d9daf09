"""Non-maximum suppression in plain torch (no torchvision).

Greedy NMS keeps box ``i`` iff no *kept* higher-scoring box overlaps it by more than the
threshold. The overlap test is vectorised: the upper-triangular "overlaps too much" matrix of the
score-sorted boxes is computed in one shot (in row blocks, to bound memory); the greedy decision
is then a scan that visits only the boxes that survive, each visit one vector operation — the same
split as the CUDA kernels of the big libraries (bit-matrix in parallel, then a short sequential scan).
"""

from __future__ import annotations

import numpy as np
import torch

from featherface.ops.boxes import box_iou

_BLOCK = 1024


def _overlap_matrix(b: torch.Tensor, iou_threshold: float) -> np.ndarray:
    n = b.shape[0]
    over = np.zeros((n, n), dtype=bool)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        over[start:stop] = (box_iou(b[start:stop], b) > iou_threshold).cpu().numpy()
    return np.triu(over, k=1)  # over[j, i]: higher-ranked j would suppress lower-ranked i


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices (into ``boxes``, x1y1x2y2) kept by greedy NMS, highest score first (ties: lower index first)."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    b = boxes[order] if boxes.is_floating_point() else boxes[order].float()
    over = _overlap_matrix(b, iou_threshold)
    n = b.shape[0]
    suppressed = np.zeros(n, dtype=bool)
    for i in range(n):
        if not suppressed[i]:
            suppressed |= over[i]
    keep = torch.from_numpy(~suppressed).to(order.device)
    return order[keep]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS run independently per group id (e.g. image of a batch); returns indices, best first per group."""
    if boxes.numel() == 0:
        return torch.zeros((0,), dtype=torch.long, device=boxes.device)
    kept = []
    for g in torch.unique(groups):
        idx = torch.nonzero(groups == g).flatten()
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    return torch.cat(kept)

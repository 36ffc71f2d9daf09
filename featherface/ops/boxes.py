"""Box and landmark encoding against priors, IoU and format conversions (torchvision ``_utils`` idea).

Encoding (SSD/RetinaFace, variances ``(0.1, 0.2)``):
``t_xy = (g_c - p_c) / (v0 * p_wh)``, ``t_wh = log(g_wh / p_wh) / v1``; landmarks use the centre
rule for each of the five points. All tensors are normalised coordinates; functions broadcast
over leading batch dimensions. :func:`featherface.ops.iou.iou_matrix` is :func:`box_iou` for numpy
arrays in pixels; the detector's decoding of arrays is :mod:`featherface.ops.priors`.
"""

from __future__ import annotations

from typing import Sequence

import torch

from featherface.ops.priors import DEFAULT_VARIANCES


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], dim=-1)


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], dim=-1)


def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of ``a (..., N, 4)`` and ``b (M, 4)`` in x1y1x2y2 -> ``(..., N, M)``; 0 where the
    union is empty. Leading dimensions of ``a`` are a batch (the prior matching's ``(B, M)`` faces)."""
    lt = torch.maximum(a[..., :, None, :2], b[None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=-1)
    union = box_area(a)[..., :, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def encode_boxes(gt_xyxy: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """Regression targets of ground-truth boxes (x1y1x2y2) against priors (cxcywh)."""
    g = xyxy_to_cxcywh(gt_xyxy)
    t_xy = (g[..., :2] - priors[..., :2]) / (variances[0] * priors[..., 2:])
    t_wh = torch.log(g[..., 2:].clamp(min=1e-12) / priors[..., 2:]) / variances[1]
    return torch.cat([t_xy, t_wh], dim=-1)


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: deltas ``(..., N, 4)`` -> boxes x1y1x2y2 (normalised)."""
    c = priors[..., :2] + loc[..., :2] * variances[0] * priors[..., 2:]
    wh = priors[..., 2:] * torch.exp(loc[..., 2:] * variances[1])
    return torch.cat([c - wh / 2, c + wh / 2], dim=-1)


def encode_landmarks(ldm: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """Landmarks ``(..., N, 10)`` as x,y pairs -> offsets from the prior centre in prior units."""
    pts = ldm.reshape(*ldm.shape[:-1], 5, 2)
    t = (pts - priors[..., None, :2]) / (variances[0] * priors[..., None, 2:])
    return t.reshape(ldm.shape)


def decode_landmarks(pre: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = DEFAULT_VARIANCES) -> torch.Tensor:
    """Inverse of :func:`encode_landmarks`."""
    t = pre.reshape(*pre.shape[:-1], 5, 2)
    pts = priors[..., None, :2] + t * variances[0] * priors[..., None, 2:]
    return pts.reshape(pre.shape)

"""Prior matching for the multibox loss (SSD / RetinaFace rule), vectorised over the batch.

Rule, per image:

1. every prior takes the ground-truth face it overlaps most (IoU of the prior's square, as x1y1x2y2,
   with the face box);
2. every ground-truth face is *forced* onto its own best prior (the prior with the highest IoU with
   it), so even a face no prior overlaps by ``threshold`` gets one positive. As in RetinaFace, the
   force applies only when that best IoU reaches ``force_min_iou`` (0.2): a face smaller than about
   a third of the smallest prior cannot be regressed reliably and would only add noise. When two
   faces share the same best prior, the later face (higher index) gets it — deterministic, and the
   same as RetinaFace's sequential loop;
3. a prior is positive when its IoU (after forcing) is at least ``threshold`` (0.35).

Targets are padded to ``(B, M, ...)`` with a ``valid (B, M)`` mask so one set of tensor ops
handles the whole batch. Memory of the IoU block is ``B*M*P``; large batches of crowded images are
processed in chunks of images so a WIDER image with 1,000 faces never allocates gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from featherface.ops.boxes import box_iou, cxcywh_to_xyxy

__all__ = ["PaddedTargets", "MatchResult", "pad_targets", "match_priors"]

# The IoU block of one chunk holds at most this many floats (~256 MB in float32).
_MAX_IOU_ELEMENTS = 64 * 1024 * 1024


@dataclass
class PaddedTargets:
    """Ground truth of a batch padded to the largest face count ``M`` (at least 1).

    ``boxes (B,M,4)`` normalised x1y1x2y2, ``landmarks (B,M,10)``, ``has_landmarks (B,M)`` bool and
    ``valid (B,M)`` bool (False on padding rows).
    """

    boxes: torch.Tensor
    landmarks: torch.Tensor
    has_landmarks: torch.Tensor
    valid: torch.Tensor


@dataclass
class MatchResult:
    """Per-prior assignment: ``gt_index (B,P)`` long (index into M), ``positive (B,P)`` bool and
    ``iou (B,P)`` (the best IoU after forcing; forced priors read 2.0)."""

    gt_index: torch.Tensor
    positive: torch.Tensor
    iou: torch.Tensor


def pad_targets(targets: Sequence[dict[str, torch.Tensor]], device: torch.device | str | None = None) -> PaddedTargets:
    """Stack a list of per-image target dicts (``boxes``, optional ``landmarks``/``has_landmarks``)
    into padded batch tensors, so matching and the loss need no per-image Python loop."""
    b = len(targets)
    counts = [int(t["boxes"].reshape(-1, 4).shape[0]) for t in targets]
    m = max([1] + counts)
    dev = torch.device(device) if device is not None else (targets[0]["boxes"].device if b else torch.device("cpu"))
    boxes = torch.zeros((b, m, 4), dtype=torch.float32, device=dev)
    lms = torch.full((b, m, 10), -1.0, dtype=torch.float32, device=dev)
    has = torch.zeros((b, m), dtype=torch.bool, device=dev)
    valid = torch.zeros((b, m), dtype=torch.bool, device=dev)
    for i, (t, n) in enumerate(zip(targets, counts)):
        if n == 0:
            continue
        boxes[i, :n] = t["boxes"].reshape(n, 4).to(dev, torch.float32)
        if "landmarks" in t:
            lms[i, :n] = t["landmarks"].reshape(n, 10).to(dev, torch.float32)
        if "has_landmarks" in t:
            has[i, :n] = t["has_landmarks"].reshape(n).to(dev, torch.bool)
        elif "landmarks" in t:  # derive: all ten values present (not the -1 marker)
            has[i, :n] = (t["landmarks"].reshape(n, 10) != -1).all(dim=1).to(dev)
        valid[i, :n] = True
    return PaddedTargets(boxes, lms, has & valid, valid)


def _match_chunk(boxes: torch.Tensor, valid: torch.Tensor, priors_xyxy: torch.Tensor, threshold: float,
                 force_min_iou: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, m, _ = boxes.shape
    p = priors_xyxy.shape[0]
    iou = box_iou(boxes, priors_xyxy)  # (b, m, p): the one IoU arithmetic, batched over images
    iou = iou.masked_fill(~valid[:, :, None], -1.0)
    best_iou, best_gt = iou.max(dim=1)  # (b, p) each prior's best face
    best_prior_iou, best_prior = iou.max(dim=2)  # (b, m) each face's best prior
    force = valid & (best_prior_iou >= force_min_iou) & (best_prior_iou > 0)
    # Later faces win a shared best prior: scatter the face index with "amax" (deterministic).
    gt_ids = torch.arange(m, device=boxes.device).expand(b, m)
    src = torch.where(force, gt_ids, torch.full_like(gt_ids, -1))
    forced_gt = torch.full((b, p), -1, dtype=torch.long, device=boxes.device)
    forced_gt.scatter_reduce_(1, best_prior, src, reduce="amax", include_self=True)
    is_forced = forced_gt >= 0
    gt_index = torch.where(is_forced, forced_gt, best_gt)
    best_iou = torch.where(is_forced, torch.full_like(best_iou, 2.0), best_iou)
    positive = best_iou >= threshold
    return gt_index, positive, best_iou


@torch.no_grad()
def match_priors(
    boxes: torch.Tensor,
    valid: torch.Tensor,
    priors: torch.Tensor,
    threshold: float = 0.35,
    force_min_iou: float = 0.2,
    max_elements: int = _MAX_IOU_ELEMENTS,
) -> MatchResult:
    """Assign each prior a ground-truth face and decide which priors are positive.

    Args:
        boxes: ``(B, M, 4)`` normalised x1y1x2y2 (padding rows arbitrary).
        valid: ``(B, M)`` bool, False on padding rows.
        priors: ``(P, 4)`` normalised cxcywh.
        threshold: IoU from which a prior is positive.
        force_min_iou: a face is forced onto its best prior only if that IoU reaches this.
        max_elements: cap on the IoU block size per chunk of images.
    """
    b, m, _ = boxes.shape
    p = priors.shape[0]
    priors_xyxy = cxcywh_to_xyxy(priors.to(boxes.dtype))
    per_image = max(1, m * p)
    chunk = max(1, int(max_elements // per_image))
    if chunk >= b:
        gi, pos, iou = _match_chunk(boxes, valid, priors_xyxy, threshold, force_min_iou)
        return MatchResult(gi, pos, iou)
    parts = [_match_chunk(boxes[s:s + chunk], valid[s:s + chunk], priors_xyxy, threshold, force_min_iou)
             for s in range(0, b, chunk)]
    return MatchResult(*(torch.cat([x[i] for x in parts], 0) for i in range(3)))

"""A fast detection check for training: recall and precision at one IoU on a labelled set.

Not the WIDER FACE protocol (see :mod:`featherface.evaluation`) — a sanity metric that needs no
files: run the network on already-transformed images, decode exactly as the detector does
(softmax score, decode against the priors, score threshold, NMS), and match detections to ground
truth greedily by score. Used by the learning-check test and handy after a smoke run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from featherface.inference.options import DetectorOptions
from featherface.inference.postprocess import PostprocessConfig
from featherface.inference.postprocess_torch import decode_outputs, select_detections
from featherface.ops.anchors import generate_priors
from featherface.ops.boxes import box_iou

__all__ = ["DetectionCounts", "detect_tensor", "match_detections", "evaluate_recall"]


@dataclass
class DetectionCounts:
    """Counts over a set; ``landmark_error`` is the mean distance (normalised by face width) of the
    five points of matched faces with landmarks, NaN when none."""

    true_positives: int = 0
    detections: int = 0
    ground_truths: int = 0
    landmark_error_sum: float = 0.0
    landmark_count: int = 0

    @property
    def recall(self) -> float:
        return self.true_positives / self.ground_truths if self.ground_truths else 1.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.detections if self.detections else 1.0

    @property
    def landmark_error(self) -> float:
        return self.landmark_error_sum / self.landmark_count if self.landmark_count else float("nan")

    def __str__(self) -> str:
        return (f"recall {self.recall:.3f} ({self.true_positives}/{self.ground_truths}), precision "
                f"{self.precision:.3f} ({self.true_positives}/{self.detections}), landmark error {self.landmark_error:.3f}")


@torch.no_grad()
def detect_tensor(model: nn.Module, images: torch.Tensor, score_threshold: float = DetectorOptions.score_threshold,
                  nms_threshold: float = DetectorOptions.nms_threshold
                  ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Detections per image of a ``(B,3,H,W)`` network-ready batch: ``(boxes (K,4) normalised x1y1x2y2,
    scores (K,), landmarks (K,10))``."""
    was_training = model.training
    model.eval()
    try:
        out = model(images)
    finally:
        model.train(was_training)
    c = model.config
    priors = generate_priors(images.shape[-2], images.shape[-1], c.min_sizes, c.steps, device=images.device)
    boxes, scores, lms = decode_outputs(out, priors, c.variances)
    return select_detections(boxes, scores, lms, PostprocessConfig(score_threshold=score_threshold,
                                                                  nms_threshold=nms_threshold))


def match_detections(det_boxes: torch.Tensor, det_scores: torch.Tensor, gt_boxes: torch.Tensor,
                     iou_threshold: float = 0.5) -> tuple[int, torch.Tensor]:
    """Greedy matching in score order, each ground truth used once. Returns ``(true positives,
    matched gt index per detection (-1 if none))``."""
    matched = torch.full((det_boxes.shape[0],), -1, dtype=torch.long)
    if det_boxes.numel() == 0 or gt_boxes.numel() == 0:
        return 0, matched
    iou = box_iou(det_boxes.float().cpu(), gt_boxes.float().cpu())
    used = torch.zeros(gt_boxes.shape[0], dtype=torch.bool)
    tp = 0
    for i in torch.argsort(det_scores.cpu(), descending=True).tolist():
        cand = iou[i].clone()
        cand[used] = -1
        j = int(cand.argmax())
        if cand[j] >= iou_threshold:
            used[j] = True
            matched[i] = j
            tp += 1
    return tp, matched


def evaluate_recall(model: nn.Module, batches: Iterable[tuple[torch.Tensor, Sequence[dict[str, torch.Tensor]]]],
                    iou_threshold: float = 0.5, score_threshold: float = DetectorOptions.score_threshold,
                    nms_threshold: float = DetectorOptions.nms_threshold,
                    device: torch.device | str = "cpu") -> DetectionCounts:
    """Recall/precision of ``model`` over ``(images, targets)`` batches (targets as the dataset gives them)."""
    counts = DetectionCounts()
    for images, targets in batches:
        dets = detect_tensor(model, images.to(device), score_threshold, nms_threshold)
        for (boxes, scores, lms), t in zip(dets, targets):
            gt = t["boxes"].reshape(-1, 4)
            tp, matched = match_detections(boxes, scores, gt, iou_threshold)
            counts.true_positives += tp
            counts.detections += int(boxes.shape[0])
            counts.ground_truths += int(gt.shape[0])
            has = t.get("has_landmarks")
            gl = t.get("landmarks")
            if has is None or gl is None:
                continue
            for i, j in enumerate(matched.tolist()):
                if j >= 0 and bool(has[j]):
                    width = float(gt[j, 2] - gt[j, 0]) or 1.0
                    d = (lms[i].cpu().reshape(5, 2) - gl[j].reshape(5, 2)).norm(dim=1).mean()
                    counts.landmark_error_sum += float(d) / width
                    counts.landmark_count += 1
    return counts

"""A second teacher for small faces: another detector's confident small faces lift the dense teacher's
face probability at the priors they match.

Why: on WIDER's crowds RetinaFace, the dense teacher, scores most 10-20 px faces low (it finds 38 %
of the labelled ones in the train crowds at 0.5), and dense distillation hands the student exactly
those low scores; YuNet-n finds 76 % of the val subset's 10-20 px hard faces at 0.5. Its priors differ
from ours, so it cannot be distilled prior by prior: its decoded faces (OpenCV's
``cv2.FaceDetectorYN`` on the very crop the student sees) are mapped onto our priors by the label
matching rule (IoU >= ``overlap``, and each face's best prior), and there the teacher's face
probability becomes ``max(RetinaFace's, YuNet's score)``. Only faces up to ``max_face_px`` (the
longer side, in crop pixels) count: on larger faces RetinaFace is the better teacher. Boxes and
landmarks stay RetinaFace's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from featherface.data.transforms import BGR_MEAN
from featherface.errors import ConfigError
from featherface.ops.anchors import PriorBox
from featherface.ops.boxes import box_iou, cxcywh_to_xyxy
from featherface.peers.factory import build_teacher

__all__ = ["SmallFaceFloor", "build_second_teacher", "crops_as_images"]


def crops_as_images(images: torch.Tensor) -> list[np.ndarray]:
    """The batch's network inputs (``B x 3 x H x W``, BGR minus :data:`BGR_MEAN`) as uint8 BGR images."""
    # channels-last batches (the training default) are HWC in memory already: no copy to reorder
    x = images.detach().float().cpu().permute(0, 2, 3, 1)
    x = (x + torch.tensor(BGR_MEAN, dtype=torch.float32)).round_().clamp_(0, 255).to(torch.uint8)
    return [np.ascontiguousarray(im.numpy()) for im in x]


class SmallFaceFloor:
    """Per-prior floor under the dense teacher's face probability, from a detector's small faces.

    Args:
        detector: anything with ``detect(bgr_array) -> list[Face]`` (e.g. :class:`~featherface.peers.yunet.YuNetDetector`).
        min_sizes, steps: the student's prior layout.
        max_face_px: faces whose longer side exceeds this (crop pixels) are left out; 0 = no limit.
        min_score: the detector's faces below this score are left out.
        overlap: IoU from which a prior takes a face (the label matching's ``overlap_threshold``).
    """

    def __init__(self, detector: Any, min_sizes: Any, steps: Any, max_face_px: float = 32.0,
                 min_score: float = 0.5, overlap: float = 0.35) -> None:
        self.detector = detector
        self.priors = PriorBox(min_sizes, steps)
        self.max_face_px = float(max_face_px)
        self.min_score = float(min_score)
        self.overlap = float(overlap)

    def faces(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(boxes (K, 4) normalised x1y1x2y2, scores (K,))`` of the small, confident faces of one crop."""
        h, w = image.shape[:2]
        rows = [(f.box, f.score) for f in self.detector.detect(image)
                if f.score >= self.min_score
                and (self.max_face_px <= 0 or max(f.box[2] - f.box[0], f.box[3] - f.box[1]) <= self.max_face_px)]
        if not rows:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        boxes = np.asarray([b for b, _ in rows], np.float32) / np.asarray([w, h, w, h], np.float32)
        return boxes, np.asarray([s for _, s in rows], np.float32)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` face-probability floor at the student's ``N`` priors of this batch (0 where no face)."""
        b, _, h, w = images.shape
        priors = cxcywh_to_xyxy(self.priors(int(h), int(w), "cpu"))
        floor = torch.zeros(b, priors.shape[0])
        for i, img in enumerate(crops_as_images(images)):
            boxes, scores = self.faces(img)
            if len(boxes) == 0:
                continue
            iou = box_iou(torch.from_numpy(boxes), priors)  # (K, N)
            score = torch.from_numpy(scores)[:, None].expand_as(iou)
            lifted = torch.where(iou >= self.overlap, score, torch.zeros_like(score))
            best = iou.argmax(dim=1)  # every face lifts at least its best prior, as the labels' matching forces it
            lifted[torch.arange(len(boxes)), best] = torch.from_numpy(scores)
            floor[i] = lifted.amax(dim=0)
        return floor.to(images.device)


def build_second_teacher(spec: str, student: torch.nn.Module, max_face_px: float, min_score: float,
                         overlap: float) -> SmallFaceFloor:
    """The floor of ``spec`` (``yunet``, ``yunet:PATH``, ``yunet-s``: any detector the peers factory builds)
    for ``student``'s priors; its own score threshold is ``min_score``."""
    cfg = getattr(student, "config", None)
    if cfg is None:
        raise ConfigError("second_teacher needs a FeatherFace student (its prior layout)")
    det = build_teacher(spec, score_threshold=min_score)
    return SmallFaceFloor(det, cfg.min_sizes, cfg.steps, max_face_px, min_score, overlap)

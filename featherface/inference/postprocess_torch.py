""":mod:`featherface.inference.postprocess` for training code that holds torch tensors: the same
numpy rule, tensors back on the inputs' device (the teacher's targets, the learning check)."""

from __future__ import annotations

from typing import Sequence

import torch

from featherface.inference.postprocess import PostprocessConfig
from featherface.inference.postprocess import select_detections as select_arrays
from featherface.ops.boxes import decode_boxes, decode_landmarks

__all__ = ["decode_outputs", "face_scores", "select_detections"]


def face_scores(cls_logits: torch.Tensor) -> torch.Tensor:
    """``softmax(logits)[..., 1]`` as the sigmoid of the logits' difference, on the tensors' device."""
    cls_logits = cls_logits.float()
    return torch.sigmoid(cls_logits[..., 1] - cls_logits[..., 0])


def decode_outputs(outputs: dict[str, torch.Tensor], priors: torch.Tensor, variances: Sequence[float] = (0.1, 0.2)
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw outputs -> ``boxes (B,N,4)``, ``scores (B,N)``, ``landmarks (B,N,10)`` (normalised), all priors at once."""
    boxes = decode_boxes(outputs["bbox"].float(), priors, variances)
    landmarks = decode_landmarks(outputs["ldm"].float(), priors, variances)
    return boxes, face_scores(outputs["cls"]), landmarks


def select_detections(boxes: torch.Tensor, scores: torch.Tensor, landmarks: torch.Tensor, cfg: PostprocessConfig
                      ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """:func:`featherface.inference.postprocess.select_detections` with tensors in and out (inputs' device)."""
    dev = boxes.device
    return [tuple(torch.from_numpy(a).to(dev) for a in det)  # type: ignore[misc]
            for det in select_arrays(boxes, scores, landmarks, cfg)]

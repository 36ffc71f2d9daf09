"""A model stub whose outputs the tests control: it "detects" planted faces exactly."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from featherface.models.featherface import FeatherFaceConfig
from featherface.ops.anchors import generate_priors
from featherface.ops.boxes import box_iou, cxcywh_to_xyxy, encode_boxes, encode_landmarks


class PlantedFacesModel(nn.Module):
    """Returns outputs that decode to ``faces`` (pixel boxes/landmarks in the *network input* frame).

    For each planted face the best-matching prior gets a high face logit and the exact regression
    targets; a neighbouring prior gets a slightly lower score and a box shifted by 12 % of its size
    (IoU 0.63: a duplicate that NMS must remove, and too far off to join the box voting at IoU 0.7).
    Every other prior is confident background.
    """

    def __init__(self, boxes: np.ndarray, landmarks: np.ndarray, scores: np.ndarray | None = None):
        super().__init__()
        self.config = FeatherFaceConfig()
        self.name = "planted-stub"
        self.boxes = torch.as_tensor(boxes, dtype=torch.float32)
        self.landmarks = torch.as_tensor(landmarks, dtype=torch.float32).reshape(-1, 10)
        self.scores = torch.as_tensor(scores if scores is not None else np.full(len(boxes), 0.95), dtype=torch.float32)
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b, _, h, w = x.shape
        self.calls.append(tuple(x.shape))
        priors = generate_priors(h, w)
        n = priors.shape[0]
        cls = torch.zeros(b, n, 2)
        cls[..., 0] = 8.0  # background
        loc = torch.zeros(b, n, 4)
        ldm = torch.zeros(b, n, 10)
        scale = torch.tensor([w, h, w, h], dtype=torch.float32)
        gt = self.boxes / scale
        lm = self.landmarks / torch.tensor([w, h] * 5, dtype=torch.float32)
        iou = box_iou(gt, cxcywh_to_xyxy(priors))
        for i in range(len(gt)):
            order = iou[i].argsort(descending=True)
            best, second = int(order[0]), int(order[1])
            logit = float(torch.logit(self.scores[i]))
            size = (gt[i, 2:] - gt[i, :2]).repeat(2)
            for j, (p_idx, delta) in enumerate(((best, 0.0), (second, 0.12))):
                cls[:, p_idx, 0] = 0.0
                cls[:, p_idx, 1] = logit - 0.5 * j
                shifted = gt[i] + delta * size
                loc[:, p_idx] = encode_boxes(shifted[None], priors[p_idx][None])[0]
                ldm[:, p_idx] = encode_landmarks(lm[i][None], priors[p_idx][None])[0]
        return {"bbox": loc, "cls": cls, "ldm": ldm}

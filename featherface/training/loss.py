"""The multibox loss of RetinaFace-style detectors: matching, hard-negative mining, three parts.

``loss = loc_weight * L_loc + L_cls + ldm_weight * L_ldm`` with

* ``L_loc``: smooth-L1 between predicted and encoded box offsets, positives only;
* ``L_cls``: cross-entropy over the positives plus the hardest negatives (``neg_pos_ratio`` per
  positive, per image, ranked by their background-class loss) — without mining, the ~16,800
  easy background priors per image would swamp the handful of faces;
* ``L_ldm``: smooth-L1 on encoded landmark offsets, only on positives whose face has landmarks
  (WIDER faces annotated with boxes only must not pull landmarks towards a dummy target).

``L_loc`` and ``L_cls`` are divided by the number of positives in the batch and ``L_ldm`` by the
number of positives with landmarks (each at least 1), as in RetinaFace. Everything is computed in
float32 over the whole padded batch; the only Python loop is padding the target list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from featherface.ops.anchors import PriorBox
from featherface.ops.boxes import DEFAULT_VARIANCES, encode_boxes, encode_landmarks
from featherface.training.matching import PaddedTargets, match_priors, pad_targets

__all__ = ["LossOutput", "MultiBoxLoss", "hard_negative_mask"]


@dataclass
class LossOutput:
    """``total`` (differentiable) and its parts, plus the positive counts used to normalise
    (0-d tensors, so computing the loss never forces a GPU->host sync)."""

    total: torch.Tensor
    loc: torch.Tensor
    cls: torch.Tensor
    ldm: torch.Tensor
    num_pos: torch.Tensor
    num_pos_ldm: torch.Tensor
    positive: torch.Tensor | None = None  # (B, P) bool: the priors matched to a labelled face

    def parts(self) -> dict[str, float]:
        """Detached parts as Python floats (for logging)."""
        return {"loss": float(self.total.detach()), "loc": float(self.loc.detach()),
                "cls": float(self.cls.detach()), "ldm": float(self.ldm.detach())}


def hard_negative_mask(bg_loss: torch.Tensor, positive: torch.Tensor, neg_pos_ratio: float) -> torch.Tensor:
    """Pick, per image, the ``neg_pos_ratio * num_positives`` non-positive priors with the largest
    background loss (capped by the number of non-positives). ``bg_loss``/``positive``: ``(B, P)``.

    Rank by one sort per image (stable, so ties resolve by prior index and the result is
    deterministic); an image without positives gets no negatives, as in SSD/RetinaFace.
    """
    num_priors = positive.shape[1]
    num_pos = positive.sum(dim=1, keepdim=True)
    num_neg = torch.clamp((neg_pos_ratio * num_pos).long(), max=num_priors)
    num_neg = torch.minimum(num_neg, num_priors - num_pos)
    ranked = bg_loss.detach().masked_fill(positive, float("-inf"))
    order = torch.sort(ranked, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(num_priors, device=order.device).expand_as(order))
    return (rank < num_neg) & ~positive


class MultiBoxLoss(nn.Module):
    """RetinaFace's multibox loss for ``{"bbox", "cls", "ldm"}`` outputs.

    Args:
        min_sizes, steps, variances: the anchor configuration (take them from ``model.config``).
        overlap_threshold: IoU from which a prior is a positive (0.35).
        neg_pos_ratio: hard negatives per positive (3).
        loc_weight, cls_weight, ldm_weight: part weights (2, 1, 1).
        force_min_iou: see :func:`~featherface.training.matching.match_priors`.
        ldm_beta: smooth-L1 beta of the landmark term (1, RetinaFace's; 0 = L1).
    """

    def __init__(
        self,
        min_sizes: Sequence[Sequence[int]] = ((16, 32), (64, 128), (256, 512)),
        steps: Sequence[int] = (8, 16, 32),
        variances: Sequence[float] = DEFAULT_VARIANCES,
        overlap_threshold: float = 0.35,
        neg_pos_ratio: float = 3.0,
        loc_weight: float = 2.0,
        cls_weight: float = 1.0,
        ldm_weight: float = 1.0,
        force_min_iou: float = 0.2,
        ldm_beta: float = 1.0,
    ) -> None:
        super().__init__()
        self.prior_box = PriorBox(min_sizes, steps)
        self.variances = tuple(float(v) for v in variances)
        self.overlap_threshold = float(overlap_threshold)
        self.neg_pos_ratio = float(neg_pos_ratio)
        self.loc_weight = float(loc_weight)
        self.cls_weight = float(cls_weight)
        self.ldm_weight = float(ldm_weight)
        self.ldm_beta = float(ldm_beta)
        self.force_min_iou = float(force_min_iou)

    @classmethod
    def for_model(cls, model: nn.Module, **kwargs: float) -> "MultiBoxLoss":
        """The loss matching a model's anchors (``model.config.min_sizes/steps/variances``)."""
        c = model.config
        return cls(c.min_sizes, c.steps, c.variances, **kwargs)

    def priors(self, height: int, width: int, device: torch.device | str) -> torch.Tensor:
        return self.prior_box(height, width, device)

    def forward(
        self,
        outputs: dict[str, torch.Tensor],
        targets: Sequence[dict[str, torch.Tensor]] | PaddedTargets,
        image_size: tuple[int, int] | None = None,
        priors: torch.Tensor | None = None,
    ) -> LossOutput:
        """Compute the loss.

        ``targets``: a list of per-image dicts (``boxes`` normalised x1y1x2y2, ``landmarks (N,10)``,
        ``has_landmarks (N,)``) or already padded. The priors come from ``priors`` or are generated
        for ``image_size = (H, W)`` (the network input size).
        """
        loc_p = outputs["bbox"].float()
        cls_p = outputs["cls"].float()
        ldm_p = outputs["ldm"].float()
        device = loc_p.device
        bsz, num_priors = loc_p.shape[:2]
        if priors is None:
            if image_size is None:
                raise ValueError("MultiBoxLoss needs image_size=(H, W) or priors")
            priors = self.priors(int(image_size[0]), int(image_size[1]), device)
        priors = priors.to(device, torch.float32)
        if priors.shape[0] != num_priors:
            raise ValueError(f"the model produced {num_priors} predictions per image but there are "
                             f"{priors.shape[0]} priors for input size {image_size}: anchor settings differ")
        t = targets if isinstance(targets, PaddedTargets) else pad_targets(targets, device)
        if t.boxes.shape[0] != bsz:
            raise ValueError(f"{t.boxes.shape[0]} targets for a batch of {bsz} images")

        match = match_priors(t.boxes, t.valid, priors, self.overlap_threshold, self.force_min_iou)
        pos = match.positive  # (B, P)
        idx = match.gt_index  # (B, P)
        posf = pos.float()
        num_pos = posf.sum()
        denom = num_pos.clamp(min=1.0)
        priors_b = priors.expand(bsz, -1, -1)

        # Masked sums over every prior instead of boolean indexing: no host sync, static shapes.
        # --- localisation (positives only): gather each prior's face, encode, smooth-L1
        matched_boxes = torch.gather(t.boxes, 1, idx[..., None].expand(-1, -1, 4))
        loc_t = encode_boxes(matched_boxes, priors_b, self.variances)
        loc_t = torch.where(pos[..., None], loc_t, torch.zeros_like(loc_t))  # keep padding rows finite
        loss_loc = (F.smooth_l1_loss(loc_p, loc_t, reduction="none").sum(-1) * posf).sum() / denom

        # --- landmarks: positives whose matched face has landmarks
        pos_ldm = pos & torch.gather(t.has_landmarks, 1, idx)
        pos_ldmf = pos_ldm.float()
        num_pos_ldm = pos_ldmf.sum()
        matched_lms = torch.gather(t.landmarks, 1, idx[..., None].expand(-1, -1, 10))
        ldm_t = encode_landmarks(matched_lms, priors_b, self.variances)
        ldm_t = torch.where(pos_ldm[..., None], ldm_t, torch.zeros_like(ldm_t))
        loss_ldm = (F.smooth_l1_loss(ldm_p, ldm_t, reduction="none", beta=self.ldm_beta).sum(-1) * pos_ldmf).sum() / num_pos_ldm.clamp(min=1.0)

        # --- classification: positives + hard negatives ranked by background loss
        log_probs = F.log_softmax(cls_p, dim=-1)
        bg_loss = -log_probs[..., 0]
        neg = hard_negative_mask(bg_loss, pos, self.neg_pos_ratio)
        ce = torch.where(pos, -log_probs[..., 1], bg_loss)
        loss_cls = (ce * (pos | neg).float()).sum() / denom

        total = self.loc_weight * loss_loc + self.cls_weight * loss_cls + self.ldm_weight * loss_ldm
        return LossOutput(total, loss_loc, loss_cls, loss_ldm, num_pos, num_pos_ldm, pos)

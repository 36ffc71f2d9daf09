"""Knowledge distillation: a trained teacher detector supervises the student on every batch.

Two ways, chosen by whether the teacher predicts at the student's priors:

* **dense** (same prior layout, e.g. RetinaFace-mnet0.25 -> FeatherFace): at *every* prior the
  student's face probability is pulled towards the teacher's (a soft, quality-focal binary cross
  entropy: ``|p_s - p_t|^gamma * BCE(p_s, p_t)``, so the ~4,000 easy background priors of a 320²
  crop do not drown the few hundred that matter), and where the teacher is confident
  (``p_t >= conf_threshold``) the student's box and landmark offsets are regressed onto the
  teacher's, weighted by ``p_t``. This hands the student the teacher's whole score landscape —
  its near-misses, its ambiguous faces and its scale assignment — not just its final boxes.
* **boxes** (any other layout): the teacher's decoded, thresholded, NMS-ed faces become targets of
  the ordinary matched-prior loss.

Both run *online*: the teacher sees exactly the augmented crop the student sees, so no cache has
to follow the augmentation; on this project's 2-core CPU RetinaFace's forward pass (BN folded,
channels-last) costs about an eighth of a student training step (see ``docs/training.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import torch
import torch.nn.functional as F
from torch import nn

from featherface.errors import ConfigError
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.inference.postprocess import PostprocessConfig, decode_outputs, select_detections
from featherface.ops.anchors import PriorBox
from featherface.models.weights import model_from_weights

__all__ = ["DistillOutput", "DenseDistillationLoss", "build_teacher_model", "teacher_box_targets", "same_priors"]


@dataclass
class DistillOutput:
    """The distillation loss and its parts (0-d tensors)."""

    total: torch.Tensor
    cls: torch.Tensor
    box: torch.Tensor
    ldm: torch.Tensor


class DenseDistillationLoss(nn.Module):
    """Per-prior distillation from a teacher with the same priors.

    Args:
        cls_weight, box_weight, ldm_weight: weights of the three parts.
        temperature: softens both distributions before the class loss (1 = none).
        conf_threshold: teacher face probability from which a prior's box/landmarks are distilled.
        gamma: focusing exponent of the class loss (0 = plain soft BCE).
    """

    def __init__(self, cls_weight: float = 1.0, box_weight: float = 1.0, ldm_weight: float = 0.5,
                 temperature: float = 1.0, conf_threshold: float = 0.5, gamma: float = 2.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"distill temperature must be positive, got {temperature}")
        self.cls_weight = float(cls_weight)
        self.box_weight = float(box_weight)
        self.ldm_weight = float(ldm_weight)
        self.temperature = float(temperature)
        self.conf_threshold = float(conf_threshold)
        self.gamma = float(gamma)

    def forward(self, student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> DistillOutput:
        s_cls, t_cls = student["cls"].float(), teacher["cls"].float().detach()
        if s_cls.shape != t_cls.shape:
            raise ValueError(f"dense distillation needs the same priors: student {tuple(s_cls.shape)} "
                             f"vs teacher {tuple(t_cls.shape)}")
        T = self.temperature
        # two-class softmax == sigmoid of the logit difference
        s_logit = (s_cls[..., 1] - s_cls[..., 0]) / T
        t_diff = t_cls[..., 1] - t_cls[..., 0]
        t_face = torch.sigmoid(t_diff)  # the teacher's face probability (unsoftened)
        t_prob = t_face if T == 1.0 else torch.sigmoid(t_diff / T)
        bce = F.binary_cross_entropy_with_logits(s_logit, t_prob, reduction="none")
        weight = (torch.sigmoid(s_logit).detach() - t_prob).abs().pow(self.gamma) if self.gamma > 0 else 1.0
        norm = t_face.sum().clamp(min=1.0)
        loss_cls = (weight * bce).sum() * (T * T) / norm

        conf = torch.where(t_face >= self.conf_threshold, t_face, torch.zeros_like(t_face))
        cnorm = conf.sum().clamp(min=1.0)
        loss_box = (F.smooth_l1_loss(student["bbox"].float(), teacher["bbox"].float().detach(),
                                     reduction="none").sum(-1) * conf).sum() / cnorm
        loss_ldm = (F.smooth_l1_loss(student["ldm"].float(), teacher["ldm"].float().detach(),
                                     reduction="none").sum(-1) * conf).sum() / cnorm
        total = self.cls_weight * loss_cls + self.box_weight * loss_box + self.ldm_weight * loss_ldm
        return DistillOutput(total, loss_cls, loss_box, loss_ldm)


def same_priors(student: nn.Module, teacher: nn.Module) -> bool:
    """True when both networks predict at the same priors (dense distillation is possible)."""
    s, t = getattr(student, "config", None), getattr(teacher, "config", None)
    if s is None or t is None:
        return False
    return (tuple(map(tuple, s.min_sizes)) == tuple(map(tuple, t.min_sizes)) and tuple(s.steps) == tuple(t.steps)
            and tuple(s.variances) == tuple(t.variances) and tuple(s.bgr_mean) == tuple(t.bgr_mean))


def build_teacher_model(spec: str, device: torch.device | str = "cpu") -> nn.Module:
    """The teacher network for ``spec``: ``retinaface`` (the RetinaFace-mnet0.25 release file at its
    default location), ``retinaface:PATH``, or the path of any weights file of the package (a
    RetinaFace release file, FeatherFace weights or a training checkpoint). Eval mode, frozen, and
    BN-folded / channels-last for speed (the same outputs)."""
    kind, _, arg = spec.partition(":")
    if kind == "retinaface":
        from featherface.peers.retinaface import resolve_retinaface_weights

        path = resolve_retinaface_weights(arg or None)
    else:
        path = Path(spec)
    return optimize_for_inference(model_from_weights(path)).to(device)


@torch.no_grad()
def teacher_box_targets(outputs: dict[str, torch.Tensor], teacher: nn.Module, image_size: tuple[int, int],
                        score_threshold: float = 0.5, nms_threshold: float = 0.4,
                        prior_box: "PriorBox | None" = None) -> list[dict[str, torch.Tensor]]:
    """The teacher's faces on a batch as matched-prior-loss targets (normalised x1y1x2y2 + landmarks).

    ``prior_box``: the teacher's :class:`~featherface.ops.anchors.PriorBox`; pass one that lives as
    long as the training run, so its per-size cache spares regenerating the priors every step."""
    cfg = teacher.config
    prior_box = prior_box or PriorBox(cfg.min_sizes, cfg.steps)
    priors = prior_box(int(image_size[0]), int(image_size[1]), outputs["bbox"].device)
    boxes, scores, ldms = decode_outputs(outputs, priors, cfg.variances)
    dets = select_detections(boxes, scores, ldms, PostprocessConfig(score_threshold, nms_threshold))
    return [{"boxes": b.float(), "landmarks": lm.float(), "has_landmarks": torch.ones(len(b), dtype=torch.bool, device=b.device)}
            for b, _, lm in dets]

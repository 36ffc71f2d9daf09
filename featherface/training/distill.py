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
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from featherface.data.transforms import BGR_MEAN
from featherface.errors import ConfigError
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.inference.postprocess import PostprocessConfig, decode_outputs, select_detections
from featherface.models.weights import model_from_weights
from featherface.ops.anchors import PriorBox
from featherface.peers.retinaface import resolve_retinaface_weights
from featherface.training.config import TrainConfig
from featherface.training.loss import MultiBoxLoss

__all__ = ["DistillOutput", "DenseDistillationLoss", "Distiller", "build_teacher_model", "teacher_box_targets",
           "same_priors"]


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


class Distiller:
    """The teacher of a training run (``TrainConfig.teacher``) and the distillation part of its loss.

    Built once per run: the frozen teacher (:func:`build_teacher_model`), the input shift that hands
    a teacher with another ``bgr_mean`` its own convention back, and the mode: ``dense`` needs the
    student's priors (:func:`same_priors`), ``auto`` falls back to ``boxes`` otherwise.
    """

    def __init__(self, cfg: TrainConfig, student: nn.Module, device: torch.device,
                 log: Callable[[str], None]) -> None:
        spec = cfg.teacher_spec()
        assert spec is not None, "no teacher configured"
        self.cfg = cfg
        self.model = build_teacher_model(spec, device)
        # the pipeline feeds BGR - BGR_MEAN; a teacher with another mean gets its own convention back
        t_mean = torch.tensor(self.model.config.bgr_mean, dtype=torch.float32, device=device)
        shift = torch.tensor(BGR_MEAN, dtype=torch.float32, device=device) - t_mean
        self.shift: torch.Tensor | None = shift.view(1, 3, 1, 1) if bool(shift.abs().sum() > 0) else None
        dense_ok = same_priors(student, self.model)
        mode = cfg.distill if cfg.distill != "auto" else ("dense" if dense_ok else "boxes")
        if mode == "dense" and not dense_ok:
            raise ConfigError(f"distill=dense needs a teacher with the student's priors and input convention; "
                              f"{spec} ({getattr(self.model, 'name', '?')}) differs: use distill=boxes")
        self.mode = mode
        # boxes mode: the teacher's priors, cached per input size for the whole run
        self.priors = PriorBox(self.model.config.min_sizes, self.model.config.steps) if mode == "boxes" else None
        self.dense_loss = (DenseDistillationLoss(cfg.distill_cls_weight, cfg.distill_box_weight, cfg.distill_ldm_weight,
                                                 cfg.distill_temperature, cfg.distill_conf, cfg.distill_gamma)
                           if mode == "dense" else None)
        log(f"teacher {spec} ({getattr(self.model, 'name', '?')}): {mode} distillation, "
            f"label loss weight {cfg.gt_weight}")

    def loss(self, out: dict[str, torch.Tensor], images: torch.Tensor, criterion: MultiBoxLoss) -> torch.Tensor:
        """The distillation loss of the student's ``out`` on ``images`` (the teacher runs here, no grad)."""
        cfg = self.cfg
        with torch.no_grad():
            t_out = self.model(images if self.shift is None else images + self.shift)
        if self.mode == "dense":
            assert self.dense_loss is not None
            return self.dense_loss(out, t_out).total
        size = (int(images.shape[-2]), int(images.shape[-1]))
        targets = teacher_box_targets(t_out, self.model, size, score_threshold=max(cfg.distill_conf, 0.02),
                                      prior_box=self.priors)
        return cfg.distill_cls_weight * criterion(out, targets, image_size=size).total

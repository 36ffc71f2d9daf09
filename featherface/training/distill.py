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

Dense mode can also imitate the teacher's *features* (``distill_feat_weight``,
:class:`FeatureImitationLoss`): output targets say what the student should predict, not which
features make it possible. The diagnosis of issue 11 found the student's landmarks limited by its
context features: a fresh head on them did no better than the trained one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from featherface.data.transforms import BGR_MEAN
from featherface.errors import ConfigError
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.inference.options import DetectorOptions
from featherface.inference.postprocess import PostprocessConfig
from featherface.inference.postprocess_torch import decode_outputs, face_scores, select_detections
from featherface.models.weights import model_from_weights
from featherface.ops.anchors import PriorBox
from featherface.peers.retinaface import resolve_retinaface_weights
from featherface.training.config import TrainConfig
from featherface.training.loss import MultiBoxLoss
from featherface.training.second_teacher import SmallFaceFloor, build_second_teacher

__all__ = ["DistillOutput", "DenseDistillationLoss", "Distiller", "FeatureImitationLoss", "build_teacher_model",
           "teacher_box_targets", "same_priors"]


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
        ldm_beta: smooth-L1 beta of the landmark term (1, as the label loss's default; 0 = L1).
        label_aware: leave the class term out at the priors ``forward`` is told the labels match to a
            face (the labels decide there; the teacher may have missed the face).
    """

    def __init__(self, cls_weight: float = 1.0, box_weight: float = 1.0, ldm_weight: float = 0.5,
                 temperature: float = 1.0, conf_threshold: float = 0.5, gamma: float = 2.0,
                 ldm_beta: float = 1.0, label_aware: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"distill temperature must be positive, got {temperature}")
        self.cls_weight = float(cls_weight)
        self.box_weight = float(box_weight)
        self.ldm_weight = float(ldm_weight)
        self.temperature = float(temperature)
        self.conf_threshold = float(conf_threshold)
        self.gamma = float(gamma)
        self.ldm_beta = float(ldm_beta)
        self.label_aware = bool(label_aware)

    def forward(self, student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor],
                label_positive: torch.Tensor | None = None, floor: torch.Tensor | None = None) -> DistillOutput:
        """``floor`` ``(B, N)``: a lower bound on the teacher's face probability (a second teacher's
        small faces, :class:`~featherface.training.second_teacher.SmallFaceFloor`)."""
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
        lifted = t_face
        if floor is not None:
            floor = floor.to(t_face)
            t_prob = torch.maximum(t_prob, floor)
            # the class term's normaliser counts the lifted priors; box/landmark targets stay the
            # first teacher's, so they keep its own confidence
            lifted = torch.maximum(t_face, floor)
        norm = lifted.sum().clamp(min=1.0)
        bce = F.binary_cross_entropy_with_logits(s_logit, t_prob, reduction="none")
        weight = (torch.sigmoid(s_logit).detach() - t_prob).abs().pow(self.gamma) if self.gamma > 0 else 1.0
        if self.label_aware and label_positive is not None:
            weight = weight * (~label_positive).float()
        loss_cls = (weight * bce).sum() * (T * T) / norm

        conf = torch.where(t_face >= self.conf_threshold, t_face, torch.zeros_like(t_face))
        cnorm = conf.sum().clamp(min=1.0)
        loss_box = (F.smooth_l1_loss(student["bbox"].float(), teacher["bbox"].float().detach(),
                                     reduction="none").sum(-1) * conf).sum() / cnorm
        loss_ldm = (F.smooth_l1_loss(student["ldm"].float(), teacher["ldm"].float().detach(),
                                     reduction="none", beta=self.ldm_beta).sum(-1) * conf).sum() / cnorm
        total = self.cls_weight * loss_cls + self.box_weight * loss_box + self.ldm_weight * loss_ldm
        return DistillOutput(total, loss_cls, loss_box, loss_ldm)


class FeatureImitationLoss(nn.Module):
    """Imitation of the teacher's per-level context features (the head inputs) near its faces.

    A 1x1 convolution per level (the *adapter*, trained with the student, used in training only)
    maps the student's ``C_s`` channels onto the teacher's ``C_t``. The loss is the squared error
    over the cells whose best anchor the teacher scores ``>= conf_threshold``, grown by one cell
    (the context around a face), divided by the teacher's mean squared activation there: a
    relative error, the same scale whatever the teacher's feature magnitude. Levels without such
    cells add nothing; the levels' losses are averaged.
    """

    def __init__(self, student_channels: list[int], teacher_channels: list[int], num_anchors: int = 2,
                 conf_threshold: float = 0.5) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ConfigError(f"feature imitation needs as many levels in the student ({len(student_channels)}) "
                              f"as in the teacher ({len(teacher_channels)})")
        self.adapters = nn.ModuleList(nn.Conv2d(cs, ct, 1) for cs, ct in zip(student_channels, teacher_channels))
        for conv in self.adapters:
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="linear")
            nn.init.zeros_(conv.bias)
        self.num_anchors = int(num_anchors)
        self.conf_threshold = float(conf_threshold)

    def masks(self, t_face: torch.Tensor, shapes: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Per level ``(B, 1, H, W)`` float masks from the teacher's ``(B, N)`` face probabilities."""
        out, start = [], 0
        for h, w in shapes:
            n = h * w * self.num_anchors
            best = t_face[:, start:start + n].reshape(-1, h, w, self.num_anchors).amax(-1)
            start += n
            mask = (best >= self.conf_threshold).float()[:, None]
            out.append(F.max_pool2d(mask, 3, stride=1, padding=1))
        if start != t_face.shape[1]:
            raise ValueError(f"feature imitation: {t_face.shape[1]} priors for levels {shapes} x {self.num_anchors} anchors")
        return out

    def forward(self, s_feats: list[torch.Tensor], t_feats: list[torch.Tensor], t_face: torch.Tensor) -> torch.Tensor:
        masks = self.masks(t_face.detach(), [tuple(f.shape[-2:]) for f in t_feats])  # type: ignore[misc]
        # masked sums, no data-dependent branch: no host sync per step, and a graph even without faces
        total = t_face.new_zeros(())
        used = t_face.new_zeros(())
        for adapter, s, t, m in zip(self.adapters, s_feats, t_feats, masks):
            t = t.detach().float()
            err = ((adapter(s.float()) - t) ** 2 * m).sum()
            scale = ((t ** 2) * m).sum().clamp(min=1e-6)  # 0 / 1e-6 = 0 for a level without faces
            total = total + err / scale
            used = used + (m.sum() > 0).float()
        return total / used.clamp(min=1.0)


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
                        score_threshold: float = DetectorOptions.score_threshold,
                        nms_threshold: float = DetectorOptions.nms_threshold,
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
                                                 cfg.distill_temperature, cfg.distill_conf, cfg.distill_gamma,
                                                 cfg.ldm_beta, cfg.distill_label_aware)
                           if mode == "dense" else None)
        self.second: SmallFaceFloor | None = None
        if cfg.second_teacher_spec() is not None:
            if mode != "dense":
                raise ConfigError("second_teacher needs dense distillation (a teacher with the student's priors)")
            self.second = build_second_teacher(cfg.second_teacher_spec(), student,  # type: ignore[arg-type]
                                               cfg.second_teacher_max_px, cfg.second_teacher_score,
                                               cfg.overlap_threshold)
        self.imitation: FeatureImitationLoss | None = None
        self._student_feats: list[torch.Tensor] | None = None
        if cfg.distill_feat_weight > 0:
            if mode != "dense":
                raise ConfigError("distill_feat_weight needs dense distillation (a teacher with the student's priors)")
            head = getattr(student, "head", None)
            if head is None or not hasattr(self.model, "forward_features") or not hasattr(self.model, "head"):
                raise ConfigError("distill_feat_weight needs student and teacher networks with forward_features and a head")
            # a FeatherFace network's context features (its head inputs) have fpn_channels at every level
            s_cfg, t_cfg = student.config, self.model.config
            self.imitation = FeatureImitationLoss([s_cfg.fpn_channels] * len(s_cfg.steps),
                                                  [t_cfg.fpn_channels] * len(t_cfg.steps),
                                                  s_cfg.num_anchors, cfg.distill_conf).to(device)
            # the student's head inputs, caught on the way (works through DistributedDataParallel too); a
            # closure, not a bound method, so that deep copies of the student (its EMA) do not copy the teacher
            def catch(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
                self._student_feats = list(inputs[0])

            head.register_forward_hook(catch)
        log(f"teacher {spec} ({getattr(self.model, 'name', '?')}): {mode} distillation, "
            f"label loss weight {cfg.gt_weight}"
            + (f", feature imitation weight {cfg.distill_feat_weight}" if self.imitation is not None else "")
            + (f", second teacher {cfg.second_teacher_spec()} on faces <= {cfg.second_teacher_max_px:g} px at score "
               f">= {cfg.second_teacher_score:g}" if self.second is not None else ""))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of the distillation itself (the imitation adapters; none otherwise)."""
        return list(self.imitation.parameters()) if self.imitation is not None else []

    def extra_state(self) -> dict[str, torch.Tensor] | None:
        """What a resumed run needs back (the adapters), ``None`` when there is nothing."""
        if self.imitation is None:
            return None
        return {k: v.detach().cpu().clone() for k, v in self.imitation.state_dict().items()}

    def load_extra_state(self, state: dict[str, torch.Tensor] | None) -> bool:
        """Restore :meth:`extra_state`; ``False`` when it has none to give (fresh adapters kept)."""
        if self.imitation is None or not state:
            return False
        self.imitation.load_state_dict(state)
        return True

    def loss(self, out: dict[str, torch.Tensor], images: torch.Tensor, criterion: MultiBoxLoss,
             label_positive: torch.Tensor | None = None) -> torch.Tensor:
        """The distillation loss of the student's ``out`` on ``images`` (the teacher runs here, no grad);
        ``label_positive``: the label loss's matched priors (used with ``distill_label_aware``)."""
        cfg = self.cfg
        t_feats: list[torch.Tensor] | None = None
        with torch.no_grad():
            x = images if self.shift is None else images + self.shift
            if self.imitation is not None:
                t_feats = self.model.forward_features(x)["context"]
                t_out = self.model.head(t_feats)
            else:
                t_out = self.model(x)
        if self.mode == "dense":
            assert self.dense_loss is not None
            floor = self.second(images) if self.second is not None else None
            total = self.dense_loss(out, t_out, label_positive, floor).total
            if self.imitation is not None:
                s_feats, self._student_feats = self._student_feats, None
                if s_feats is None:
                    raise RuntimeError("feature imitation: the student's head inputs were not caught in this step")
                assert t_feats is not None
                total = total + cfg.distill_feat_weight * self.imitation(s_feats, t_feats, face_scores(t_out["cls"]))
            return total
        size = (int(images.shape[-2]), int(images.shape[-1]))
        targets = teacher_box_targets(t_out, self.model, size, score_threshold=max(cfg.distill_conf, 0.02),
                                      prior_box=self.priors)
        return cfg.distill_cls_weight * criterion(out, targets, image_size=size).total

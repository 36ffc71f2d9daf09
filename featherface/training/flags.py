"""How each :class:`~featherface.training.config.TrainConfig` field appears as a flag of ``featherface train``.

:data:`FIELD_OPTIONS` holds each field's help text, flag name, bounds and ``--help`` group; the
command builds its parser from it (a new config field is a new flag), so the defaults stay in the
dataclass and the presentation here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from featherface.training.config import TrainConfig

__all__ = ["FIELD_OPTIONS", "FieldOption", "field_flag", "field_kind", "field_option"]


@dataclass(frozen=True)
class FieldOption:
    """How one :class:`TrainConfig` field appears on the command line (``featherface train``).

    Every field gets a flag, ``--field-name`` unless ``flag`` names another; ``aliases`` are extra
    spellings (the short ``-b``...). ``lo``/``hi`` (``lo_open``/``hi_open``: excluded) bound a number
    where the parser reads it; bools become ``--x/--no-x``; lists take several values; mappings are
    set with ``--set field.key=value`` (or ``--set 'field={key: value}'``), not with a flag.
    """

    help: str = ""
    group: str = "other options"
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    const: Any = None  # a value for the bare flag (``--resume`` = ``--resume auto``)
    output_path: bool = False  # checked as an output path (never empty)


_G_DATA, _G_OPT, _G_LOSS, _G_DIST = "model and data", "optimisation", "loss", "distillation"
_G_INIT, _G_RUN = "initialisation and fine-tuning", "run control"
_U = dict(lo=0.0, hi=1.0)  # [0, 1]

# help text, flag name, bounds and group of each field (a field missing here still gets a flag,
# --field-name, with its type's check; tests/training/test_config.py asserts none is missing)
FIELD_OPTIONS: dict[str, FieldOption] = {
    "model": FieldOption("model name (featherface-v2-ultra, featherface-v1, ...)", _G_DATA),
    "model_overrides": FieldOption("architecture overrides (any FeatherFaceConfig field): --set model_overrides.X=V",
                                   _G_DATA),
    "label_file": FieldOption("training label file (RetinaFace label.txt, labelv2, WIDER gt)", _G_DATA,
                              flag="--labels", metavar="FILE"),
    "image_root": FieldOption("image root (default: images/ next to the label file)", _G_DATA, flag="--images",
                              metavar="DIR"),
    "layout": FieldOption("label layout: auto, retinaface, labelv2, wider", _G_DATA),
    "synthetic_images": FieldOption("no label file: generate N synthetic pictures", _G_DATA, flag="--synthetic",
                                    metavar="N", lo=0),
    "extra_sources": FieldOption("more labelled sets beside --labels, each with its own repeat and augmentation "
                                 "(YAML, or --set 'extra_sources=[{label_file: F, repeat: 4}]')", _G_DATA),
    "label_repeat": FieldOption("draws per image of --labels per epoch when extra_sources mix it with others",
                                _G_DATA, lo=0.0),
    "val_label_file": FieldOption("validation label file (its loss picks best.pt)", _G_DATA, flag="--val-labels",
                                  metavar="FILE"),
    "val_image_root": FieldOption("validation image root", _G_DATA, flag="--val-images", metavar="DIR"),
    "img_size": FieldOption("training crop size, a multiple of 32", _G_DATA, lo=32, hi=4096),
    "multi_scale_sizes": FieldOption("multi-scale training: each batch draws its crop size from these (repeat one to "
                                     "weight it) with batch_size scaled by (img_size/size)^2", _G_DATA, metavar="SIZE"),
    "min_face_size": FieldOption("ignore labelled faces smaller than this (px)", _G_DATA, lo=0.0),
    "mosaic_prob": FieldOption("probability of a 2x2 mosaic sample", _G_DATA, **_U),
    "augment": FieldOption("TrainTransform options (crop scales, zoom-out, ...): --set augment.X=V", _G_DATA),
    "batch_size": FieldOption("images per step per process", _G_OPT, aliases=("-b",), lo=1),
    "workers": FieldOption("data-loading workers per process", _G_OPT, aliases=("-j",), lo=0),
    "epochs": FieldOption("training epochs", _G_OPT, lo=1),
    "lr": FieldOption("base learning rate", _G_OPT, lo=0.0, lo_open=True),
    "momentum": FieldOption("SGD momentum", _G_OPT, lo=0.0, hi=1.0, hi_open=True),
    "weight_decay": FieldOption("SGD weight decay", _G_OPT, lo=0.0),
    "warmup_epochs": FieldOption("linear warm-up length in epochs (fractions allowed)", _G_OPT, lo=0.0),
    "warmup_start_factor": FieldOption("warm-up starts at lr x this", _G_OPT, lo=0.0, hi=1.0, lo_open=True),
    "schedule": FieldOption("step (x gamma at the milestones) or cosine (to lr x min_lr_factor)", _G_OPT,
                            choices=("step", "cosine")),
    "milestones": FieldOption("step decay points: fractions of --epochs (all <= 1) or epochs", _G_OPT, lo=0.0),
    "gamma": FieldOption("step decay factor", _G_OPT, lo=0.0, hi=1.0, lo_open=True),
    "min_lr_factor": FieldOption("cosine floor, as a fraction of lr", _G_OPT, **_U),
    "grad_clip": FieldOption("max gradient norm (0: off)", _G_OPT, lo=0.0),
    "overlap_threshold": FieldOption("IoU from which a prior is matched to a face", _G_LOSS, lo=0.0, hi=1.0,
                                     lo_open=True, hi_open=True),
    "neg_pos_ratio": FieldOption("hard negatives per positive", _G_LOSS, lo=0.0, lo_open=True),
    "loc_weight": FieldOption("weight of the box loss", _G_LOSS, lo=0.0),
    "ldm_weight": FieldOption("weight of the landmark loss", _G_LOSS, lo=0.0),
    "ldm_beta": FieldOption("smooth-L1 beta of the landmark terms, label and distilled (1: RetinaFace's; "
                            "0: plain L1)", _G_LOSS, lo=0.0),
    "gt_weight": FieldOption("weight of the matched-prior loss on the label file (0 = distillation only)",
                             _G_LOSS, lo=0.0),
    "teacher": FieldOption("teacher network: retinaface, retinaface:PATH, or a weights file of the package",
                           _G_DIST, metavar="SPEC"),
    "distill": FieldOption("dense: per-prior soft targets (same priors as the student); boxes: the teacher's "
                           "faces as labels; auto: dense when possible", _G_DIST, choices=("auto", "dense", "boxes")),
    "distill_cls_weight": FieldOption("weight of the distilled face/background term", _G_DIST, lo=0.0),
    "distill_box_weight": FieldOption("weight of the distilled box term", _G_DIST, lo=0.0),
    "distill_ldm_weight": FieldOption("weight of the distilled landmark term", _G_DIST, lo=0.0),
    "distill_label_aware": FieldOption("no face/background distillation where the labels put a face (dense)", _G_DIST),
    "distill_temperature": FieldOption("softening of the teacher's probabilities", _G_DIST, lo=0.0, lo_open=True),
    "distill_conf": FieldOption("teacher face probability from which boxes/landmarks are distilled (dense) or "
                                "kept (boxes)", _G_DIST, lo=0.0, hi=1.0, hi_open=True),
    "distill_gamma": FieldOption("focal exponent of the distilled classification term", _G_DIST, lo=0.0),
    "distill_feat_weight": FieldOption("dense: weight of imitating the teacher's context features near its faces "
                                       "(through a 1x1 adapter used in training only); 0 = off", _G_DIST, lo=0.0),
    "second_teacher": FieldOption("dense: a second teacher for small faces (yunet, yunet:PATH, yunet-s): its faces lift "
                                  "the teacher's face probability at the priors they match", _G_DIST, metavar="SPEC"),
    "second_teacher_max_px": FieldOption("second teacher: only faces up to N crop pixels (longer side; 0 = any)",
                                         _G_DIST, lo=0.0, metavar="N"),
    "second_teacher_score": FieldOption("second teacher: only faces at this score or above", _G_DIST, **_U),
    "amp": FieldOption("mixed precision on CUDA", _G_OPT),
    "amp_dtype": FieldOption("mixed-precision type", _G_OPT, choices=("float16", "bfloat16")),
    "channels_last": FieldOption("NHWC model and batches (a CPU step 1.4-2x faster)", _G_OPT),
    "ema": FieldOption("keep an EMA of the weights (published in best.pt / final.pt)", _G_OPT),
    "ema_decay": FieldOption("EMA decay", _G_OPT, lo=0.0, hi=1.0, lo_open=True, hi_open=True),
    "backbone_init": FieldOption("backbone start: imagenet (the ImageNet MobileNetV1-0.25 shipped in the package), "
                                 "none (random), or a file: an ImageNet checkpoint, a RetinaFace release file, a "
                                 "FeatherFace weights file or checkpoint", _G_INIT, metavar="PATH|imagenet|none"),
    "init_weights": FieldOption("start from a FeatherFace weights file/checkpoint", _G_INIT, metavar="PATH"),
    "freeze_backbone": FieldOption("keep the backbone (weights and BatchNorm statistics) fixed", _G_INIT),
    "seed": FieldOption("random seed", _G_RUN, lo=0, hi=2**32 - 1),
    "deterministic": FieldOption("deterministic algorithms (slower)", _G_RUN),
    "output_dir": FieldOption("output directory", _G_RUN, flag="--output", aliases=("-o",), metavar="DIR",
                              output_path=True),
    "resume": FieldOption("continue from a checkpoint (or DIR/last.pt); bare --resume means auto", _G_RUN,
                          metavar="PATH|auto", const="auto"),
    "save_every": FieldOption("also checkpoint every N steps", _G_RUN, metavar="STEPS", lo=0),
    "keep_epoch_weights": FieldOption("also write each epoch's weights as epoch<N>.pt (learning curves)", _G_RUN),
    "max_steps": FieldOption("stop after N optimizer steps in total (0: no limit)", _G_RUN, lo=0),
    "log_every": FieldOption("log every N steps", _G_RUN, metavar="STEPS", lo=1),
    "device": FieldOption("auto, cpu, cuda, cuda:N (torchrun: LOCAL_RANK picks the GPU)", _G_RUN),
    "progress": FieldOption("progress bar", _G_RUN),
    "tensorboard": FieldOption("also log to TensorBoard when installed", _G_RUN),
}


def field_option(name: str) -> FieldOption:
    """The :class:`FieldOption` of field ``name`` (a plain one for a field :data:`FIELD_OPTIONS` lacks)."""
    return FIELD_OPTIONS.get(name) or FieldOption()


def field_flag(name: str) -> str:
    """The command-line flag of field ``name``: ``--labels`` for ``label_file``, ``--lr`` for ``lr``."""
    return field_option(name).flag or "--" + name.replace("_", "-")


def field_kind(name: str) -> str:
    """``bool``, ``int``, ``float``, ``str``, ``list``, ``dict`` or ``records`` (a list of mappings, set from
    YAML or ``--set``): how field ``name`` is read."""
    known = {f.name: f for f in fields(TrainConfig)}
    base = str(known[name].type).replace("| None", "").strip()
    if base.startswith("list[dict"):
        return "records"
    for kind in ("list", "dict"):
        if base.startswith(kind):
            return kind
    return base

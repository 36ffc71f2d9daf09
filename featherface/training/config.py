"""Training configuration: one dataclass, loadable from YAML, overridable from the command line.

Precedence (lowest first, :func:`resolve_config`): dataclass defaults < the resumed checkpoint's
config < the YAML file < command-line flags < ``--set key=value``. How each field appears on the
command line is :data:`featherface.training.flags.FIELD_OPTIONS` (``featherface train`` builds its
flags from it).

Defaults reproduce the RetinaFace/FeatherFace WIDER FACE recipe: SGD 1e-3, momentum 0.9, weight
decay 5e-4, 250 epochs, x0.1 at epochs 190 and 220, 640x640 crops, batch 32.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from featherface.data.labels import LAYOUT_NAMES
from featherface.errors import ConfigError

__all__ = ["TrainConfig", "load_config", "resolve_config", "parse_set_items", "MAPPING_FIELDS"]


@dataclass
class TrainConfig:
    """Everything a training run needs. See ``docs/training.md`` for the meaning of each field."""

    # model
    model: str = "featherface-v2-ultra"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # data
    label_file: str | None = None
    image_root: str | None = None
    layout: str = "auto"
    synthetic_images: int = 0  # >0 and no label_file: generate this many synthetic pictures (smoke runs)
    # more labelled sets trained beside label_file, each a mapping: label_file (required), image_root, layout,
    # repeat (draws per image per epoch), min_face_size, mosaic_prob, augment (merged over `augment`)
    extra_sources: list[dict[str, Any]] = field(default_factory=list)
    label_repeat: float = 1.0  # draws per image of label_file per epoch, when extra_sources mix it with others
    val_label_file: str | None = None
    val_image_root: str | None = None
    img_size: int = 640
    # multi-scale: each batch draws its crop size from this list (repeat a size to weight it; empty: img_size
    # only) and holds batch_size * (img_size / size)^2 images, so every step costs about the same
    multi_scale_sizes: list[int] = field(default_factory=list)
    min_face_size: float = 0.0  # drop label-file faces smaller than this (pixels)
    mosaic_prob: float = 0.0
    augment: dict[str, Any] = field(default_factory=dict)  # extra TrainTransform keyword arguments
    batch_size: int = 32  # per process (per GPU)
    workers: int = 4
    # optimisation
    epochs: int = 250
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 5.0
    warmup_start_factor: float = 1e-3
    schedule: str = "step"  # "step" | "cosine"
    milestones: list[float] = field(default_factory=lambda: [0.76, 0.88])  # fractions (<=1) or epochs
    gamma: float = 0.1
    min_lr_factor: float = 0.01  # cosine floor, as a fraction of lr
    grad_clip: float = 0.0  # max grad norm; 0 = off
    # loss
    overlap_threshold: float = 0.35
    neg_pos_ratio: float = 3.0
    loc_weight: float = 2.0
    ldm_weight: float = 1.0
    # smooth-L1 beta of both landmark terms (label and distilled), in encoded units: 1 is RetinaFace's;
    # smaller keeps the gradient of the small errors a precise landmark needs from vanishing (0 = plain L1)
    ldm_beta: float = 1.0
    gt_weight: float = 1.0  # weight of the matched-prior loss on the label file's faces
    # distillation (see featherface.training.distill)
    teacher: str | None = None  # "retinaface", "retinaface:PATH", or a weights file / checkpoint of the package
    distill: str = "auto"  # "auto" (dense when the priors match, else boxes) | "dense" | "boxes"
    distill_cls_weight: float = 1.0
    distill_box_weight: float = 1.0
    distill_ldm_weight: float = 0.5
    distill_temperature: float = 1.0
    distill_conf: float = 0.5  # teacher face probability from which boxes/landmarks are distilled (dense) or kept (boxes)
    distill_gamma: float = 2.0
    # dense: no face/background distillation at the priors the labels match to a face. Why: on WIDER's
    # crowds the teacher scores most human-labelled faces under 20 px as background (RetinaFace finds
    # 9 % of those under 10 px and 26 % of 10-20 px at 0.5), so its targets would contradict the labels
    # at exactly the faces the hard setting is made of
    distill_label_aware: bool = False
    distill_feat_weight: float = 0.0  # dense: feature imitation of the teacher's context features near faces; 0 = off
    # dense: a second teacher for small faces (featherface.training.second_teacher): "yunet", "yunet:PATH",
    # "yunet-s"; its faces up to second_teacher_max_px (crop pixels, longer side; 0 = any) at score >=
    # second_teacher_score lift the teacher's face probability at the priors they match
    second_teacher: str | None = None
    second_teacher_max_px: float = 32.0
    second_teacher_score: float = 0.5
    # precision / averaging
    amp: bool = True  # CUDA only; ignored on CPU
    amp_dtype: str = "float16"  # "float16" | "bfloat16"
    # NHWC tensors: on this project's CPUs a training step is 1.4-2x faster (depthwise convs)
    channels_last: bool = True
    ema: bool = False
    ema_decay: float = 0.9998
    # initialisation / fine-tuning
    # "imagenet" (the ImageNet MobileNetV1-0.25 shipped in the package), "none" (random), or a path:
    # an ImageNet checkpoint, a RetinaFace release file, or a FeatherFace weights file / checkpoint
    backbone_init: str | None = "imagenet"
    init_weights: str | None = None  # a FeatherFace weights file or checkpoint to start from
    freeze_backbone: bool = False
    # run control
    seed: int = 0
    deterministic: bool = False
    output_dir: str = "runs/train"
    resume: str | None = None  # PATH or "auto" (output_dir/last.pt when present)
    save_every: int = 0  # also checkpoint every N steps (0: only at epoch ends)
    # also write the published (EMA) weights of every epoch as epoch<N>.pt: a learning curve is
    # scored from them afterwards (e.g. WIDER AP per epoch), without keeping full checkpoints
    keep_epoch_weights: bool = False
    max_steps: int = 0  # stop after this many optimizer steps in total (0: no limit)
    log_every: int = 10
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" ...
    progress: bool = True
    tensorboard: bool = True  # used when the tensorboard package is installed

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict[str, Any], base: "TrainConfig | None" = None) -> "TrainConfig":
        """Apply ``d`` on top of ``base`` (or the defaults); unknown keys are a :class:`ConfigError`."""
        known = {f.name: f for f in fields(cls)}
        bad = [k for k in d if k not in known]
        if bad:
            hints = []
            for k in bad:
                close = difflib.get_close_matches(k, known, n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(f"unknown training option(s): {', '.join(hints)}")
        merged = (base or cls()).to_dict()
        for k, v in d.items():
            merged[k] = _coerce(k, str(known[k].type), v)
        cfg = cls(**merged)
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path, base: "TrainConfig | None" = None) -> "TrainConfig":
        """Read a YAML mapping of fields (``train:`` may wrap them) on top of ``base``."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read config ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:  # a binary file given as -c: say which, not "internal error"
            raise ConfigError(f"{p}: not a text (YAML) config: byte {exc.start} is not UTF-8") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: invalid YAML: {exc}") from None
        if data is None:
            data = {}
        if isinstance(data, dict) and set(data) == {"train"}:
            data = data["train"]
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: a training config must be a mapping of option: value")
        try:
            return cls.from_dict(data, base)
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in checkpoints and weights-file metadata)."""
        return json.loads(json.dumps(asdict(self)))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # ------------------------------------------------------------------ checks / derived values
    def validate(self) -> None:
        """Raise :class:`ConfigError` on values that would otherwise fail deep inside a run."""
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(isinstance(self.model_overrides, dict), "model_overrides must be a mapping")
        need(isinstance(self.augment, dict), "augment must be a mapping of TrainTransform options")
        need(self.img_size >= 32 and self.img_size % 32 == 0, f"img_size must be a positive multiple of 32, got {self.img_size}")
        need(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        need(self.workers >= 0, f"workers must be >= 0, got {self.workers}")
        need(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        need(self.lr > 0 and math.isfinite(self.lr), f"lr must be positive, got {self.lr}")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        need(0 < self.warmup_start_factor <= 1, "warmup_start_factor must be in (0, 1]")
        need(self.schedule in ("step", "cosine"), f"schedule must be 'step' or 'cosine', got {self.schedule!r}")
        need(isinstance(self.milestones, (list, tuple)) and all(isinstance(m, (int, float)) and m >= 0 for m in self.milestones),
             "milestones must be a list of non-negative numbers")
        need(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        need(0 <= self.min_lr_factor <= 1, "min_lr_factor must be in [0, 1]")
        need(self.grad_clip >= 0, "grad_clip must be >= 0")
        need(0 < self.overlap_threshold < 1, "overlap_threshold must be in (0, 1)")
        need(self.neg_pos_ratio > 0, "neg_pos_ratio must be positive")
        need(self.amp_dtype in ("float16", "bfloat16"), "amp_dtype must be 'float16' or 'bfloat16'")
        need(0 < self.ema_decay < 1, f"ema_decay must be in (0, 1), got {self.ema_decay}")
        need(0 <= self.mosaic_prob <= 1, f"mosaic_prob must be in [0, 1], got {self.mosaic_prob}")
        need(self.min_face_size >= 0, "min_face_size must be >= 0")
        need(self.save_every >= 0 and self.max_steps >= 0 and self.log_every >= 1,
             "save_every and max_steps must be >= 0, log_every >= 1")
        need(self.synthetic_images >= 0, "synthetic_images must be >= 0")
        need(self.gt_weight >= 0, "gt_weight must be >= 0")
        need(self.distill in ("auto", "dense", "boxes"), f"distill must be 'auto', 'dense' or 'boxes', got {self.distill!r}")
        need(all(w >= 0 for w in (self.distill_cls_weight, self.distill_box_weight, self.distill_ldm_weight,
                                  self.distill_feat_weight)),
             "distill_*_weight must be >= 0")
        need(self.distill_temperature > 0, "distill_temperature must be positive")
        need(0 <= self.distill_conf < 1, "distill_conf must be in [0, 1)")
        need(self.distill_gamma >= 0, "distill_gamma must be >= 0")
        need(math.isfinite(self.second_teacher_max_px) and self.second_teacher_max_px >= 0,
             f"second_teacher_max_px must be >= 0, got {self.second_teacher_max_px}")
        need(0 <= self.second_teacher_score <= 1, f"second_teacher_score must be in [0, 1], got {self.second_teacher_score}")
        need(self.second_teacher_spec() is None or self.teacher_spec() is not None,
             "second_teacher needs a (dense) teacher: set teacher too")
        need(isinstance(self.seed, int) and 0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "warmup_start_factor", "gamma", "min_lr_factor",
                     "grad_clip", "overlap_threshold", "neg_pos_ratio", "loc_weight", "ldm_weight", "ldm_beta", "gt_weight",
                     "distill_cls_weight", "distill_box_weight", "distill_ldm_weight", "distill_temperature",
                     "distill_conf", "distill_gamma", "distill_feat_weight", "ema_decay", "mosaic_prob", "min_face_size"):
            v = getattr(self, name)
            need(math.isfinite(v), f"{name} must be a finite number, got {v}")  # inf passes every ">= 0" check
        need(self.loc_weight >= 0 and self.ldm_weight >= 0, "loc_weight and ldm_weight must be >= 0")
        need(self.ldm_beta >= 0, f"ldm_beta must be >= 0, got {self.ldm_beta}")
        need(all(math.isfinite(m) for m in self.milestones), "milestones must be finite numbers")
        need(self.img_size <= 4096, f"img_size must be <= 4096, got {self.img_size}")
        need(isinstance(self.multi_scale_sizes, (list, tuple))
             and all(isinstance(v, int) and not isinstance(v, bool) and 32 <= v <= 4096 and v % 32 == 0
                     for v in self.multi_scale_sizes),
             f"multi_scale_sizes must be a list of multiples of 32 from 32 to 4096, got {self.multi_scale_sizes!r}")
        need(all(0 <= v <= 1 for k, v in self.augment.items() if k.endswith("_prob") and isinstance(v, (int, float))),
             "augment.*_prob must be in [0, 1]")
        need(self.teacher_spec() is not None or self.gt_weight > 0, "gt_weight is 0 and no teacher is set: nothing to learn from")
        need(math.isfinite(self.label_repeat) and self.label_repeat >= 0, "label_repeat must be >= 0")
        for i, src in enumerate(self.extra_sources):
            _check_source(i, src, need)
        need(str(self.layout).lower() in LAYOUT_NAMES,
             f"unknown label layout {self.layout!r} (use one of {', '.join(LAYOUT_NAMES)})")

    def teacher_spec(self) -> str | None:
        """The teacher to distil from, or ``None`` (``teacher`` unset, empty or ``none``)."""
        return _spec(self.teacher)

    def second_teacher_spec(self) -> str | None:
        """The second teacher for small faces, or ``None`` (unset, empty or ``none``)."""
        return _spec(self.second_teacher)

    def milestone_epochs(self) -> list[float]:
        """Milestones in epochs: values all <= 1 are fractions of ``epochs`` (so 0.76/0.88 of 250
        is RetinaFace's 190/220, and the recipe scales with a shorter run); otherwise epochs."""
        ms = [float(m) for m in self.milestones]
        if ms and all(m <= 1.0 for m in ms):
            return [round(m * self.epochs, 6) for m in ms]  # 0.76 * 250 must be exactly 190
        return ms

    def needs_data(self) -> bool:
        return self.label_file is None and self.synthetic_images <= 0


SOURCE_KEYS = ("label_file", "image_root", "layout", "repeat", "min_face_size", "mosaic_prob", "augment")


def _check_source(i: int, src: Any, need: Any) -> None:
    """One ``extra_sources`` entry: a mapping of :data:`SOURCE_KEYS` with a label file."""
    where = f"extra_sources[{i}]"
    need(isinstance(src, dict), f"{where} must be a mapping with a label_file")
    bad = [k for k in src if k not in SOURCE_KEYS]
    need(not bad, f"{where}: unknown key(s) {', '.join(map(repr, bad))} (use {', '.join(SOURCE_KEYS)})")
    need(isinstance(src.get("label_file"), str) and bool(src["label_file"].strip()), f"{where} needs a label_file")
    for key in ("repeat", "min_face_size", "mosaic_prob"):
        v = src.get(key, 0)
        need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
             f"{where}.{key} must be a number >= 0, got {v!r}")
    need(src.get("mosaic_prob", 0) <= 1, f"{where}.mosaic_prob must be in [0, 1]")
    need(isinstance(src.get("augment", {}), dict), f"{where}.augment must be a mapping of TrainTransform options")
    need(str(src.get("layout", "auto")).lower() in LAYOUT_NAMES, f"{where}: unknown label layout {src.get('layout')!r}")


def _coerce(name: str, type_str: str, value: Any) -> Any:
    """Convert a YAML/CLI value to the field's type: YAML 1.1 reads ``1e-3`` as a string, and a
    ``--set lr=0.01`` override always arrives as one."""
    optional = type_str.endswith("| None")
    base = type_str.replace("| None", "").strip()
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} cannot be empty (null)")
    try:
        if base == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if base == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            f = float(value)
            if not f.is_integer():
                raise ValueError(value)
            return int(f)
        if base == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base == "str":
            if isinstance(value, (dict, list)):
                raise ValueError(value)
            return str(value)
        if base.startswith("list[dict"):
            if isinstance(value, str):
                value = yaml.safe_load(value) or []
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{name}: expected a list of mappings (each entry must be a mapping), got {value!r}")
            return [dict(v) for v in value]
        if base.startswith("list"):
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError(value)
            if base.startswith("list[int"):
                out = []
                for v in value:
                    f = float(v)
                    if isinstance(v, bool) or not f.is_integer():
                        raise ValueError(value)
                    out.append(int(f))
                return out
            return [float(v) for v in value]
        if base.startswith("dict"):
            if isinstance(value, str):
                value = yaml.safe_load(value) or {}
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {base}, got {value!r}") from None
    return value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                base: TrainConfig | None = None) -> TrainConfig:
    """Defaults (or ``base``) < YAML at ``path`` < ``overrides`` (``None`` values are ignored)."""
    cfg = base or TrainConfig()
    if path is not None:
        cfg = TrainConfig.from_yaml(path, cfg)
    if overrides:
        cfg = TrainConfig.from_dict({k: v for k, v in overrides.items() if v is not None}, cfg)
    return cfg


# ---------------------------------------------------------------------------------------------------------------------
# ``--set`` and the precedence rule

# the mapping fields: ``--set field.key=value`` merges into them
MAPPING_FIELDS = ("augment", "model_overrides")


def parse_set_items(items: Sequence[str] | None) -> dict[str, Any]:
    """``["lr=0.01", "augment.zoom_out_prob=0.3"]`` -> ``{"lr": 0.01, "augment": {"zoom_out_prob": 0.3}}``
    (values read as YAML: numbers, booleans, lists, mappings; the raw text when not YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        key = key.strip()
        if "." in key:
            head, sub = key.split(".", 1)
            if head not in MAPPING_FIELDS:
                raise ConfigError(f"--set {key}: only {' and '.join(f'{m}.*' for m in MAPPING_FIELDS)} take a dotted key")
            out.setdefault(head, {})[sub] = value
        else:
            out[key] = value
    return out


def _checkpoint_config(resume: str, output_dir: str) -> tuple[dict[str, Any], Path] | None:
    """(the stored config, the file) of the checkpoint ``resume`` names, ``None`` when there is none yet."""
    # torch (reading a checkpoint): imported on use, so ``featherface train --help`` stays without it
    from featherface.training.checkpoint import find_resume_checkpoint, read_checkpoint

    path = find_resume_checkpoint(str(resume), output_dir)
    if path is None:
        return None
    return dict(read_checkpoint(path).get("config") or {}), path


def resolve_config(config_file: str | Path | None = None, flags: Mapping[str, Any] | None = None,
                   sets: Sequence[str] | Mapping[str, Any] | None = None) -> TrainConfig:
    """The one precedence rule of a training run's options, lowest first:

    1. the :class:`TrainConfig` defaults;
    2. the resumed checkpoint's own config (when ``resume`` is set, by any of the layers above it,
       and names a checkpoint that exists: ``resume="auto"`` with no ``output_dir/last.pt`` yet starts
       afresh); resuming a given PATH also makes its folder ``output_dir`` unless a YAML file, a flag
       or ``--set`` names one;
    3. the YAML file ``config_file`` (``featherface train -c``);
    4. ``flags``: field -> value, only the flags given (``featherface train --lr 0.01``);
    5. ``sets``: ``key=value`` strings (or their parsed mapping) of ``--set``; ``augment.*`` and
       ``model_overrides.*`` merge into those mappings instead of replacing them.

    Unknown keys and bad values are a :class:`ConfigError`, as in :meth:`TrainConfig.from_dict`.
    """
    flags = dict(flags or {})
    set_values = dict(sets) if isinstance(sets, Mapping) else parse_set_items(sets)
    yaml_cfg = TrainConfig.from_yaml(config_file) if config_file else None

    def layered(name: str, default: Any) -> Any:  # the value of a field before the checkpoint is read
        return set_values.get(name, flags.get(name, getattr(yaml_cfg, name) if yaml_cfg else default))

    base = TrainConfig()
    resume = layered("resume", None)
    if resume:
        found = _checkpoint_config(str(resume), layered("output_dir", base.output_dir))
        if found is not None:
            stored, path = found
            base = TrainConfig.from_dict(stored)
            if str(resume).lower() != "auto" and "output_dir" not in flags and "output_dir" not in set_values \
                    and not config_file:
                base = TrainConfig.from_dict({"output_dir": str(path.parent)}, base)
    cfg = TrainConfig.from_yaml(config_file, base) if config_file else base
    for key in MAPPING_FIELDS:
        if key in set_values and isinstance(set_values[key], Mapping):
            set_values[key] = {**getattr(cfg, key), **set_values[key]}
    return TrainConfig.from_dict({**flags, **set_values}, cfg)


def _spec(value: str | None) -> str | None:
    """A teacher setting as given, or ``None`` when unset, empty or ``none`` / ``null``."""
    t = (value or "").strip()
    return None if t.lower() in ("", "none", "null") else t

"""``featherface train``: train or fine-tune a FeatherFace model (single process or ``torchrun``).

Options come from (lowest first) the defaults, the resumed checkpoint's own config, ``--config
FILE.yaml`` and the flags below; ``--set key=value`` reaches any field, including entries of the
``augment`` and ``model_overrides`` mappings (``--set augment.zoom_out_prob=0.3``).
"""

from __future__ import annotations

import argparse
from typing import Any

from featherface.commands.argtypes import (
    float_range,
    int_range,
    nonneg_float,
    nonneg_int,
    output_path,
    positive_float,
    positive_int,
    unit_float,
)
from featherface.errors import ConfigError
from featherface.io.outputs import check_output_dir

# what a training run writes into --output (featherface.training.trainer); a folder holding any of
# them holds a run
RUN_FILES = ("last.pt", "best.pt", "final.pt", "train_log.csv", "epochs.csv", "tensorboard")

EPILOG = """examples:
  # WIDER FACE, the paper recipe (250 epochs, batch 32, 640 crops), ImageNet backbone (the default start)
  featherface train -c configs/featherface-v2-ultra.yaml --labels data/widerface/train/label.txt
  # distil RetinaFace-mnet0.25 into V2 Ultra, starting from RetinaFace's backbone
  featherface train -c configs/default-weights-v2-ultra.yaml --teacher retinaface:retinaface_mnet025_Final.pth \\
      --backbone-init retinaface_mnet025_Final.pth
  # 4 GPUs on one machine (batch size is per GPU)
  torchrun --standalone --nproc_per_node 4 -m featherface.cli train -c configs/featherface-v2-ultra.yaml ...
  # continue where it stopped (Ctrl-C / SIGTERM save a checkpoint first)
  featherface train -o runs/v2 --resume auto
  # fine-tune on your own faces from trained weights, backbone frozen
  featherface train --labels my/label.txt --init-weights runs/v2/best.pt --freeze-backbone --epochs 30 --lr 1e-3
  # 1-minute smoke run on generated pictures
  featherface train -c configs/synthetic-smoke.yaml
"""

# argparse dest -> TrainConfig field
_FLAG_FIELDS = {
    "model": "model", "labels": "label_file", "images": "image_root", "layout": "layout",
    "val_labels": "val_label_file", "val_images": "val_image_root", "synthetic": "synthetic_images",
    "img_size": "img_size", "batch_size": "batch_size", "workers": "workers", "epochs": "epochs", "lr": "lr",
    "momentum": "momentum", "weight_decay": "weight_decay", "warmup_epochs": "warmup_epochs",
    "schedule": "schedule", "milestones": "milestones", "gamma": "gamma", "amp": "amp", "ema": "ema",
    "ema_decay": "ema_decay", "seed": "seed", "deterministic": "deterministic", "output": "output_dir",
    "resume": "resume", "backbone_init": "backbone_init", "init_weights": "init_weights",
    "freeze_backbone": "freeze_backbone", "min_face_size": "min_face_size", "mosaic_prob": "mosaic_prob",
    "save_every": "save_every", "max_steps": "max_steps", "device": "device", "log_every": "log_every",
    "progress": "progress", "tensorboard": "tensorboard", "grad_clip": "grad_clip",
    "teacher": "teacher", "distill": "distill", "gt_weight": "gt_weight",
}


def add_parser(subparsers: "argparse._SubParsersAction", name: str) -> argparse.ArgumentParser:
    """Register ``featherface train`` and its options."""
    p = subparsers.add_parser(
        name, help="train or fine-tune a model (WIDER FACE or your own labels; torchrun for multi-GPU)",
        description="Train a FeatherFace model with SGD, optional AMP/EMA, exact resume and DDP via torchrun. "
                    "Writes last.pt (checkpoint), best.pt and final.pt (weights files), train_log.csv and "
                    "epochs.csv into --output.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    S = argparse.SUPPRESS  # absent flags must not override the YAML
    g = p.add_argument_group("configuration")
    g.add_argument("-c", "--config", default=None, metavar="YAML", help="YAML file of training options")
    g.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="set_items",
                   help="set any option, e.g. --set lr=0.01 augment.zoom_out_prob=0.3 model_overrides.dynamic_sharing=false")
    g.add_argument("--print-config", action="store_true", help="print the merged configuration as YAML and exit")
    g = p.add_argument_group("model and data")
    g.add_argument("--model", default=S, help="model name (featherface-v2-ultra, featherface-v1, ...)")
    g.add_argument("--labels", default=S, metavar="FILE", help="training label file (RetinaFace label.txt, labelv2, WIDER gt)")
    g.add_argument("--images", default=S, metavar="DIR", help="image root (default: images/ next to the label file)")
    g.add_argument("--layout", default=S, help="label layout: auto, retinaface, labelv2, wider")
    g.add_argument("--val-labels", default=S, metavar="FILE", help="validation label file (its loss picks best.pt)")
    g.add_argument("--val-images", default=S, metavar="DIR", help="validation image root")
    g.add_argument("--synthetic", type=nonneg_int, default=S, metavar="N", help="no label file: generate N synthetic pictures")
    g.add_argument("--img-size", type=int_range(32, 4096, name="size"), default=S, help="training crop size (default 640)")
    g.add_argument("--min-face-size", type=nonneg_float, default=S, help="ignore labelled faces smaller than this (px)")
    g.add_argument("--mosaic-prob", type=unit_float, default=S, help="probability of a 2x2 mosaic sample")
    g = p.add_argument_group("optimisation")
    g.add_argument("-b", "--batch-size", type=positive_int, default=S, help="images per step per process (default 32)")
    g.add_argument("-j", "--workers", type=nonneg_int, default=S, help="data-loading workers per process")
    g.add_argument("--epochs", type=positive_int, default=S)
    g.add_argument("--lr", type=positive_float, default=S, help="base learning rate (default 1e-3)")
    g.add_argument("--momentum", type=float_range(0.0, 1.0, hi_open=True, name="momentum"), default=S)
    g.add_argument("--weight-decay", type=nonneg_float, default=S)
    g.add_argument("--warmup-epochs", type=nonneg_float, default=S)
    g.add_argument("--schedule", choices=("step", "cosine"), default=S)
    g.add_argument("--milestones", type=nonneg_float, nargs="+", default=S,
                   help="step decay points: fractions of --epochs (all <= 1) or epochs (default 0.76 0.88)")
    g.add_argument("--gamma", type=float_range(0.0, 1.0, lo_open=True, name="gamma"), default=S, help="step decay factor (default 0.1)")
    g.add_argument("--grad-clip", type=nonneg_float, default=S, help="max gradient norm (0: off)")
    g.add_argument("--amp", action=argparse.BooleanOptionalAction, default=S, help="mixed precision on CUDA (default on)")
    g.add_argument("--ema", action=argparse.BooleanOptionalAction, default=S, help="keep an EMA of the weights")
    g.add_argument("--ema-decay", type=float_range(0.0, 1.0, lo_open=True, hi_open=True, name="decay"), default=S)
    g = p.add_argument_group("initialisation and fine-tuning")
    g.add_argument("--backbone-init", default=S, metavar="PATH|imagenet|none",
                   help="backbone start: imagenet (default; the ImageNet MobileNetV1-0.25 shipped in the package), "
                        "none (random), or a file: an ImageNet checkpoint, a RetinaFace release file, a FeatherFace "
                        "weights file or checkpoint")
    g.add_argument("--init-weights", default=S, metavar="PATH", help="start from a FeatherFace weights file/checkpoint")
    g.add_argument("--freeze-backbone", action=argparse.BooleanOptionalAction, default=S,
                   help="keep the backbone (weights and BatchNorm statistics) fixed")
    g = p.add_argument_group("distillation")
    g.add_argument("--teacher", default=S, metavar="SPEC",
                   help="teacher network: retinaface, retinaface:PATH, or a weights file of the package")
    g.add_argument("--distill", choices=("auto", "dense", "boxes"), default=S,
                   help="dense: per-prior soft targets (same priors as the student); boxes: the teacher's faces "
                        "as labels; auto: dense when possible (default)")
    g.add_argument("--gt-weight", type=nonneg_float, default=S,
                   help="weight of the matched-prior loss on the label file (default 1; 0 = distillation only)")
    g = p.add_argument_group("run control")
    g.add_argument("-o", "--output", type=output_path, default=S, metavar="DIR", help="output directory (default runs/train)")
    g.add_argument("--resume", nargs="?", const="auto", default=S, metavar="PATH|auto",
                   help="continue from a checkpoint (or DIR/last.pt); bare --resume means auto")
    g.add_argument("--force", action="store_true",
                   help="start a new run in an --output folder that holds one (its files are moved to "
                        "DIR/replaced-<time>/ first)")
    g.add_argument("--save-every", type=nonneg_int, default=S, metavar="STEPS", help="also checkpoint every N steps")
    g.add_argument("--max-steps", type=nonneg_int, default=S, help="stop after N optimizer steps in total")
    g.add_argument("--seed", type=int_range(0, 2**32 - 1, name="seed"), default=S)
    g.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=S)
    g.add_argument("--device", default=S, help="auto, cpu, cuda, cuda:N (torchrun: LOCAL_RANK picks the GPU)")
    g.add_argument("--log-every", type=positive_int, default=S, metavar="STEPS")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=S, help="progress bar (default on)")
    g.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=S,
                   help="also log to TensorBoard when installed (default on)")
    p.set_defaults(func=run)
    return p


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``["lr=0.01", "augment.zoom_out_prob=0.3"]`` -> nested dict (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
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
            if head not in ("augment", "model_overrides"):
                raise ConfigError(f"--set {key}: only augment.* and model_overrides.* take a dotted key")
            out.setdefault(head, {})[sub] = value
        else:
            out[key] = value
    return out


def build_config(args: argparse.Namespace) -> Any:
    """Merge defaults < resumed checkpoint's config < YAML < flags < ``--set`` into a TrainConfig."""
    from featherface.training.checkpoint import find_resume_checkpoint, read_checkpoint
    from featherface.training.config import TrainConfig

    flags = {field: getattr(args, dest) for dest, field in _FLAG_FIELDS.items() if hasattr(args, dest)}
    sets = _parse_set(getattr(args, "set_items", []) or [])
    yaml_cfg = TrainConfig.from_yaml(args.config) if args.config else None

    base = TrainConfig()
    resume = sets.get("resume", flags.get("resume", yaml_cfg.resume if yaml_cfg else None))
    if resume:
        out_dir = sets.get("output_dir", flags.get("output_dir", yaml_cfg.output_dir if yaml_cfg else base.output_dir))
        path = find_resume_checkpoint(str(resume), out_dir)
        if path is not None:
            stored = read_checkpoint(path).get("config") or {}
            base = TrainConfig.from_dict(stored)
            if str(resume).lower() != "auto" and "output_dir" not in flags and "output_dir" not in sets \
                    and not (yaml_cfg and args.config):
                base = TrainConfig.from_dict({"output_dir": str(path.parent)}, base)
    cfg = TrainConfig.from_yaml(args.config, base) if args.config else base
    merged_dicts = {}
    for key in ("augment", "model_overrides"):
        if key in sets:
            merged_dicts[key] = {**getattr(cfg, key), **sets.pop(key)}
    cfg = TrainConfig.from_dict({**flags, **sets, **merged_dicts}, cfg)
    return cfg


def check_run_values(cfg: Any) -> None:
    """Values ``TrainConfig.validate`` lets through that fail (or train nonsense) later: a negative
    seed (numpy refuses it after the model is built), non-finite numbers (``warmup_epochs: inf``
    passes ``>= 0``, NaN passes every comparison). Checked here until ``validate`` checks them."""
    import math

    for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "gamma", "grad_clip", "ema_decay",
                 "mosaic_prob", "min_face_size", "gt_weight", "min_lr_factor", "warmup_start_factor"):
        v = getattr(cfg, name, None)
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{name} must be a finite number, got {v}")
    for m in getattr(cfg, "milestones", []) or []:
        if isinstance(m, float) and not math.isfinite(m):
            raise ConfigError(f"milestones must be finite numbers, got {m}")
    seed = getattr(cfg, "seed", 0)
    if not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2^32), got {seed}")


def prepare_output_dir(cfg: Any, force: bool = False) -> None:
    """Refuse to start a new run over an earlier one (its checkpoints would be replaced, and its
    stale best.pt reported as the new run's): continue it with --resume, choose another -o, or
    --force, which moves the earlier run's files aside into ``replaced-<time>/``."""
    import os
    import time
    from pathlib import Path

    out = check_output_dir(cfg.output_dir, "--output")
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 decides (and moves files) for all
        return
    if cfg.resume or not out.is_dir():
        return
    found = [name for name in RUN_FILES if (out / name).exists()]
    if not found:
        return
    if not force:
        raise ConfigError(f"--output {out} already holds a training run ({', '.join(found)}): continue it with "
                          "--resume, choose another -o, or pass --force to start over (the earlier files are moved "
                          "to a replaced-<time>/ folder inside it)")
    aside = out / time.strftime("replaced-%Y%m%d-%H%M%S")
    k = 1
    while aside.exists():
        k += 1
        aside = Path(f"{aside}-{k}")
    aside.mkdir(parents=True)
    for name in found:
        (out / name).rename(aside / name)
    print(f"featherface train: moved the earlier run's {', '.join(found)} to {aside}/")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``featherface train``; returns 0 when finished, 130 when stopped by a signal."""
    cfg = build_config(args)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if cfg.needs_data():
        raise ConfigError("no training data: pass --labels FILE (and --images DIR), or --synthetic N for a smoke run")
    check_run_values(cfg)
    from featherface.device import resolve_device

    resolve_device(cfg.device, "--device")
    prepare_output_dir(cfg, force=getattr(args, "force", False))
    from featherface.training.trainer import Trainer

    result = Trainer(cfg).fit()
    if result.status == "interrupted":
        return 130
    if result.final_weights is not None:
        print(f"final weights: {result.final_weights}")
        if result.best_weights is not None:
            print(f"best weights:  {result.best_weights}")
    return 0

"""``featherface train``: train or fine-tune a FeatherFace model (single process or ``torchrun``).

The flags are generated from :class:`featherface.training.config.TrainConfig`'s fields (help texts,
names and bounds in :data:`featherface.training.flags.FIELD_OPTIONS`): a new config field is a new flag. Options come from
(lowest first, :func:`featherface.training.config.resolve_config`) the defaults, the resumed
checkpoint's own config, ``--config FILE.yaml``, the flags and ``--set key=value``, which reaches
any field, including entries of the ``augment`` and ``model_overrides`` mappings
(``--set augment.zoom_out_prob=0.3``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from featherface.commands.argtypes import finite_float, float_range, int_range, output_path
from featherface.commands.dataclass_flags import FieldFlag, add_dataclass_flags
from featherface.errors import ConfigError
from featherface.io.outputs import check_output_dir
from featherface.training.config import TrainConfig, resolve_config
from featherface.training.flags import field_flag, field_kind, field_option

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

# the groups of --help, in order (a field's group is in featherface.training.flags.FIELD_OPTIONS)
_GROUPS = ("model and data", "optimisation", "loss", "distillation", "initialisation and fine-tuning",
           "run control", "other options")
# dests the verb itself uses: no TrainConfig field may take one of them
_RESERVED = {"config", "set_items", "print_config", "force", "debug", "func", "command"}


def _number_type(kind: str, opt: Any, name: str) -> Any:
    """The argparse ``type=`` of a number field: whole or finite, within the field's bounds."""
    if kind == "int":
        return int_range(None if opt.lo is None else int(opt.lo), None if opt.hi is None else int(opt.hi), name=name)
    if opt.lo is None and opt.hi is None:
        return finite_float
    return float_range(opt.lo, opt.hi, lo_open=opt.lo_open, hi_open=opt.hi_open, name=name)


def _field_flag(name: str) -> FieldFlag:
    """How the TrainConfig field ``name`` appears (its FieldOption, its kind's type and bounds)."""
    kind, opt = field_kind(name), field_option(name)
    spec = FieldFlag(opt.help, flag=field_flag(name), aliases=opt.aliases, metavar=opt.metavar,
                     group=opt.group if opt.group in _GROUPS else "other options")
    if kind == "bool":
        return dataclasses.replace(spec, action=argparse.BooleanOptionalAction, metavar=None)
    if kind in ("int", "float"):
        return dataclasses.replace(spec, type=_number_type(kind, opt, name))
    if kind == "list":
        return dataclasses.replace(spec, type=_number_type("float", opt, name), nargs="+")
    return dataclasses.replace(spec, type=output_path if opt.output_path else None, choices=opt.choices,
                               **(dict(nargs="?", const=opt.const) if opt.const is not None else {}))


def add_config_args(parser: argparse.ArgumentParser) -> list[str]:
    """One flag per :class:`~featherface.training.config.TrainConfig` field (see
    :data:`~featherface.training.flags.FIELD_OPTIONS`), in groups; returns the fields that got one.

    Every flag defaults to "absent" (``argparse.SUPPRESS``): a flag not given must not override the
    YAML file or the resumed checkpoint. Mapping fields (``augment``, ``model_overrides``) are set
    with ``--set field.key=value``. The flags are made by
    :func:`featherface.commands.dataclass_flags.add_dataclass_flags`, as every verb's."""
    names = [f.name for f in fields(TrainConfig) if field_kind(f.name) not in ("dict", "records")]
    assert not set(names) & _RESERVED, set(names) & _RESERVED
    groups = {title: parser.add_argument_group(title) for title in _GROUPS}
    added = add_dataclass_flags(parser, TrainConfig(), {n: _field_flag(n) for n in names}, names, absent=True,
                                groups=groups)
    for title, group in groups.items():  # no empty group headings in --help
        if not group._group_actions:
            parser._action_groups.remove(group)
    return added


def add_parser(subparsers: "argparse._SubParsersAction", name: str) -> argparse.ArgumentParser:
    """Register ``featherface train`` and its options: the ones of the verb, then one per config field."""
    p = subparsers.add_parser(
        name, help="train or fine-tune a model (WIDER FACE or your own labels; torchrun for multi-GPU)",
        description="Train a FeatherFace model with SGD, optional AMP/EMA, exact resume and DDP via torchrun.\n"
                    "Writes last.pt (checkpoint), best.pt and final.pt (weights files), train_log.csv and\n"
                    "epochs.csv into --output.\n\n"
                    "Every field of featherface.training.TrainConfig is a flag: the field with '-' for '_'\n"
                    "(label_file, image_root, val_label_file, val_image_root, synthetic_images and output_dir\n"
                    "are --labels, --images, --val-labels, --val-images, --synthetic and --output); the\n"
                    "augment and model_overrides mappings are set with --set augment.KEY=VALUE.\n"
                    "Precedence, lowest first: the defaults, the resumed checkpoint's config, --config YAML,\n"
                    "the flags, --set.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("configuration")
    g.add_argument("-c", "--config", default=None, metavar="YAML", help="YAML file of training options")
    g.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="set_items",
                   help="set any option, e.g. --set lr=0.01 augment.zoom_out_prob=0.3 model_overrides.dynamic_sharing=false")
    g.add_argument("--print-config", action="store_true", help="print the merged configuration as YAML and exit")
    g.add_argument("--force", action="store_true",
                   help="start a new run in an --output folder that holds one (its files are moved to "
                        "DIR/replaced-<time>/ first)")
    add_config_args(p)
    p.set_defaults(func=run)
    return p


def config_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields given as flags: field -> value."""
    return {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}


def build_config(args: argparse.Namespace) -> Any:
    """The run's TrainConfig: :func:`featherface.training.config.resolve_config` (defaults < resumed
    checkpoint's config < YAML < flags < ``--set``) of the parsed flags."""
    return resolve_config(args.config, config_flags(args), getattr(args, "set_items", []) or [])


def check_run_values(cfg: Any) -> None:
    """Values ``TrainConfig.validate`` lets through that fail (or train nonsense) later: a negative
    seed (numpy refuses it after the model is built), non-finite numbers (``warmup_epochs: inf``
    passes ``>= 0``, NaN passes every comparison). Checked here until ``validate`` checks them."""
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
    # torch, then the trainer (torch, OpenCV): imported on use, so ``featherface train --help`` stays
    # without them, and a refused --output costs no trainer import
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

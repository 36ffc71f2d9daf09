"""Training checkpoints: everything needed to continue a run exactly, in a ``weights_only`` file.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts — no pickled classes —
so ``torch.load(path, weights_only=True)`` reads it and loading one can never run code::

    {"format": "featherface-checkpoint", "version": 1,
     "epoch": E, "step_in_epoch": S, "global_step": G,   # E = epoch in progress, S batches of it done
     "model": state_dict, "optimizer": ..., "scheduler": ..., "scaler": ... | None, "ema": ... | None,
     "distiller": feature-imitation adapters | None,   # training-only weights, never in "weights"
     "rng": {"torch", "cuda", "numpy", "python"}, "config": TrainConfig dict,
     "best_metric": float | None, "epoch_stats": {...}, "world_size": W,
     "weights": weights_dict(EMA model or model, meta)}   # so load_weights() accepts a checkpoint

RNG states are stored as tensors and lists (numpy's and Python's tuples are converted).
:func:`trainer_checkpoint` writes a :class:`~featherface.training.trainer.Trainer`'s state in this
layout and :func:`restore_trainer` puts it back (the trainer's own loop never touches the keys).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from featherface.errors import WeightsError
from featherface.io.files import file_problem
from featherface.models.weights import load_error, weights_dict
from featherface.training.ema import ModelEMA

if TYPE_CHECKING:
    from featherface.training.trainer import Trainer

__all__ = ["CHECKPOINT_FORMAT", "capture_rng_state", "restore_rng_state", "read_checkpoint", "find_resume_checkpoint",
           "LAST_NAME", "restore_trainer", "trainer_checkpoint"]

CHECKPOINT_FORMAT = "featherface-checkpoint"
CHECKPOINT_VERSION = 1
LAST_NAME = "last.pt"


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states of torch (CPU and CUDA), numpy and Python as weights_only-safe values."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_version), "state": [int(v) for v in py_internal],
                   "gauss": None if py_gauss is None else float(py_gauss)},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (missing parts are left alone)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.to(torch.uint8).cpu() for s in cuda])
    npst = state.get("numpy")
    if npst:
        keys = npst["keys"].cpu().numpy().astype(np.uint32)
        np.random.set_state((npst["name"], keys, int(npst["pos"]), int(npst["has_gauss"]), float(npst["cached_gaussian"])))
    pyst = state.get("python")
    if pyst:
        random.setstate((int(pyst["version"]), tuple(int(v) for v in pyst["state"]), pyst["gauss"]))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint safely (``weights_only=True``) and check it is one."""
    p = Path(path)
    problem = file_problem(p)
    if problem is not None:
        raise WeightsError(f"{p}: checkpoint {problem}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        # one line, and never torch's advice to retry with weights_only=False (that would run pickled code)
        raise load_error(p, exc, "checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{p}: not a FeatherFace training checkpoint (a weights file cannot be resumed; "
                           "use --init-weights to start a new run from it)")
    for key in ("model", "optimizer", "epoch", "step_in_epoch", "global_step"):
        if key not in ckpt:
            raise WeightsError(f"{p}: checkpoint lacks '{key}'")
    return ckpt


def find_resume_checkpoint(resume: str | None, output_dir: str | Path) -> Path | None:
    """``None`` -> no resume; ``"auto"`` -> ``output_dir/last.pt`` if it exists; else the path (must exist)."""
    if not resume:
        return None
    if resume.strip().lower() == "auto":
        p = Path(output_dir) / LAST_NAME
        return p if p.is_file() else None
    p = Path(resume)
    if p.is_dir():
        p = p / LAST_NAME
    problem = file_problem(p)
    if problem is not None:
        raise WeightsError(f"{p}: checkpoint to resume from {problem}")
    return p


def trainer_checkpoint(trainer: "Trainer") -> dict[str, Any]:
    """The full training state of ``trainer`` as a ``weights_only``-loadable dict (the layout above)."""
    assert trainer.optimizer is not None and trainer.schedule is not None
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "epoch": int(trainer.epoch),
        "step_in_epoch": int(trainer.step_in_epoch),
        "global_step": int(trainer.global_step),
        "model": {k: v.detach().cpu().clone() for k, v in trainer.raw_model.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.schedule.state_dict(),
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None and trainer.scaler.is_enabled() else None,
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "distiller": trainer.distiller.extra_state() if trainer.distiller is not None else None,
        "rng": capture_rng_state(),
        "config": trainer.cfg.to_dict(),
        "best_metric": trainer.best_metric,
        "epoch_stats": {k: (list(v) if isinstance(v, list) else v) for k, v in trainer.epoch_stats.items()},
        "history": [dict(h) for h in trainer.history],
        "world_size": int(trainer.dist.world_size if trainer.dist else 1),
        "weights": weights_dict(trainer.weights_model(), trainer.weights_meta("checkpoint")),
    }


def restore_trainer(trainer: "Trainer", path: Path) -> None:
    """Put the checkpoint ``path`` back into ``trainer``: weights, optimizer, schedule, EMA, scaler,
    the position ``(epoch, step_in_epoch)``, the epoch's running sums, the history and the RNGs."""
    ckpt = read_checkpoint(path)
    assert trainer.optimizer is not None and trainer.schedule is not None
    try:
        trainer.raw_model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise WeightsError(f"{path}: checkpoint does not fit model {trainer.cfg.model!r}: "
                           f"{str(exc).splitlines()[0]}") from None
    try:
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
    except ValueError as exc:  # another parameter set, e.g. feature imitation switched on or off mid-run
        raise WeightsError(f"{path}: the optimizer state does not fit this run's parameters ({str(exc).splitlines()[0]}); "
                           "was distill_feat_weight changed? resume with the run's own config") from None
    if ckpt.get("scheduler"):
        trainer.schedule.load_state_dict(ckpt["scheduler"])
    if trainer.ema is not None:
        if ckpt.get("ema"):
            trainer.ema.load_state_dict(ckpt["ema"])
        else:
            trainer.ema = ModelEMA(trainer.raw_model, trainer.cfg.ema_decay)
    if trainer.scaler is not None and ckpt.get("scaler"):
        trainer.scaler.load_state_dict(ckpt["scaler"])
    if trainer.distiller is not None and trainer.distiller.imitation is not None \
            and not trainer.distiller.load_extra_state(ckpt.get("distiller")):
        trainer.log(f"{path}: no feature-imitation adapters saved; they start afresh")
    trainer.epoch = int(ckpt["epoch"])
    trainer.step_in_epoch = int(ckpt["step_in_epoch"])
    trainer.global_step = int(ckpt["global_step"])
    trainer.best_metric = ckpt.get("best_metric")
    stats = ckpt.get("epoch_stats")
    if stats:
        sums = [float(v) for v in stats["sum"]]
        trainer.epoch_stats = {"sum": sums + [0.0] * (5 - len(sums)), "count": int(stats["count"]),
                               "skipped": int(stats.get("skipped", 0)), "seconds": float(stats.get("seconds", 0.0))}
    trainer.history = [dict(h) for h in ckpt.get("history", [])]
    if ckpt.get("rng"):
        restore_rng_state(ckpt["rng"])
    saved_world = int(ckpt.get("world_size", 1))
    if trainer.dist is not None and saved_world != trainer.dist.world_size:
        trainer.log(f"warning: checkpoint was written with {saved_world} processes, resuming with "
                    f"{trainer.dist.world_size}: the data order of the remaining steps differs")
    trainer.log(f"resumed from {path}: epoch {trainer.epoch + 1}, step {trainer.step_in_epoch} of it, "
                f"global step {trainer.global_step}")

"""The FeatherFace trainer behind ``featherface train``.

One process per GPU (``torchrun``), SGD with a per-step learning-rate schedule, optional mixed
precision (CUDA) and EMA, atomic checkpoints that resume exactly (mid-epoch included), clean stop
on SIGINT/SIGTERM, NaN guard, CSV (+ TensorBoard) logs, and ``best.pt``/``final.pt`` weights files.

Exact resume rests on three facts: the batch order of an epoch is a pure function of
``(seed, epoch)`` (:class:`~featherface.training.data.EpochBatchSampler`), each item's augmentation
is a pure function of ``(seed, epoch, index)`` (the dataset), and the learning rate is a pure
function of the step (:class:`~featherface.training.schedule.LRSchedule`). The checkpoint then
only needs the weights, optimizer/EMA/scaler state, the position ``(epoch, step_in_epoch)`` and the
global RNG states.

This module is the loop itself (one cohesive thing: setup, the step, the epoch end, the end of a
run); its parts live beside it: the stop request (:mod:`~featherface.training.stop`), the CSV and
TensorBoard logs (:mod:`~featherface.training.logs`), the trainer's state in a checkpoint
(:func:`~featherface.training.checkpoint.trainer_checkpoint` / ``restore_trainer``), the teacher
(:class:`~featherface.training.distill.Distiller`), the datasets
(:func:`~featherface.training.data.build_datasets`) and the DDP replica check
(:func:`~featherface.training.distributed.replicas_in_sync`).
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from featherface import __version__
from featherface.errors import FeatherFaceError
from featherface.models import create_model
from featherface.models.weights import (
    apply_weights,
    atomic_torch_save,
    config_differences,
    load_backbone_weights,
    read_weights,
    save_weights,
)
from featherface.training.checkpoint import LAST_NAME, find_resume_checkpoint, restore_trainer, trainer_checkpoint
from featherface.training.config import TrainConfig
from featherface.training.data import (
    EpochBatchSampler,
    TrainingDataset,
    build_datasets,
    collate_training,
    synthetic_label_file,
    worker_init_fn,
)
from featherface.training.distill import DenseDistillationLoss, Distiller
from featherface.training.distributed import (
    DistInfo,
    all_reduce_mean,
    all_reduce_mean_grads,
    cleanup_distributed,
    replicas_in_sync,
    setup_distributed,
)
from featherface.training.ema import ModelEMA, unwrap_model
from featherface.training.logs import EPOCH_LOG_FIELDS, STEP_LOG_FIELDS, CsvLog, TensorBoardLog
from featherface.training.loss import LossOutput, MultiBoxLoss
from featherface.training.schedule import LRSchedule
from featherface.training.stop import StopSignal

__all__ = ["Trainer", "TrainResult", "NonFiniteLossError", "train", "load_backbone_init", "seed_everything"]


class NonFiniteLossError(FeatherFaceError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


@dataclass
class TrainResult:
    """What a :meth:`Trainer.fit` call did."""

    output_dir: Path
    epoch: int  # epoch in progress when it stopped (== epochs when finished)
    step_in_epoch: int
    global_step: int
    status: str  # "finished" | "max_steps" | "interrupted"
    last_checkpoint: Path | None = None
    best_weights: Path | None = None
    final_weights: Path | None = None
    skipped_images: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch; optionally force deterministic kernels (slower on GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    elif torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True


def load_backbone_init(model: nn.Module, spec: str | os.PathLike) -> str:
    """Initialise ``model.backbone`` from ``spec`` (``"imagenet"``, or an ImageNet / RetinaFace /
    FeatherFace file; see :func:`featherface.models.weights.read_backbone_state_dict`). Returns what was loaded."""
    return load_backbone_weights(unwrap_model(model).backbone, spec)


class Trainer:
    """Train a FeatherFace model as configured by a :class:`TrainConfig`.

    ``dataset``/``val_dataset`` may be given directly (any dataset returning the
    :class:`~featherface.data.dataset.FaceDataset` item format); otherwise they are built from the
    config's label files. ``callbacks`` are called as ``cb(trainer, info_dict)`` after every
    optimizer step (tests use them to inject signals or failures).
    """

    def __init__(self, cfg: TrainConfig, dataset: Dataset | None = None, val_dataset: Dataset | None = None,
                 callbacks: Sequence[Callable[["Trainer", dict[str, Any]], None]] = ()) -> None:
        cfg.validate()
        self.cfg = cfg
        self._dataset = dataset
        self._val_dataset = val_dataset
        self.callbacks = list(callbacks)
        self.output_dir = Path(cfg.output_dir)
        self.dist: DistInfo | None = None
        self.model: nn.Module | None = None  # the (possibly DDP-wrapped) model being trained
        self.ema: ModelEMA | None = None
        self.criterion: MultiBoxLoss | None = None
        self.distiller: Distiller | None = None  # the teacher of a distillation run
        self.optimizer: torch.optim.Optimizer | None = None
        self.schedule: LRSchedule | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.best_metric: float | None = None
        self.epoch_stats = {"sum": [0.0] * 5, "count": 0, "skipped": 0, "seconds": 0.0}
        self.history: list[dict[str, float]] = []
        self.tensorboard = TensorBoardLog()
        self._stop: StopSignal | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def is_main(self) -> bool:
        return self.dist is None or self.dist.is_main

    def log(self, msg: str) -> None:
        """Print from rank 0 only, without breaking progress bars."""
        if self.is_main:
            try:
                tqdm.write(f"[featherface train] {msg}", file=sys.stderr)
            except Exception:  # noqa: BLE001
                print(f"[featherface train] {msg}", file=sys.stderr, flush=True)

    @property
    def teacher(self) -> nn.Module | None:
        """The frozen, eval-mode teacher of a distillation run (``None`` without one)."""
        return self.distiller.model if self.distiller is not None else None

    @property
    def distill_mode(self) -> str | None:
        """``"dense"`` | ``"boxes"`` while a teacher is set."""
        return self.distiller.mode if self.distiller is not None else None

    @property
    def distill_loss(self) -> DenseDistillationLoss | None:
        """The dense distillation loss (``None`` in boxes mode or without a teacher)."""
        return self.distiller.dense_loss if self.distiller is not None else None

    @property
    def raw_model(self) -> nn.Module:
        assert self.model is not None
        return unwrap_model(self.model)

    def weights_model(self) -> nn.Module:
        """The model whose weights are published (EMA when enabled)."""
        return self.ema.module if self.ema is not None else self.raw_model

    def weights_meta(self, kind: str, metric: float | None = None) -> dict[str, Any]:
        """The metadata of a published weights file (``kind``: best, final, checkpoint)."""
        return {
            "source": "featherface train",
            "kind": kind,
            "featherface_version": __version__,
            "epoch": int(self.epoch),
            "step_in_epoch": int(self.step_in_epoch),
            "global_step": int(self.global_step),
            "ema": self.ema is not None,
            "metric": None if metric is None else float(metric),
            "train_config": self.cfg.to_dict(),
        }

    # ------------------------------------------------------------------ setup
    def _build_datasets(self) -> tuple[Dataset, Dataset | None]:
        return build_datasets(self.cfg, self._dataset, self._val_dataset, self._make_synthetic)

    def _make_synthetic(self) -> Path:
        """Rank 0 renders the synthetic set once; other ranks wait for it (smoke runs)."""
        label = synthetic_label_file(self.cfg, self.output_dir, render=self.is_main)
        self._barrier()
        return label

    def _barrier(self) -> None:
        if self.dist is not None and self.dist.distributed:
            torch.distributed.barrier()

    def _build_model(self, resuming: bool) -> nn.Module:
        cfg = self.cfg
        model = create_model(cfg.model, **cfg.model_overrides)
        if not resuming:  # a resumed run takes every weight from the checkpoint
            if cfg.init_weights:
                # every tensor must fit (strict load); options that only rewire them may differ
                # (a stage that switches attention_residual on starts from the previous stage)
                obj = read_weights(cfg.init_weights)
                diff = config_differences(model, obj)
                apply_weights(model, obj, cfg.init_weights, strict_arch=False)
                note = f"; its architecture differs in {', '.join(sorted(diff))}, its tensors fit" if diff else ""
                self.log(f"initialised from {cfg.init_weights} ({obj.get('model')}{note})")
            elif cfg.backbone_init and str(cfg.backbone_init).lower() != "none":
                what = load_backbone_init(model, cfg.backbone_init)
                self.log(f"backbone initialised from {cfg.backbone_init}: {what}")
            else:
                self.log("backbone_init none: training from random initialisation "
                         "(the default 'imagenet' start is what WIDER FACE accuracy needs)")
        if cfg.freeze_backbone:
            for p in model.backbone.parameters():
                p.requires_grad_(False)
        return model

    def _set_train_mode(self) -> None:
        assert self.model is not None
        self.model.train()
        if self.cfg.freeze_backbone:
            self.raw_model.backbone.eval()  # frozen means frozen BatchNorm statistics too

    # ------------------------------------------------------------------ checkpoints
    def _check_finite_weights(self) -> None:
        for name, t in self.raw_model.state_dict().items():
            if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
                raise NonFiniteLossError(
                    f"weights became non-finite ({name}) at epoch {self.epoch + 1}, step {self.global_step}; "
                    f"no checkpoint written, the last good one is kept in {self.output_dir / LAST_NAME}")

    def checkpoint_dict(self) -> dict[str, Any]:
        """The full training state as a ``weights_only``-loadable dict."""
        return trainer_checkpoint(self)

    def save_checkpoint(self, path: Path | None = None) -> Path | None:
        """Atomically write ``last.pt`` (rank 0 only; never with non-finite weights)."""
        self._check_finite_weights()
        path = path or (self.output_dir / LAST_NAME)
        if self.is_main:
            atomic_torch_save(self.checkpoint_dict(), path)
        self._barrier()
        return path

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def validation_loss(self, dataset: Dataset) -> float:
        """Mean loss of the published (EMA) model on ``dataset``, sharded over ranks."""
        assert self.dist is not None and self.criterion is not None
        model = self.weights_model()
        was_training = model.training
        model.eval()
        sampler = EpochBatchSampler(len(dataset), self.cfg.batch_size, self.dist.rank, self.dist.world_size,  # type: ignore[arg-type]
                                    self.cfg.seed, shuffle=False)
        loader = DataLoader(TrainingDataset(dataset), batch_sampler=sampler, num_workers=min(self.cfg.workers, 4),
                            collate_fn=collate_training, worker_init_fn=worker_init_fn)
        total = torch.zeros(2, dtype=torch.float64, device=self.dist.device)
        for images, targets, _ in loader:
            images = self._to_input(images, self.dist.device)
            with self._autocast():
                out = model(images)
            loss = self.criterion(out, targets, image_size=tuple(images.shape[-2:]))
            total[0] += float(loss.total) * images.shape[0]
            total[1] += images.shape[0]
        if self.dist.distributed:
            torch.distributed.all_reduce(total)
        model.train(was_training)
        return float(total[0] / total[1].clamp(min=1))

    def _to_input(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        images = images.to(device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else images

    def _autocast(self) -> Any:
        assert self.dist is not None
        enabled = bool(self.cfg.amp and self.dist.device.type == "cuda")
        dtype = torch.bfloat16 if self.cfg.amp_dtype == "bfloat16" else torch.float16
        return torch.autocast(device_type=self.dist.device.type, dtype=dtype, enabled=enabled)

    # ------------------------------------------------------------------ main loop
    def fit(self) -> TrainResult:
        """Run (or resume) training; returns how it ended. Raises :class:`NonFiniteLossError`."""
        self.dist = setup_distributed(self.cfg.device)
        # process-wide switches seed_everything() may flip; restored so an in-process run (a
        # notebook, a test) leaves the interpreter as it found it
        saved_flags = (torch.are_deterministic_algorithms_enabled(),
                       torch.is_deterministic_algorithms_warn_only_enabled(),
                       torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
        try:
            with StopSignal(self.log) as stop:
                self._stop = stop
                return self._fit()
        finally:
            torch.use_deterministic_algorithms(saved_flags[0], warn_only=saved_flags[1])
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved_flags[2:]
            self._stop = None
            self.tensorboard.close()
            cleanup_distributed(self.dist)

    def _fit(self) -> TrainResult:
        cfg = self.cfg
        dist_info = self.dist
        assert dist_info is not None
        device = dist_info.device
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self._barrier()
        resume_path = find_resume_checkpoint(cfg.resume, self.output_dir)
        if cfg.resume and resume_path is None:
            self.log(f"resume=auto: no {LAST_NAME} in {self.output_dir}, starting a new run")
        seed_everything(cfg.seed, cfg.deterministic)

        model = self._build_model(resuming=resume_path is not None).to(device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.criterion = MultiBoxLoss.for_model(model, overlap_threshold=cfg.overlap_threshold,
                                                neg_pos_ratio=cfg.neg_pos_ratio, loc_weight=cfg.loc_weight,
                                                ldm_weight=cfg.ldm_weight, ldm_beta=cfg.ldm_beta)
        self.ema = ModelEMA(model, cfg.ema_decay) if cfg.ema else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=bool(cfg.amp and device.type == "cuda" and cfg.amp_dtype == "float16"))
        self.model = model
        if cfg.teacher_spec() is not None:
            self.distiller = Distiller(cfg, model, device, self.log)
        # the distillation's own trainable part (feature-imitation adapters) learns with the student
        params = [p for p in model.parameters() if p.requires_grad]
        params += self.distiller.trainable_parameters() if self.distiller is not None else []
        self.optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

        dataset, val_dataset = self._build_datasets()
        sampler = EpochBatchSampler(len(dataset), cfg.batch_size, dist_info.rank, dist_info.world_size, cfg.seed,  # type: ignore[arg-type]
                                    sizes=cfg.multi_scale_sizes, base_size=cfg.img_size)
        steps_per_epoch = sampler.batches_per_epoch
        self.schedule = LRSchedule(self.optimizer, cfg.lr, steps_per_epoch, cfg.epochs, cfg.schedule,
                                   cfg.milestone_epochs(), cfg.gamma, cfg.warmup_epochs, cfg.warmup_start_factor,
                                   cfg.min_lr_factor)
        if resume_path is not None:
            restore_trainer(self, resume_path)
        if dist_info.distributed:
            self.model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)

        loader_gen = torch.Generator()
        loader_gen.manual_seed(cfg.seed)
        loader = DataLoader(
            TrainingDataset(dataset), batch_sampler=sampler, num_workers=cfg.workers, collate_fn=collate_training,
            pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0, worker_init_fn=worker_init_fn,
            generator=loader_gen, prefetch_factor=4 if cfg.workers > 0 else None,
        )
        epoch_log = CsvLog(self.output_dir / "epochs.csv", EPOCH_LOG_FIELDS)
        if self.is_main and resume_path is not None:
            step_log = CsvLog(self.output_dir / "train_log.csv", STEP_LOG_FIELDS)
            step_log.truncate_after("global_step", self.global_step)
            epoch_log.truncate_after("epoch", self.epoch)
        if cfg.tensorboard and self.is_main:
            self.tensorboard.open(self.output_dir / "tensorboard", purge_step=self.global_step or None)
        n_params = sum(p.numel() for p in self.raw_model.parameters())
        self.log(f"{cfg.model} ({n_params:,} parameters) on {device}"
                 f"{f' x{dist_info.world_size} processes' if dist_info.distributed else ''}; "
                 f"{len(dataset)} images, {steps_per_epoch} steps/epoch of {cfg.batch_size} per process; "  # type: ignore[arg-type]
                 f"output in {self.output_dir}")

        status = "finished"
        last_ckpt: Path | None = None
        best_path: Path | None = None
        total_skipped = 0
        start_step = self.global_step
        assert self._stop is not None
        while self.epoch < cfg.epochs:
            if cfg.max_steps and self.global_step >= cfg.max_steps:
                status = "max_steps"
                break
            epoch = self.epoch
            if self.step_in_epoch >= steps_per_epoch:  # a checkpoint taken right at an epoch's end
                self.epoch += 1
                self.step_in_epoch = 0
                continue
            if self.step_in_epoch == 0:
                self.epoch_stats = {"sum": [0.0] * 5, "count": 0, "skipped": 0, "seconds": 0.0}
            sampler.set_epoch(epoch, skip_batches=self.step_in_epoch)
            self._set_train_mode()
            outcome = self._run_epoch(loader, steps_per_epoch)
            total_skipped += int(self.epoch_stats["skipped"])
            if outcome in ("interrupted", "max_steps"):
                status = outcome
                last_ckpt = self.save_checkpoint()
                break
            # ---- epoch finished
            means = [s / max(1, self.epoch_stats["count"]) for s in self.epoch_stats["sum"]]
            val_loss = self.validation_loss(val_dataset) if val_dataset is not None else None
            self.epoch += 1
            self.step_in_epoch = 0
            row = {"epoch": self.epoch, "global_step": self.global_step, "loss": means[0], "loc": means[1],
                   "cls": means[2], "ldm": means[3], "distill": means[4], "val_loss": "" if val_loss is None else val_loss,
                   "skipped_images": int(self.epoch_stats["skipped"]), "seconds": float(self.epoch_stats["seconds"])}
            self.history.append({k: float(v) for k, v in row.items() if v != ""})
            metric = val_loss if val_loss is not None else means[0]
            improved = self.best_metric is None or metric < self.best_metric
            if improved:
                self.best_metric = float(metric)
            last_ckpt = self.save_checkpoint()
            if self.is_main:
                epoch_log.write(row)
                self.tensorboard.scalars("epoch", {k: float(v) for k, v in row.items() if k in ("loss", "loc", "cls", "ldm", "val_loss") and v != ""}, self.epoch)
                if improved:
                    best_path = save_weights(self.weights_model(), self.output_dir / "best.pt",
                                             self.weights_meta("best", metric))
                if cfg.keep_epoch_weights:
                    save_weights(self.weights_model(), self.output_dir / f"epoch{self.epoch}.pt",
                                 self.weights_meta(f"epoch{self.epoch}", metric))
                msg = f"epoch {self.epoch}/{cfg.epochs}: loss {means[0]:.4f} (loc {means[1]:.4f} cls {means[2]:.4f} ldm {means[3]:.4f}"
                msg += f" distill {means[4]:.4f})" if self.teacher is not None else ")"
                if val_loss is not None:
                    msg += f", val loss {val_loss:.4f}"
                if self.epoch_stats["skipped"]:
                    msg += f"; skipped {self.epoch_stats['skipped']} unreadable images"
                self.log(msg)
            if self._stop.requested:
                status = "interrupted"
                break
            if cfg.max_steps and self.global_step >= cfg.max_steps:
                status = "max_steps"
                break

        self._verify_replicas()
        final_path: Path | None = None
        if status in ("finished", "max_steps") and self.is_main:
            final_path = self.output_dir / "final.pt"
            if self.global_step != start_step or not final_path.is_file():
                # a resumed run that was already done keeps its file byte for byte (its sha256
                # identifies it, e.g. in the ablation's score cache)
                save_weights(self.weights_model(), final_path, self.weights_meta("final"))
            if best_path is None and (self.output_dir / "best.pt").is_file():
                best_path = self.output_dir / "best.pt"
            self.log(f"done ({status}): {final_path}")
        elif status == "interrupted":
            self.log(f"stopped by {self._stop.name or 'request'}; resume with --resume {last_ckpt}")
        self._barrier()
        return TrainResult(self.output_dir, self.epoch, self.step_in_epoch, self.global_step, status, last_ckpt,
                           best_path, final_path, total_skipped, list(self.history))

    def _verify_replicas(self) -> None:
        """DDP sanity check: every rank must hold the same weights."""
        assert self.dist is not None
        if not self.dist.distributed:
            return
        if replicas_in_sync(self.raw_model, self.dist):
            self.log(f"replicas in sync across {self.dist.world_size} processes")
        else:
            self.log("warning: model replicas differ between processes (DDP out of sync)")

    def _total_loss(self, out: dict[str, torch.Tensor], gt: LossOutput,
                    images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``gt_weight * label loss + distillation loss`` and the distillation part alone."""
        if self.distiller is None:
            return self.cfg.gt_weight * gt.total, torch.zeros((), device=gt.total.device)
        assert self.criterion is not None
        distill = self.distiller.loss(out, images, self.criterion, gt.positive)
        return self.cfg.gt_weight * gt.total + distill, distill

    def _run_epoch(self, loader: DataLoader, steps_per_epoch: int) -> str:
        """Run the remaining steps of the current epoch. Returns "done", "interrupted" or "max_steps"."""
        cfg = self.cfg
        assert self.dist is not None and self.model is not None and self.optimizer is not None
        assert self.schedule is not None and self.scaler is not None and self.criterion is not None
        assert self._stop is not None
        device = self.dist.device
        bar = tqdm(total=steps_per_epoch, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                   disable=not (self.is_main and cfg.progress), dynamic_ncols=True, leave=True, file=sys.stderr)
        step_log = CsvLog(self.output_dir / "train_log.csv", STEP_LOG_FIELDS)
        ips_avg: float | None = None
        t_last = time.perf_counter()
        outcome = "done"
        try:
            for images, targets, skipped in loader:
                images = self._to_input(images, device)
                lr = self.schedule.apply(self.global_step)
                with self._autocast():
                    out = self.model(images)
                loss = self.criterion(out, targets, image_size=tuple(images.shape[-2:]))
                total, distill = self._total_loss(out, loss, images)
                # one small all-reduce per step: logged parts are global means, every rank sees the
                # same NaN verdict and the same stop request (a signal may reach ranks a step apart)
                stats = torch.stack([total.detach(), loss.loc.detach(), loss.cls.detach(), loss.ldm.detach(),
                                     torch.tensor(float(self._stop.requested), device=device),
                                     torch.tensor(float(skipped), device=device), distill.detach()]).double()
                all_reduce_mean(stats, self.dist)
                vals = stats.tolist()
                if not all(math.isfinite(v) for v in vals[:4] + vals[6:7]):
                    raise NonFiniteLossError(
                        f"loss became {'NaN' if any(math.isnan(v) for v in vals[:4] + vals[6:7]) else 'infinite'} at epoch "
                        f"{self.epoch + 1}, step {self.step_in_epoch + 1} (global step {self.global_step + 1}): "
                        f"loc {vals[1]:.4g}, cls {vals[2]:.4g}, ldm {vals[3]:.4g}, distill {vals[6]:.4g}. Training stopped; the last good "
                        f"checkpoint is kept in {self.output_dir / LAST_NAME}. Try a lower lr, a longer warm-up, "
                        "or check the labels for degenerate boxes.")
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(total).backward()
                if self.distiller is not None and self.dist.distributed:
                    all_reduce_mean_grads(self.distiller.trainable_parameters(), self.dist)  # not inside DDP
                if cfg.grad_clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                if self.ema is not None:
                    self.ema.update(self.model)
                self.global_step += 1
                self.step_in_epoch += 1

                now = time.perf_counter()
                dt = max(now - t_last, 1e-9)
                t_last = now
                ips = images.shape[0] * self.dist.world_size / dt
                ips_avg = ips if ips_avg is None else 0.9 * ips_avg + 0.1 * ips
                self.epoch_stats["sum"] = [s + v for s, v in zip(self.epoch_stats["sum"], vals[:4] + vals[6:7])]
                self.epoch_stats["count"] += 1
                self.epoch_stats["skipped"] += int(round(vals[5] * self.dist.world_size))
                self.epoch_stats["seconds"] += dt
                parts = {"loss": vals[0], "loc": vals[1], "cls": vals[2], "ldm": vals[3], "distill": vals[6]}
                if self.is_main:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in parts.items()} | {"img/s": f"{ips_avg:.1f}", "lr": f"{lr:.2e}"},
                                    refresh=False)
                    if self.global_step % cfg.log_every == 0 or self.step_in_epoch == steps_per_epoch:
                        step_log.write({"epoch": self.epoch + 1, "step_in_epoch": self.step_in_epoch,
                                        "global_step": self.global_step, "lr": lr, **parts,
                                        "images_per_s": ips_avg, "time": time.time()})
                        self.tensorboard.scalars("train", parts | {"lr": lr, "images_per_s": ips_avg}, self.global_step)
                info = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                        "lr": lr, **parts}
                for cb in self.callbacks:
                    cb(self, info)
                # In DDP only the all-reduced flag counts, so that every rank stops after the same step.
                if vals[4] > 0:
                    self._stop.requested = True
                stop_now = vals[4] > 0 or (not self.dist.distributed and self._stop.requested)
                if self.step_in_epoch >= steps_per_epoch:
                    break  # epoch complete: the caller does the epoch-end work, then honours a stop
                if stop_now:
                    outcome = "interrupted"
                    break
                if cfg.max_steps and self.global_step >= cfg.max_steps:
                    outcome = "max_steps"
                    break
                if cfg.save_every and self.global_step % cfg.save_every == 0:
                    self.save_checkpoint()
        finally:
            bar.close()
        return outcome


def train(cfg: TrainConfig, **kwargs: Any) -> TrainResult:
    """Convenience wrapper: ``Trainer(cfg, **kwargs).fit()``."""
    return Trainer(cfg, **kwargs).fit()

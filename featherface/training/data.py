"""Data plumbing of the trainer: resumable epoch-seeded batches and a fault-tolerant dataset.

* :class:`EpochBatchSampler` yields the batches of one epoch in an order that is a pure function of
  ``(seed, epoch, rank, world_size)`` (a ``DistributedSampler`` underneath) and can skip the first
  ``k`` batches, which is how a run resumed mid-epoch continues with exactly the batches it had
  not yet seen — without loading (and throwing away) the skipped images.
* Each index it yields is an ``(epoch, index)`` pair. :class:`TrainingDataset` applies that epoch
  inside the worker before fetching, so augmentation follows the epoch even with
  ``persistent_workers=True`` (a worker's dataset copy never sees ``set_epoch`` calls made in the
  main process).
* :class:`TrainingDataset` replaces an unreadable image by a deterministic substitute and counts it,
  instead of killing the DataLoader worker (and with it a multi-day run) on one corrupt file.
* :func:`build_datasets` turns a :class:`~featherface.training.config.TrainConfig` into the training
  and validation sets (label files, or the synthetic smoke-run set of :func:`synthetic_label_file`).
"""

from __future__ import annotations

import random
import signal
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from featherface.data.dataset import FaceDataset, collate_faces
from featherface.data.mixed import MixedFaceDataset
from featherface.data.synthetic import make_synthetic_dataset
from featherface.data.transforms import EvalTransform, TrainTransform
from featherface.errors import ConfigError, FeatherFaceError, ImageError
from featherface.training.config import TrainConfig

__all__ = ["EpochBatchSampler", "TrainingDataset", "build_datasets", "collate_training", "synthetic_label_file",
           "worker_init_fn"]

# Large prime stride: the substitute for a bad item is far from it (not its neighbour in the list).
_SUBSTITUTE_STRIDE = 7919
_WARN_LIMIT = 10


class TrainingDataset(Dataset):
    """Wrap a :class:`~featherface.data.dataset.FaceDataset`-like dataset for training.

    Items are ``(image, target, n_skipped)``; ``n_skipped`` counts unreadable images that were
    replaced to produce this one. ``max_consecutive_failures`` failures in a row mean the data is
    broken (wrong ``image_root``?) rather than a few bad files: that raises.
    """

    def __init__(self, dataset: Dataset, max_consecutive_failures: int = 16) -> None:
        self.dataset = dataset
        self.max_consecutive_failures = int(max_consecutive_failures)
        self._warned = 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(int(epoch))

    def _describe(self, index: int) -> str:
        path_of = getattr(self.dataset, "image_path", None)
        if callable(path_of):
            try:
                return str(path_of(index))
            except Exception:  # noqa: BLE001 - only for the message
                pass
        return f"item {index}"

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        size = None
        if isinstance(key, (tuple, list)):
            epoch, index = int(key[0]), int(key[1])
            size = int(key[2]) if len(key) > 2 else None
            if getattr(self.dataset, "epoch", None) != epoch:
                self.set_epoch(epoch)
        else:
            index = int(key)
        n = len(self)
        skipped = 0
        last: BaseException | None = None
        for attempt in range(self.max_consecutive_failures):
            j = (index + attempt * _SUBSTITUTE_STRIDE) % n
            try:
                image, target = self.dataset[j] if size is None else self.dataset.item(j, size)  # type: ignore[attr-defined]
                return image, target, skipped
            except (ImageError, OSError, cv2.error) as exc:
                skipped += 1
                last = exc
                if self._warned < _WARN_LIMIT:
                    self._warned += 1
                    more = " (further warnings from this worker suppressed)" if self._warned == _WARN_LIMIT else ""
                    warnings.warn(f"skipping unreadable training image {self._describe(j)}: {exc}{more}", stacklevel=2)
        raise FeatherFaceError(
            f"{self.max_consecutive_failures} training images in a row could not be read (last: {last}); "
            "check label_file / image_root"
        )


def collate_training(batch: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor], int]]
                     ) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]], int]:
    """``collate_faces`` plus the number of unreadable images skipped for this batch."""
    images, targets = collate_faces([(b[0], b[1]) for b in batch])
    return images, targets, int(sum(b[2] for b in batch))


class EpochBatchSampler(Sampler[list[tuple[int, ...]]]):
    """Batches of ``(epoch, index)`` for one rank; call :meth:`set_epoch` before iterating.

    The sample order is ``DistributedSampler``'s: shuffled with ``seed + epoch``, padded so every
    rank gets the same number of samples (hence the same number of steps, which DDP requires).
    The last batch may be smaller than ``batch_size``.

    Multi-scale (``sizes`` given, ``base_size`` the size ``batch_size`` is meant for): each batch
    draws its crop size from ``sizes`` — a pure function of ``(seed, epoch)``, the same on every
    rank — and holds ``batch_size * (base_size / size)^2`` images (at least one), items
    ``(epoch, index, size)``. An epoch keeps its number of steps (that of ``batch_size``), so the
    schedule and exact resume are unchanged; it then sees fewer images than the dataset holds
    (the order is reshuffled every epoch, so all are seen over a run).
    """

    def __init__(self, dataset_len: int, batch_size: int, rank: int = 0, world_size: int = 1,
                 seed: int = 0, shuffle: bool = True, sizes: Sequence[int] = (), base_size: int | None = None) -> None:
        self.batch_size = int(batch_size)
        self.sampler = DistributedSampler(range(dataset_len), num_replicas=world_size, rank=rank,  # type: ignore[arg-type]
                                          shuffle=shuffle, seed=seed, drop_last=False)
        self.seed = int(seed)
        self.sizes = tuple(int(s) for s in sizes)
        if self.sizes and base_size is None:
            raise ValueError("multi-scale batches need base_size (the size batch_size is meant for)")
        self.base_size = int(base_size) if base_size is not None else None
        self.epoch = 0
        self.skip = 0

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.sampler.num_samples // self.batch_size)

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select ``epoch``'s order and drop its first ``skip_batches`` batches (resume)."""
        self.epoch = int(epoch)
        self.skip = int(skip_batches)
        self.sampler.set_epoch(self.epoch)

    def batch_plan(self) -> list[tuple[int, int]]:
        """``(size, images)`` of each batch of the current epoch (multi-scale only)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 0x5CA1E]))
        picks = rng.integers(0, len(self.sizes), size=self.batches_per_epoch)
        base = float(self.base_size or 1)
        return [(self.sizes[k], max(1, round(self.batch_size * (base / self.sizes[k]) ** 2))) for k in picks]

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        indices = list(self.sampler)
        if not self.sizes:
            for b in range(self.skip, self.batches_per_epoch):
                chunk = indices[b * self.batch_size:(b + 1) * self.batch_size]
                yield [(self.epoch, int(i)) for i in chunk]
            return
        cursor = 0
        n = len(indices)
        for b, (size, count) in enumerate(self.batch_plan()):
            chunk = [indices[(cursor + k) % n] for k in range(count)]
            cursor = (cursor + count) % n
            if b >= self.skip:
                yield [(self.epoch, int(i), size) for i in chunk]

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip)


def worker_init_fn(worker_id: int) -> None:
    """DataLoader workers ignore SIGINT and SIGTERM, and get distinct, reproducible global RNG
    seeds for any augmentation code that does not use the explicit generator.

    Why ignore the signals: Ctrl-C (and a cluster scheduler's SIGTERM) reach the whole process
    group; the main process finishes its step and saves, but a worker that died meanwhile makes
    PyTorch raise in the main process. Workers still exit when the loader shuts them down or when
    the main process is gone (PyTorch's parent watchdog)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # pragma: no cover - not the main thread of the worker
            pass
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def synthetic_label_file(cfg: TrainConfig, output_dir: Path, render: bool) -> Path:
    """``output_dir/synthetic/label.txt`` of a smoke run's synthetic set; ``render``: draw it when absent
    (rank 0 does; the other ranks wait for it at a barrier)."""
    root = output_dir / "synthetic"
    label = root / "label.txt"
    if render and not label.is_file():
        make_synthetic_dataset(root, cfg.synthetic_images, img_size=max(cfg.img_size, 256), seed=cfg.seed)
    return label


def _train_transform(cfg: TrainConfig, augment: dict[str, Any], where: str) -> TrainTransform:
    try:
        return TrainTransform(img_size=cfg.img_size, **augment)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _extra_source(cfg: TrainConfig, i: int) -> tuple[FaceDataset, float]:
    """``extra_sources[i]`` as a dataset: its own keys over the main source's settings."""
    src = cfg.extra_sources[i]
    augment = {**cfg.augment, **src.get("augment", {})}
    ds = FaceDataset(src["label_file"], src.get("image_root"),
                     transform=_train_transform(cfg, augment, f"extra_sources[{i}].augment"),
                     layout=src.get("layout", "auto"), min_size=float(src.get("min_face_size", cfg.min_face_size)),
                     mosaic_prob=float(src.get("mosaic_prob", cfg.mosaic_prob)), seed=cfg.seed + 1000 * (i + 1))
    return ds, float(src.get("repeat", 1.0))


def build_datasets(cfg: TrainConfig, dataset: Dataset | None, val_dataset: Dataset | None,
                   synthetic_labels: Callable[[], Path]) -> tuple[Dataset, Dataset | None]:
    """The training set (``dataset``, else the config's label file, else the synthetic set whose label
    file ``synthetic_labels()`` returns) and the validation set (``val_dataset``, else ``val_label_file``)."""
    ds = dataset
    if ds is None:
        label_file = cfg.label_file
        image_root = cfg.image_root
        if label_file is None and cfg.synthetic_images > 0:
            label_file = str(synthetic_labels())
            image_root = None
        if label_file is None:
            raise ConfigError("no training data: give label_file (--labels) or synthetic_images")
        ds = FaceDataset(label_file, image_root, transform=_train_transform(cfg, cfg.augment, "augment"),
                         layout=cfg.layout, min_size=cfg.min_face_size, mosaic_prob=cfg.mosaic_prob, seed=cfg.seed)
        if cfg.extra_sources:
            ds = MixedFaceDataset([(ds, cfg.label_repeat)] + [_extra_source(cfg, i) for i in range(len(cfg.extra_sources))],
                                  seed=cfg.seed)
    val = val_dataset
    if val is None and cfg.val_label_file:
        val = FaceDataset(cfg.val_label_file, cfg.val_image_root, transform=EvalTransform(cfg.img_size),
                          layout=cfg.layout, min_size=cfg.min_face_size, seed=cfg.seed)
    if len(ds) == 0:  # type: ignore[arg-type]
        raise ConfigError("the training set is empty (no image with a usable face in the label file?)")
    return ds, val

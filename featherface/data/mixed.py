"""Several labelled sets trained as one, each with its own augmentation and weight per epoch.

Why: a crowd set such as WIDER FACE needs crops that keep its tiny faces at native scale or larger,
while a set of medium portraits (Caltech WebFaces) profits from zoom-out and mosaics; one transform
for both serves neither. A source's ``repeat`` says how many times per epoch its images are drawn
(fractional repeats draw a different subset each epoch), so a 200-image crowd set can weigh as much
as 5,000 portraits without copying a label file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from featherface.data.dataset import FaceDataset

__all__ = ["MixedFaceDataset"]


class MixedFaceDataset(torch.utils.data.Dataset):
    """The concatenation of ``sources`` (``(dataset, repeat)`` pairs), ``round(len * repeat)`` items each.

    Item ``j`` of a source maps to one of its images through a permutation drawn from
    ``(seed, epoch, source)``, so a repeat below 1 sees a new subset every epoch and a repeat above 1
    sees every image ``floor(repeat)`` times or more; the mapping is a pure function of the epoch,
    as exact resume needs. The augmentation is seeded per draw, so two draws of one image in an
    epoch get different crops.
    """

    def __init__(self, sources: Sequence[tuple[FaceDataset, float]], seed: int = 0) -> None:
        if not sources:
            raise ValueError("MixedFaceDataset needs at least one source")
        self.sources = [(ds, float(r)) for ds, r in sources]
        for ds, r in self.sources:
            if not (r >= 0 and math.isfinite(r)):
                raise ValueError(f"a source's repeat must be a finite number >= 0, got {r}")
        self.counts = [int(round(len(ds) * r)) if len(ds) else 0 for ds, r in self.sources]
        self.offsets = np.cumsum([0] + self.counts)
        self.seed = int(seed)
        self.epoch = 0
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._perms.clear()
        for ds, _ in self.sources:
            ds.set_epoch(epoch)

    def _locate(self, index: int) -> tuple[FaceDataset, int, int]:
        """The source of mixed item ``index``, its image index there, and which draw of that image it is."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for dataset of {n}")
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        ds = self.sources[k][0]
        j = index - int(self.offsets[k])
        if k not in self._perms:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 7, k]))
            self._perms[k] = rng.permutation(len(ds))
        perm = self._perms[k]
        return ds, int(perm[j % len(perm)]), j // len(perm)

    def image_path(self, index: int) -> Path:
        ds, j, _ = self._locate(index)
        return ds.image_path(j)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.item(index)

    def item(self, index: int, size: int | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ds, j, draw = self._locate(index)
        return ds.item(j, size, draw)

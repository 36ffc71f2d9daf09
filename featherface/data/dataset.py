"""The training/validation dataset and its collate function.

Reproducibility: every item draws its augmentation from a generator seeded by
``(seed, epoch, index)``, so a sample is the same whatever the number of DataLoader workers or
the order they pick items in. Call :meth:`FaceDataset.set_epoch` before each epoch (as with
``DistributedSampler``); DataLoader workers copy the dataset when an iterator is created, so
with ``persistent_workers=True`` the epoch would not reach them - keep it False, or re-create
the loader each epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from featherface.data.labels import ImageAnnotation, load_annotations
from featherface.errors import LabelFormatError
from featherface.data.transforms import EvalTransform, Sample, mosaic
from featherface.io.images import read_image

__all__ = ["FaceDataset", "collate_faces"]

Transform = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sample]


def check_inside_root(annotations: Sequence[ImageAnnotation], root: Path, label_file: Path) -> None:
    """Refuse (:class:`LabelFormatError` naming the entry) an image path of a label file that is
    absolute or climbs out of ``root`` (``../../../../etc/passwd`` was opened and counted as "1
    unreadable image", nameless). On the path's text only: no file is touched, so 100,000 entries
    cost milliseconds; links inside ``root`` are the user's own and followed."""
    base = os.path.normpath(os.fspath(root))
    prefix = base.rstrip(os.sep) + os.sep if base != "." else ""
    for i, ann in enumerate(annotations):
        rel = os.fspath(ann.path)
        full = os.path.normpath(os.path.join(base, rel))
        if os.path.isabs(rel) or (prefix and not full.startswith(prefix)) or (not prefix and (full == ".." or full.startswith(".." + os.sep))):
            raise LabelFormatError(f"{label_file}: image {rel!r} (entry {i + 1}) resolves outside the image folder "
                                   f"{root}; label paths must stay inside it (--images / image_root)")


class FaceDataset(torch.utils.data.Dataset):
    """Faces with boxes and landmarks, augmented on the fly.

    ``label_file`` is any layout :func:`~featherface.data.labels.load_annotations` reads, or an
    already-parsed list of :class:`ImageAnnotation`. Image paths resolve against ``image_root``
    (default: ``images/`` next to the label file, RetinaFace's WIDER layout).

    An item is ``(image, target)``: ``image`` a float32 ``3xSxS`` tensor (BGR minus
    :data:`~featherface.data.transforms.BGR_MEAN`), ``target`` a dict of tensors
    ``boxes (N,4)`` float32 and ``landmarks (N,10)`` float32 (``x0 y0 ... x4 y4``), both
    normalised to ``[0,1]`` by ``S``, landmarks ``-1`` for faces without them, and
    ``has_landmarks (N,)`` bool - the mask for the landmark loss.

    ``transform(image, boxes, landmarks, has_landmarks, rng)`` must return
    ``(chw float32, boxes, landmarks, has_landmarks)`` normalised - e.g. ``TrainTransform``
    or ``EvalTransform`` (the default). With ``mosaic_prob > 0`` an item is, with that
    probability, the 2x2 mosaic of itself and three random others (``mosaic_size`` px, default
    the transform's ``img_size``) before the transform runs.
    """

    def __init__(
        self,
        label_file: str | os.PathLike[str] | Sequence[ImageAnnotation],
        image_root: str | os.PathLike[str] | None = None,
        transform: Transform | None = None,
        layout: str = "auto",
        min_size: float = 0.0,
        mosaic_prob: float = 0.0,
        mosaic_size: int | None = None,
        seed: int = 0,
        strict: bool = True,
    ) -> None:
        if isinstance(label_file, (str, os.PathLike)):
            self.label_file: Path | None = Path(label_file)
            self.annotations = load_annotations(self.label_file, layout=layout, min_size=min_size, strict=strict)
            default_root = self.label_file.parent / "images"
        else:
            self.label_file = None
            self.annotations = list(label_file)
            default_root = Path(".")
        self.image_root = Path(image_root) if image_root is not None else default_root
        if self.label_file is not None:
            check_inside_root(self.annotations, self.image_root, self.label_file)
        self.transform: Transform = transform if transform is not None else EvalTransform()
        if not 0.0 <= mosaic_prob <= 1.0:
            raise ValueError(f"mosaic_prob must be in [0, 1], got {mosaic_prob}")
        self.mosaic_prob = float(mosaic_prob)
        self.mosaic_size = int(mosaic_size or getattr(self.transform, "img_size", 640))
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.annotations)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (new random crops each epoch, reproducibly)."""
        self.epoch = int(epoch)

    def rng_for(self, index: int, draw: int = 0) -> np.random.Generator:
        """The generator item ``index`` uses this epoch: a pure function of (seed, epoch, index), and of
        ``draw`` when one epoch draws the image more than once (a repeated source of a mixed set)."""
        key = [self.seed, self.epoch, int(index)] + ([int(draw)] if draw else [])
        return np.random.default_rng(np.random.SeedSequence(key))

    def image_path(self, index: int) -> Path:
        return self.image_root / self.annotations[index].path

    def load(self, index: int) -> Sample:
        """Raw ``(image, boxes, landmarks, has_landmarks)`` of one item, before augmentation."""
        ann = self.annotations[index]
        # the guarded reader: a FIFO or device named in a label file is refused instead of blocking,
        # a decompression bomb from its header; the training wrapper skips such an image with a warning
        img = read_image(self.image_path(index))
        return img, ann.boxes.copy(), ann.landmarks.copy(), ann.has_landmarks.copy()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.item(index)

    def item(self, index: int, size: int | None = None, draw: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Item ``index``; ``size``: crop size of a multi-scale batch instead of the transform's own
        (the transform must take a ``size`` keyword, as :class:`TrainTransform` does); ``draw``: which
        draw of this image in the epoch (its augmentation differs per draw)."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for dataset of {n}")
        rng = self.rng_for(index, draw)
        if self.mosaic_prob > 0 and n > 0 and rng.random() < self.mosaic_prob:
            others = rng.integers(0, n, size=3)
            parts = [self.load(index)] + [self.load(int(j)) for j in others]
            sample = mosaic(parts, rng, self.mosaic_size if size is None else size)
        else:
            sample = self.load(index)
        chw, boxes, lms, has = self.transform(*sample, rng) if size is None else self.transform(*sample, rng, size=size)
        image = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))
        k = int(np.asarray(boxes).reshape(-1, 4).shape[0])
        target = {
            "boxes": torch.from_numpy(np.asarray(boxes, dtype=np.float32).reshape(k, 4).copy()),
            "landmarks": torch.from_numpy(np.asarray(lms, dtype=np.float32).reshape(k, 10).copy()),
            "has_landmarks": torch.from_numpy(np.asarray(has, dtype=bool).reshape(k).copy()),
        }
        return image, target


def collate_faces(
    batch: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Stack images into ``(B,3,S,S)``; keep targets as a list (face counts differ per image)."""
    if not batch:
        raise ValueError("collate_faces got an empty batch")
    images = [b[0] for b in batch]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise ValueError(f"images in a batch must share one size, got {sorted(shapes)}")
    return torch.stack(images, 0), [b[1] for b in batch]


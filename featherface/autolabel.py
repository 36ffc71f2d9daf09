"""Auto-labelling: a teacher detector turns unlabelled photos into a RetinaFace ``label.txt``.

This is how a user adapts FeatherFace to their own domain without drawing boxes by hand, and how
the package's default weights were made (YuNet as the teacher over the shared real photos). The
teacher is anything satisfying :class:`featherface.types.Detector`; the CLI builds it from a spec
with :func:`featherface.peers.factory.build_teacher`: YuNet (``yunet`` or ``yunet:PATH``),
RetinaFace-mnet0.25, a FeatherFace checkpoint (``featherface:WEIGHTS``, self-training), or several
of them fused (``retinaface+yunet``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from featherface.data.labels import ImageAnnotation, write_retinaface_labels
from featherface.data.splits import holdout_fraction
from featherface.errors import ConfigError, FeatherFaceError
from featherface.io.images import load_image
from featherface.ops.matching import greedy_match
from featherface.types import Detector, Face


LABEL_MIN_SIZE = 8.0  # px: a smaller teacher face is too uncertain to train on


@dataclass
class AutolabelReport:
    """What the teacher found: per image face counts, and the files it could not read."""

    label_file: Path
    root: Path
    faces_per_image: dict[str, int]
    dropped_small: int
    failures: list[tuple[str, str]]
    splits: dict[str, Path] | None = None

    @property
    def total_faces(self) -> int:
        return sum(self.faces_per_image.values())

    def summary(self) -> str:
        n = len(self.faces_per_image)
        counts = np.array(list(self.faces_per_image.values()) or [0])
        return (f"{self.total_faces} faces in {n} images (per image: min {counts.min()}, median {int(np.median(counts))}, "
                f"max {counts.max()}); {self.dropped_small} below the minimum size dropped; "
                f"{len(self.failures)} unreadable; labels -> {self.label_file} (paths relative to {self.root})"
                + "".join(f"; {k} split -> {v}" for k, v in (self.splits or {}).items()))


def faces_to_annotation(rel_path: str, faces: Sequence[Face], min_size: float) -> tuple[ImageAnnotation, int]:
    """Keep faces whose shorter side is >= ``min_size`` px; returns the annotation and how many were dropped."""
    kept = [f for f in faces if min(f.width, f.height) >= min_size]
    n = len(kept)
    boxes = np.array([f.box for f in kept], dtype=np.float32).reshape(n, 4)
    lms = np.full((n, 5, 2), -1.0, dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    for i, f in enumerate(kept):
        if f.landmarks is not None:
            lms[i] = np.asarray(f.landmarks, dtype=np.float32)
            has[i] = True
    return ImageAnnotation(path=rel_path, boxes=boxes, landmarks=lms, has_landmarks=has), len(faces) - n


def split_holdout(annotations: Sequence[ImageAnnotation], val_fraction: float, seed: int = 0
                  ) -> tuple[list[ImageAnnotation], list[ImageAnnotation]]:
    """Deterministic train/validation split by a hash of each image path (stable when images are
    added or removed, independent of file order): see :func:`featherface.data.splits.holdout_fraction`."""
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    train, val = [], []
    for a in annotations:
        (val if holdout_fraction(a.path, seed) < val_fraction else train).append(a)
    return train, val


def label_path_ok(rel: str) -> bool:
    """Whether a RetinaFace label file can hold ``rel`` on its ``# path`` line."""
    return bool(rel.strip()) and not any(c in rel for c in "\r\n") and rel == rel.strip()


def check_autolabel_options(min_size: object, val_fraction: object) -> None:
    """Refuse NaN, infinities and out-of-range values (``NaN < x`` is false: they would pass silently)."""
    def real(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not (real(min_size) and min_size >= 0):  # type: ignore[operator]
        raise ConfigError(f"min_size must be a finite number >= 0, got {min_size!r}")
    if not (real(val_fraction) and 0.0 <= val_fraction < 1.0):  # type: ignore[operator]
        raise ConfigError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")


def autolabel(
    images: Iterable[str | os.PathLike],
    teacher: Detector,
    output: str | os.PathLike,
    root: str | os.PathLike | None = None,
    min_size: float = LABEL_MIN_SIZE,
    progress: bool = True,
    val_fraction: float = 0.0,
    split_seed: int = 0,
) -> AutolabelReport:
    """Run ``teacher`` over ``images`` and write a RetinaFace label file (boxes + 5 landmarks).

    Paths in the file are relative to ``root`` (default: the images' common folder). Unreadable
    images are reported and left out; images with no face are kept (they are useful negatives).
    With ``val_fraction > 0`` two more files are written beside ``output``: ``<stem>_train.txt``
    and ``<stem>_val.txt`` (a deterministic hold-out, see :func:`split_holdout`).
    """
    check_autolabel_options(min_size, val_fraction)
    paths = [Path(p).resolve() for p in images]
    if not paths:
        raise ConfigError("no input images")
    root_p = Path(root).resolve() if root else Path(os.path.commonpath([str(p.parent) for p in paths]))
    anns: list[ImageAnnotation] = []
    per_image: dict[str, int] = {}
    failures: list[tuple[str, str]] = []
    dropped = 0
    rels: list[str] = []
    for p in paths:  # before any labelling work: a path the label file cannot hold fails now, not at the end
        try:
            rels.append(p.relative_to(root_p).as_posix())
        except ValueError:
            raise ConfigError(f"{p} is not under the label root {root_p}") from None
    for p, rel in tqdm(list(zip(paths, rels)), desc=f"autolabel ({getattr(teacher, 'name', 'teacher')})", unit="img",
                       disable=not progress):
        if not label_path_ok(rel):
            failures.append((str(p), f"{str(p)!r}: a label file cannot hold this name (line break, or blanks "
                                     "at its ends); rename the file"))
            continue
        try:
            faces = teacher.detect(load_image(p))
        except FeatherFaceError as exc:
            failures.append((str(p), str(exc)))
            continue
        ann, d = faces_to_annotation(rel, faces, min_size)
        dropped += d
        anns.append(ann)
        per_image[rel] = len(ann.boxes)
    out = Path(write_retinaface_labels(output, anns))
    splits: dict[str, Path] = {}
    if val_fraction > 0:
        train, val = split_holdout(anns, val_fraction, split_seed)
        splits["train"] = Path(write_retinaface_labels(out.with_name(f"{out.stem}_train{out.suffix}"), train))
        splits["val"] = Path(write_retinaface_labels(out.with_name(f"{out.stem}_val{out.suffix}"), val))
    return AutolabelReport(out, root_p, per_image, dropped, failures, splits)


@dataclass
class LandmarkReport:
    """What :func:`attach_landmarks` did: boxes kept, boxes that got the teacher's landmarks, failures."""

    label_file: Path
    boxes: int
    with_landmarks: int
    failures: list[tuple[str, str]]

    def summary(self) -> str:
        share = self.with_landmarks / max(self.boxes, 1)
        return (f"{self.boxes} human boxes kept, {self.with_landmarks} ({share:.0%}) with the teacher's landmarks "
                f"(a teacher face matched the box); {len(self.failures)} unreadable; labels -> {self.label_file}")


def attach_landmarks(
    annotations: Sequence[ImageAnnotation],
    image_root: str | os.PathLike,
    teacher: Detector,
    output: str | os.PathLike,
    match_iou: float = 0.5,
    progress: bool = True,
) -> LandmarkReport:
    """Keep human boxes, add the teacher's five landmarks where one of its faces matches a box.

    Why: human box sets (WIDER FACE's train boxes) carry no landmarks; the teacher's points are
    trusted only on a face it also found (one-to-one IoU >= ``match_iou``), so its misses and false
    faces never change a human label. Boxes without a match keep no landmarks (masked in the loss).
    Image paths stay those of the label file; unreadable images are reported and left out.
    """
    if not (isinstance(match_iou, (int, float)) and 0.0 < match_iou <= 1.0):
        raise ConfigError(f"match_iou must be in (0, 1], got {match_iou!r}")
    root = Path(image_root)
    out_anns: list[ImageAnnotation] = []
    failures: list[tuple[str, str]] = []
    n_boxes = n_lms = 0
    for ann in tqdm(list(annotations), desc=f"landmarks ({getattr(teacher, 'name', 'teacher')})", unit="img",
                    disable=not progress):
        try:
            faces = teacher.detect(load_image(root / ann.path))
        except FeatherFaceError as exc:
            failures.append((str(root / ann.path), str(exc)))
            continue
        lms = ann.landmarks.copy()
        has = ann.has_landmarks.copy()
        cand = [f for f in faces if f.landmarks is not None]
        if cand and len(ann.boxes):
            tboxes = np.array([f.box for f in cand], dtype=np.float32).reshape(-1, 4)
            for i, j, _ in greedy_match(ann.boxes, tboxes, match_iou):
                if not has[i]:
                    lms[i] = np.asarray(cand[j].landmarks, dtype=np.float32).reshape(lms[i].shape)
                    has[i] = True
        n_boxes += len(ann.boxes)
        n_lms += int(has.sum())
        out_anns.append(ImageAnnotation(path=ann.path, boxes=ann.boxes.copy(), landmarks=lms, has_landmarks=has))
    out = Path(write_retinaface_labels(output, out_anns))
    return LandmarkReport(out, n_boxes, n_lms, failures)

"""Hard negatives: the places where a detector sees a face and its labels (and a teacher) see none.

Why: a high-contrast logo or pattern that the model scores as a face is rare in the training crops,
so the background loss almost never meets it. Mining turns each such false face of the training
images into a crop of its own (the false face at the centre with context around it, the real faces
of that crop kept as labels), written as a small label set that a training run adds as an extra
source (``extra_sources`` with a ``repeat``): the model then meets its own mistakes every epoch.
A false face that the teacher scores as a face is not mined: the labels may simply have missed it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from featherface.data.labels import ImageAnnotation, write_retinaface_labels
from featherface.errors import ConfigError, FeatherFaceError
from featherface.io.images import load_image
from featherface.ops.iou import iou_matrix
from featherface.types import Detector, Face

__all__ = ["MINER_SCORE", "NEGATIVE_MIN_SIZE", "NegativesReport", "false_faces", "mine_hard_negatives", "negative_crop"]

# px: a smaller false face in a crowd is mostly a face the labels missed, and small faces are the
# ones the model must not learn to drop
NEGATIVE_MIN_SIZE = 24.0
# the miner's score threshold: below the default operating point (0.5), so the near-misses that a
# lower user threshold would show are mined too
MINER_SCORE = 0.3


@dataclass
class NegativesReport:
    """What mining found: images scanned, false faces mined (their scores), crops written, failures."""

    label_file: Path
    crops_dir: Path
    images: int
    scores: list[float]
    rejected_by_teacher: int
    failures: list[tuple[str, str]]

    def summary(self) -> str:
        s = np.array(self.scores or [0.0])
        return (f"{len(self.scores)} false faces mined in {self.images} images (score median {np.median(s):.2f}, "
                f"max {s.max():.2f}); {self.rejected_by_teacher} left out because the teacher sees a face there; "
                f"{len(self.failures)} unreadable; crops -> {self.crops_dir}, labels -> {self.label_file}")


def negative_crop(shape: tuple[int, ...], box: np.ndarray, context: float, min_side: int) -> tuple[int, int, int, int]:
    """The square ``x1 y1 x2 y2`` around ``box``: ``context`` times its longer side (at least ``min_side``),
    moved inside the image and cut to it where the image is smaller."""
    h, w = int(shape[0]), int(shape[1])
    side = int(round(max(min_side, context * max(box[2] - box[0], box[3] - box[1]))))
    side = max(1, min(side, w, h))
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    x1 = int(round(min(max(cx - side / 2.0, 0), w - side)))
    y1 = int(round(min(max(cy - side / 2.0, 0), h - side)))
    return x1, y1, x1 + side, y1 + side


def _labels_in(ann: ImageAnnotation, crop: tuple[int, int, int, int], min_inside: float = 0.6) -> ImageAnnotation:
    """The faces of ``ann`` inside ``crop`` (at least ``min_inside`` of their area), in crop pixels;
    a face's points stay only when all five fall inside."""
    x1, y1, x2, y2 = crop
    b = ann.boxes
    ix = np.clip(np.minimum(b[:, 2], x2) - np.maximum(b[:, 0], x1), 0, None)
    iy = np.clip(np.minimum(b[:, 3], y2) - np.maximum(b[:, 1], y1), 0, None)
    area = np.clip((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6, None)
    keep = ix * iy / area >= min_inside
    off = np.array([x1, y1, x1, y1], np.float32)
    boxes = np.clip(b[keep] - off, 0, [x2 - x1, y2 - y1, x2 - x1, y2 - y1]).astype(np.float32)
    lms = ann.landmarks[keep] - np.array([x1, y1], np.float32)
    has = ann.has_landmarks[keep].copy()
    inside = ((lms >= 0) & (lms <= np.array([x2 - x1, y2 - y1], np.float32))).all(axis=(1, 2))
    has &= inside
    lms[~has] = -1.0
    return ImageAnnotation(path="", boxes=boxes, landmarks=lms, has_landmarks=has)


def crop_name(rel: str, k: int, used: set[str]) -> str:
    """``<image path as one safe name>__neg<k>.jpg``, unique among ``used`` (two paths may clean to one name)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(rel)[0]).strip("_") or "image"
    name, n = f"{stem}__neg{k}.jpg", 1
    while name in used:
        name, n = f"{stem}__neg{k}_{n}.jpg", n + 1
    used.add(name)
    return name


def false_faces(image: np.ndarray, labelled: np.ndarray, detector: Detector, teacher: Detector | None = None,
                iou: float = 0.3, min_size: float = NEGATIVE_MIN_SIZE) -> tuple[list[Face], np.ndarray, int]:
    """``detector``'s faces on ``image`` (best first), which of them are false, and how many more would be
    but the teacher backs them: false = IoU below ``iou`` with every ``labelled`` box (N, 4 x1 y1 x2 y2) and
    every teacher face,
    shorter side at least ``min_size`` px. The teacher runs only when there is a candidate."""
    faces = sorted(detector.detect(image), key=lambda f: -f.score)
    boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
    false = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= min_size
    if len(faces) and len(labelled):
        false &= iou_matrix(boxes, np.asarray(labelled, np.float32).reshape(-1, 4)).max(axis=1) < iou
    backed = 0
    if false.any() and teacher is not None:
        tb = np.array([f.box for f in teacher.detect(image)], np.float32).reshape(-1, 4)
        if len(tb):
            seen = iou_matrix(boxes, tb).max(axis=1) >= iou
            backed = int((false & seen).sum())
            false &= ~seen
    return faces, false, backed


def mine_hard_negatives(
    annotations: Sequence[ImageAnnotation],
    image_root: str | os.PathLike,
    detector: Detector,
    crops_dir: str | os.PathLike,
    output: str | os.PathLike,
    teacher: Detector | None = None,
    iou: float = 0.3,
    context: float = 3.0,
    min_side: int = 160,
    per_image: int = 3,
    min_size: float = NEGATIVE_MIN_SIZE,
    progress: bool = True,
) -> NegativesReport:
    """Mine ``detector``'s false faces over the labelled images and write them as crops + a label file.

    A detection (at the detector's own score threshold) is false when its IoU with every labelled box
    is below ``iou`` and, with a ``teacher``, no teacher face overlaps it by ``iou`` either; detections whose
    shorter side is under ``min_size`` px are not mined (in crowds they are mostly small faces the labels
    missed, and the small faces are the ones the model must not learn to drop). The
    ``per_image`` best-scoring false faces of an image each give one square crop (:func:`negative_crop`),
    saved as ``crops_dir/<image>__neg<k>.jpg``; the label file lists every crop with the labelled faces
    inside it (paths relative to ``crops_dir``). Nothing outside ``crops_dir`` and ``output`` is written.
    """
    if not 0.0 < iou <= 1.0:
        raise ConfigError(f"iou must be in (0, 1], got {iou!r}")
    if not (context >= 1.0 and min_side >= 16 and per_image >= 1 and min_size >= 0):
        raise ConfigError("context must be >= 1, min_side >= 16, per_image >= 1 and min_size >= 0")
    root, crops = Path(image_root), Path(crops_dir)
    crops.mkdir(parents=True, exist_ok=True)
    out_anns: list[ImageAnnotation] = []
    scores: list[float] = []
    failures: list[tuple[str, str]] = []
    rejected = 0
    used: set[str] = set()
    for ann in tqdm(list(annotations), desc="mining false faces", unit="img", disable=not progress):
        try:
            img = load_image(root / ann.path)
        except FeatherFaceError as exc:
            failures.append((str(root / ann.path), str(exc)))
            continue
        faces, false, backed = false_faces(img, ann.boxes, detector, teacher, iou, min_size)
        rejected += backed
        boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
        for k, i in enumerate(np.flatnonzero(false)[:per_image]):
            crop = negative_crop(img.shape, boxes[i], context, min_side)
            name = crop_name(ann.path, k, used)
            if not cv2.imwrite(str(crops / name), img[crop[1]:crop[3], crop[0]:crop[2]], [cv2.IMWRITE_JPEG_QUALITY, 95]):
                raise FeatherFaceError(f"could not write {crops / name}")
            inside = _labels_in(ann, crop)
            out_anns.append(ImageAnnotation(path=name, boxes=inside.boxes, landmarks=inside.landmarks,
                                            has_landmarks=inside.has_landmarks))
            scores.append(float(faces[i].score))
    out = Path(write_retinaface_labels(output, out_anns))
    return NegativesReport(out, crops, len(annotations) - len(failures), scores, rejected, failures)

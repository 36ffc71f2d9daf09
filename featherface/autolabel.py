"""Auto-labelling: a teacher detector turns unlabelled photos into a RetinaFace ``label.txt``.

This is how a user adapts FeatherFace to their own domain without drawing boxes by hand, and how
the package's default weights were made (YuNet as the teacher over the shared real photos). The
teacher is anything satisfying :class:`featherface.types.Detector`; the CLI builds YuNet
(``yunet`` or ``yunet:PATH``) or a FeatherFace checkpoint (``featherface:WEIGHTS``, self-training).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from featherface.data.labels import ImageAnnotation, write_retinaface_labels
from featherface.errors import ConfigError, FeatherFaceError
from featherface.io.images import load_image
from featherface.types import Detector, Face


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


class FusedTeacher:
    """Several teachers fused into one: boxes that overlap (IoU >= ``iou``) are one face whose box
    and landmarks are the score-weighted mean of the members; a face found by one teacher only is
    kept when its score reaches ``single_threshold``. Two detectors with different failure modes
    (RetinaFace misses some profiles YuNet finds, and the other way round) give fuller labels
    than either alone."""

    def __init__(self, teachers: Sequence[Detector], iou: float = 0.5, single_threshold: float = 0.8):
        if not teachers:
            raise ConfigError("a fused teacher needs at least one detector")
        self.teachers = list(teachers)
        self.iou = float(iou)
        self.single_threshold = float(single_threshold)
        self.name = "+".join(getattr(t, "name", "teacher") for t in self.teachers)

    def detect(self, image: np.ndarray) -> list[Face]:
        import torch

        from featherface.ops.boxes import box_iou

        faces = [(f, k) for k, t in enumerate(self.teachers) for f in t.detect(image)]
        if len(self.teachers) == 1 or not faces:
            return [f for f, _ in faces]
        faces.sort(key=lambda fk: -fk[0].score)
        boxes = torch.tensor([f.box for f, _ in faces], dtype=torch.float64)
        iou = box_iou(boxes, boxes).numpy()
        used = np.zeros(len(faces), dtype=bool)
        out: list[Face] = []
        for i in range(len(faces)):
            if used[i]:
                continue
            # members: the best box of each other teacher that overlaps this one
            members = [i]
            for k in range(len(self.teachers)):
                if k == faces[i][1]:
                    continue
                cand = [j for j in range(len(faces)) if not used[j] and faces[j][1] == k and iou[i, j] >= self.iou]
                if cand:
                    members.append(max(cand, key=lambda j: iou[i, j]))
            used[members] = True
            if len(members) == 1 and faces[i][0].score < self.single_threshold:
                continue
            w = np.array([faces[j][0].score for j in members])
            box = (np.array([faces[j][0].box for j in members]) * w[:, None]).sum(0) / w.sum()
            lms = [(np.asarray(faces[j][0].landmarks), faces[j][0].score) for j in members
                   if faces[j][0].landmarks is not None]
            lm = (sum(l * s for l, s in lms) / sum(s for _, s in lms)) if lms else None
            out.append(Face.from_arrays(box.tolist(), float(max(w)), lm))
        return out


_TEACHER_KINDS = ("yunet", "retinaface", "featherface")


def _split_teachers(spec: str) -> list[str]:
    """``a+b`` -> ``[a, b]``, where a ``+`` only starts a new teacher when a teacher name follows
    it, so a file path that holds a ``+`` (``yunet:/m/a+b.onnx``) stays whole."""
    parts: list[str] = []
    for piece in spec.split("+"):
        if not piece:
            continue
        if parts and not piece.partition(":")[0].startswith(_TEACHER_KINDS):
            parts[-1] += "+" + piece
        else:
            parts.append(piece)
    return parts


def build_teacher(spec: str, score_threshold: float = 0.7) -> Detector:
    """``yunet``, ``yunet:PATH``, ``yunet-s``, ``retinaface[:PATH]``, ``featherface:WEIGHTS[:MODEL]``,
    or several joined by ``+`` (e.g. ``retinaface+yunet``: a :class:`FusedTeacher`) -> a detector."""
    parts = _split_teachers(spec)
    if len(parts) > 1:
        return FusedTeacher([build_teacher(s, score_threshold) for s in parts])
    kind, _, arg = spec.partition(":")
    if kind == "retinaface":
        from featherface.peers.retinaface import build_retinaface

        return build_retinaface(arg or None, score_threshold=score_threshold)  # type: ignore[return-value]
    if kind.startswith("yunet"):
        from featherface.peers.yunet import YuNetDetector

        default = "yunet/yunet_s_dynamic.onnx" if kind == "yunet-s" else None
        path = arg or None
        if path is None and default:
            from featherface.peers.base import peers_dir

            path = str(peers_dir() / default)
        return YuNetDetector(path, score_threshold=score_threshold, name=kind)
    if kind == "featherface":
        if not arg:
            raise ConfigError("teacher 'featherface' needs a weights file: featherface:PATH[:MODEL]")
        from featherface.inference.detector import FaceDetector
        from featherface.weights import read_weights

        weights, _, model = arg.partition(":")
        model = model or read_weights(weights)["model"]
        det = FaceDetector(model=model, weights=weights, score_threshold=score_threshold)
        return det  # type: ignore[return-value]
    raise ConfigError(f"unknown teacher {spec!r}: use yunet[:PATH], yunet-s, retinaface[:PATH], "
                      "featherface:WEIGHTS, or several joined by '+'")


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
    from featherface.data.splits import holdout_fraction

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
    import math

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
    min_size: float = 8.0,
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

"""Accuracy against human labels: runs detectors over the human-labelled sets and scores them.

Beside the WIDER protocol (:mod:`featherface.evaluation.widerface`), three kinds of human labels
(readers in :mod:`featherface.data.benchmarks`; the sets are described in ``docs/evaluation.md``),
each with its own rules and scorer:

* **box sets** (``facemask-kaggle``, any VOC folder): AP, P/R at a threshold and by face size,
  :func:`featherface.evaluation.human_boxes.score_box_set`;
* **point sets** (Caltech WebFaces: four points per face, no box): recall, unmatched detections,
  duplicates, :func:`featherface.evaluation.human_points.score_point_set`;
* **landmark sets** (CUHK: one face per image, human box + 5 landmarks): found rate and NME,
  :func:`featherface.evaluation.human_landmarks.score_landmark_set`.

:func:`evaluate_human` runs detectors over the sets (original image size unless a detector was
built otherwise; decoding is not timed, each detector's own pre- and post-processing is) and
returns a :class:`HumanEvalResult` (markdown table by :mod:`featherface.evaluation.human_report`,
JSON-able dict; the PR picture is :func:`featherface.evaluation.plot.plot_box_pr`);
:func:`featherface.peers.factory.build_detectors` turns ``--detectors`` specs into detectors.
``featherface eval --human-sets`` uses both.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from featherface.data.benchmarks import (
    STANDARD_SETS,
    BoxAnnotation,
    LandmarkAnnotation,
    PointAnnotation,
    load_caltech,
    load_cuhk,
    load_voc_dir,
)
from featherface.errors import ConfigError, FeatherFaceError
from featherface.evaluation.human_boxes import score_box_set
from featherface.evaluation.human_landmarks import score_landmark_set
from featherface.evaluation.human_points import score_point_set
from featherface.evaluation.human_report import format_markdown
from featherface.evaluation.rotated import rotated_set
from featherface.format import rounded
from featherface.io.images import load_image
from featherface.types import Detector, Face

__all__ = ["DetectorReport", "HumanEvalOptions", "HumanEvalResult", "evaluate_human", "human_set_dirs"]


@dataclass
class HumanEvalOptions:
    """Options shared by :func:`evaluate_human` and ``featherface eval --human-sets``."""

    threshold: float = 0.5  # operating score for P/R, recall, found rate
    min_face: float = 16.0  # box sets: labelled faces below this sqrt(w*h) are ignored
    iou: float = 0.5  # box sets (AP, P/R) and the CUHK found rule
    limit: int | None = None  # first N images of each set (deterministic order)
    caltech_split: str = "val"  # val | train | all
    val_fraction: float = 0.1
    split_seed: int = 0
    caltech_scale: tuple[float, float] = (1.0, 4.0)  # box side / point scale bounds of the finds rule
    # > 0: CUHK is also scored on copies rotated by +/- this many degrees (landmarks under head roll)
    cuhk_rotation: float = 0.0
    progress: bool = True

    def check(self) -> "HumanEvalOptions":
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.min_face < 0:
            raise ConfigError(f"min_face must be >= 0, got {self.min_face}")
        if not 0.0 < self.iou <= 1.0:
            raise ConfigError(f"iou must be in (0, 1], got {self.iou}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1, got {self.limit}")
        if not (math.isfinite(self.cuhk_rotation) and 0.0 <= self.cuhk_rotation <= 90.0):
            raise ConfigError(f"cuhk_rotation must be in [0, 90] degrees, got {self.cuhk_rotation}")
        lo, hi = self.caltech_scale
        if not 0.0 < lo < hi:
            raise ConfigError(f"caltech_scale must be 0 < low < high, got {self.caltech_scale}")
        return self


@dataclass
class DetectorReport:
    """One detector's results on every set it ran on, and its latency."""

    name: str
    sets: dict[str, Any] = field(default_factory=dict)  # "facemask" | "caltech" | "cuhk" -> *SetResult
    latency_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ms_per_image(self) -> float | None:
        allv = [v for vs in self.latency_ms.values() for v in vs]
        return float(np.median(allv)) if allv else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ms_per_image_median": rounded(self.ms_per_image, 2)}
        for k, r in self.sets.items():
            out[k] = r.to_dict()
            lat = self.latency_ms.get(k)
            if lat:
                out[k]["ms_per_image_median"] = rounded(float(np.median(lat)), 2)
        return out


@dataclass
class HumanEvalResult:
    """Every detector's :class:`DetectorReport`, the options, the sets and the skipped detectors."""

    reports: list[DetectorReport]
    options: HumanEvalOptions
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # set -> {"path", "images", ...}
    skipped: list[str] = field(default_factory=list)

    def report(self, name: str) -> DetectorReport:
        for r in self.reports:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        opts = asdict(self.options)
        opts["caltech_scale"] = list(self.options.caltech_scale)
        opts.pop("progress", None)
        return {"options": opts, "sets": self.sets, "detectors": [r.to_dict() for r in self.reports],
                "skipped": list(self.skipped)}

    def markdown(self) -> str:
        return format_markdown(self)


def _detect_all(detector: Detector, images: Sequence[Path | Callable[[], np.ndarray]], desc: str, progress: bool,
                warm: bool) -> tuple[list[list[Face]], list[float]]:
    """Each image (a path, or a function making the pixels: a rotated copy) through ``detector``, timed."""
    out: list[list[Face]] = []
    lat: list[float] = []
    for k, p in enumerate(tqdm(images, desc=desc, unit="img", disable=not progress, file=sys.stderr)):
        img = p() if callable(p) else load_image(p)
        if warm and k == 0:
            detector.detect(img)  # untimed warm-up (first call allocates)
        t0 = time.perf_counter()
        faces = detector.detect(img)
        lat.append((time.perf_counter() - t0) * 1e3)
        out.append(list(faces))
    return out, lat


def human_set_dirs(root: str | os.PathLike[str]) -> dict[str, Path]:
    """The standard folders under a data root: ``{"facemask": root/facemask-kaggle, "caltech": ..., "cuhk": ...}``."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise FeatherFaceError(f"{base}: human-labelled data folder not found")
    out = {k: base / v for k, v in STANDARD_SETS.items()}
    missing = [str(p) for p in out.values() if not p.is_dir()]
    if missing:
        raise FeatherFaceError(f"{base}: lacks the standard human-labelled set folder(s) {', '.join(missing)} "
                               f"(expected {', '.join(STANDARD_SETS.values())})")
    return out


def evaluate_human(
    detectors: Sequence[Detector] | Mapping[str, Detector],
    *,
    facemask: str | os.PathLike[str] | Sequence[BoxAnnotation] | None = None,
    caltech: str | os.PathLike[str] | Sequence[PointAnnotation] | None = None,
    cuhk: str | os.PathLike[str] | Sequence[LandmarkAnnotation] | None = None,
    options: HumanEvalOptions | None = None,
    skipped: Sequence[str] = (),
    **overrides: Any,
) -> HumanEvalResult:
    """Run each detector over the given sets (folders or loaded annotations) and score it.

    ``detectors`` is a list (rows named by ``.name``) or a ``{row name: detector}`` mapping.
    Build them with a low score threshold (:func:`featherface.peers.factory.build_detectors` uses
    0.02) so that AP sees the whole ranking; ``options.threshold`` is the operating point of P/R,
    recall and found rate. ``overrides`` replace fields of ``options`` (``limit=50``, ``threshold=0.6``...).
    """
    opts = HumanEvalOptions(**{**asdict(options or HumanEvalOptions()), **overrides}).check()
    named: list[tuple[str, Detector]] = (list(detectors.items()) if isinstance(detectors, Mapping)
                                         else [(getattr(d, "name", type(d).__name__), d) for d in detectors])
    if len({n for n, _ in named}) != len(named):
        raise ConfigError(f"two detectors share a name: {[n for n, _ in named]}")
    if not named:
        raise ConfigError("no detector to evaluate")

    data: dict[str, list[Any]] = {}
    sets: dict[str, dict[str, Any]] = {}
    if facemask is not None:
        data["facemask"] = (load_voc_dir(facemask, limit=opts.limit) if isinstance(facemask, (str, os.PathLike))
                            else list(facemask)[: opts.limit])
    if caltech is not None:
        data["caltech"] = (load_caltech(caltech, split=opts.caltech_split, val_fraction=opts.val_fraction,
                                        seed=opts.split_seed, limit=opts.limit)
                           if isinstance(caltech, (str, os.PathLike)) else list(caltech)[: opts.limit])
    if cuhk is not None:
        data["cuhk"] = (load_cuhk(cuhk, limit=opts.limit) if isinstance(cuhk, (str, os.PathLike))
                        else list(cuhk)[: opts.limit])
    if not data:
        raise ConfigError("no human-labelled set given (facemask, caltech or cuhk)")
    if "cuhk" in data and opts.cuhk_rotation > 0:
        data["cuhk_rot"] = rotated_set(data["cuhk"], opts.cuhk_rotation)
        sets["cuhk_rot"] = {"path": str(cuhk) if isinstance(cuhk, (str, os.PathLike)) else None,
                            "images": len(data["cuhk_rot"]), "degrees": opts.cuhk_rotation}
    for key, src in (("facemask", facemask), ("caltech", caltech), ("cuhk", cuhk)):
        if key in data:
            sets[key] = {"path": str(src) if isinstance(src, (str, os.PathLike)) else None,
                         "images": len(data[key])}
    if "facemask" in data:
        sets["facemask"]["labelled_faces"] = int(sum(np.asarray(a.boxes).reshape(-1, 4).shape[0]
                                                     for a in data["facemask"]))
    if "caltech" in data:
        sets["caltech"].update(split=opts.caltech_split, labelled_faces=int(sum(len(a.points) for a in data["caltech"])))

    reports: list[DetectorReport] = []
    for name, det in named:
        rep = DetectorReport(name=name)
        first = True
        for key, anns in data.items():
            images = [a.load if key == "cuhk_rot" else a.image for a in anns]
            faces, lat = _detect_all(det, images, f"{name} {key}", opts.progress, warm=first)
            first = False
            rep.latency_ms[key] = lat
            if key == "facemask":
                rep.sets[key] = score_box_set(faces, anns, opts.threshold, opts.min_face, opts.iou)
            elif key == "caltech":
                rep.sets[key] = score_point_set(faces, anns, opts.threshold, opts.caltech_scale)
            elif key == "cuhk":
                rep.sets[key] = score_landmark_set(faces, anns, opts.threshold, opts.iou)
            else:
                rep.sets[key] = score_landmark_set(faces, [(a.box, a.landmarks) for a in anns], opts.threshold,
                                                   opts.iou)
        reports.append(rep)
    return HumanEvalResult(reports=reports, options=opts, sets=sets, skipped=list(skipped))

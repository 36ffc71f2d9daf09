"""Accuracy against human labels: VOC box sets (AP, P/R by size), Caltech points (recall), CUHK landmarks (NME).

Beside the WIDER protocol (:mod:`featherface.evaluation.widerface`), three kinds of human labels
(readers in :mod:`featherface.data.benchmarks`; the sets are described in ``docs/evaluation.md``):

**Box sets** (``facemask-kaggle``, any VOC folder): :func:`score_box_set`.

* Face size is ``sqrt(w * h)`` of the box in original pixels (the package's size everywhere).
  Labelled faces smaller than ``min_face`` (default 16 px) and VOC ``difficult`` faces are
  *ignored*: a detection matching one (IoU >= ``iou``) is neither a true nor a false positive;
  an unmatched detection smaller than ``min_face`` is ignored too (COCO's area-range rule: the
  evaluation is about faces >= ``min_face`` on both sides).
* Matching, per image, detections in descending score order: a detection takes the
  still-unmatched counted face it overlaps most at IoU >= ``iou`` (true positive); failing that,
  it is ignored if it overlaps an ignored face at IoU >= ``iou``; otherwise it is a false
  positive (a second detection of a found face is one).
* **AP@iou**: all detections of the set ranked by score, VOC all-point interpolated AP
  (precision replaced by its running maximum from the high-recall end, summed over recall
  steps). P and R at ``threshold`` use the same matching (greedy by score, so the detections
  above a threshold are matched exactly as if they were the only ones).
* By size bucket (at ``threshold``): recall = found counted faces of the bucket / counted faces of
  the bucket; precision = true positives whose *labelled* face is in the bucket / (those + false
  positives whose *detected* box is in the bucket).

**Point sets** (Caltech WebFaces: four points per face, no box): :func:`score_point_set`.

* A detection **finds** a labelled face when its box contains all four points (borders
  included) and its side ``sqrt(w * h)`` is between ``scale[0]`` and ``scale[1]`` times the face's
  point scale ``s = max(inter-ocular distance, distance from the eyes' midpoint to the mouth)``
  (default 1.0 to 4.0; boxes of RetinaFace and YuNet that contain the points measure
  1.7-2.8 s, median 2.3 s). The max of the two distances keeps ``s`` steady when the head turns
  (the eyes close up) or nods (eyes and mouth close up).
* One-to-one greedy matching by descending score: a detection takes, among the still-unfound
  faces it finds, the one whose point centroid is nearest its box centre.
* Reported at ``threshold``: **recall** (found / labelled faces); **unmatched detections**, those
  that find no labelled face at all (not called false positives: only roughly frontal faces are
  labelled, so they may be real profile or tiny faces); **duplicates**, detections that find
  only faces another detection already took. No precision and no AP: with unlabelled faces in
  the images neither is defensible. The JSON adds recall and unmatched detections per image at
  thresholds 0.1 ... 0.9 (a FROC-like curve) and recall by point scale.

**Landmark sets** (CUHK: one face per image, human box + 5 landmarks): :func:`score_landmark_set`.

* A face is **found** when the detection of highest IoU among those with score >= ``threshold``
  has IoU >= ``iou`` with the human box (the found rate is found / images).
* **NME** = mean over the five points of the point distance, divided by ``sqrt(w * h)`` of the
  human box, averaged over the found faces (detectors without landmarks: none). **NME-IOD**
  divides by the labelled inter-ocular distance (eye centre to eye centre) instead.

:func:`evaluate_human` runs detectors over the sets (original image size unless a detector was
built otherwise; decoding is not timed, each detector's own pre- and post-processing is) and
returns a :class:`HumanEvalResult` (markdown table, JSON-able dict);
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
from typing import Any, Mapping, Sequence

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
from featherface.io.images import load_image
from featherface.ops.boxes import iou_matrix
from featherface.types import Detector, Face

__all__ = [
    "BoxSetResult",
    "DetectorReport",
    "HumanEvalOptions",
    "HumanEvalResult",
    "LandmarkSetResult",
    "PointSetResult",
    "evaluate_human",
    "finds_face",
    "human_set_dirs",
    "plot_box_pr",
    "point_scale",
    "score_box_set",
    "score_landmark_set",
    "score_point_set",
    "voc_ap",
]

SIZE_EDGES = (32.0, 64.0, 128.0)  # bucket edges above min_face
SCALE_BUCKETS = ((0.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, math.inf))  # Caltech point scale s, px
FROC_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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
        lo, hi = self.caltech_scale
        if not 0.0 < lo < hi:
            raise ConfigError(f"caltech_scale must be 0 < low < high, got {self.caltech_scale}")
        return self


# --------------------------------------------------------------------------- helpers


def _size(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))


def _faces_arrays(faces: Sequence[Face]) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4)
    scores = np.array([f.score for f in faces], dtype=np.float64).reshape(-1)
    return boxes, scores


def _ratio(a: int | float, b: int | float) -> float | None:
    return float(a) / float(b) if b else None


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), nd)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point interpolated AP of a ranked list's recall/precision (VOC 2010+ devkit)."""
    mrec = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def _size_buckets(min_face: float) -> list[tuple[str, float, float]]:
    edges = [float(min_face)] + [e for e in SIZE_EDGES if e > min_face]
    out = [(f"{lo:g}-{hi:g}", lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    out.append((f">={edges[-1]:g}", edges[-1], math.inf))
    return out


# --------------------------------------------------------------------------- box sets


@dataclass
class BoxSetResult:
    """AP, P/R at a threshold and by size of one detector on a VOC box set (see the module docstring)."""

    images: int
    faces: int  # counted labelled faces (>= min_face, not difficult)
    ignored_faces: int
    ap: float | None
    threshold: float
    min_face: float
    iou: float
    tp: int  # at threshold
    fp: int
    ignored_detections: int  # at threshold
    by_size: list[dict[str, Any]] = field(default_factory=list)
    curve: dict[str, np.ndarray] = field(default_factory=dict)  # recall, precision, score (ranked)

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.faces)

    def to_dict(self, curve_points: int = 200) -> dict[str, Any]:
        d: dict[str, Any] = {
            "images": self.images, "faces": self.faces, "ignored_faces": self.ignored_faces,
            "ap": _r(self.ap), "threshold": self.threshold, "min_face": self.min_face, "iou": self.iou,
            "precision": _r(self.precision), "recall": _r(self.recall), "tp": self.tp, "fp": self.fp,
            "ignored_detections": self.ignored_detections, "by_size": self.by_size,
        }
        n = len(self.curve.get("recall", ()))
        if n:
            idx = np.unique(np.linspace(0, n - 1, min(n, curve_points)).round().astype(int))
            d["curve"] = {k: [round(float(v), 5) for v in np.asarray(self.curve[k])[idx]]
                          for k in ("recall", "precision", "score")}
        return d


def _match_box_image(boxes: np.ndarray, scores: np.ndarray, gt: np.ndarray, ignore: np.ndarray,
                     iou_thr: float, min_face: float) -> tuple[np.ndarray, np.ndarray]:
    """Per detection 1 (true positive), 0 (false positive) or -1 (ignored); per labelled face the
    index of the detection that found it (-1: none)."""
    d_n, g_n = len(boxes), len(gt)
    state = np.zeros(d_n, dtype=np.int8)
    found_by = np.full(g_n, -1, dtype=np.int64)
    if d_n == 0:
        return state, found_by
    iou = iou_matrix(boxes, gt) if g_n else np.zeros((d_n, 0))
    hit = iou >= iou_thr
    det_small = _size(boxes) < min_face
    for d in np.argsort(-scores, kind="stable"):
        cand = hit[d] & ~ignore & (found_by < 0)
        if cand.any():
            g = int(np.argmax(np.where(cand, iou[d], -1.0)))
            found_by[g] = d
            state[d] = 1
        elif (hit[d] & ignore).any() or det_small[d]:
            state[d] = -1
        else:
            state[d] = 0
    return state, found_by


def score_box_set(
    detections: Sequence[Sequence[Face]],
    ground_truth: Sequence[BoxAnnotation | np.ndarray],
    threshold: float = 0.5,
    min_face: float = 16.0,
    iou: float = 0.5,
) -> BoxSetResult:
    """Score per-image detections against per-image labelled boxes (``BoxAnnotation`` or (N, 4) x1y1x2y2)."""
    if len(detections) != len(ground_truth):
        raise ConfigError(f"{len(detections)} detection lists for {len(ground_truth)} labelled images")
    buckets = _size_buckets(min_face)
    b_faces = np.zeros(len(buckets), int)
    b_found = np.zeros(len(buckets), int)
    b_tp = np.zeros(len(buckets), int)
    b_fp = np.zeros(len(buckets), int)

    def bucket(size: float) -> int:
        for k, (_, lo, hi) in enumerate(buckets):
            if lo <= size < hi:
                return k
        return -1

    all_scores: list[np.ndarray] = []
    all_tp: list[np.ndarray] = []
    n_faces = n_ignored = ign_det = 0
    for faces, g in zip(detections, ground_truth):
        if isinstance(g, BoxAnnotation):
            gt, difficult = np.asarray(g.boxes, np.float64).reshape(-1, 4), np.asarray(g.difficult, bool)
        else:
            gt = np.asarray(g, np.float64).reshape(-1, 4)
            difficult = np.zeros(len(gt), bool)
        gsize = _size(gt)
        ignore = difficult | (gsize < min_face)
        n_faces += int((~ignore).sum())
        n_ignored += int(ignore.sum())
        boxes, scores = _faces_arrays(faces)
        state, found_by = _match_box_image(boxes, scores, gt, ignore, iou, min_face)
        keep = state >= 0
        all_scores.append(scores[keep])
        all_tp.append(state[keep] == 1)
        above = scores >= threshold
        ign_det += int(((state < 0) & above).sum())
        dsize = _size(boxes)
        for j in np.nonzero(~ignore)[0]:
            k = bucket(float(gsize[j]))
            b_faces[k] += 1
            if found_by[j] >= 0 and above[found_by[j]]:
                b_found[k] += 1
                b_tp[k] += 1
        for d in np.nonzero((state == 0) & above)[0]:
            k = bucket(float(dsize[d]))
            if k >= 0:
                b_fp[k] += 1
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    order = np.argsort(-scores, kind="stable")
    scores, tp = scores[order], tp[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    rec = ctp / n_faces if n_faces else np.zeros(len(ctp))
    prec = ctp / np.maximum(ctp + cfp, 1)
    ap = voc_ap(rec, prec) if n_faces else None
    above = scores >= threshold
    by_size = [
        {"bucket": name, "faces": int(b_faces[k]), "found": int(b_found[k]), "recall": _r(_ratio(b_found[k], b_faces[k])),
         "fp": int(b_fp[k]), "precision": _r(_ratio(b_tp[k], b_tp[k] + b_fp[k]))}
        for k, (name, _, _) in enumerate(buckets)
    ]
    return BoxSetResult(
        images=len(ground_truth), faces=n_faces, ignored_faces=n_ignored, ap=ap, threshold=threshold,
        min_face=min_face, iou=iou, tp=int(tp[above].sum()), fp=int((~tp[above]).sum()),
        ignored_detections=ign_det, by_size=by_size, curve={"recall": rec, "precision": prec, "score": scores},
    )


# --------------------------------------------------------------------------- point sets


def point_scale(points: np.ndarray) -> float:
    """``max(inter-ocular distance, eyes' midpoint to mouth)`` of (4, 2) left eye, right eye, nose, mouth."""
    p = np.asarray(points, dtype=np.float64).reshape(4, 2)
    iod = float(np.linalg.norm(p[1] - p[0]))
    em = float(np.linalg.norm(p[3] - (p[0] + p[1]) / 2))
    return max(iod, em)


def finds_face(box: Sequence[float], points: np.ndarray, scale: tuple[float, float] = (1.0, 4.0)) -> bool:
    """The Caltech rule: ``box`` contains all four points and ``scale[0] * s <= sqrt(w*h) <= scale[1] * s``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    p = np.asarray(points, dtype=np.float64).reshape(4, 2)
    if not ((p[:, 0] >= x1).all() and (p[:, 0] <= x2).all() and (p[:, 1] >= y1).all() and (p[:, 1] <= y2).all()):
        return False
    side = math.sqrt(max(x2 - x1, 0.0) * max(y2 - y1, 0.0))
    s = max(point_scale(p), 1e-6)
    return scale[0] * s <= side <= scale[1] * s


@dataclass
class PointSetResult:
    """Recall and unmatched detections of one detector on a point-labelled set (Caltech)."""

    images: int
    faces: int
    found: int  # at threshold
    unmatched: int  # detections >= threshold that find no labelled face
    duplicates: int  # detections >= threshold that find only faces already taken
    detections: int  # >= threshold
    threshold: float
    scale: tuple[float, float]
    by_scale: list[dict[str, Any]] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)  # recall / unmatched per image by threshold

    @property
    def recall(self) -> float | None:
        return _ratio(self.found, self.faces)

    @property
    def unmatched_per_image(self) -> float | None:
        return _ratio(self.unmatched, self.images)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("images", "faces", "found", "unmatched", "duplicates", "detections",
                                           "threshold")}
        d.update(recall=_r(self.recall), unmatched_per_image=_r(self.unmatched_per_image), scale=list(self.scale),
                 by_scale=self.by_scale, curve=self.curve)
        return d


def score_point_set(
    detections: Sequence[Sequence[Face]],
    ground_truth: Sequence[PointAnnotation | np.ndarray],
    threshold: float = 0.5,
    scale: tuple[float, float] = (1.0, 4.0),
) -> PointSetResult:
    """Score per-image detections against per-image (N, 4, 2) labelled points (see the module docstring)."""
    if len(detections) != len(ground_truth):
        raise ConfigError(f"{len(detections)} detection lists for {len(ground_truth)} labelled images")
    face_best: list[float] = []  # per labelled face: score of the detection that found it (-inf: none)
    face_scale: list[float] = []
    det_rows: list[tuple[float, int]] = []  # (score, state) per detection; 1 found, 0 unmatched, 2 duplicate
    for faces, g in zip(detections, ground_truth):
        pts = np.asarray(g.points if isinstance(g, PointAnnotation) else g, dtype=np.float64).reshape(-1, 4, 2)
        boxes, scores = _faces_arrays(faces)
        ok = np.array([[finds_face(b, p, scale) for p in pts] for b in boxes], dtype=bool).reshape(len(boxes), len(pts))
        taken = np.full(len(pts), -np.inf)
        centroid = pts.mean(axis=1) if len(pts) else np.zeros((0, 2))
        for d in np.argsort(-scores, kind="stable"):
            cand = ok[d] & ~np.isfinite(taken)
            if cand.any():
                c = np.array([(boxes[d, 0] + boxes[d, 2]) / 2, (boxes[d, 1] + boxes[d, 3]) / 2])
                dist = np.where(cand, np.linalg.norm(centroid - c, axis=1), np.inf)
                taken[int(np.argmin(dist))] = scores[d]
                det_rows.append((float(scores[d]), 1))
            else:
                det_rows.append((float(scores[d]), 2 if ok[d].any() else 0))
        face_best.extend(taken.tolist())
        face_scale.extend(point_scale(p) for p in pts)
    best = np.asarray(face_best, dtype=np.float64)
    fscale = np.asarray(face_scale, dtype=np.float64)
    ds = np.array([s for s, _ in det_rows], dtype=np.float64)
    st = np.array([k for _, k in det_rows], dtype=np.int8)
    n_img = len(ground_truth)

    def at(thr: float) -> tuple[int, int, int, int]:
        a = ds >= thr
        return int((best >= thr).sum()), int(((st == 0) & a).sum()), int(((st == 2) & a).sum()), int(a.sum())

    found, unmatched, dup, n_det = at(threshold)
    by_scale = []
    for lo, hi in SCALE_BUCKETS:
        m = (fscale >= lo) & (fscale < hi)
        name = f"<{hi:g}" if lo == 0 else (f">={lo:g}" if math.isinf(hi) else f"{lo:g}-{hi:g}")
        by_scale.append({"scale_px": name, "faces": int(m.sum()), "found": int((best[m] >= threshold).sum()),
                         "recall": _r(_ratio(int((best[m] >= threshold).sum()), int(m.sum())))})
    curve = []
    for thr in FROC_THRESHOLDS:
        f, u, _, _ = at(thr)
        curve.append({"threshold": thr, "recall": _r(_ratio(f, len(best))), "unmatched_per_image": _r(_ratio(u, n_img))})
    return PointSetResult(images=n_img, faces=len(best), found=found, unmatched=unmatched, duplicates=dup,
                          detections=n_det, threshold=threshold, scale=tuple(scale), by_scale=by_scale, curve=curve)


# --------------------------------------------------------------------------- landmark sets


@dataclass
class LandmarkSetResult:
    """Found rate, box fit and landmark error of one detector on a one-face-per-image set (CUHK)."""

    images: int
    found: int
    with_landmarks: int  # found faces whose detection has landmarks (the NME's denominator)
    nme: float | None  # mean point error / sqrt(w*h) of the human box
    nme_iod: float | None  # mean point error / labelled inter-ocular distance
    mean_iou: float | None  # of the found faces
    threshold: float
    iou: float

    @property
    def found_rate(self) -> float | None:
        return _ratio(self.found, self.images)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(found_rate=_r(self.found_rate), nme=_r(self.nme, 5), nme_iod=_r(self.nme_iod, 5),
                 mean_iou=_r(self.mean_iou))
        return d


def score_landmark_set(
    detections: Sequence[Sequence[Face]],
    ground_truth: Sequence[LandmarkAnnotation | tuple[np.ndarray, np.ndarray]],
    threshold: float = 0.5,
    iou: float = 0.5,
) -> LandmarkSetResult:
    """Score detections against one labelled face per image (``LandmarkAnnotation`` or (box x1y1x2y2, (5, 2)))."""
    if len(detections) != len(ground_truth):
        raise ConfigError(f"{len(detections)} detection lists for {len(ground_truth)} labelled images")
    found = 0
    ious: list[float] = []
    nme: list[float] = []
    nme_iod: list[float] = []
    for faces, g in zip(detections, ground_truth):
        box, lms = (g.box, g.landmarks) if isinstance(g, LandmarkAnnotation) else g
        box = np.asarray(box, np.float64).reshape(4)
        lms = np.asarray(lms, np.float64).reshape(5, 2)
        cand = [f for f in faces if f.score >= threshold]
        if not cand:
            continue
        ov = iou_matrix(np.array([f.box for f in cand], np.float64), box[None])[:, 0]
        k = int(np.argmax(ov))
        if ov[k] < iou:
            continue
        found += 1
        ious.append(float(ov[k]))
        if cand[k].landmarks is None:
            continue
        err = float(np.linalg.norm(np.asarray(cand[k].landmarks, np.float64).reshape(5, 2) - lms, axis=1).mean())
        size = math.sqrt((box[2] - box[0]) * (box[3] - box[1]))
        iod = float(np.linalg.norm(lms[1] - lms[0]))
        nme.append(err / size)
        if iod > 0:
            nme_iod.append(err / iod)
    return LandmarkSetResult(
        images=len(ground_truth), found=found, with_landmarks=len(nme),
        nme=float(np.mean(nme)) if nme else None, nme_iod=float(np.mean(nme_iod)) if nme_iod else None,
        mean_iou=float(np.mean(ious)) if ious else None, threshold=threshold, iou=iou,
    )


# --------------------------------------------------------------------------- running detectors


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
        out: dict[str, Any] = {"name": self.name, "ms_per_image_median": _r(self.ms_per_image, 2)}
        for k, r in self.sets.items():
            out[k] = r.to_dict()
            lat = self.latency_ms.get(k)
            if lat:
                out[k]["ms_per_image_median"] = _r(float(np.median(lat)), 2)
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


def _detect_all(detector: Detector, images: Sequence[Path], desc: str, progress: bool,
                warm: bool) -> tuple[list[list[Face]], list[float]]:
    out: list[list[Face]] = []
    lat: list[float] = []
    for k, p in enumerate(tqdm(images, desc=desc, unit="img", disable=not progress, file=sys.stderr)):
        img = load_image(p)
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
    for key, src in (("facemask", facemask), ("caltech", caltech), ("cuhk", cuhk)):
        if key in data:
            sets[key] = {"path": str(src) if isinstance(src, (str, os.PathLike)) else None,
                         "images": len(data[key])}
    if "facemask" in data:
        sizes = np.concatenate([_size(a.boxes) for a in data["facemask"]] or [np.zeros(0)])
        sets["facemask"]["labelled_faces"] = int(sizes.size)
    if "caltech" in data:
        sets["caltech"].update(split=opts.caltech_split, labelled_faces=int(sum(len(a.points) for a in data["caltech"])))

    reports: list[DetectorReport] = []
    for name, det in named:
        rep = DetectorReport(name=name)
        first = True
        for key, anns in data.items():
            faces, lat = _detect_all(det, [a.image for a in anns], f"{name} {key}", opts.progress, warm=first)
            first = False
            rep.latency_ms[key] = lat
            if key == "facemask":
                rep.sets[key] = score_box_set(faces, anns, opts.threshold, opts.min_face, opts.iou)
            elif key == "caltech":
                rep.sets[key] = score_point_set(faces, anns, opts.threshold, opts.caltech_scale)
            else:
                rep.sets[key] = score_landmark_set(faces, anns, opts.threshold, opts.iou)
        reports.append(rep)
    return HumanEvalResult(reports=reports, options=opts, sets=sets, skipped=list(skipped))


# --------------------------------------------------------------------------- output


def _f(v: float | None, spec: str = ".3f") -> str:
    return "–" if v is None else format(v, spec)


def format_markdown(result: HumanEvalResult) -> str:
    """One markdown table, a row per detector; a facemask-by-size table under it; set sizes and rules."""
    o = result.options
    thr = f"{o.threshold:g}"
    keys = list(result.sets)
    head = ["detector"]
    if "facemask" in keys:
        head += [f"facemask AP@{o.iou:g} (≥{o.min_face:g}px)", f"facemask P@{thr}", f"facemask R@{thr}"]
    if "caltech" in keys:
        sp = o.caltech_split
        head += [f"caltech-{sp} R@{thr}", f"caltech-{sp} unmatched@{thr} (/img)"]
    if "cuhk" in keys:
        head += [f"cuhk found@{thr}", "cuhk NME (box)", "cuhk NME (IOD)"]
    head.append("ms/img")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rep in result.reports:
        cells = [rep.name]
        if "facemask" in keys:
            b = rep.sets["facemask"]
            cells += [_f(b.ap, ".4f"), _f(b.precision), _f(b.recall)]
        if "caltech" in keys:
            c = rep.sets["caltech"]
            cells += [_f(c.recall), f"{c.unmatched} ({_f(c.unmatched_per_image, '.2f')})"]
        if "cuhk" in keys:
            k = rep.sets["cuhk"]
            cells += [_f(k.found_rate), _f(k.nme, ".4f"), _f(k.nme_iod, ".4f")]
        cells.append(_f(rep.ms_per_image, ".1f"))
        lines.append("| " + " | ".join(cells) + " |")
    if "facemask" in keys and result.reports:
        buckets = [d["bucket"] for d in result.reports[0].sets["facemask"].by_size]
        lines += ["", f"facemask by face size sqrt(w*h) at score {thr} (recall / precision):", "",
                  "| detector | " + " | ".join(f"R {b} | P {b}" for b in buckets) + " |",
                  "|---|" + "---|---|" * len(buckets)]
        for rep in result.reports:
            row = rep.sets["facemask"].by_size
            lines.append(f"| {rep.name} | " + " | ".join(f"{_f(d['recall'])} | {_f(d['precision'])}" for d in row) + " |")
        first = result.reports[0].sets["facemask"]
        counts = ", ".join(f"{d['bucket']}: {d['faces']}" for d in first.by_size)
        lines += ["", f"facemask: {first.images} images, {first.faces} faces >= {o.min_face:g} px counted "
                      f"({counts}), {first.ignored_faces} smaller ignored"]
    elif result.reports:
        lines.append("")
    if "caltech" in keys and result.reports:
        c = result.reports[0].sets["caltech"]
        lines.append(f"caltech ({o.caltech_split} split): {c.images} images, {c.faces} labelled faces; unmatched = "
                     "detections that contain no labelled face (may be unlabelled profile/tiny faces)")
    if "cuhk" in keys and result.reports:
        k = result.reports[0].sets["cuhk"]
        lines.append(f"cuhk: {k.images} faces; found = best detection at IoU >= {o.iou:g}; NME over found faces")
    if o.limit is not None:
        lines.append(f"--limit {o.limit}: first {o.limit} images of each set only; not comparable with full-set numbers")
    lines.append("ms/img: median detect() time per image over all sets, at the detectors' own score threshold "
                 "(the CLI builds them at 0.02 so that AP sees the whole ranking; decoding not timed)")
    return "\n".join(lines)


def plot_box_pr(result: HumanEvalResult, path: str | os.PathLike[str], set_name: str = "facemask",
                title: str | None = None) -> Path:
    """Precision-recall curve of every detector on a box set, AP in the legend, the operating point dotted."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise FeatherFaceError("plotting needs matplotlib: pip install 'featherface[plot]'") from exc
    reps = [r for r in result.reports if set_name in r.sets]
    if not reps:
        raise FeatherFaceError(f"nothing to plot: no detector was evaluated on the {set_name} set")
    fig = Figure(figsize=(6.0, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for r in reps:
        b: BoxSetResult = r.sets[set_name]
        rec, prec = np.asarray(b.curve.get("recall", [])), np.asarray(b.curve.get("precision", []))
        (line,) = ax.plot(rec, prec, lw=2.0, label=f"{r.name} (AP {_f(b.ap)})")
        if b.recall is not None and b.precision is not None:
            ax.plot([b.recall], [b.precision], "o", color=line.get_color(), ms=5)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, alpha=0.3)
    o = result.options
    ax.set_title(title or f"{set_name}: faces >= {o.min_face:g} px, IoU {o.iou:g} (dots: score {o.threshold:g})")
    ax.legend(loc="lower left")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out

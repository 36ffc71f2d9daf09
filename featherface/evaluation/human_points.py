"""Point sets (Caltech WebFaces: four points per face, no box): recall, unmatched detections, duplicates.

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from featherface.data.benchmarks import PointAnnotation
from featherface.errors import ConfigError
from featherface.format import ratio, rounded
from featherface.types import Face, faces_to_arrays

__all__ = ["FROC_THRESHOLDS", "SCALE_BUCKETS", "PointSetResult", "finds_face", "point_scale", "score_point_set"]

SCALE_BUCKETS = ((0.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, math.inf))  # Caltech point scale s, px
FROC_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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
        return ratio(self.found, self.faces)

    @property
    def unmatched_per_image(self) -> float | None:
        return ratio(self.unmatched, self.images)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("images", "faces", "found", "unmatched", "duplicates", "detections",
                                           "threshold")}
        d.update(recall=rounded(self.recall), unmatched_per_image=rounded(self.unmatched_per_image), scale=list(self.scale),
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
        boxes, scores = faces_to_arrays(faces)[:2]
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
                         "recall": rounded(ratio(int((best[m] >= threshold).sum()), int(m.sum())))})
    curve = []
    for thr in FROC_THRESHOLDS:
        f, u, _, _ = at(thr)
        curve.append({"threshold": thr, "recall": rounded(ratio(f, len(best))), "unmatched_per_image": rounded(ratio(u, n_img))})
    return PointSetResult(images=n_img, faces=len(best), found=found, unmatched=unmatched, duplicates=dup,
                          detections=n_det, threshold=threshold, scale=tuple(scale), by_scale=by_scale, curve=curve)

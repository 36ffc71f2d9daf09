"""Box sets (``facemask-kaggle``, any VOC folder): AP, P/R at a threshold and P/R by face size.

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
  steps: :func:`featherface.evaluation.widerface.average_precision`, the one AP of the package).
  P and R at ``threshold`` use the same matching (greedy by score, so the detections above a
  threshold are matched exactly as if they were the only ones).
* By size bucket (at ``threshold``): recall = found counted faces of the bucket / counted faces of
  the bucket; precision = true positives whose *labelled* face is in the bucket / (those + false
  positives whose *detected* box is in the bucket).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from featherface.data.benchmarks import BoxAnnotation
from featherface.errors import ConfigError
from featherface.evaluation.widerface import average_precision
from featherface.format import ratio, rounded
from featherface.ops.iou import iou_matrix
from featherface.types import Face, faces_to_arrays

__all__ = ["SIZE_EDGES", "BoxSetResult", "score_box_set"]

SIZE_EDGES = (32.0, 64.0, 128.0)  # bucket edges above min_face


def _size(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))


def _size_buckets(min_face: float, size_edges: Sequence[float] = SIZE_EDGES) -> list[tuple[str, float, float]]:
    edges = [float(min_face)] + [float(e) for e in size_edges if e > min_face]
    out = [(f"{lo:g}-{hi:g}", lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    out.append((f">={edges[-1]:g}", edges[-1], math.inf))
    return out


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
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.faces)

    def to_dict(self, curve_points: int = 200) -> dict[str, Any]:
        d: dict[str, Any] = {
            "images": self.images, "faces": self.faces, "ignored_faces": self.ignored_faces,
            "ap": rounded(self.ap), "threshold": self.threshold, "min_face": self.min_face, "iou": self.iou,
            "precision": rounded(self.precision), "recall": rounded(self.recall), "tp": self.tp, "fp": self.fp,
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
    size_edges: Sequence[float] = SIZE_EDGES,
) -> BoxSetResult:
    """Score per-image detections against per-image labelled boxes (``BoxAnnotation`` or (N, 4) x1y1x2y2);
    ``by_size`` splits the faces at ``size_edges`` (sqrt(w*h) px) above ``min_face``."""
    if len(detections) != len(ground_truth):
        raise ConfigError(f"{len(detections)} detection lists for {len(ground_truth)} labelled images")
    buckets = _size_buckets(min_face, size_edges)
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
        boxes, scores = faces_to_arrays(faces)[:2]
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
    ap = average_precision(rec, prec) if n_faces else None
    above = scores >= threshold
    by_size = [
        {"bucket": name, "faces": int(b_faces[k]), "found": int(b_found[k]), "recall": rounded(ratio(b_found[k], b_faces[k])),
         "fp": int(b_fp[k]), "precision": rounded(ratio(b_tp[k], b_tp[k] + b_fp[k]))}
        for k, (name, _, _) in enumerate(buckets)
    ]
    return BoxSetResult(
        images=len(ground_truth), faces=n_faces, ignored_faces=n_ignored, ap=ap, threshold=threshold,
        min_face=min_face, iou=iou, tp=int(tp[above].sum()), fp=int((~tp[above]).sum()),
        ignored_detections=ign_det, by_size=by_size, curve={"recall": rec, "precision": prec, "score": scores},
    )

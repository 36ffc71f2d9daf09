"""Precision / recall against a labelled hold-out set, by face size — the model-card numbers.

Unlike the WIDER protocol (a ranking metric over all scores), this scores the detector as a user
runs it: at one score threshold, one-to-one greedy matching at IoU >= 0.5 against the labels
(for the default weights: the teacher's labels on held-out photos). Face size is
``sqrt(w * h)`` in original pixels; recall is bucketed by the *labelled* face's size, precision
by the *detected* face's size (an unmatched detection is a false positive in its own bucket).
Landmark error is the mean point distance over ``sqrt(w * h)`` of the labelled box (NME).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from featherface.compare import greedy_match, landmark_error
from featherface.data.labels import ImageAnnotation, load_annotations
from featherface.inference.image_io import load_image
from featherface.types import Detector, Face

BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<32", 0.0, 32.0),
    ("32-96", 32.0, 96.0),
    (">96", 96.0, float("inf")),
    (">=32", 32.0, float("inf")),
    ("all", 0.0, float("inf")),
)


def face_size(box: Sequence[float]) -> float:
    return float(np.sqrt(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)))


def _bucket_mask(sizes: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (sizes >= lo) & (sizes < hi)


@dataclass
class HeldoutResult:
    """Counts per size bucket, landmark NME, and latency of one detector on a labelled set."""

    name: str
    images: int
    tp_label: dict[str, int] = field(default_factory=dict)  # labelled faces found, by label size
    n_label: dict[str, int] = field(default_factory=dict)
    tp_pred: dict[str, int] = field(default_factory=dict)  # detections that match, by detection size
    n_pred: dict[str, int] = field(default_factory=dict)
    nme: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)

    def recall(self, bucket: str) -> float | None:
        n = self.n_label.get(bucket, 0)
        return self.tp_label.get(bucket, 0) / n if n else None

    def precision(self, bucket: str) -> float | None:
        n = self.n_pred.get(bucket, 0)
        return self.tp_pred.get(bucket, 0) / n if n else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "images": self.images, "buckets": {}}
        for b, _, _ in BUCKETS:
            out["buckets"][b] = {
                "labelled": self.n_label.get(b, 0), "detected": self.n_pred.get(b, 0),
                "recall": self.recall(b), "precision": self.precision(b),
            }
        out["landmark_nme"] = float(np.mean(self.nme)) if self.nme else None
        out["landmark_pairs"] = len(self.nme)
        if self.latency_ms:
            out["latency_ms_median"] = float(np.median(self.latency_ms))
            out["latency_ms_p90"] = float(np.percentile(self.latency_ms, 90))
        return out


def score_image(result: HeldoutResult, faces: Sequence[Face], ann: ImageAnnotation, iou: float = 0.5) -> None:
    """Add one image's detections vs labels to ``result``."""
    pred_boxes = np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(ann.boxes, dtype=np.float64).reshape(-1, 4)
    matches = greedy_match(pred_boxes, gt_boxes, iou)
    pred_hit = np.zeros(len(pred_boxes), bool)
    gt_hit = np.zeros(len(gt_boxes), bool)
    for i, j, _ in matches:
        pred_hit[i] = gt_hit[j] = True
        if ann.has_landmarks[j]:
            ref = Face.from_arrays(gt_boxes[j], 1.0, ann.landmarks[j])
            e = landmark_error(faces[i], ref)
            if e is not None:
                result.nme.append(e)
    ps = np.array([face_size(b) for b in pred_boxes])
    gs = np.array([face_size(b) for b in gt_boxes])
    for b, lo, hi in BUCKETS:
        gm, pm = _bucket_mask(gs, lo, hi), _bucket_mask(ps, lo, hi)
        result.n_label[b] = result.n_label.get(b, 0) + int(gm.sum())
        result.tp_label[b] = result.tp_label.get(b, 0) + int((gt_hit & gm).sum())
        result.n_pred[b] = result.n_pred.get(b, 0) + int(pm.sum())
        result.tp_pred[b] = result.tp_pred.get(b, 0) + int((pred_hit & pm).sum())


def evaluate_heldout(
    detector: Detector,
    labels: str | os.PathLike | Sequence[ImageAnnotation],
    image_root: str | os.PathLike,
    iou: float = 0.5,
    progress: bool = True,
) -> HeldoutResult:
    """Run ``detector`` over the labelled images and score it (see the module docstring)."""
    anns = load_annotations(labels) if isinstance(labels, (str, os.PathLike)) else list(labels)
    res = HeldoutResult(name=getattr(detector, "name", type(detector).__name__), images=len(anns))
    root = Path(image_root)
    for ann in tqdm(anns, desc=f"held-out ({res.name})", unit="img", disable=not progress):
        img = load_image(root / ann.path)
        t0 = time.perf_counter()
        faces = detector.detect(img)
        res.latency_ms.append((time.perf_counter() - t0) * 1e3)
        score_image(res, faces, ann, iou)
    return res


def format_heldout_table(results: Sequence[HeldoutResult]) -> str:
    """Markdown: one row per detector — P/R per size bucket, landmark NME, latency."""
    head = "| detector | " + " | ".join(f"R {b} | P {b}" for b, _, _ in BUCKETS) + " | landmark NME | median ms/img |"
    sep = "|---" * (2 + 2 * len(BUCKETS) + 1) + "|"
    lines = [head, sep]

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    for r in results:
        d = r.to_dict()
        cells = []
        for b, _, _ in BUCKETS:
            cells += [f(r.recall(b)), f(r.precision(b))]
        lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {f(d['landmark_nme'])} | "
                     f"{d.get('latency_ms_median', float('nan')):.0f} |")
    counts = results[0] if results else None
    if counts is not None:
        lines.append("")
        lines.append("labelled faces per bucket: " + ", ".join(f"{b}: {counts.n_label.get(b, 0)}" for b, _, _ in BUCKETS))
    return "\n".join(lines)

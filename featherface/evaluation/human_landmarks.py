"""Landmark sets (CUHK: one face per image, human box + 5 landmarks): found rate and NME.

* A face is **found** when the detection of highest IoU among those with score >= ``threshold``
  has IoU >= ``iou`` with the human box (the found rate is found / images).
* **NME** = mean over the five points of the point distance, divided by ``sqrt(w * h)`` of the
  human box, averaged over the found faces (detectors without landmarks: none). **NME-IOD**
  divides by the labelled inter-ocular distance (eye centre to eye centre) instead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from featherface.data.benchmarks import LandmarkAnnotation
from featherface.errors import ConfigError
from featherface.format import ratio, rounded
from featherface.ops.iou import iou_matrix
from featherface.types import Face

__all__ = ["LandmarkSetResult", "score_landmark_set"]


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
        return ratio(self.found, self.images)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(found_rate=rounded(self.found_rate), nme=rounded(self.nme, 5), nme_iod=rounded(self.nme_iod, 5),
                 mean_iou=rounded(self.mean_iou))
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

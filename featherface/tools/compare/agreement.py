"""Agreement of a detector with a reference detector: precision, recall, mean IoU, landmark error.

Faces are matched one-to-one per image by :func:`featherface.ops.matching.greedy_match`; the
counts are pooled over the images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from featherface.errors import ConfigError
from featherface.format import rounded
from featherface.ops.matching import greedy_match
from featherface.types import Face


def landmark_error(face: Face, ref: Face) -> float | None:
    """Mean distance of the five landmarks over ``sqrt(w*h)`` of the reference box; ``None`` if either lacks them."""
    if face.landmarks is None or ref.landmarks is None:
        return None
    a = np.asarray(face.landmarks, dtype=np.float64).reshape(5, 2)
    b = np.asarray(ref.landmarks, dtype=np.float64).reshape(5, 2)
    size = math.sqrt(max(ref.width, 0.0) * max(ref.height, 0.0))
    if size <= 0:
        return None
    return float(np.linalg.norm(a - b, axis=1).mean() / size)


@dataclass
class Agreement:
    """How far one detector agrees with the reference detector over a set of images."""

    matched: int
    found: int
    reference: int
    mean_iou: float | None
    landmark_nme: float | None
    landmark_pairs: int
    landmark_nme_median: float | None = None

    @property
    def precision(self) -> float | None:
        return self.matched / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.reference if self.reference else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "found": self.found,
            "reference_faces": self.reference,
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "mean_iou": rounded(self.mean_iou),
            "landmark_nme": rounded(self.landmark_nme),
            "landmark_nme_median": rounded(self.landmark_nme_median),
            "landmark_pairs": self.landmark_pairs,
        }


def agreement(
    faces_per_image: Sequence[Sequence[Face]],
    ref_per_image: Sequence[Sequence[Face]],
    iou_threshold: float = 0.5,
) -> Agreement:
    """Pooled agreement of ``faces_per_image`` with ``ref_per_image`` (same image order)."""
    if len(faces_per_image) != len(ref_per_image):
        raise ConfigError(f"agreement: {len(faces_per_image)} images vs {len(ref_per_image)} reference images")
    matched = found = ref_n = pairs = 0
    ious: list[float] = []
    errs: list[float] = []
    for faces, refs in zip(faces_per_image, ref_per_image):
        found += len(faces)
        ref_n += len(refs)
        if not faces or not refs:
            continue
        a = np.asarray([f.box for f in faces], dtype=np.float64)
        b = np.asarray([f.box for f in refs], dtype=np.float64)
        for i, j, v in greedy_match(a, b, iou_threshold):
            matched += 1
            ious.append(v)
            e = landmark_error(faces[i], refs[j])
            if e is not None:
                errs.append(e)
                pairs += 1
    return Agreement(
        matched=matched,
        found=found,
        reference=ref_n,
        mean_iou=float(np.mean(ious)) if ious else None,
        landmark_nme=float(np.mean(errs)) if errs else None,
        landmark_pairs=pairs,
        landmark_nme_median=float(np.median(errs)) if errs else None,
    )

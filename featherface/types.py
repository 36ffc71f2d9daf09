"""Result types shared by every detector in the package (ours and the peer adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from featherface.ops.align import CropOptions, align_face  # numpy only: OpenCV loads when a face is aligned


@dataclass(frozen=True)
class Face:
    """One detected face in original-image pixel coordinates.

    ``box`` is ``(x1, y1, x2, y2)``; ``landmarks`` are five ``(x, y)`` points in the order
    left eye, right eye, nose tip, left mouth corner, right mouth corner (as seen in the image,
    the RetinaFace/WIDER convention), or ``None`` for detectors that give none.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 5),
        }
        if self.landmarks is not None:
            d["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]
        return d

    def align(self, image: np.ndarray, size: int = CropOptions.size, margin: float = CropOptions.margin) -> np.ndarray:
        """The aligned ``size`` x ``size`` crop of this face (the ArcFace 5-point template; see
        :func:`featherface.ops.align.align_face`), as face-recognition models expect it."""
        if self.landmarks is None:
            raise ValueError("Face.align needs landmarks; this face has none (its detector gives boxes only)")
        return align_face(image, self.landmarks, size=size, margin=margin)

    @staticmethod
    def from_arrays(box: Sequence[float], score: float, landmarks: np.ndarray | None = None) -> "Face":
        lm = None
        if landmarks is not None:
            lm_arr = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
            lm = tuple((float(x), float(y)) for x, y in lm_arr)
        return Face(box=tuple(float(v) for v in box), score=float(score), landmarks=lm)  # type: ignore[arg-type]


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces: our :class:`~featherface.FaceDetector` and every peer adapter.

    ``image`` is an HxWx3 uint8 BGR numpy array (OpenCV's order) or a path.
    """

    name: str

    def detect(self, image: Any) -> list[Face]:  # pragma: no cover - protocol
        ...


def faces_to_arrays(faces: Sequence[Face]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack faces into ``boxes (N,4)``, ``scores (N,)``, ``landmarks (N,5,2)`` (NaN where absent)."""
    n = len(faces)
    boxes = np.zeros((n, 4), dtype=np.float64)
    scores = np.zeros((n,), dtype=np.float64)
    lms = np.full((n, 5, 2), np.nan, dtype=np.float64)
    for i, f in enumerate(faces):
        boxes[i] = f.box
        scores[i] = f.score
        if f.landmarks is not None:
            lms[i] = np.asarray(f.landmarks, dtype=np.float64)
    return boxes, scores, lms

"""Drawing detections: boxes, scores and the five landmarks."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from featherface.types import Face

# BGR colours of the five landmarks: left eye, right eye, nose, left mouth, right mouth
LANDMARK_COLORS = ((255, 0, 0), (0, 255, 255), (255, 0, 255), (0, 255, 0), (0, 128, 255))


def draw_faces(image: np.ndarray, faces: Sequence[Face], color: tuple[int, int, int] = (0, 0, 255),
               show_scores: bool = True, labels: Sequence[str] | None = None) -> np.ndarray:
    """Return a copy of a BGR image with every face drawn (line widths scale with the image);
    ``labels`` (one per face, e.g. track IDs) are written before the scores."""
    out = image.copy()
    h, w = out.shape[:2]
    t = max(1, round(min(h, w) / 300))
    for i, f in enumerate(faces):
        x1, y1, x2, y2 = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, t)
        if show_scores or labels is not None:
            label = " ".join(([labels[i]] if labels is not None else []) + ([f"{f.score:.2f}"] if show_scores else []))
            scale = max(0.4, t * 0.4)
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            ty = max(th + 2, y1 - 2)
            cv2.rectangle(out, (x1, ty - th - 2), (x1 + tw + 2, ty + 2), color, -1)
            cv2.putText(out, label, (x1 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        if f.landmarks is not None:
            for (x, y), c in zip(f.landmarks, LANDMARK_COLORS):
                cv2.circle(out, (int(round(x)), int(round(y))), t + 1, c, -1)
    return out

"""Drawing detections: boxes, scores and the five landmarks."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import cv2
import numpy as np

from featherface.types import Face

# BGR colours of the five landmarks: left eye, right eye, nose, left mouth, right mouth
LANDMARK_COLORS = ((255, 0, 0), (0, 255, 255), (255, 0, 255), (0, 255, 0), (0, 128, 255))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# a label smaller than this font scale (about 7 px tall) is unreadable: the face gets none
MIN_LABEL_SCALE = 0.3
# a label may cover this fraction of its own area of a neighbouring face, no more (of a label: none)
MAX_LABEL_OVERLAP = 0.1


class Label(NamedTuple):
    """Where one face's label goes: its text, font scale and background rectangle (x1, y1, x2, y2)."""

    index: int
    text: str
    scale: float
    rect: tuple[int, int, int, int]


def _box(face: Face) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    return x1, y1, x2, y2


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def layout_labels(faces: Sequence[Face], texts: Sequence[str], image_shape: tuple[int, ...]) -> list[Label]:
    """The labels worth drawing, most confident face first: each scaled to its box's width (at most
    the size the image's line width calls for) and skipped when it would be unreadably small or
    cover another face or an earlier label. In a crowd a label per face would hide the faces."""
    h = image_shape[0]
    t = max(1, round(min(image_shape[:2]) / 300))
    max_scale = max(0.4, t * 0.4)
    boxes = [_box(f) for f in faces]
    placed: list[Label] = []
    for i in sorted(range(len(faces)), key=lambda k: -faces[k].score):
        if not texts[i]:
            continue
        x1, y1, x2, _ = boxes[i]
        (w1, _), _ = cv2.getTextSize(texts[i], _FONT, 1.0, 1)
        scale = min(max_scale, (x2 - x1 + 2) / max(1, w1))
        if scale < MIN_LABEL_SCALE:
            continue
        (tw, th), _ = cv2.getTextSize(texts[i], _FONT, scale, 1)
        # the neighbours' faces (one overlapping this face is covered by its box already) and labels
        neighbours = [b for j, b in enumerate(boxes) if j != i and not _overlap(b, boxes[i])]
        # above the box (inside it at the image's top); else inside along its top edge
        for ty in (max(th + 2, y1 - 2), y1 + th + 3):
            rect = (x1, ty - th - 2, x1 + tw + 2, min(h, ty + 2))
            area = max(1, (rect[2] - rect[0]) * (rect[3] - rect[1]))
            if (not any(_overlap(rect, o) > MAX_LABEL_OVERLAP * area for o in neighbours)
                    and not any(_overlap(rect, lab.rect) for lab in placed)):
                placed.append(Label(i, texts[i], scale, rect))
                break
    return placed


def draw_faces(image: np.ndarray, faces: Sequence[Face], color: tuple[int, int, int] = (0, 0, 255),
               show_scores: bool = True, labels: Sequence[str] | None = None) -> np.ndarray:
    """Return a copy of a BGR image with every face drawn (line widths scale with the image);
    ``labels`` (one per face, e.g. track IDs) are written before the scores. Every box and landmark
    is drawn; a label only where it fits (see :func:`layout_labels`)."""
    out = image.copy()
    h, w = out.shape[:2]
    t = max(1, round(min(h, w) / 300))
    for f in faces:
        x1, y1, x2, y2 = _box(f)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, t)
        if f.landmarks is not None:
            for (x, y), c in zip(f.landmarks, LANDMARK_COLORS):
                cv2.circle(out, (int(round(x)), int(round(y))), t + 1, c, -1)
    if show_scores or labels is not None:
        texts = [" ".join(([labels[i]] if labels is not None else []) + ([f"{f.score:.2f}"] if show_scores else []))
                 for i, f in enumerate(faces)]
        for lab in layout_labels(faces, texts, out.shape):
            x1, ry1, x2, ry2 = lab.rect
            cv2.rectangle(out, (x1, ry1), (x2, ry2), color, -1)
            cv2.putText(out, lab.text, (x1 + 1, ry2 - 2), _FONT, lab.scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out

"""Occlusion and image-degradation augmentation.

Why: the training photos (Caltech WebFaces) show mostly bare, sharp, frontal faces, while people's
photos show faces behind masks, scarves, hands and microphones, and small faces in soft, noisy,
heavily compressed street shots. A student distilled only on the former reproduces its teacher there
(AP 0.98 against the teacher's own faces) but not on the latter (0.85; see
benchmarks/student_vs_teacher.py). With *online* distillation the teacher looks at the very crop
the student gets, so these augmentations need no labels of their own: the teacher says which
occluded or degraded faces are still faces, and how sure it is.

Both steps follow the contract of :mod:`featherface.data.transforms` (pure functions of
``(image, boxes, landmarks, has_landmarks, rng)`` on uint8 BGR pixels; inputs never modified) and
change only pixels, never the targets: an occluded face is still a face in the same box, and its
hidden points are where they were (as WIDER's labels keep them).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["occlude_faces", "degrade"]

# occluder shapes: a face-mask-like band over nose, mouth and chin; a hand or object (ellipse);
# a bar (scarf, microphone, sign) across the lower face
_SHAPES = ("mask", "ellipse", "bar")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """Mostly the plain colours of masks and cloth (white, pale blue, black, grey), else any colour."""
    plain = ((235, 235, 235), (230, 200, 160), (30, 30, 30), (140, 140, 140), (200, 220, 240))
    if rng.random() < 0.6:
        base = np.asarray(plain[int(rng.integers(len(plain)))], np.float64)
        base = base + rng.uniform(-25, 25, 3)
    else:
        base = rng.uniform(0, 255, 3)
    return tuple(int(v) for v in np.clip(base, 0, 255))


def _face_geometry(box: np.ndarray, points: np.ndarray | None) -> tuple[float, float, float, float, float]:
    """``(x1, x2, top, bottom, centre_x)`` of the lower face: from just below the eyes to the chin.

    With landmarks, the band starts a third of the way from the eye line to the mouth line (the nose
    bridge); without, at 45 % of the box height."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if points is not None:
        eye_y = float(points[:2, 1].mean())
        mouth_y = float(points[3:, 1].mean())
        top = eye_y + 0.35 * max(mouth_y - eye_y, 1.0)
        cx = float(points[2, 0])
    else:
        top = y1 + 0.45 * (y2 - y1)
        cx = 0.5 * (x1 + x2)
    return x1, x2, top, y2, cx


def _draw_occluder(canvas: np.ndarray, box: np.ndarray, points: np.ndarray | None,
                   rng: np.random.Generator) -> None:
    """Paint one occluder over the lower part of one face, in place on ``canvas`` (a private copy)."""
    x1, x2, top, bottom, cx = _face_geometry(box, points)
    w = x2 - x1
    if w < 4 or bottom - top < 2:
        return
    colour = _colour(rng)
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
    if shape == "mask":
        inset = rng.uniform(0.0, 0.12) * w
        sag = rng.uniform(0.0, 0.1) * w
        chin = bottom + rng.uniform(-0.05, 0.08) * (bottom - top)
        poly = np.array([
            [x1 + inset, top + sag], [cx, top], [x2 - inset, top + sag],
            [x2 - inset * 0.5, 0.5 * (top + chin)], [x2 - 0.25 * w, chin], [cx, chin + 0.05 * w],
            [x1 + 0.25 * w, chin], [x1 + inset * 0.5, 0.5 * (top + chin)],
        ])
        cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)
        if rng.random() < 0.5:  # the pleats / seams of a surgical mask
            shade = tuple(int(max(c - 40, 0)) for c in colour)
            for k in (1, 2, 3):
                y = top + k * (chin - top) / 4
                cv2.line(canvas, (int(x1 + inset + 0.1 * w), int(y)), (int(x2 - inset - 0.1 * w), int(y)),
                         shade, max(1, int(w / 40)), cv2.LINE_AA)
    elif shape == "ellipse":
        ex = cx + rng.uniform(-0.25, 0.25) * w
        ey = rng.uniform(top, bottom)
        axes = (max(1, int(rng.uniform(0.25, 0.5) * w)), max(1, int(rng.uniform(0.2, 0.45) * w)))
        cv2.ellipse(canvas, (int(ex), int(ey)), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    else:
        h = rng.uniform(0.15, 0.4) * (bottom - top + 0.3 * w)
        y0 = rng.uniform(top, max(top, bottom - h))
        cv2.rectangle(canvas, (int(x1 - 0.1 * w), int(y0)), (int(x2 + 0.1 * w), int(y0 + h)), colour, -1)
    # sometimes a strap over the cheek to the ear, as masks have
    if shape == "mask" and rng.random() < 0.5:
        cv2.line(canvas, (int(x1), int(top)), (int(x1 + 0.02 * w), int(top - 0.1 * w)), colour,
                 max(1, int(w / 30)), cv2.LINE_AA)
        cv2.line(canvas, (int(x2), int(top)), (int(x2 - 0.02 * w), int(top - 0.1 * w)), colour,
                 max(1, int(w / 30)), cv2.LINE_AA)


def occlude_faces(
    image: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    has_landmarks: np.ndarray,
    rng: np.random.Generator,
    face_prob: float = 0.5,
    min_face_px: float = 8.0,
) -> np.ndarray:
    """Cover the lower part of each face (probability ``face_prob``, faces of ``min_face_px`` or more)
    with a mask-, hand- or scarf-like shape. Returns a new image; boxes and landmarks stay valid."""
    if len(boxes) == 0 or face_prob <= 0:
        return image
    out = None
    for k in range(len(boxes)):
        box = np.asarray(boxes[k], np.float64)
        if min(box[2] - box[0], box[3] - box[1]) < min_face_px or rng.random() >= face_prob:
            continue
        if out is None:
            out = image.copy()
        pts = np.asarray(landmarks[k], np.float64) if bool(has_landmarks[k]) else None
        _draw_occluder(out, box, pts, rng)
    return image if out is None else out


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One or more of: down-and-up sampling (a low-resolution camera), Gaussian blur (focus, motion),
    sensor noise, JPEG compression and grey scale — each drawn independently. Returns a new image."""
    img = image
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        f = float(rng.uniform(1.5, 3.0))
        small = cv2.resize(img, (max(1, int(w / f)), max(1, int(h / f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        sigma = float(rng.uniform(0.5, 1.8))
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.3:
        noise = rng.normal(0.0, float(rng.uniform(3, 12)), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 70))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if rng.random() < 0.1:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return img.copy() if img is image else img

"""In-plane rotation augmentation: landmarks that follow head roll.

Why: the training photos are mostly upright faces, so a network never shown a tilted head learns to
put both eye points at one height and the mouth corners level (about 25 px off on a tilted face in a
shared photo). Turning the crop by a random angle, with the labelled points turned exactly, teaches
points that follow the head; with online distillation the teacher looks at the turned crop itself.

The step follows the contract of :mod:`featherface.data.transforms` (a pure function of
``(image, boxes, landmarks, has_landmarks, rng)``, inputs never modified). A face box keeps its
width and height around its turned centre: detectors and WIDER's annotators draw upright boxes, and
the box of the turned corners would grow by up to 41 % around an unchanged face. Faces whose centre
leaves the picture are dropped; the corners the turn uncovers are filled with ``fill``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["rotate_sample", "random_rotate"]


def rotate_sample(image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray,
                  degrees: float, fill: tuple[int, int, int] = (104, 117, 123)
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn the picture ``degrees`` counter-clockwise (as shown) about its centre, canvas unchanged."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(degrees), 1.0)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    lm = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    has = np.asarray(has_landmarks, bool).reshape(-1)
    rot, shift = m[:, :2].astype(np.float32), m[:, 2].astype(np.float32)
    centre = ((b[:, :2] + b[:, 2:]) / 2.0) @ rot.T + shift
    half = (b[:, 2:] - b[:, :2]) / 2.0
    nb = np.concatenate([centre - half, centre + half], axis=1)
    nlm = lm @ rot.T + shift
    keep = (centre[:, 0] >= 0) & (centre[:, 0] < w) & (centre[:, 1] >= 0) & (centre[:, 1] < h)
    nb = nb[keep]
    np.clip(nb[:, 0::2], 0, w, out=nb[:, 0::2])
    np.clip(nb[:, 1::2], 0, h, out=nb[:, 1::2])
    nlm, nhas = nlm[keep], has[keep]
    nlm[~nhas] = -1.0
    ok = (nb[:, 2] > nb[:, 0]) & (nb[:, 3] > nb[:, 1])
    return out, nb[ok], nlm[ok], nhas[ok]


def random_rotate(image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray,
                  rng: np.random.Generator, max_degrees: float, fill: tuple[int, int, int] = (104, 117, 123)
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rotate_sample` by an angle drawn uniformly from ``[-max_degrees, max_degrees]``."""
    if not (math.isfinite(max_degrees) and max_degrees >= 0):
        raise ValueError(f"max_degrees must be a finite number >= 0, got {max_degrees}")
    return rotate_sample(image, boxes, landmarks, has_landmarks, float(rng.uniform(-max_degrees, max_degrees)), fill)

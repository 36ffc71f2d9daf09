"""Rotated copies of a landmark set: does a detector's landmarks follow head roll?

Why: CUHK's faces are nearly upright, so its NME cannot show a detector that puts level eye points on a
tilted head. Each image is rotated about its centre (the canvas grown to keep every pixel, filled with
the border's pixels), the five human points rotated with it exactly. The face box of the rotated copy
keeps the human box's width and height around the rotated box centre: detectors draw upright boxes, and
the found rule (IoU with that box) and the NME's normalisation (``sqrt(w * h)``) then mean what they
mean on the upright set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from featherface.data.benchmarks import LandmarkAnnotation
from featherface.io.images import load_image

__all__ = ["RotatedFace", "rotate_face", "rotate_image", "rotated_set"]


def _rotation(w: int, h: int, degrees: float) -> tuple[np.ndarray, int, int]:
    """The 2x3 matrix turning a ``w x h`` image about its centre, and the grown canvas size."""
    a = math.radians(degrees)
    cos, sin = abs(math.cos(a)), abs(math.sin(a))
    nw, nh = int(math.ceil(w * cos + h * sin)), int(math.ceil(w * sin + h * cos))
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return m, nw, nh


def _move(m: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(landmarks, np.float64).reshape(5, 2)
    moved = pts @ m[:, :2].T + m[:, 2]
    b = np.asarray(box, np.float64).reshape(4)
    c = np.array([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]) @ m[:, :2].T + m[:, 2]
    half = np.array([b[2] - b[0], b[3] - b[1]]) / 2.0
    return np.concatenate([c - half, c + half]), moved


def rotate_image(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned ``degrees`` counter-clockwise (as shown) on a canvas that keeps every pixel."""
    m, nw, nh = _rotation(image.shape[1], image.shape[0], degrees)
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def rotate_face(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray, degrees: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rotate_image`, with the face's box and points moved with it."""
    m, _, _ = _rotation(image.shape[1], image.shape[0], degrees)
    return (rotate_image(image, degrees), *_move(m, box, landmarks))


@dataclass(frozen=True)
class RotatedFace:
    """One rotated copy: where its image comes from, the angle, and its box and points."""

    image: Path
    degrees: float
    box: np.ndarray
    landmarks: np.ndarray

    def load(self) -> np.ndarray:
        return rotate_image(load_image(self.image), self.degrees)


def rotated_set(annotations: Sequence[LandmarkAnnotation], degrees: float) -> list[RotatedFace]:
    """Two copies of every face, turned ``+degrees`` and ``-degrees`` (each image decoded once for its size,
    as the detector will see it)."""
    out: list[RotatedFace] = []
    for ann in annotations:
        h, w = load_image(ann.image).shape[:2]
        for d in (degrees, -degrees):
            box, lms = _move(_rotation(w, h, d)[0], ann.box, ann.landmarks)
            out.append(RotatedFace(image=ann.image, degrees=d, box=box, landmarks=lms))
    return out

"""Flip test: detect on an image and on its mirror, and merge the two sets of faces with NMS.

Used by ``featherface eval --images ... --flip`` when the detector has no flip option of its own.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from featherface.evaluation.predictions import faces_to_prediction
from featherface.ops.nms import nms_numpy


def flip_test(detector: Any, image: np.ndarray, nms_threshold: float) -> np.ndarray:
    """Detect on the image and its mirror, un-mirror, merge with NMS; ``(N, 5)`` ``x y w h score``.

    ``detector`` is anything with ``detect(image) -> list[Face]``. The mirror of ``x`` is ``W - x``
    in continuous pixel coordinates, so ``(x1, x2)`` maps back to ``(W - x2, W - x1)``.
    """
    w = image.shape[1]
    a = faces_to_prediction(detector.detect(image))
    b = faces_to_prediction(detector.detect(cv2.flip(image, 1)))
    if b.shape[0]:
        b[:, 0] = w - (b[:, 0] + b[:, 2])  # x1' = W - x2
    both = np.concatenate([a, b], axis=0)
    if both.shape[0] == 0:
        return both
    xyxy = both[:, :4].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    keep = nms_numpy(xyxy, both[:, 4], nms_threshold)
    return both[keep]

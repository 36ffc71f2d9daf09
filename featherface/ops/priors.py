"""Priors and decoding against them, in numpy: the inference side of :mod:`featherface.ops.anchors`.

Why numpy: the detector's whole path from raw outputs to faces runs without torch, so
``FaceDetector()`` on the onnxruntime backend starts without importing it (~2.5 s of a one-photo
CLI run). :mod:`featherface.ops.anchors` (training, export checks) builds its tensors from
:func:`prior_array`, so both sides share one definition of the priors.

Two square priors per cell per level: min sizes [[16, 32], [64, 128], [256, 512]] at steps
[8, 16, 32]. Priors are ``(cx, cy, w, h)`` normalised by the (padded) input width and height, in
the order the heads flatten their outputs: level, row, column, prior. At 640x640 there are
2*(80^2 + 40^2 + 20^2) = 16,800 of them. Feature-map sizes follow the backbone's stride-2 convs,
``ceil(H / step)``; the detector pads inputs to a multiple of 32 so every level tiles exactly.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

DEFAULT_MIN_SIZES: tuple[tuple[int, ...], ...] = ((16, 32), (64, 128), (256, 512))
DEFAULT_STEPS: tuple[int, ...] = (8, 16, 32)
DEFAULT_VARIANCES: tuple[float, float] = (0.1, 0.2)


def feature_map_sizes(height: int, width: int, steps: Sequence[int] = DEFAULT_STEPS) -> list[tuple[int, int]]:
    """``(rows, cols)`` of each level for an input of ``height x width``."""
    return [(math.ceil(height / s), math.ceil(width / s)) for s in steps]


def num_priors(height: int, width: int, min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES,
               steps: Sequence[int] = DEFAULT_STEPS) -> int:
    return sum(r * c * len(m) for (r, c), m in zip(feature_map_sizes(height, width, steps), min_sizes))


def prior_array(height: int, width: int, min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES,
                steps: Sequence[int] = DEFAULT_STEPS, clip: bool = False) -> np.ndarray:
    """Priors ``(N, 4)`` float64 as normalised ``(cx, cy, w, h)`` for an ``height x width`` input."""
    if height <= 0 or width <= 0:
        raise ValueError(f"input size must be positive, got {height}x{width}")
    if len(min_sizes) != len(steps):
        raise ValueError("min_sizes and steps must have one entry per level")
    out = []
    for (rows, cols), sizes, step in zip(feature_map_sizes(height, width, steps), min_sizes, steps):
        cy = (np.arange(rows, dtype=np.float64) + 0.5) * step / height
        cx = (np.arange(cols, dtype=np.float64) + 0.5) * step / width
        k = len(sizes)
        s = np.asarray(sizes, dtype=np.float64)
        level = np.empty((rows, cols, k, 4), dtype=np.float64)
        level[..., 0] = cx[None, :, None]
        level[..., 1] = cy[:, None, None]
        level[..., 2] = s / width
        level[..., 3] = s / height
        out.append(level.reshape(-1, 4))
    priors = np.concatenate(out, 0)
    return np.clip(priors, 0.0, 1.0, out=priors) if clip else priors


class PriorGrid:
    """Cached float32 priors of one anchor configuration, per input size (numpy :class:`PriorBox`)."""

    def __init__(self, min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES, steps: Sequence[int] = DEFAULT_STEPS):
        self.min_sizes = tuple(tuple(int(v) for v in m) for m in min_sizes)
        self.steps = tuple(int(s) for s in steps)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, height: int, width: int) -> np.ndarray:
        key = (int(height), int(width))
        if key not in self._cache:
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = prior_array(height, width, self.min_sizes, self.steps).astype(np.float32)
        return self._cache[key]


def decode_box_array(loc: np.ndarray, priors: np.ndarray, variances: Sequence[float] = DEFAULT_VARIANCES) -> np.ndarray:
    """Deltas ``(..., 4)`` against priors -> boxes x1y1x2y2 (normalised): :func:`featherface.ops.boxes.decode_boxes`
    for arrays."""
    c = priors[..., :2] + loc[..., :2] * np.float32(variances[0]) * priors[..., 2:]
    wh = priors[..., 2:] * np.exp(loc[..., 2:] * np.float32(variances[1]))
    return np.concatenate([c - wh / 2, c + wh / 2], axis=-1)


def decode_landmark_array(pre: np.ndarray, priors: np.ndarray, variances: Sequence[float] = DEFAULT_VARIANCES) -> np.ndarray:
    """Landmark offsets ``(..., 10)`` -> five normalised x,y points: :func:`featherface.ops.boxes.decode_landmarks`
    for arrays."""
    t = pre.reshape(*pre.shape[:-1], 5, 2)
    pts = priors[..., None, :2] + t * np.float32(variances[0]) * priors[..., None, 2:]
    return pts.reshape(pre.shape)


__all__ = ["DEFAULT_MIN_SIZES", "DEFAULT_STEPS", "DEFAULT_VARIANCES", "PriorGrid", "decode_box_array",
           "decode_landmark_array", "feature_map_sizes", "num_priors", "prior_array"]

"""Prior (anchor) boxes of RetinaFace-style detectors.

Two square priors per cell per level: min sizes [[16, 32], [64, 128], [256, 512]] at steps
[8, 16, 32]. Priors are ``(cx, cy, w, h)`` normalised by the (padded) input width and height, in
the order the heads flatten their outputs: level, row, column, prior. At 640x640 there are
2*(80^2 + 40^2 + 20^2) = 16,800 of them. Feature-map sizes follow the backbone's stride-2 convs,
``ceil(H / step)``; the detector pads inputs to a multiple of 32 so every level tiles exactly.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

DEFAULT_MIN_SIZES: tuple[tuple[int, ...], ...] = ((16, 32), (64, 128), (256, 512))
DEFAULT_STEPS: tuple[int, ...] = (8, 16, 32)


def feature_map_sizes(height: int, width: int, steps: Sequence[int] = DEFAULT_STEPS) -> list[tuple[int, int]]:
    """``(rows, cols)`` of each level for an input of ``height x width``."""
    return [(math.ceil(height / s), math.ceil(width / s)) for s in steps]


def num_priors(height: int, width: int, min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES,
               steps: Sequence[int] = DEFAULT_STEPS) -> int:
    return sum(r * c * len(m) for (r, c), m in zip(feature_map_sizes(height, width, steps), min_sizes))


def generate_priors(
    height: int,
    width: int,
    min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES,
    steps: Sequence[int] = DEFAULT_STEPS,
    clip: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Priors ``(N, 4)`` as normalised ``(cx, cy, w, h)`` for an ``height x width`` input (vectorised)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"input size must be positive, got {height}x{width}")
    if len(min_sizes) != len(steps):
        raise ValueError("min_sizes and steps must have one entry per level")
    out = []
    for (rows, cols), sizes, step in zip(feature_map_sizes(height, width, steps), min_sizes, steps):
        cy = (torch.arange(rows, device=device, dtype=torch.float64) + 0.5) * step / height
        cx = (torch.arange(cols, device=device, dtype=torch.float64) + 0.5) * step / width
        yy, xx = torch.meshgrid(cy, cx, indexing="ij")  # (rows, cols)
        k = len(sizes)
        s = torch.tensor(sizes, device=device, dtype=torch.float64)
        level = torch.stack(
            [
                xx[..., None].expand(rows, cols, k),
                yy[..., None].expand(rows, cols, k),
                (s / width).expand(rows, cols, k),
                (s / height).expand(rows, cols, k),
            ],
            dim=-1,
        )
        out.append(level.reshape(-1, 4))
    priors = torch.cat(out, 0)
    if clip:
        priors = priors.clamp_(0.0, 1.0)
    return priors.to(dtype)


class PriorBox:
    """Cached prior generator for a fixed anchor configuration (torchvision's AnchorGenerator idea)."""

    def __init__(self, min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES, steps: Sequence[int] = DEFAULT_STEPS,
                 clip: bool = False):
        self.min_sizes = tuple(tuple(m) for m in min_sizes)
        self.steps = tuple(steps)
        self.clip = clip
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def __call__(self, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
        key = (int(height), int(width), str(device))
        if key not in self._cache:
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = generate_priors(height, width, self.min_sizes, self.steps, self.clip, device)
        return self._cache[key]

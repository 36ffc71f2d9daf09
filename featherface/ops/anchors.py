"""Prior (anchor) boxes of RetinaFace-style detectors as torch tensors (training, export checks).

The priors are defined once, in numpy, by :func:`featherface.ops.priors.prior_array` (order,
sizes, normalisation: see there); this module hands them to torch code on its device and dtype.
"""

from __future__ import annotations

from typing import Sequence

import torch

from featherface.ops.priors import DEFAULT_MIN_SIZES, DEFAULT_STEPS, feature_map_sizes, num_priors, prior_array

__all__ = ["DEFAULT_MIN_SIZES", "DEFAULT_STEPS", "PriorBox", "feature_map_sizes", "generate_priors", "num_priors"]


def generate_priors(
    height: int,
    width: int,
    min_sizes: Sequence[Sequence[int]] = DEFAULT_MIN_SIZES,
    steps: Sequence[int] = DEFAULT_STEPS,
    clip: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Priors ``(N, 4)`` as normalised ``(cx, cy, w, h)`` for an ``height x width`` input."""
    return torch.from_numpy(prior_array(height, width, min_sizes, steps, clip)).to(device=device, dtype=dtype)


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

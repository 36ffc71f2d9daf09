"""Face anonymisation: blur, pixelate or fill each face region of an image.

Strength scales with the face, not the image: a fixed kernel leaves big faces recognisable and
wipes small ones into their surroundings. ``blur`` keeps about 2 cells of information across a
face (a smooth shading: no feature survives) and ``pixelate`` 5 blocks — below what a person needs to recognise one. A detector may still
see a face-shaped blob there (or a face it missed before, now that its neighbours are covered), so
:func:`featherface.inference.anonymize.anonymize_image` detects again on its own output and covers
what it finds, pass after pass; the tests check that the shipped detector then finds nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["ANONYMIZE_MODES", "ANONYMIZE_SHAPES", "AnonymizeOptions", "MARGIN", "MARGIN_RANGE", "PASSES_RANGE",
           "expand_box", "anonymize"]

ANONYMIZE_MODES = ("blur", "pixelate", "fill")
ANONYMIZE_SHAPES = ("box", "ellipse")
MARGIN_RANGE = (0.0, 2.0)
PASSES_RANGE = (1, 10)  # detect-and-cover rounds the blur verb accepts (anonymize_image: any >= 1)


@dataclass(frozen=True)
class AnonymizeOptions:
    """How faces are covered: the one home of the defaults of :func:`anonymize`,
    :func:`~featherface.inference.anonymize.anonymize_image`, ``featherface blur`` (its flags) and
    the service's ``/v1/blur`` (its query options). Checked where used, not here."""

    mode: str = "blur"  # one of ANONYMIZE_MODES
    shape: str = "ellipse"  # one of ANONYMIZE_SHAPES: the face's oval inside the expanded box, or the box
    # how far a covered region grows beyond the face box on every side, as a fraction of its size
    # (hair, chin, ears), within MARGIN_RANGE
    margin: float = 0.3
    color: tuple[int, int, int] = (0, 0, 0)  # BGR of mode="fill"
    passes: int = 3  # detect-and-cover rounds of anonymize_image (anonymize covers once)

    def kwargs(self) -> dict[str, Any]:
        """The keywords of ``anonymize_image(image, detector, **...)``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "AnonymizeOptions":
        return dataclasses.replace(self, **changes)


MARGIN = AnonymizeOptions.margin  # the name callers imported before the dataclass


def expand_box(box: Sequence[float], margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` (x1, y1, x2, y2) grown by ``margin`` x its size on every side, as whole pixels inside the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = margin * (x2 - x1), margin * (y2 - y1)
    return (max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my))),
            min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my))))


def _boxes(faces: Any) -> np.ndarray:
    if isinstance(faces, np.ndarray):
        arr = faces.astype(np.float64).reshape(-1, faces.shape[-1] if faces.ndim > 1 else 4)[:, :4]
    else:
        arr = np.asarray([getattr(f, "box", f) for f in faces], dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(arr).all():
        raise ValueError("anonymize: face boxes must be finite")
    return arr


def _cover(region: np.ndarray, mode: str, color: Sequence[int]) -> np.ndarray:
    import cv2  # on use: ``featherface --help`` imports this module (blur's --mode choices)

    h, w = region.shape[:2]
    if mode == "fill":
        out = np.empty_like(region)
        out[...] = np.asarray(color, dtype=region.dtype)[: region.shape[2]] if region.ndim == 3 else color[0]
        return out
    cells = 5 if mode == "pixelate" else 2  # information left across the face
    small = cv2.resize(region, (max(1, round(w * cells / max(w, h))), max(1, round(h * cells / max(w, h)))),
                       interpolation=cv2.INTER_AREA)
    if mode == "pixelate":
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    # blur: the coarse image smoothly upsampled, then blurred again so no cell edge remains
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = max(3, (min(w, h) // 2) | 1)
    return cv2.GaussianBlur(up, (k, k), 0)


def anonymize(image: np.ndarray, faces: Any, mode: str = AnonymizeOptions.mode, shape: str = AnonymizeOptions.shape,
              margin: float = AnonymizeOptions.margin, color: Sequence[int] = AnonymizeOptions.color) -> np.ndarray:
    """A copy of ``image`` with every face covered.

    Args:
        image: HxWx3 (or HxW) uint8 array.
        faces: :class:`~featherface.types.Face` objects, or an ``(N, >=4)`` array of x1 y1 x2 y2 boxes.
        mode: ``"blur"``, ``"pixelate"`` or ``"fill"`` (with ``color``, BGR).
        shape: ``"ellipse"`` (the face's oval, inside the expanded box) or ``"box"``.
        margin: growth of each box on every side, as a fraction of its size (hair, chin, ears).
    """
    import cv2  # on use: ``featherface --help`` imports this module (blur's --mode choices)

    if mode not in ANONYMIZE_MODES:
        raise ValueError(f"anonymize: mode must be one of {', '.join(ANONYMIZE_MODES)}, got {mode!r}")
    if shape not in ANONYMIZE_SHAPES:
        raise ValueError(f"anonymize: shape must be one of {', '.join(ANONYMIZE_SHAPES)}, got {shape!r}")
    margin = float(margin)
    if not (MARGIN_RANGE[0] <= margin <= MARGIN_RANGE[1]):
        raise ValueError(f"anonymize: margin must be in [{MARGIN_RANGE[0]:g}, {MARGIN_RANGE[1]:g}], got {margin}")
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError("anonymize: image must be a non-empty HxW or HxWxC numpy array")
    out = image.copy()
    h, w = image.shape[:2]
    for box in _boxes(faces):
        x1, y1, x2, y2 = expand_box(box, margin, w, h)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        region = out[y1:y2, x1:x2]
        covered = _cover(region, mode, color)
        if shape == "box":
            out[y1:y2, x1:x2] = covered
            continue
        mask = np.zeros(region.shape[:2], np.uint8)
        rh, rw = mask.shape
        cv2.ellipse(mask, (rw // 2, rh // 2), (max(1, rw // 2), max(1, rh // 2)), 0, 0, 360, 255, -1)
        sel = mask.astype(bool)
        region[sel] = covered[sel]
    return out

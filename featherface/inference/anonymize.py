"""Detect-and-cover: anonymise every face a detector can find in an image.

One pass covers the faces found; a second pass on the covered image catches what the first one
left findable (a blob the detector still takes for a face, or a face it missed until its
neighbours were covered). Passes stop as soon as one finds nothing.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from featherface.ops.anonymize import AnonymizeOptions, anonymize
from featherface.types import Detector, Face

__all__ = ["anonymize_image"]


_D = AnonymizeOptions()  # the defaults' one home


def anonymize_image(image: np.ndarray, detector: Detector, mode: str = _D.mode, shape: str = _D.shape,
                    margin: float = _D.margin, color: Sequence[int] = _D.color, passes: int = _D.passes,
                    faces: Sequence[Face] | None = None) -> tuple[np.ndarray, list[Face]]:
    """``(anonymised copy, faces covered in the first pass)``; the options are those of
    :class:`~featherface.ops.anonymize.AnonymizeOptions` (``**options.kwargs()``).

    ``faces``: the faces already detected on ``image`` (spares the first detection, e.g. when the
    caller also writes them out); ``passes``: at most this many detect-and-cover rounds (>= 1).
    """
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 1:
        raise ValueError(f"passes must be an integer >= 1, got {passes!r}")
    first = list(detector.detect(image)) if faces is None else list(faces)
    out, found = image, first
    for i in range(passes):
        if not found:
            break
        out = anonymize(out, found, mode=mode, shape=shape, margin=margin, color=color)
        if i + 1 < passes:
            found = list(detector.detect(out))
    return (out if out is not image else image.copy()), first

"""OpenCV's Viola-Jones Haar cascade (``haarcascade_frontalface_default.xml``): the classical baseline.

Boxes only, no landmarks. The score is the cascade's last-stage weight from
``detectMultiScale3(..., outputRejectLevels=True)``: not a probability, but monotone in
confidence, which is what ranking (AP) needs; ``score_threshold=None`` keeps every detection that
survives ``min_neighbors`` grouping.

OpenCV 5 moved ``CascadeClassifier`` and the cascade files out of the main ``opencv-python``
wheels; with such a build the adapter raises :class:`PeerUnavailableError` saying so (install an
OpenCV 4.x wheel, or pass a cascade file with ``haar:PATH`` to an OpenCV that still has it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from featherface.errors import ConfigError
from featherface.io.images import load_image
from featherface.peers.base import PeerUnavailableError, check_input_size, faces_from_rows, fit_input
from featherface.types import Face

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def default_cascade_path() -> Path | None:
    """The frontal-face cascade shipped with the OpenCV wheel, if this wheel ships cascades."""
    base = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not base:
        return None
    p = Path(base) / CASCADE_FILE
    return p if p.is_file() else None


class HaarCascadeDetector:
    """Haar-cascade face detector satisfying :class:`featherface.types.Detector`.

    Args:
        cascade_path: a cascade ``.xml``; ``None`` takes the one shipped with OpenCV.
        score_threshold: minimum last-stage weight, or ``None`` for no filtering.
        scale_factor: pyramid step of ``detectMultiScale`` (1.1 = OpenCV's default).
        min_neighbors: overlapping raw hits needed to keep a face (the cascade's confidence knob).
        min_size: smallest face searched, in pixels of the (possibly resized) image.
        input_size: ``None`` = original size, N = longer side scaled to N first (faster).
        equalize: histogram-equalise the grey image first (the classic recipe).
        name: label used in comparisons.
        cascade: a ready ``CascadeClassifier``-like object (tests pass a fake).
    """

    supports_input_size = True
    gives_landmarks = False

    def __init__(
        self,
        cascade_path: str | os.PathLike[str] | None = None,
        score_threshold: float | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        input_size: int | None = None,
        equalize: bool = True,
        name: str = "haar",
        cascade: Any | None = None,
    ):
        self.name = name
        if scale_factor <= 1.0:
            raise ConfigError(f"scale_factor must be > 1, got {scale_factor}")
        if min_neighbors < 0 or min_size < 1:
            raise ConfigError("min_neighbors must be >= 0 and min_size >= 1")
        self.score_threshold = None if score_threshold is None else float(score_threshold)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.input_size = check_input_size(input_size)
        self.equalize = bool(equalize)
        if cascade is None:
            cls = getattr(cv2, "CascadeClassifier", None)
            if cls is None:
                raise PeerUnavailableError(
                    f"{name}: this OpenCV build ({cv2.__version__}) has no CascadeClassifier (OpenCV 5 moved Haar "
                    "cascades out of the main wheel); install opencv-python-headless<5 to compare against it"
                )
            path = Path(cascade_path).expanduser() if cascade_path else default_cascade_path()
            if path is None or not path.is_file():
                raise PeerUnavailableError(
                    f"{name}: cascade file {path or CASCADE_FILE} not found "
                    f"(this OpenCV wheel ships none; pass haar:PATH/{CASCADE_FILE})"
                )
            cascade = cls(str(path))
            if cascade.empty():
                raise PeerUnavailableError(f"{name}: {path} is not a loadable cascade file")
            self.cascade_path: Path | None = path
        else:
            self.cascade_path = Path(cascade_path) if cascade_path else None
        self.cascade = cascade

    def describe_input(self) -> str:
        """How images are sized for the cascade (for comparison tables)."""
        return "original" if self.input_size is None else f"longer side {self.input_size}"

    def detect(self, image: Any) -> list[Face]:
        """Faces in one image (path or HxWx3 BGR array), original pixels, best first; no landmarks."""
        img = load_image(image)
        h, w = img.shape[:2]
        small, s = fit_input(img, self.input_size)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self.equalize:
            grey = cv2.equalizeHist(grey)
        rects, _levels, weights = self.cascade.detectMultiScale3(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        return self.rects_to_faces(rects, weights, s, w, h, self.score_threshold)

    @staticmethod
    def rects_to_faces(
        rects: Any, weights: Any, scale: float, width: int, height: int, score_threshold: float | None = None
    ) -> list[Face]:
        """``x, y, w, h`` rectangles + weights (resized-image pixels) -> faces in original pixels."""
        r = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        if r.shape[0] == 0:
            return []
        sc = np.asarray(weights, dtype=np.float64).reshape(-1)
        if sc.size != r.shape[0]:
            sc = np.ones(r.shape[0])
        if score_threshold is not None:
            keep = sc >= score_threshold
            r, sc = r[keep], sc[keep]
        boxes = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], axis=1) / scale
        return faces_from_rows(boxes, sc, None, width, height)

    def __repr__(self) -> str:
        return f"HaarCascadeDetector(name={self.name!r}, cascade={str(self.cascade_path)!r}, min_neighbors={self.min_neighbors})"

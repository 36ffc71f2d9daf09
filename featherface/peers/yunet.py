"""YuNet (libfacedetection.train, MIT) through OpenCV's ``cv2.FaceDetectorYN``.

OpenCV does YuNet's decoding, score filtering and NMS; this adapter only feeds it the image at
the right size and maps its rows back to original pixels. A row is
``x, y, w, h, 5 x (x, y) landmarks, score``; YuNet's landmark order is *right eye, left eye,
nose tip, right mouth corner, left mouth corner* of the person, i.e. as seen in the image:
eye with the smaller x first, then the other eye, nose, mouth corner with the smaller x, the
other mouth corner. That is exactly our order (left eye, right eye, nose, left mouth, right mouth
as seen in the image), so :data:`YUNET_TO_OURS` is the identity (verified on real photos in
``tests/peers``).

Dynamic models (``yunet_*_dynamic.onnx``) run at the original size, or with the longer side
scaled to ``input_size``. Fixed-size models (``yunet_n_640_640.onnx``) get the image letterboxed
(aspect kept, padded bottom/right) into their input and the results scaled back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from featherface.errors import ConfigError
from featherface.inference.backends import make_session
from featherface.io.images import letterbox, load_image, quiet_opencv
from featherface.peers.base import (
    PeerUnavailableError,
    check_input_size,
    check_threshold,
    faces_from_rows,
    fit_input,
    resolve_model_file,
)
from featherface.types import Face

#: YuNet landmark index -> our landmark index order (identity, see the module docstring)
YUNET_TO_OURS: tuple[int, ...] = (0, 1, 2, 3, 4)

DEFAULT_SCORE = 0.9  # OpenCV's YuNet demo default
DEFAULT_NMS = 0.3
DEFAULT_TOP_K = 5000

_FIXED_NAME = re.compile(r"_(\d+)_(\d+)\.onnx$", re.IGNORECASE)


def fixed_input_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of a fixed-size YuNet file, ``None`` for a dynamic one.

    Reads the input shape with onnxruntime when it is installed, else trusts a ``_W_H.onnx``
    file-name suffix (the libfacedetection naming).
    """
    try:
        shape = make_session(path).get_inputs()[0].shape
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            return int(w), int(h)
        return None
    except Exception:  # no onnxruntime, or a file it cannot read (OpenCV will report that): trust the name
        pass
    m = _FIXED_NAME.search(path.name)
    return (int(m.group(1)), int(m.group(2))) if m else None


class YuNetDetector:
    """YuNet face detector (boxes + 5 landmarks) satisfying :class:`featherface.types.Detector`.

    Args:
        model_path: the ``.onnx`` file; ``None`` takes ``<peers>/yunet/yunet_n_dynamic.onnx``.
        score_threshold: minimum score (OpenCV demo: 0.9; WIDER evaluation: 0.02).
        nms_threshold: NMS IoU threshold of OpenCV's post-processing.
        top_k: candidates kept before NMS.
        input_size: dynamic models only: ``None`` = original size, N = longer side scaled to N.
        fixed_size: ``(width, height)`` of a fixed-input model; ``"auto"`` reads it from the file.
        name: label used in comparisons.
        factory: builds the OpenCV object (tests pass a fake); defaults to ``cv2.FaceDetectorYN.create``.
    """

    supports_input_size = True
    gives_landmarks = True

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        score_threshold: float = DEFAULT_SCORE,
        nms_threshold: float = DEFAULT_NMS,
        top_k: int = DEFAULT_TOP_K,
        input_size: int | None = None,
        fixed_size: tuple[int, int] | None | str = "auto",
        name: str = "yunet",
        factory: Callable[..., Any] | None = None,
    ):
        self.name = name
        self.score_threshold = check_threshold("score_threshold", score_threshold)
        self.nms_threshold = check_threshold("nms_threshold", nms_threshold, low_open=True)
        if int(top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        self.input_size = check_input_size(input_size)
        if factory is None:
            self.model_path: Path | None = resolve_model_file(model_path, "yunet/yunet_n_dynamic.onnx", name)
            create = getattr(cv2, "FaceDetectorYN", None)
            if create is None:
                raise PeerUnavailableError(f"{name}: this OpenCV build has no cv2.FaceDetectorYN (needs OpenCV >= 4.5.4)")
            factory = create.create
        else:
            self.model_path = Path(model_path) if model_path else None
        if fixed_size == "auto":
            fixed_size = fixed_input_size(self.model_path) if self.model_path is not None and self.model_path.is_file() else None
        self.fixed_size: tuple[int, int] | None = tuple(fixed_size) if fixed_size else None  # type: ignore[assignment]
        if self.fixed_size is not None and self.input_size is not None and self.input_size != max(self.fixed_size):
            raise ConfigError(
                f"{name}: {self.model_path} has a fixed {self.fixed_size[0]}x{self.fixed_size[1]} input; "
                "input_size cannot be changed (use a *_dynamic.onnx model)"
            )
        if self.fixed_size is not None:
            self.supports_input_size = False
        init_size = self.fixed_size or (320, 320)
        try:
            with quiet_opencv(keep_errors=True):
                self._det = factory(str(self.model_path or ""), "", init_size, self.score_threshold,
                                    self.nms_threshold, int(top_k))
        except cv2.error as exc:
            msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
            raise PeerUnavailableError(f"{name}: OpenCV cannot load {self.model_path}: {msg}") from None
        self._size: tuple[int, int] | None = None

    def describe_input(self) -> str:
        """How images are sized for the network (for comparison tables)."""
        if self.fixed_size is not None:
            return f"{self.fixed_size[0]}x{self.fixed_size[1]} letterbox"
        return "original" if self.input_size is None else f"longer side {self.input_size}"

    def _prepare(self, img: np.ndarray) -> tuple[np.ndarray, float]:
        if self.fixed_size is not None:
            return letterbox(img, *self.fixed_size)
        return fit_input(img, self.input_size)

    def detect(self, image: Any) -> list[Face]:
        """Faces in one image (path or HxWx3 BGR array), original pixels, best first."""
        img = load_image(image)
        h, w = img.shape[:2]
        inp, s = self._prepare(img)
        size = (int(inp.shape[1]), int(inp.shape[0]))
        with quiet_opencv(keep_errors=True):
            if size != self._size:
                self._det.setInputSize(size)
                self._size = size
            _, rows = self._det.detect(inp)
        return self.rows_to_faces(rows, s, w, h)

    @staticmethod
    def rows_to_faces(rows: np.ndarray | None, scale: float, width: int, height: int) -> list[Face]:
        """Map ``FaceDetectorYN`` rows (input pixels) to :class:`Face` objects in original pixels."""
        if rows is None or len(rows) == 0:
            return []
        r = np.asarray(rows, dtype=np.float64).reshape(-1, 15)
        boxes = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], axis=1) / scale
        lms = r[:, 4:14].reshape(-1, 5, 2)[:, list(YUNET_TO_OURS)] / scale
        return faces_from_rows(boxes, r[:, 14], lms, width, height)

    def __repr__(self) -> str:
        return (f"YuNetDetector(name={self.name!r}, model={str(self.model_path)!r}, score_threshold={self.score_threshold}, "
                f"input_size={self.input_size}, fixed_size={self.fixed_size})")

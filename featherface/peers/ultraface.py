"""Ultra-Light-Fast-Generic-Face-Detector-1MB ("UltraFace", Linzaer, MIT) through onnxruntime.

UltraFace is an SSD-style detector without landmarks. Its released ONNX files come in two kinds:

* ``*_without_postprocessing.onnx`` (RFB-320, slim-320): outputs ``scores (1, N, 2)`` (softmax,
  column 1 = face) and ``boxes (1, N, 4)`` *deltas* over the model's own prior boxes, which we
  generate (:func:`ultraface_priors`) and decode (:func:`decode_ultraface`);
* ``version-RFB-640.onnx``: the same two outputs but boxes already decoded to normalised corners
  ``x1 y1 x2 y2`` (the priors are baked into the graph). NMS is never in the graph.

Pre-processing follows the upstream demo: resize (stretch, no letterbox) to the model's input
(320x240 or 640x480), BGR -> RGB, ``(x - 127) / 128``, NCHW. Normalised boxes are then scaled by
the original width and height, so stretching needs no extra bookkeeping.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError
from featherface.io.images import load_image
from featherface.ops.nms import nms_numpy
from featherface.peers.base import (
    PeerUnavailableError,
    check_threshold,
    faces_from_rows,
    onnxruntime_session,
    resolve_model_file,
    shape_hint,
)
from featherface.types import Face

STRIDES: tuple[int, ...] = (8, 16, 32, 64)
MIN_BOXES: tuple[tuple[int, ...], ...] = ((10, 16, 24), (32, 48), (64, 96), (128, 192, 256))
CENTER_VARIANCE = 0.1
SIZE_VARIANCE = 0.2
IMAGE_MEAN = 127.0
IMAGE_STD = 128.0

DEFAULT_SCORE = 0.7  # the upstream demo's threshold
DEFAULT_NMS = 0.3
DEFAULT_TOP_K = 750
PRE_NMS_TOP_K = 5000


def ultraface_priors(
    width: int,
    height: int,
    strides: Sequence[int] = STRIDES,
    min_boxes: Sequence[Sequence[int]] = MIN_BOXES,
) -> np.ndarray:
    """UltraFace's prior boxes ``(N, 4)`` as normalised ``cx, cy, w, h``, in the model's output order.

    Per level (stride ``s``): a ``ceil(H/s) x ceil(W/s)`` grid, row-major, and at every cell one
    prior per ``min_box`` of that level; centres at ``(i + 0.5) / grid_width`` (upstream divides
    by the grid size, not by ``W / s``: they differ where ``s`` does not divide the side, e.g.
    240 / 64); sizes ``min_box / W`` and ``min_box / H``; everything clipped to [0, 1]. For 320x240 this gives 4,420 priors, for 640x480 17,640, matching the released files.
    """
    if len(strides) != len(min_boxes):
        raise ConfigError("strides and min_boxes must have one entry per level")
    out: list[np.ndarray] = []
    for stride, sizes in zip(strides, min_boxes):
        fw, fh = math.ceil(width / stride), math.ceil(height / stride)
        # upstream's shrinkage is image_size / feature_map_size, so centres are (i + 0.5) / fw
        cx = (np.arange(fw, dtype=np.float64) + 0.5) / fw
        cy = (np.arange(fh, dtype=np.float64) + 0.5) / fh
        gy, gx = np.meshgrid(cy, cx, indexing="ij")  # (fh, fw): row-major over (j, i)
        k = len(sizes)
        level = np.empty((fh, fw, k, 4), dtype=np.float64)
        level[..., 0] = gx[:, :, None]
        level[..., 1] = gy[:, :, None]
        level[..., 2] = np.asarray(sizes, dtype=np.float64) / width
        level[..., 3] = np.asarray(sizes, dtype=np.float64) / height
        out.append(level.reshape(-1, 4))
    return np.clip(np.concatenate(out, axis=0), 0.0, 1.0)


def decode_ultraface(
    deltas: np.ndarray,
    priors: np.ndarray,
    center_variance: float = CENTER_VARIANCE,
    size_variance: float = SIZE_VARIANCE,
) -> np.ndarray:
    """SSD box decoding: deltas ``(N, 4)`` over priors ``(N, 4) cx cy w h`` -> normalised ``x1 y1 x2 y2``."""
    d = np.asarray(deltas, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(priors, dtype=np.float64).reshape(-1, 4)
    centre = d[:, :2] * center_variance * p[:, 2:] + p[:, :2]
    size = np.exp(d[:, 2:] * size_variance) * p[:, 2:]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def preprocess(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """BGR uint8 image -> ``(1, 3, height, width)`` float32 RGB, ``(x - 127) / 128`` (upstream recipe)."""
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    rgb = resized[:, :, ::-1].astype(np.float32)
    return np.ascontiguousarray(((rgb - IMAGE_MEAN) / IMAGE_STD).transpose(2, 0, 1)[None])


def face_probability(scores: np.ndarray) -> np.ndarray:
    """Column 1 of ``(N, 2)`` class scores, applying softmax only if the graph did not."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1, 2)
    if s.size and (s.min() < -1e-6 or s.max() > 1 + 1e-6 or not np.allclose(s.sum(1), 1.0, atol=1e-3)):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        s = e / e.sum(axis=1, keepdims=True)
    return s[:, 1]


class UltraFaceDetector:
    """UltraFace (boxes only, no landmarks) satisfying :class:`featherface.types.Detector`.

    Args:
        model_path: the ``.onnx`` file; ``None`` takes ``<peers>/ultraface/version-RFB-320_without_postprocessing.onnx``.
        score_threshold: minimum face probability (upstream demo 0.7).
        nms_threshold: IoU of the hard NMS (upstream 0.3).
        top_k: at most this many faces per image.
        input_size: ``(width, height)`` (or an int width with 4:3 height) for models with a
            dynamic input; the released files are fixed (320x240, 640x480) and refuse another size.
        postprocessed: ``True`` if the graph outputs decoded boxes, ``False`` for raw deltas,
            ``None`` to infer from the file name (``without_postprocessing`` -> raw).
        threads: onnxruntime intra-op threads (``None``: its default).
        name: label used in comparisons.
        session: a ready onnxruntime-like session (tests pass a fake).
    """

    supports_input_size = False
    gives_landmarks = False

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        score_threshold: float = DEFAULT_SCORE,
        nms_threshold: float = DEFAULT_NMS,
        top_k: int = DEFAULT_TOP_K,
        input_size: int | tuple[int, int] | None = None,
        postprocessed: bool | None = None,
        threads: int | None = None,
        name: str = "ultraface",
        session: Any | None = None,
    ):
        self.name = name
        self.score_threshold = check_threshold("score_threshold", score_threshold)
        self.nms_threshold = check_threshold("nms_threshold", nms_threshold, low_open=True)
        if int(top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        self.top_k = int(top_k)
        if session is None:
            self.model_path: Path | None = resolve_model_file(
                model_path, "ultraface/version-RFB-320_without_postprocessing.onnx", name
            )
            session = onnxruntime_session(self.model_path, threads)
        else:
            self.model_path = Path(model_path) if model_path else None
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        outs = [o.name for o in session.get_outputs()]
        if "scores" in outs and "boxes" in outs:
            self.output_names = ["scores", "boxes"]
        elif len(outs) == 2:
            self.output_names = outs
        else:
            raise PeerUnavailableError(f"{name}: expected two outputs (scores, boxes), the model has {outs}")
        _, _, fh, fw = (shape_hint(inp.shape) + (None,) * 4)[:4]
        wanted = self._parse_size(input_size)
        if fh is not None and fw is not None:
            if wanted is not None and wanted != (fw, fh):
                raise ConfigError(
                    f"{name}: the model has a fixed {fw}x{fh} input; input_size {wanted[0]}x{wanted[1]} is not possible"
                )
            self.width, self.height = int(fw), int(fh)
        else:
            self.supports_input_size = True
            self.width, self.height = wanted or (320, 240)
        if postprocessed is None:
            postprocessed = not (self.model_path is not None and "without_postprocessing" in self.model_path.name)
        self.postprocessed = bool(postprocessed)
        self.priors = None if self.postprocessed else ultraface_priors(self.width, self.height)

    @staticmethod
    def _parse_size(input_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
        if input_size is None:
            return None
        if isinstance(input_size, int):
            w = int(input_size)
            size = (w, int(round(w * 3 / 4)))
        else:
            size = (int(input_size[0]), int(input_size[1]))
        if min(size) < 16:
            raise ConfigError(f"input_size too small: {size}")
        return size

    def describe_input(self) -> str:
        """How images are sized for the network (for comparison tables)."""
        return f"{self.width}x{self.height} stretch"

    def raw_outputs(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the network: ``(scores (N, 2), boxes (N, 4))`` exactly as the graph returns them."""
        scores, boxes = self.session.run(self.output_names, {self.input_name: preprocess(image, self.width, self.height)})
        return np.asarray(scores).reshape(-1, 2), np.asarray(boxes).reshape(-1, 4)

    def detect(self, image: Any) -> list[Face]:
        """Faces in one image (path or HxWx3 BGR array), original pixels, best first; no landmarks."""
        img = load_image(image)
        h, w = img.shape[:2]
        scores, boxes = self.raw_outputs(img)
        prob = face_probability(scores)
        if self.priors is not None:
            if self.priors.shape[0] != boxes.shape[0]:
                raise PeerUnavailableError(
                    f"{self.name}: the model gives {boxes.shape[0]} boxes but {self.priors.shape[0]} priors were "
                    f"generated for {self.width}x{self.height}; is it really an UltraFace model without post-processing?"
                )
        keep = np.flatnonzero(prob >= self.score_threshold)
        if keep.size == 0:
            return []
        if keep.size > PRE_NMS_TOP_K:
            keep = keep[np.argsort(-prob[keep], kind="stable")[:PRE_NMS_TOP_K]]
        sel = boxes[keep]
        if self.priors is not None:
            sel = decode_ultraface(sel, self.priors[keep])
        px = sel * np.array([w, h, w, h], dtype=np.float64)
        k = nms_numpy(px, prob[keep], self.nms_threshold, self.top_k)
        return faces_from_rows(px[k], prob[keep][k], None, w, h)

    def __repr__(self) -> str:
        return (f"UltraFaceDetector(name={self.name!r}, model={str(self.model_path)!r}, input={self.width}x{self.height}, "
                f"postprocessed={self.postprocessed}, score_threshold={self.score_threshold})")

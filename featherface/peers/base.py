"""Plumbing shared by the peer adapters: where peer model files live, errors, resizing, NMS.

Peer model files (other projects' released detectors) are never part of this repository; they
are read by path. The default folder is ``../shared/peers`` beside the repository root, or the
folder named by the ``FEATHERFACE_PEERS_DIR`` environment variable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError, FeatherFaceError
from featherface.types import Face

PEERS_ENV = "FEATHERFACE_PEERS_DIR"


class PeerUnavailableError(FeatherFaceError):
    """A peer detector cannot be built here: its model file or a library it needs is missing."""


def peers_dir() -> Path:
    """Folder holding the peer model files: ``$FEATHERFACE_PEERS_DIR`` or ``<repo>/../shared/peers``."""
    env = os.environ.get(PEERS_ENV)
    if env:
        return Path(env).expanduser()
    import featherface

    return Path(featherface.__file__).resolve().parents[1].parent / "shared" / "peers"


def resolve_model_file(path: str | os.PathLike[str] | None, default_relative: str, what: str) -> Path:
    """The model file to load: ``path`` if given, else ``peers_dir()/default_relative``.

    Raises :class:`PeerUnavailableError` naming the file looked for, so a missing peer reads as
    "not installed here" rather than as a crash deep inside OpenCV or onnxruntime.
    """
    p = Path(path).expanduser() if path else peers_dir() / default_relative
    if not p.is_file():
        hint = "" if path else f" (set {PEERS_ENV} or pass the file as '<peer>:PATH')"
        raise PeerUnavailableError(f"{what}: model file {p} not found{hint}")
    return p


def check_threshold(name: str, value: float, low_open: bool = False) -> float:
    """Validate a probability-like threshold early, with a message naming the option."""
    v = float(value)
    ok = (0.0 < v <= 1.0) if low_open else (0.0 <= v <= 1.0)
    if not ok:
        raise ConfigError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {value}")
    return v


def check_input_size(input_size: int | None, minimum: int = 32) -> int | None:
    if input_size is None:
        return None
    if int(input_size) < minimum:
        raise ConfigError(f"input_size must be >= {minimum}, got {input_size}")
    return int(input_size)


def resize_longer_side(image: np.ndarray, input_size: int | None) -> tuple[np.ndarray, float]:
    """Scale so that the longer side is ``input_size`` (no-op for ``None``); returns (image, scale)."""
    if input_size is None:
        return image, 1.0
    h, w = image.shape[:2]
    s = input_size / max(h, w)
    if abs(s - 1.0) < 1e-9:
        return image, 1.0
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (nw, nh), interpolation=interp), s


def letterbox(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Fit ``image`` inside ``width x height`` keeping its aspect ratio, pad bottom/right with black.

    Returns the canvas and the scale; a point ``p`` of the canvas is ``p / scale`` in the original.
    """
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    nw, nh = min(width, max(1, round(w * s))), min(height, max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else image
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, s


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int | None = None) -> np.ndarray:
    """Greedy (hard) NMS on numpy arrays via :func:`featherface.ops.nms`; indices kept, best score
    first, at most ``top_k`` of them."""
    import torch

    from featherface.ops.nms import nms

    b = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    sc = torch.as_tensor(np.asarray(scores, dtype=np.float64).reshape(-1))
    keep = nms(b, sc, iou_threshold).numpy().astype(np.int64)
    return keep if top_k is None else keep[:top_k]


def faces_from_rows(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    landmarks: np.ndarray | None,
    width: int,
    height: int,
) -> list[Face]:
    """Build :class:`Face` objects (boxes clipped to the image, empty boxes dropped), best first."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4).copy()
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    order = [i for i in np.argsort(-scores, kind="stable") if valid[i]]
    lms = None if landmarks is None else np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    return [Face.from_arrays(boxes[i], float(scores[i]), None if lms is None else lms[i]) for i in order]


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's INFO/WARN log lines (e.g. the DNN engine's target notice) for a block."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        log.setLogLevel(old)


def onnxruntime_session(path: Path, threads: int | None = None) -> Any:
    """A CPU onnxruntime session with its log noise turned down; clear error when ORT is absent."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise PeerUnavailableError(
            "onnxruntime is not installed (pip install 'featherface[onnx]'); it is needed for UltraFace"
        ) from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: the UltraFace files trigger one warning per initializer
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PeerUnavailableError(f"{path}: onnxruntime cannot load this model: {first}") from None


def as_bgr(image: Any) -> np.ndarray:
    """Any input the package accepts (path, bytes, array, PIL) as HxWx3 uint8 BGR."""
    from featherface.inference.image_io import load_image

    return load_image(image)


def shape_hint(shape: Sequence[Any]) -> tuple[int | None, ...]:
    """An ONNX input shape with symbolic/unknown dimensions as ``None``."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)

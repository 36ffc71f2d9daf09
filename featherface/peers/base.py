"""Plumbing shared by the peer adapters: where peer model files live, errors, onnxruntime sessions.

Image reading, resizing, letterboxing and muting OpenCV's log lines live in
:mod:`featherface.io.images`.

Peer model files (other projects' released detectors) are never part of this repository; they
are read by path. The default folder is ``peers/`` in the shared folder
(:func:`featherface.io.paths.shared_dir`: ``$FEATHERFACE_SHARED_DIR`` or ``../shared`` beside the
repository root), or the folder named by the ``FEATHERFACE_PEERS_DIR`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from featherface.errors import ConfigError, FeatherFaceError
from featherface.inference.backends import import_onnxruntime, make_session
from featherface.inference.options import MAX_INPUT_SIDE
from featherface.io.images import resize_longer_side
from featherface.io.paths import shared_dir
from featherface.types import Face

PEERS_ENV = "FEATHERFACE_PEERS_DIR"


class PeerUnavailableError(FeatherFaceError):
    """A peer detector cannot be built here: its model file or a library it needs is missing."""


def peers_dir() -> Path:
    """Folder holding the peer model files: ``$FEATHERFACE_PEERS_DIR``, else ``peers/`` in
    :func:`featherface.io.paths.shared_dir` (``$FEATHERFACE_SHARED_DIR`` or ``<repo>/../shared``)."""
    env = os.environ.get(PEERS_ENV)
    if env:
        return Path(env).expanduser()
    return shared_dir() / "peers"


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


def fit_input(image: np.ndarray, input_size: int | None) -> tuple[np.ndarray, float]:
    """``resize_longer_side`` for a peer at ``input_size`` (``None``: the original size), but never
    larger than ``MAX_INPUT_SIDE`` (4096): a 10000x10000 photo at "original size" would need
    gigabytes of feature maps in YuNet (and a 100 Mpx integral image in Haar); ours caps the same way."""
    if input_size is None and max(image.shape[:2]) > MAX_INPUT_SIDE:
        input_size = MAX_INPUT_SIDE
    return resize_longer_side(image, input_size)


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


def onnxruntime_session(path: Path, threads: int | None = None) -> Any:
    """:func:`~featherface.inference.backends.make_session` for a peer's model file; a missing
    onnxruntime or an unreadable file is a :class:`PeerUnavailableError` (the peer is skipped)."""
    try:
        import_onnxruntime()
    except FeatherFaceError as exc:
        raise PeerUnavailableError(f"{exc}; it is needed for UltraFace") from None
    try:
        return make_session(path, threads or None)
    except ConfigError as exc:
        raise PeerUnavailableError(str(exc)) from None


def shape_hint(shape: Sequence[Any]) -> tuple[int | None, ...]:
    """An ONNX input shape with symbolic/unknown dimensions as ``None``."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)

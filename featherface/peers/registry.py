"""Names of the peer detectors and :func:`build_peer`, which turns a spec string into a detector.

A spec is ``NAME`` or ``NAME:PATH`` (``PATH`` replaces the default model file), e.g. ``yunet``,
``yunet:/models/yunet.onnx``, ``yunet-s``, ``ultraface-rfb320``, ``ultraface-slim320``,
``ultraface-rfb640``, ``haar``, ``retinaface``, ``retinaface:/weights/mobilenet0.25_Final.pth``.
Default files are looked up under :func:`featherface.peers.base.peers_dir`; RetinaFace's weights
under ``$FEATHERFACE_RETINAFACE_WEIGHTS`` or ``../shared/weights`` (see
:mod:`featherface.peers.retinaface`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from featherface.errors import ConfigError
from featherface.peers.base import PEERS_ENV, PeerUnavailableError, peers_dir
from featherface.peers.haar import HaarCascadeDetector, default_cascade_path
from featherface.peers.retinaface import build_retinaface, default_retinaface_weights
from featherface.peers.ultraface import UltraFaceDetector
from featherface.peers.yunet import YuNetDetector
from featherface.types import Detector


@dataclass(frozen=True)
class PeerInfo:
    """What a peer name means: which adapter, which default file, and what is known about it."""

    name: str
    kind: str  # "yunet" | "ultraface" | "haar" | "retinaface"
    default_file: str | None  # relative to peers_dir(); None = found by the adapter itself (haar, retinaface)
    description: str
    landmarks: bool


PEERS: dict[str, PeerInfo] = {
    p.name: p
    for p in (
        PeerInfo("yunet", "yunet", "yunet/yunet_n_dynamic.onnx",
                 "YuNet-n, dynamic input (libfacedetection.train, MIT), 75,856 params", True),
        PeerInfo("yunet-s", "yunet", "yunet/yunet_s_dynamic.onnx",
                 "YuNet-s, dynamic input (libfacedetection.train, MIT), 54,608 params", True),
        PeerInfo("yunet-640", "yunet", "yunet/yunet_n_640_640.onnx",
                 "YuNet-n, fixed 640x640 input (letterboxed)", True),
        PeerInfo("ultraface-rfb320", "ultraface", "ultraface/version-RFB-320_without_postprocessing.onnx",
                 "UltraFace RFB-320 (Linzaer, MIT), 320x240 input, ~0.3M params", False),
        PeerInfo("ultraface-slim320", "ultraface", "ultraface/version-slim-320_without_postprocessing.onnx",
                 "UltraFace slim-320 (Linzaer, MIT), 320x240 input", False),
        PeerInfo("ultraface-rfb640", "ultraface", "ultraface/version-RFB-640.onnx",
                 "UltraFace RFB-640 (Linzaer, MIT), 640x480 input, decoding in the graph", False),
        PeerInfo("haar", "haar", None,
                 "OpenCV Haar cascade haarcascade_frontalface_default.xml (Viola-Jones)", False),
        PeerInfo("retinaface", "retinaface", None,
                 "RetinaFace-mnet0.25 (Deng et al.; weights biubug6/Pytorch_Retinaface, MIT), 426,608 params, "
                 "run as create_model('retinaface-mnet025')", True),
    )
}

ALIASES: dict[str, str] = {
    "yunet-n": "yunet",
    "yunet-n-640": "yunet-640",
    "ultraface": "ultraface-rfb320",
    "ultraface-rfb": "ultraface-rfb320",
    "ultraface-slim": "ultraface-slim320",
    "haar-cascade": "haar",
    "viola-jones": "haar",
    "retinaface-mnet025": "retinaface",
    "retinaface-mnet0.25": "retinaface",
}


def list_peers() -> list[str]:
    """Canonical peer names accepted by :func:`build_peer` (aliases aside)."""
    return list(PEERS)


def parse_spec(spec: str) -> tuple[PeerInfo, str | None]:
    """``"NAME[:PATH]"`` -> (its :class:`PeerInfo`, the path or ``None``); unknown names are a ConfigError."""
    raw = str(spec).strip()
    name, sep, path = raw.partition(":")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in PEERS:
        known = ", ".join(list(PEERS) + sorted(ALIASES))
        raise ConfigError(f"unknown peer detector {name!r}; known: {known} (optionally NAME:PATH)")
    if sep and not path.strip():
        raise ConfigError(f"peer spec {raw!r}: empty path after ':'")
    return PEERS[key], (path.strip() if sep else None)


def peer_status(spec: str) -> tuple[bool, str]:
    """Whether ``spec`` can be built here, and the file it would use or why not (cheap: builds nothing)."""
    info, path = parse_spec(spec)
    if info.kind == "haar":
        if getattr(cv2, "CascadeClassifier", None) is None:
            return False, f"OpenCV {cv2.__version__} has no CascadeClassifier"
        p = Path(path) if path else default_cascade_path()
        return (p is not None and p.is_file()), str(p) if p else "no cascade file shipped with OpenCV"
    if info.kind == "retinaface":
        p = Path(path).expanduser() if path else default_retinaface_weights()
        return p.is_file(), str(p)
    p = Path(path).expanduser() if path else peers_dir() / str(info.default_file)
    return p.is_file(), str(p)


def build_peer(
    spec: str,
    *,
    score_threshold: float | None = None,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    threads: int | None = None,
    name: str | None = None,
    **options: Any,
) -> Detector:
    """Build the peer detector named by ``spec`` (see the module docstring).

    ``score_threshold``/``nms_threshold`` default to each peer's upstream demo values when
    ``None``; both are ignored for ``haar``, whose score is a cascade weight, not a probability
    (build :class:`~featherface.peers.haar.HaarCascadeDetector` directly to filter on it).
    ``input_size`` is passed only to peers whose input size can change (YuNet dynamic, Haar,
    RetinaFace: the longer side is resized to it); asking a fixed-input model for another size is
    a :class:`ConfigError`. Extra ``options`` go to the adapter (e.g. ``top_k``, ``min_neighbors``;
    ``device`` or ``backend`` for RetinaFace, a :class:`~featherface.FaceDetector`). Raises
    :class:`PeerUnavailableError` when the model file or a needed library is missing.
    """
    info, path = parse_spec(spec)
    label = name or (info.name if path is None else f"{info.name}:{Path(path).name}")
    kw: dict[str, Any] = dict(options)
    if nms_threshold is not None and info.kind != "haar":
        kw["nms_threshold"] = nms_threshold
    if score_threshold is not None and info.kind != "haar":  # Haar's score is not a probability
        kw["score_threshold"] = score_threshold
    if input_size is not None:
        kw["input_size"] = input_size
    if info.kind == "retinaface":
        # our own network with the authors' weights: a FaceDetector (torch), PeerUnavailableError
        # when the weights file is missing
        return build_retinaface(path, threads=threads, name=label, **kw)  # type: ignore[return-value]
    if info.kind == "yunet":
        file = path or (peers_dir() / str(info.default_file))
        if not Path(file).expanduser().is_file():
            raise PeerUnavailableError(_missing(label, file, path is None))
        return YuNetDetector(file, name=label, **kw)
    if info.kind == "ultraface":
        file = path or (peers_dir() / str(info.default_file))
        if not Path(file).expanduser().is_file():
            raise PeerUnavailableError(_missing(label, file, path is None))
        return UltraFaceDetector(file, threads=threads, name=label, **kw)
    return HaarCascadeDetector(path, name=label, **kw)


def _missing(label: str, file: str | os.PathLike[str], default: bool) -> str:
    hint = f" (set {PEERS_ENV} to the folder holding yunet/ and ultraface/, or pass {label}:PATH)" if default else ""
    return f"{label}: model file {file} not found{hint}"

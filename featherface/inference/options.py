"""The options of :class:`~featherface.FaceDetector`, as one dataclass: the one source of their defaults.

``FaceDetector``'s keyword defaults are read from :class:`DetectorOptions`, and the ``featherface``
verbs build their detector flags from it (:func:`featherface.commands.options.add_detector_args`),
so Python and the command line take the same options with the same defaults::

    >>> from featherface.inference.options import DetectorOptions
    >>> opts = DetectorOptions(score_threshold=0.6, input_size=640)
    >>> det = FaceDetector(**opts.kwargs())                 # == FaceDetector.from_options(opts)

``weights``: ``"default"`` (the weights shipped with the package), a path, or an untrained random
network: ``None`` or the strings ``"none"`` / ``"random"`` (what ``--weights none`` means in every verb).

This module imports neither torch nor OpenCV (``featherface VERB --help`` reads it).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["DetectorOptions", "BACKENDS", "DEFAULT_WEIGHTS", "RANDOM_WEIGHTS", "MAX_INPUT_SIDE", "PAD_MULTIPLE",
           "is_random_weights"]

BACKENDS = ("auto", "torch", "onnxruntime")
DEFAULT_WEIGHTS = "default"
# the spellings of "no weights file: an untrained, randomly initialised network"
RANDOM_WEIGHTS = ("none", "random")
PAD_MULTIPLE = 32
# upper bound of input_size / max_size: the network input is a canvas of at most side x side
# (4096: 200 MB of float32 input, 1.3 GB peak RSS for V2 Ultra's forward pass on CPU); an unbounded
# input_size=100000 would ask for a 120 GB tensor
MAX_INPUT_SIDE = 4096


def is_random_weights(weights: Any) -> bool:
    """``None``, ``"none"`` or ``"random"`` (any case): an untrained, randomly initialised network."""
    return weights is None or (isinstance(weights, str) and weights.strip().lower() in RANDOM_WEIGHTS)


@dataclass(frozen=True)
class DetectorOptions:
    """Everything :class:`~featherface.FaceDetector` takes besides a ready ``nn.Module``.

    See :class:`~featherface.FaceDetector` for the meaning of each field; the values are checked
    there (one place), not here.
    """

    model: str = "featherface-v2-ultra"
    weights: str | os.PathLike | None = DEFAULT_WEIGHTS
    device: str | None = "cpu"
    score_threshold: float = 0.5  # 0.02 for WIDER evaluation
    nms_threshold: float = 0.4
    input_size: int | None = None  # None: the original resolution
    # 1280: the largest priors (256/512 px at stride 32) and the training crops (<= 640 px) cover faces
    # up to ~600 px; at 2048 a portrait's 900 px face broke into several 300-400 px boxes (precision
    # 0.80 vs 0.91 at 1280 on the shared photos, benchmarks/photos_vs_yunet.py). Small faces in
    # bigger photos: tile=True.
    max_size: int = 1280
    tile: bool = False  # also detect on native-resolution tiles of images scaled down (small faces)
    tile_size: int = 1024
    tile_overlap: int = 128
    pre_nms_top_k: int = 5000
    max_detections: int = 750
    # box and landmark voting: each face's box and points are the score-weighted mean over the candidates
    # overlapping its box by IoU >= this (0: its own prior's only). On the first 300 photos of facemask
    # and CUHK, IoU 0.5-0.7 gave V2 Ultra AP +0.024-0.029 and NME 0.057 -> 0.053, V1 alike, RetinaFace
    # AP -0.006-0.000 and NME 0.029 -> 0.027; 0.8 helped less. The full sets: README, model card.
    vote_iou: float = 0.7
    backend: str = "auto"  # onnxruntime for a weights file when installed, else torch (see FaceDetector)
    onnx_path: str | os.PathLike | None = None
    threads: int | None = None
    optimize: bool = True

    def __post_init__(self) -> None:
        if self.weights is not None and is_random_weights(self.weights):
            object.__setattr__(self, "weights", None)

    @property
    def random_weights(self) -> bool:
        return self.weights is None

    def kwargs(self, changed_only: bool = False) -> dict[str, Any]:
        """The ``FaceDetector(**...)`` keyword arguments; with ``changed_only`` only those that
        differ from the defaults (for stand-ins that take a subset)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if changed_only:
            default = DetectorOptions()
            out = {k: v for k, v in out.items() if v != getattr(default, k)}
        return out

    def replace(self, **changes: Any) -> "DetectorOptions":
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

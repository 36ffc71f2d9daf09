"""The detector options of the ``featherface`` verbs, declared once.

:func:`add_detector_args` adds ``--model``, ``--weights``, ``--score-threshold``,
``--nms-threshold``, ``--input-size``, ``--max-size``, ``--tile``, ``--tile-size``,
``--tile-overlap``, ``--vote-iou``, ``--device``, ``--backend``,
``--onnx-path`` and ``--threads`` (each verb picks the ones that apply) with the defaults of
:class:`featherface.inference.options.DetectorOptions`, the dataclass whose fields
:class:`~featherface.FaceDetector` takes, so a flag and the Python keyword share one name (the
flag is the field with ``-`` for ``_``) and one default; the parser checks the ranges
FaceDetector checks again. :func:`detector_options` reads them back into a ``DetectorOptions``.
The flags are made by :func:`featherface.commands.dataclass_flags.add_dataclass_flags`, the one
dataclass-to-flags mechanism of the verbs.

Old spellings stay as aliases: ``--threshold`` (= ``--score-threshold``), ``--nms``
(= ``--nms-threshold``), ``--onnx`` (= ``--onnx-path``).

``--weights none`` (or ``random``) means an untrained, randomly initialised network in every verb
that takes ``--weights``; a verb that needs a different default passes it to
:func:`add_detector_args` (``eval``: score threshold ``None``, resolved to 0.02 on WIDER FACE).
"""

from __future__ import annotations

import argparse
from typing import Any, Iterable, Mapping

from featherface.commands.argtypes import int_range, open_unit_float, positive_int, unit_float
from featherface.commands.dataclass_flags import FieldFlag, add_dataclass_flags, flag_name, read_dataclass_flags
from featherface.inference.options import (
    BACKENDS,
    MAX_INPUT_SIDE,
    PAD_MULTIPLE,
    RANDOM_WEIGHTS,
    DetectorOptions,
    is_random_weights,
)

__all__ = ["DETECTOR_FLAGS", "add_detector_args", "detector_options", "weights_arg", "flag_name"]

_DEFAULTS = DetectorOptions()
_side = int_range(PAD_MULTIPLE, MAX_INPUT_SIDE, name="size")


def weights_arg(text: str) -> str:
    """``--weights``: a path, ``default`` (the shipped weights), or ``none``/``random`` (returned as
    ``"none"``: an untrained network, the same in every verb)."""
    s = str(text)
    if not s.strip():
        raise argparse.ArgumentTypeError("empty path (use 'none' for an untrained, random network)")
    if "\x00" in s:
        raise argparse.ArgumentTypeError("path contains a NUL byte")
    return RANDOM_WEIGHTS[0] if is_random_weights(s) else s


# help text / type / old spellings per DetectorOptions field; the default comes from the dataclass
_FLAGS: dict[str, FieldFlag] = {
    "model": FieldFlag("model name (see `featherface list`)", metavar="NAME"),
    "weights": FieldFlag("weights file or training checkpoint (default: the weights shipped with the package); "
                         "'none' (or 'random'): an untrained, randomly initialised network, which finds no faces",
                         type=weights_arg, metavar="PATH|default|none"),
    "score_threshold": FieldFlag("score threshold in [0, 1]", type=unit_float, aliases=("--threshold",),
                                 metavar="S"),
    "nms_threshold": FieldFlag("NMS IoU threshold in (0, 1]", type=open_unit_float, aliases=("--nms",),
                               metavar="IOU"),
    "input_size": FieldFlag(f"resize the longer side to N, {PAD_MULTIPLE}..{MAX_INPUT_SIDE} (default: original size)",
                            type=_side, metavar="N"),
    "max_size": FieldFlag(f"scale down images whose longer side exceeds N, {PAD_MULTIPLE}..{MAX_INPUT_SIDE}",
                          type=_side, metavar="N"),
    "tile": FieldFlag("also detect on overlapping native-resolution tiles of images that are scaled down "
                      "(small faces in big photos; one network call per tile)", action="store_true"),
    "tile_size": FieldFlag(f"side of a --tile tile, {PAD_MULTIPLE}..{MAX_INPUT_SIDE}", type=_side, metavar="N"),
    "tile_overlap": FieldFlag("pixels shared by neighbouring tiles (at most half a tile)",
                              type=int_range(0, MAX_INPUT_SIDE // 2, name="overlap"), metavar="PX"),
    "vote_iou": FieldFlag("box and landmark voting: each face's box and points are the score-weighted mean of "
                          "those of the candidates overlapping it by at least this IoU; 0 turns it off",
                          type=unit_float, metavar="IOU"),
    "device": FieldFlag("cpu, cuda, cuda:1, auto", metavar="DEVICE"),
    "backend": FieldFlag("inference backend", choices=BACKENDS),
    "onnx_path": FieldFlag("exported .onnx file for --backend onnxruntime (default: exported on the fly)",
                           aliases=("--onnx",), metavar="FILE"),
    "threads": FieldFlag("CPU threads for inference (default: the library's)", type=positive_int, metavar="N"),
}
DETECTOR_FLAGS = tuple(_FLAGS)


def add_detector_args(parser: Any, fields: Iterable[str] = DETECTOR_FLAGS, *,
                      defaults: Mapping[str, Any] | None = None, helps: Mapping[str, str] | None = None,
                      title: str | None = None) -> Any:
    """Add the detector flags named by ``fields`` (``DetectorOptions`` field names) to ``parser``
    (in a group titled ``title`` when given). Each default is the dataclass's unless ``defaults``
    names another (``None``: "not given", for a verb that decides later); ``helps`` replaces a
    help text. Returns the parser or group the flags went to."""
    fields = tuple(fields)
    unknown = [f for f in [*fields, *(defaults or {}), *(helps or {})] if f not in _FLAGS]
    if unknown:
        raise ValueError(f"not detector options: {', '.join(unknown)}")
    target = parser.add_argument_group(title) if title else parser
    # --weights: None on the Namespace means "not given" (the dataclass's "default" then); "none" means random
    overrides = {"weights": None, **(defaults or {})}
    add_dataclass_flags(target, _DEFAULTS, _FLAGS, fields, overrides=overrides, helps=helps)
    return target


def detector_options(args: argparse.Namespace, base: DetectorOptions | None = None,
                     **overrides: Any) -> DetectorOptions:
    """The ``DetectorOptions`` of the parsed flags: each flag given (not ``None``) on top of
    ``base`` (or the defaults), then ``overrides``."""
    return read_dataclass_flags(args, base or DetectorOptions(), DETECTOR_FLAGS).replace(**overrides)

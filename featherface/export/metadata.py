"""What an exported FeatherFace file says about itself, so a consumer needs no Python to use it.

Every ONNX file we write carries these ``metadata_props`` (string key -> string value; JSON where
the value is structured). onnxruntime exposes them as
``InferenceSession.get_modelmeta().custom_metadata_map``; TorchScript files carry the same dict as
the extra file ``featherface.json``.

==================  =====================================================================
key                 value
==================  =====================================================================
featherface.format  ``"featherface-onnx"`` (marks the file as ours)
format_version      ``"1"``
model_name          registry name, e.g. ``featherface-v2-ultra``
config              the full :class:`~featherface.models.FeatherFaceConfig` as JSON
input               JSON: tensor name, layout, colour order, mean, scale, padding rule
anchors             JSON: min_sizes, steps, variances, prior order and formulas
outputs             JSON: each output's name, shape and meaning (decoding formulas)
postprocess         ``"none"`` or JSON thresholds of the in-graph decode + NMS
weights             ``"random"`` (untrained, for speed tests only) or the weights file name
weights_sha256      hash of the state_dict (see :func:`featherface.models.weights.state_dict_sha256`)
trained             ``"true"`` / ``"false"`` / ``"unknown"`` (in-memory model exported on the fly)
quantization        ``"none"`` or JSON describing the INT8 recipe
featherface_version package version that wrote the file
==================  =====================================================================

This module writes them; reading and checking them against a model (``parse_metadata``,
``read_onnx_metadata``, ``check_compatible``, the ``RAW_OUTPUTS`` names) is
:mod:`featherface.inference.backends.metadata`, which the backends use without the exporter.
"""

from __future__ import annotations

import json
import os
from typing import Any

from torch import nn

from featherface import __version__
from featherface.errors import ConfigError
from featherface.inference.backends.metadata import FORMAT_TAG
from featherface.inference.options import DetectorOptions
from featherface.models.weights import state_dict_sha256

FORMAT_VERSION = "1"
PAD_MULTIPLE = 32
POSTPROCESS_OUTPUTS = ("detections", "batch_index")
_D = DetectorOptions()  # the detector's post-processing, as the file's readers should redo it
_POSTPROCESS_REFERENCE = (f"score > {_D.score_threshold:g} (0.02 for WIDER eval), top {_D.pre_nms_top_k}, "
                          f"NMS IoU {_D.nms_threshold:g}, keep {_D.max_detections}")


def input_spec(bgr_mean: tuple[float, ...] | list[float]) -> dict[str, Any]:
    """The input normalisation contract, spelled out for non-Python consumers."""
    return {
        "name": "input",
        "layout": "NCHW",
        "dtype": "float32",
        "color_order": "BGR",
        "mean": [float(v) for v in bgr_mean],
        "std": None,
        "scale": 1.0,
        "formula": "input[b, c, y, x] = float(image_bgr[y, x, c]) - mean[c]  (pixel values 0..255, no division)",
        "pad_multiple": PAD_MULTIPLE,
        "padding": "pad bottom/right to a multiple of 32 with the mean colour (zeros after subtraction)",
        "resize": "optional: scale the image (keep aspect) before padding; divide results by that scale",
        "dynamic_axes": {"0": "batch", "2": "height (multiple of 32)", "3": "width (multiple of 32)"},
    }


def anchor_spec(config: Any) -> dict[str, Any]:
    """Prior boxes: enough to regenerate them in any language."""
    return {
        "min_sizes": [list(m) for m in config.min_sizes],
        "steps": list(config.steps),
        "variances": list(config.variances),
        "order": "level (stride ascending), row, column, anchor (min_size order)",
        "feature_map_size": "rows = ceil(H / step), cols = ceil(W / step)",
        "prior": "cx = (col + 0.5) * step / W, cy = (row + 0.5) * step / H, w = min_size / W, h = min_size / H",
        "count_at_640x640": sum(
            (-(-640 // s)) ** 2 * len(m) for s, m in zip(config.steps, config.min_sizes)
        ),
    }


def output_spec(postprocess: dict[str, Any] | None) -> dict[str, Any]:
    """Output tensors and how to turn them into faces."""
    if postprocess:
        return {
            "detections": {
                "shape": ["K", 15],
                "columns": "x1, y1, x2, y2, score, then five landmark (x, y) pairs: left eye, right eye, "
                           "nose, left mouth corner, right mouth corner",
                "units": "pixels of the (padded) network input; divide by your resize scale",
                "order": "image by image; within an image by descending score",
            },
            "batch_index": {"shape": ["K"], "dtype": "int64", "meaning": "image of the batch each row belongs to"},
        }
    return {
        "bbox": {
            "shape": ["B", "N", 4],
            "meaning": "box deltas (dx, dy, dw, dh) per prior",
            "decode": "cx = pcx + dx * v0 * pw; cy = pcy + dy * v0 * ph; w = pw * exp(dw * v1); h = ph * exp(dh * v1); "
                      "x1y1x2y2 = (cx - w/2, cy - h/2, cx + w/2, cy + h/2), normalised by W, H",
        },
        "cls": {
            "shape": ["B", "N", 2],
            "meaning": "logits (background, face); score = softmax(cls)[..., 1]",
        },
        "ldm": {
            "shape": ["B", "N", 10],
            "meaning": "five landmark offsets (x, y) per prior",
            "decode": "x_k = pcx + t_xk * v0 * pw; y_k = pcy + t_yk * v0 * ph (normalised by W, H)",
        },
        "postprocess_reference": _POSTPROCESS_REFERENCE,
    }


def build_metadata(
    model: nn.Module,
    *,
    postprocess: dict[str, Any] | None = None,
    weights: str | os.PathLike | None = None,
    quantization: dict[str, Any] | None = None,
    trained: bool | str | None = None,
    fmt: str = FORMAT_TAG,
) -> dict[str, str]:
    """The string->string metadata of an export of ``model`` (see the module docstring).

    ``trained`` defaults to "weights were given"; ``None`` weights are recorded as ``"random"``.
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ConfigError("export needs a FeatherFace model (with a .config); got " + type(model).__name__)
    sd = {k: v for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {
        "featherface.format": fmt,
        "format_version": FORMAT_VERSION,
        "model_name": getattr(model, "name", "featherface-custom"),
        "config": config.to_dict(),
        "input": input_spec(config.bgr_mean),
        "anchors": anchor_spec(config),
        "outputs": output_spec(postprocess),
        "postprocess": postprocess if postprocess else "none",
        "weights": os.path.basename(str(weights)) if weights else "random",
        "weights_sha256": state_dict_sha256(sd),
        "trained": trained if isinstance(trained, str) else str(bool(weights) if trained is None else trained).lower(),
        "quantization": quantization if quantization else "none",
        "featherface_version": __version__,
    }
    return {k: (v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in meta.items()}

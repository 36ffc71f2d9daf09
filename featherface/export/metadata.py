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
weights_sha256      hash of the state_dict (see :func:`featherface.weights.state_dict_sha256`)
trained             ``"true"`` / ``"false"`` / ``"unknown"`` (in-memory model exported on the fly)
quantization        ``"none"`` or JSON describing the INT8 recipe
featherface_version package version that wrote the file
==================  =====================================================================
"""

from __future__ import annotations

import json
import os
from typing import Any

from torch import nn

from featherface.errors import ConfigError

FORMAT_TAG = "featherface-onnx"
FORMAT_VERSION = "1"
PAD_MULTIPLE = 32
RAW_OUTPUTS = ("bbox", "cls", "ldm")
POSTPROCESS_OUTPUTS = ("detections", "batch_index")
JSON_KEYS = ("config", "input", "anchors", "outputs", "postprocess", "quantization")


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
        "postprocess_reference": "score > 0.5 (0.02 for WIDER eval), top 5000, NMS IoU 0.4, keep 750",
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
    from featherface import __version__
    from featherface.weights import state_dict_sha256

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


def parse_metadata(props: dict[str, str]) -> dict[str, Any]:
    """Decode the JSON-valued entries of a metadata map (unknown keys are passed through)."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        if k in JSON_KEYS and v not in ("none", ""):
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
        else:
            out[k] = v
    return out


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed FeatherFace metadata of an ONNX file (empty dict for a foreign file)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return parse_metadata({p.key: p.value for p in m.metadata_props})


def _config_defaults(cfg: Any) -> dict[str, Any]:
    """The default config of ``cfg``'s class as JSON values: a field a file does not record was added
    after it was written, and the file means its default (e.g. ``neck="bifpn"`` before RetinaFace)."""
    try:
        return json.loads(json.dumps(type(cfg)().to_dict()))
    except Exception:  # noqa: BLE001 - a config class without defaults: compare as recorded
        return {}


def check_compatible(meta: dict[str, Any], model: nn.Module | None, source: str, raw_outputs: bool = True) -> list[str]:
    """Raise :class:`ConfigError` when ``meta`` cannot stand in for ``model``; return warnings.

    Hard errors: not our file, another architecture (config), another input normalisation, or
    in-graph post-processing where raw outputs are needed. A different ``weights_sha256`` is only
    a warning: running a trained ONNX file next to an untrained torch model is a legitimate use.
    """
    warnings: list[str] = []
    if meta.get("featherface.format") != FORMAT_TAG:
        raise ConfigError(f"{source}: not a FeatherFace ONNX export (no featherface.format metadata); "
                          "export one with `featherface export --format onnx`")
    if raw_outputs and meta.get("postprocess") not in (None, "none"):
        raise ConfigError(f"{source}: was exported with --postprocess (outputs detections); the detector needs "
                          "the raw bbox/cls/ldm outputs: export again without --postprocess")
    if model is None:
        return warnings
    name = getattr(model, "name", None)
    if name and meta.get("model_name") != name:
        raise ConfigError(f"{source}: exported from model '{meta.get('model_name')}', not '{name}'")
    cfg = getattr(model, "config", None)
    if cfg is not None and isinstance(meta.get("config"), dict):
        ours = json.loads(json.dumps(cfg.to_dict()))
        theirs = {**_config_defaults(cfg), **meta["config"]}
        diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        if diff:
            raise ConfigError(f"{source}: architecture differs from the model's (fields: {', '.join(diff[:6])})")
        inp = meta.get("input") or {}
        if [float(v) for v in inp.get("mean", [])] != [float(v) for v in cfg.bgr_mean] or inp.get("color_order") != "BGR":
            raise ConfigError(f"{source}: input normalisation {inp.get('color_order')} mean={inp.get('mean')} "
                              f"differs from the model's BGR mean={list(cfg.bgr_mean)}")
    if getattr(model, "_featherface_onnx_only", False):
        return warnings  # built from this file's metadata: its torch weights are never used
    try:
        from featherface.weights import state_dict_sha256

        if meta.get("weights_sha256") and meta["weights_sha256"] != state_dict_sha256(model.state_dict()):
            warnings.append(f"{source}: its weights ({meta.get('weights')}) differ from the torch model's; "
                            "results follow the ONNX file")
    except Exception:  # pragma: no cover - hashing is best effort
        pass
    return warnings

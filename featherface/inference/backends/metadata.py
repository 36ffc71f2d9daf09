"""Reading what an exported FeatherFace file says about itself, and checking it against a model.

The keys are listed in the exporter's ``export/metadata.py``, which writes them. This module is the
reading side, kept here so that the backends (and anything else that only *runs* exported files)
need not import the exporter: it decodes the string->string map
(:func:`parse_metadata`, :func:`read_onnx_metadata`) and refuses a file that cannot stand in for a
model (:func:`check_compatible`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from featherface.errors import ConfigError

FORMAT_TAG = "featherface-onnx"
RAW_OUTPUTS = ("bbox", "cls", "ldm")
JSON_KEYS = ("config", "input", "anchors", "outputs", "postprocess", "quantization")


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
    import onnx  # optional extra: imported here so that `import featherface` does not need it

    m = onnx.load(str(path), load_external_data=False)
    return parse_metadata({p.key: p.value for p in m.metadata_props})


def _config_defaults(cfg: Any) -> dict[str, Any]:
    """The default config of ``cfg``'s class as JSON values: a field a file does not record was added
    after it was written, and the file means its default (e.g. ``neck="bifpn"`` before RetinaFace)."""
    try:
        return json.loads(json.dumps(type(cfg)().to_dict()))
    except Exception:  # noqa: BLE001 - a config class without defaults: compare as recorded
        return {}


def check_compatible(meta: dict[str, Any], model: Any, source: str, raw_outputs: bool = True) -> list[str]:
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
        # a torch model is at hand, so torch is loaded already: hashing its tensors costs no import
        from featherface.models.weights import state_dict_sha256

        if meta.get("weights_sha256") and meta["weights_sha256"] != state_dict_sha256(model.state_dict()):
            warnings.append(f"{source}: its weights ({meta.get('weights')}) differ from the torch model's; "
                            "results follow the ONNX file")
    except Exception:  # pragma: no cover - hashing is best effort
        pass
    return warnings

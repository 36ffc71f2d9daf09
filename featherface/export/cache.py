"""On-the-fly ONNX exports for ``FaceDetector(model, backend="onnxruntime")`` without ``onnx_path``.

The model is exported once (raw outputs, with the exact deploy-time folding of
:mod:`featherface.export.deploy`) to a cache file keyed by its config, weights hash, the folding
version and the package and torch versions: ``$FEATHERFACE_CACHE/onnx`` or ``~/.cache/featherface/onnx``, a
temporary folder if that is not writable. The package root installs :func:`cached_export` as the
onnxruntime backend's exporter (:func:`featherface.inference.backends.set_onnx_exporter`), so the
backend runs a graph this module wrote without inference importing the exporter.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from featherface import __version__
from featherface.errors import ConfigError
from featherface.export.deploy import DEPLOY_VERSION
from featherface.export.onnx_export import export_onnx
from featherface.io.cache import cache_dir
from featherface.models.featherface import FeatherFace
from featherface.models.weights import state_dict_sha256


def export_key(model: nn.Module) -> str:
    """Cache key of an on-the-fly export: architecture, weights and package version."""
    h = hashlib.sha256()
    h.update(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    h.update(state_dict_sha256(model.state_dict()).encode())
    h.update(__version__.encode())
    h.update(torch.__version__.encode())
    h.update(f"deploy-{DEPLOY_VERSION}".encode())  # a file folded by an older recipe is not reused
    return h.hexdigest()[:16]


def cache_path(model: nn.Module) -> Path:
    """The cache file of ``model``'s on-the-fly export."""
    return cache_dir() / f"{getattr(model, 'name', 'featherface')}-{export_key(model)}.onnx"


def drop_cached(model: nn.Module) -> bool:
    """Delete ``model``'s cached export (e.g. a damaged one); ``True`` when there was one."""
    if getattr(model, "config", None) is None:
        return False
    try:
        cache_path(model).unlink()
        return True
    except FileNotFoundError:
        return False


def cached_export(model: nn.Module) -> Path:
    """Export ``model`` (raw outputs, deploy-folded) once per (config, weights) and return the cached file."""
    if getattr(model, "config", None) is None:
        raise ConfigError("the onnxruntime backend can export only FeatherFace models; pass onnx_path for others")
    path = cache_path(model)
    if not path.is_file():
        was_training = model.training
        export_onnx(model, path, input_size=160, weights="in-memory model (exported by the onnxruntime backend)",
                    trained="unknown", deploy=isinstance(model, FeatherFace))
        model.train(was_training)
    return path

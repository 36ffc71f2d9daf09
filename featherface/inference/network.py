"""The torch side of :class:`~featherface.inference.detector.FaceDetector`: the network from a model
name and a weights spec, the device, the torch backend.

Its own module so that the detector imports torch only when it needs a network: a detector that
runs a cached ONNX export (:mod:`featherface.inference.onnx_pointer`) never loads this module.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from featherface.device import resolve_device
from featherface.inference.backends.torch_backend import TorchBackend
from featherface.models.featherface import FeatherFaceConfig
from featherface.models.registry import create_model
from featherface.models.weights import (
    apply_weights,
    config_differences,
    load_weights,
    model_for_weights,
    read_weights,
    resolve_weights,
)

__all__ = ["FeatherFaceConfig", "TorchBackend", "build_network", "is_module", "set_threads", "torch_device"]


def is_module(obj: Any) -> bool:
    return isinstance(obj, nn.Module)


def torch_device(device: Any) -> torch.device:
    """``device=`` checked once (:func:`featherface.device.resolve_device`)."""
    return resolve_device(device)


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def build_network(model: str | nn.Module, weights: Any, default: str, stacklevel: int = 3
                  ) -> tuple[nn.Module, Path | None, dict[str, Any]]:
    """``(network, weights file, its meta)`` for ``FaceDetector(model, weights)``.

    A module is used as given (``weights`` other than ``default`` loaded into it); a name builds the
    registered network, with a weights file of that model trained with other architecture options
    (``featherface train --set model_overrides=...``, the ablation's variants) getting the network
    its file records; another model's file is refused. ``weights=None``: random, with a warning."""
    if isinstance(model, nn.Module):
        if weights is None or weights == default:
            return model, None, {}
        path = resolve_weights(str(weights), model_name=getattr(model, "name", None))
        obj = load_weights(model, path)
        return model, Path(path), dict(obj.get("meta", {}))
    net = create_model(model)
    if weights is None:
        warnings.warn(f"FaceDetector: '{model}' has random, untrained weights (weights=None); it will not find faces",
                      stacklevel=stacklevel)
        return net, None, {}
    path = resolve_weights(str(weights), model_name=getattr(net, "name", None))
    obj = read_weights(path)  # read once, whichever network gets it
    if obj["model"] == getattr(net, "name", None) and config_differences(net, obj):
        net = model_for_weights(obj, path)
    else:
        apply_weights(net, obj, path)
    return net, Path(os.fspath(path)), dict(obj.get("meta", {}))

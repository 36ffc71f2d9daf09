"""FeatherFace: FeatherFace V2 Ultra and V1 lightweight face detectors (boxes + 5 landmarks).

``import featherface`` is cheap: the names that need torch (``FaceDetector``, ``create_model``,
``list_models``) are loaded on first use, so ``featherface --help`` and the torch-free modules
(labels, outputs, options) start without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from featherface.errors import (  # noqa: E402
    ConfigError,
    FeatherFaceError,
    ImageError,
    LabelFormatError,
    OutputError,
    WeightsError,
)
from featherface.inference.hooks import set_onnx_exporter  # noqa: E402
from featherface.types import Detector, Face  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from featherface.inference.detector import FaceDetector
    from featherface.inference.results import Results
    from featherface.models.registry import create_model, list_models

_LAZY = {
    "FaceDetector": "featherface.inference.detector",
    "Results": "featherface.inference.results",
    "create_model": "featherface.models.registry",
    "list_models": "featherface.models.registry",
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'featherface' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _export_for_onnxruntime(model: nn.Module) -> Path:
    """``FaceDetector(model, backend="onnxruntime")`` without ``onnx_path``: export once to the cache.

    Wired here, at the package root, because exporting sits above inference (inference never
    imports :mod:`featherface.export`); imported on use since the exporter needs torch.onnx / onnx.
    """
    from featherface.export.cache import cached_export

    return cached_export(model)


def _drop_cached_export(model: nn.Module) -> bool:
    from featherface.export.cache import drop_cached

    return drop_cached(model)


set_onnx_exporter(_export_for_onnxruntime, _drop_cached_export)

__all__ = [
    "__version__",
    "ConfigError",
    "Detector",
    "Face",
    "FaceDetector",
    "Results",
    "create_model",
    "list_models",
    "FeatherFaceError",
    "ImageError",
    "LabelFormatError",
    "OutputError",
    "WeightsError",
]

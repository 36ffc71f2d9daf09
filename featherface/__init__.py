"""FeatherFace: FeatherFace V2 Ultra and V1 lightweight face detectors (boxes + 5 landmarks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from featherface.errors import (  # noqa: E402
    ConfigError,
    FeatherFaceError,
    ImageError,
    LabelFormatError,
    OutputError,
    WeightsError,
)
from featherface.types import Detector, Face  # noqa: E402
from featherface.models.registry import create_model, list_models  # noqa: E402
from featherface.inference.detector import FaceDetector  # noqa: E402
from featherface.inference.backends import set_onnx_exporter  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn


def _export_for_onnxruntime(model: nn.Module) -> Path:
    """``FaceDetector(model, backend="onnxruntime")`` without ``onnx_path``: export once to the cache.

    Wired here, at the package root, because exporting sits above inference (inference never
    imports :mod:`featherface.export`); imported on use since the exporter needs torch.onnx / onnx.
    """
    from featherface.export.cache import cached_export

    return cached_export(model)


set_onnx_exporter(_export_for_onnxruntime)

__all__ = [
    "__version__",
    "ConfigError",
    "Detector",
    "Face",
    "FaceDetector",
    "create_model",
    "list_models",
    "FeatherFaceError",
    "ImageError",
    "LabelFormatError",
    "OutputError",
    "WeightsError",
]

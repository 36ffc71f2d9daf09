"""FeatherFace: FeatherFace V2 Ultra and V1 lightweight face detectors (boxes + 5 landmarks)."""

from __future__ import annotations

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

"""Functions a higher floor lends to inference, bound late (this module imports nothing heavy).

``FaceDetector(model, backend="onnxruntime")`` without a file needs an ONNX graph of the model;
writing graphs is the exporter's job, which sits above inference. The package root installs the
exporter here (:func:`set_onnx_exporter`), so inference runs what export wrote without importing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

__all__ = ["drop_cached_export", "get_onnx_exporter", "set_onnx_exporter"]

_onnx_exporter: Callable[[Any], Path] | None = None
_drop_cached: Callable[[Any], bool] | None = None


def set_onnx_exporter(exporter: Callable[[Any], Path] | None, drop: Callable[[Any], bool] | None = None) -> None:
    """Install the function that writes (or finds) the ONNX file of a model given without ``onnx_path``,
    and the one that deletes that cached file (``True`` when one was deleted)."""
    global _onnx_exporter, _drop_cached
    _onnx_exporter = exporter
    _drop_cached = drop


def get_onnx_exporter() -> Callable[[Any], Path] | None:
    return _onnx_exporter


def drop_cached_export(model: Any) -> bool:
    """Delete the cached export of ``model`` (a damaged file is rebuilt on the next use)."""
    return bool(_drop_cached(model)) if _drop_cached is not None else False

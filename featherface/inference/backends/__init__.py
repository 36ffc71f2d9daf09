"""Inference backends: run a network on a prepared batch and return its raw outputs.

* :class:`TorchBackend` — PyTorch eager, on the BatchNorm-folded, channels-last copy of
  :func:`optimize_for_inference`;
* :class:`OnnxRuntimeBackend` — an exported ONNX file under onnxruntime; :func:`make_session` is
  the package's one way to open an onnxruntime session;
* :mod:`.metadata` — reading (and checking) what an exported file says about itself.

Nothing here imports onnxruntime or onnx at import time (optional extras, loaded on use), and
nothing imports the exporter (the ``export`` package): exporting sits above inference.
"""

from featherface.inference.backends.metadata import RAW_OUTPUTS, check_compatible, parse_metadata, read_onnx_metadata
from featherface.inference.backends.onnxruntime_backend import (
    OnnxRuntimeBackend,
    import_onnxruntime,
    make_session,
    model_for_onnx,
    onnxruntime_available,
    session_options,
)
from featherface.inference.hooks import set_onnx_exporter
from featherface.inference.backends.optimize import InferenceModel, fold_conv_bn, optimize_for_inference
from featherface.inference.backends.torch_backend import TorchBackend

__all__ = [
    "RAW_OUTPUTS", "InferenceModel", "OnnxRuntimeBackend", "TorchBackend", "check_compatible", "fold_conv_bn",
    "import_onnxruntime", "make_session", "model_for_onnx", "onnxruntime_available", "optimize_for_inference", "parse_metadata",
    "read_onnx_metadata", "session_options", "set_onnx_exporter",
]

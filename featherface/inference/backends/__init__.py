"""Inference backends: run a network on a prepared batch and return its raw outputs.

* :class:`TorchBackend` — PyTorch eager, on the BatchNorm-folded, channels-last copy of
  :func:`optimize_for_inference`;
* :class:`OnnxRuntimeBackend` — an exported ONNX file under onnxruntime; :func:`make_session` is
  the package's one way to open an onnxruntime session;
* :mod:`.metadata` — reading (and checking) what an exported file says about itself.

Names are exported lazily: the onnxruntime backend and the metadata readers import without torch
(``FaceDetector`` on a cached ONNX file never loads it), and nothing here imports onnxruntime or
onnx at import time (optional extras, loaded on use) or the exporter (the ``export`` package):
exporting sits above inference.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

_EXPORTS = {
    "RAW_OUTPUTS": "metadata", "check_compatible": "metadata", "parse_metadata": "metadata",
    "read_onnx_metadata": "metadata",
    "OnnxRuntimeBackend": "onnxruntime_backend", "import_onnxruntime": "onnxruntime_backend",
    "make_session": "onnxruntime_backend", "onnxruntime_available": "onnxruntime_backend",
    "session_options": "onnxruntime_backend",
    "InferenceModel": "optimize", "fold_conv_bn": "optimize", "optimize_for_inference": "optimize",
    "TorchBackend": "torch_backend", "model_for_onnx": "torch_backend",
}

__all__ = sorted([*_EXPORTS, "set_onnx_exporter"])
__getattr__, __dir__ = lazy_exports(__name__, {**{k: f"{__name__}.{v}" for k, v in _EXPORTS.items()},
                                               "set_onnx_exporter": "featherface.inference.hooks"})

"""Deployment: writing ONNX / TorchScript / LiteRT files and INT8 quantization.

    >>> from featherface import create_model
    >>> from featherface.export import export_onnx, quantize_onnx_int8
    >>> export_onnx(create_model("featherface-v2-ultra"), "v2.onnx")          # random weights: speed only
    >>> quantize_onnx_int8("v2.onnx", "v2.int8.onnx", calibration="photos/")

Names are imported lazily so ``import featherface.export`` does not need onnx / onnxruntime.
Running the files (the onnxruntime backend, ``model_for_onnx``, reading metadata) and the faster
PyTorch copy (``optimize_for_inference``) are :mod:`featherface.inference.backends`.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

_EXPORTS = {
    "export_onnx": "featherface.export.onnx_export",
    "onnx_io_names": "featherface.export.onnx_export",
    "export_torchscript": "featherface.export.torchscript",
    "load_torchscript": "featherface.export.torchscript",
    "export_tflite": "featherface.export.tflite",
    "cached_export": "featherface.export.cache",
    "quantize_onnx_int8": "featherface.export.quantize",
    "ImageCalibrationReader": "featherface.export.quantize",
    "default_calibration_dir": "featherface.export.quantize",
    "synthetic_calibration_images": "featherface.export.quantize",
    "build_metadata": "featherface.export.metadata",
    "DetectorWithPostprocess": "featherface.export.postprocess_graph",
    "compare_sessions": "featherface.export.verify",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

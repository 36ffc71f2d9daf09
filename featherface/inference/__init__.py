"""Inference: pre/post-processing, the backends (:mod:`.backends`) and the :class:`FaceDetector` API (``load_image`` is re-exported
from its home, :mod:`featherface.io.images`)."""

from featherface.inference.backends import OnnxRuntimeBackend, make_session, model_for_onnx, optimize_for_inference
from featherface.inference.detector import FaceDetector
from featherface.inference.postprocess import PostprocessConfig, decode_outputs, select_detections
from featherface.io.images import load_image

__all__ = [
    "FaceDetector", "OnnxRuntimeBackend", "PostprocessConfig", "decode_outputs", "load_image", "make_session",
    "model_for_onnx", "optimize_for_inference", "select_detections",
]

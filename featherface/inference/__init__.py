"""Inference: image loading, pre/post-processing and the :class:`FaceDetector` API."""

from featherface.inference.detector import FaceDetector
from featherface.inference.image_io import load_image
from featherface.inference.postprocess import PostprocessConfig, decode_outputs, select_detections

__all__ = ["FaceDetector", "PostprocessConfig", "decode_outputs", "load_image", "select_detections"]

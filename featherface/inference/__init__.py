"""Inference: pre/post-processing, the backends (:mod:`.backends`), the :class:`FaceDetector` API and its
options (:class:`DetectorOptions`; ``load_image`` is re-exported from its home, :mod:`featherface.io.images`).

The names are loaded on first use, so ``featherface.inference.options`` (what the command line's
``--help`` reads) comes without torch.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

_HOMES = {
    "FaceDetector": "featherface.inference.detector",
    "DetectorOptions": "featherface.inference.options",
    "OnnxRuntimeBackend": "featherface.inference.backends",
    "make_session": "featherface.inference.backends",
    "model_for_onnx": "featherface.inference.backends",
    "optimize_for_inference": "featherface.inference.backends",
    "PostprocessConfig": "featherface.inference.postprocess",
    "Results": "featherface.inference.results",
    "decode_outputs": "featherface.inference.postprocess",
    "select_detections": "featherface.inference.postprocess",
    "load_image": "featherface.io.images",
}

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

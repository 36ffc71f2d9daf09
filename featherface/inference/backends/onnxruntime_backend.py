"""onnxruntime: the one place that opens an ONNX session, and the backend of :class:`~featherface.inference.FaceDetector`.

:func:`make_session` builds every ``onnxruntime.InferenceSession`` of the package (the detector
backend, the peer detectors, the export checks, the benchmark): CPU provider, all graph
optimisations, log noise turned down, intra-op threads from the argument or
``$FEATHERFACE_ORT_THREADS``, and a one-line error when onnxruntime is missing or cannot read the
file.

``FaceDetector(..., backend="onnxruntime", onnx_path=...)`` builds an :class:`OnnxRuntimeBackend`
with :meth:`OnnxRuntimeBackend.for_model`. The backend is a callable from a float32 NCHW numpy batch
(already BGR-minus-mean and padded, as the detector prepares it) to the raw ``bbox``/``cls``/``ldm``
tensors, so decoding and NMS stay shared with the torch backend and both give the same faces.

Safety: the ONNX file's metadata must say it is a FeatherFace export of the same architecture and
input normalisation as the detector's model (otherwise the priors or the mean would be wrong and the
faces silently garbage); different weights only warn. Without ``onnx_path`` the model is exported
once to a cache file by the exporter installed with :func:`set_onnx_exporter`: writing ONNX files is
the job of the ``export`` package, which inference does not import, so the package root installs
its ``cached_export`` (``export/cache.py``: keyed by config and weights hash, in
``$FEATHERFACE_CACHE`` or ``~/.cache/featherface/onnx``).

onnxruntime itself is imported inside the functions (an optional extra: ``import featherface``
must work without it).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from featherface.errors import ConfigError, FeatherFaceError
from featherface.io.files import file_problem
from featherface.inference.backends.metadata import (
    RAW_OUTPUTS,
    check_compatible,
    parse_metadata,
)
from featherface.inference.hooks import get_onnx_exporter

THREADS_ENV = "FEATHERFACE_ORT_THREADS"
CPU_PROVIDERS = ("CPUExecutionProvider",)

#: ``model -> Path`` of a raw-output ONNX file of ``model``, for a backend built without ``onnx_path``


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module, or a one-line :class:`FeatherFaceError` naming the extra to install."""
    try:
        import onnxruntime as ort  # optional extra: imported on use, never by `import featherface`
    except ImportError as exc:
        raise FeatherFaceError("this needs onnxruntime, which is not installed: pip install 'featherface[onnx]' "
                               "(or pip install onnxruntime)") from exc
    return ort


def onnxruntime_available() -> bool:
    """Whether onnxruntime (to run) and onnx (to export on the fly) are installed, without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def session_options(intra_op_threads: int | None = None, inter_op_threads: int | None = 1) -> Any:
    """ORT session options: ``intra_op_threads`` (``None``: ``$FEATHERFACE_ORT_THREADS`` or ORT's default)."""
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    if intra_op_threads is None and os.environ.get(THREADS_ENV):
        intra_op_threads = int(os.environ[THREADS_ENV])
    if intra_op_threads is not None:
        if intra_op_threads < 0:
            raise ConfigError(f"intra_op_threads must be >= 0 (0 = ORT default), got {intra_op_threads}")
        so.intra_op_num_threads = int(intra_op_threads)
    if inter_op_threads is not None:
        so.inter_op_num_threads = int(inter_op_threads)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: e.g. UltraFace files warn once per initializer
    return so


def make_session(
    model: str | os.PathLike | bytes,
    threads: int | None = None,
    *,
    inter_op_threads: int | None = 1,
    providers: Sequence[str] | None = None,
) -> Any:
    """An ``onnxruntime.InferenceSession`` over an ONNX file (or its bytes), with :func:`session_options`.

    Args:
        model: path of the ``.onnx`` file, or the serialized model.
        threads: intra-op threads (``None``: ``$FEATHERFACE_ORT_THREADS`` or ORT's default; 0: ORT's default).
        inter_op_threads: inter-op threads (``None``: ORT's default).
        providers: execution providers (default: CPU).

    Raises :class:`FeatherFaceError` when onnxruntime is not installed and :class:`ConfigError`
    (one line, naming the file) when it cannot load the model.
    """
    ort = import_onnxruntime()
    opts = session_options(threads, inter_op_threads)
    source = "in-memory ONNX model" if isinstance(model, (bytes, bytearray)) else str(model)
    try:
        return ort.InferenceSession(
            bytes(model) if isinstance(model, (bytes, bytearray)) else str(model), sess_options=opts,
            providers=list(providers) if providers else list(CPU_PROVIDERS),
        )
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{source}: onnxruntime cannot load it: {first}") from None


class OnnxRuntimeBackend:
    """Runs an exported FeatherFace ONNX file with onnxruntime (CPU by default).

    Args:
        path: the ``.onnx`` file (raw outputs, i.e. exported without ``--postprocess``).
        model: if given, the file's metadata must match its architecture and normalisation.
        intra_op_threads: threads for one operator (``None``: ``$FEATHERFACE_ORT_THREADS`` or ORT's default).
        providers: onnxruntime execution providers (default CPU).
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: str | os.PathLike,
        model: Any = None,
        intra_op_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ):
        import_onnxruntime()
        self.path = Path(path)
        problem = file_problem(self.path)  # a FIFO is named as one, never opened
        if problem is not None:
            raise ConfigError(f"{self.path}: ONNX file {problem}")
        self.session = make_session(self.path, intra_op_threads, providers=providers)
        self.metadata: dict[str, Any] = parse_metadata(dict(self.session.get_modelmeta().custom_metadata_map))
        for msg in check_compatible(self.metadata, model, str(self.path), raw_outputs=True):
            warnings.warn(msg, stacklevel=3)
        names = [o.name for o in self.session.get_outputs()]
        missing = [k for k in RAW_OUTPUTS if k not in names]
        if missing:
            raise ConfigError(f"{self.path}: lacks output(s) {missing}; outputs are {names}")
        self.input_name = self.session.get_inputs()[0].name
        self.intra_op_threads = intra_op_threads

    @classmethod
    def for_model(
        cls,
        model: Any,
        onnx_path: str | os.PathLike | None = None,
        intra_op_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> "OnnxRuntimeBackend":
        """Backend for ``model``: load ``onnx_path`` (checked against ``model``) or export ``model`` first."""
        if onnx_path is None:
            exporter = get_onnx_exporter()
            if exporter is None:
                raise ConfigError("the onnxruntime backend needs onnx_path (no ONNX exporter is installed)")
            onnx_path = exporter(model)
        return cls(onnx_path, model=model, intra_op_threads=intra_op_threads, providers=providers)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        outs = self.session.run(list(RAW_OUTPUTS), {self.input_name: x})
        return dict(zip(RAW_OUTPUTS, outs))

    def __repr__(self) -> str:
        return f"OnnxRuntimeBackend({str(self.path)!r}, model={self.metadata.get('model_name')!r})"

"""onnxruntime backend of :class:`~featherface.inference.FaceDetector`.

``FaceDetector(..., backend="onnxruntime", onnx_path=...)`` builds one with
:meth:`OnnxRuntimeBackend.for_model`. The backend is a callable from a float32 NCHW numpy batch
(already BGR-minus-mean and padded, as the detector prepares it) to the raw ``bbox``/``cls``/``ldm``
tensors, so decoding and NMS stay shared with the torch backend and both give the same faces.

Safety: the ONNX file's metadata must say it is a FeatherFace export of the same architecture and
input normalisation as the detector's model (otherwise the priors or the mean would be wrong and the
faces silently garbage); different weights only warn. Without ``onnx_path`` the model is exported
once to a cache file keyed by its config and weights hash (``$FEATHERFACE_CACHE`` or
``~/.cache/featherface/onnx``; a temporary folder if that is not writable).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from featherface.errors import ConfigError, FeatherFaceError
from featherface.export.metadata import RAW_OUTPUTS, check_compatible, parse_metadata

THREADS_ENV = "FEATHERFACE_ORT_THREADS"


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise FeatherFaceError("the onnxruntime backend needs onnxruntime: pip install 'featherface[onnx]'") from exc
    return ort


def cache_dir() -> Path:
    """Where exports made on the fly are kept (created on demand)."""
    env = os.environ.get("FEATHERFACE_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "featherface"
    d = base / "onnx"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return d
    except OSError:
        d = Path(tempfile.gettempdir()) / "featherface-onnx"
        d.mkdir(parents=True, exist_ok=True)
        return d


def session_options(intra_op_threads: int | None = None, inter_op_threads: int | None = 1) -> Any:
    """ORT session options: ``intra_op_threads`` (``None``: ``$FEATHERFACE_ORT_THREADS`` or ORT's default)."""
    ort = _import_ort()
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
    so.log_severity_level = 3
    return so


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
        model: nn.Module | None = None,
        intra_op_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ):
        ort = _import_ort()
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"{self.path}: ONNX file not found")
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=session_options(intra_op_threads),
                providers=list(providers) if providers else ["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{self.path}: onnxruntime cannot load it: {first}") from None
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
        model: nn.Module,
        onnx_path: str | os.PathLike | None = None,
        intra_op_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> "OnnxRuntimeBackend":
        """Backend for ``model``: load ``onnx_path`` (checked against ``model``) or export ``model`` first."""
        if onnx_path is None:
            onnx_path = cached_export(model)
        return cls(onnx_path, model=model, intra_op_threads=intra_op_threads, providers=providers)

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        outs = self.session.run(list(RAW_OUTPUTS), {self.input_name: x})
        return {k: torch.from_numpy(v) for k, v in zip(RAW_OUTPUTS, outs)}

    def __repr__(self) -> str:
        return f"OnnxRuntimeBackend({str(self.path)!r}, model={self.metadata.get('model_name')!r})"


def model_for_onnx(path: str | os.PathLike) -> nn.Module:
    """A torch model with the architecture recorded in an ONNX file (weights untouched: never run).

    For ``FaceDetector(model_for_onnx(p), backend="onnxruntime", onnx_path=p)`` when only the ONNX
    file is at hand: the detector takes anchors and normalisation from the model's config, which
    this function reads from the file, so they cannot disagree.
    """
    from featherface.export.metadata import read_onnx_metadata
    from featherface.models import FeatherFace, FeatherFaceConfig

    meta = read_onnx_metadata(path)
    if meta.get("featherface.format") != "featherface-onnx" or not isinstance(meta.get("config"), dict):
        raise ConfigError(f"{path}: not a FeatherFace ONNX export (no config in its metadata)")
    model = FeatherFace(FeatherFaceConfig.from_dict(meta["config"]), name=meta.get("model_name", "featherface-custom"))
    model._featherface_onnx_only = True  # type: ignore[assignment]  # weights live in the file
    return model.eval()


def export_key(model: nn.Module) -> str:
    """Cache key of an on-the-fly export: architecture, weights and package version."""
    from featherface import __version__
    from featherface.weights import state_dict_sha256

    h = hashlib.sha256()
    h.update(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    h.update(state_dict_sha256(model.state_dict()).encode())
    h.update(__version__.encode())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


def cached_export(model: nn.Module) -> Path:
    """Export ``model`` (raw outputs) once per (config, weights) and return the cached file."""
    from featherface.export.onnx_export import export_onnx

    if getattr(model, "config", None) is None:
        raise ConfigError("the onnxruntime backend can export only FeatherFace models; pass onnx_path for others")
    path = cache_dir() / f"{getattr(model, 'name', 'featherface')}-{export_key(model)}.onnx"
    if not path.is_file():
        was_training = model.training
        export_onnx(model, path, input_size=160, weights="in-memory model (exported by the onnxruntime backend)",
                    trained="unknown")
        model.train(was_training)
    return path

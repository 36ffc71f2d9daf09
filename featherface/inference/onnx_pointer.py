"""Finding a weights file's cached ONNX export again without torch.

The exporter names its cache files by the network's config and tensors, which takes torch to
compute. After the first ``FaceDetector`` of a (model, weights file) pair has exported (with
torch), it leaves a small pointer beside the export, keyed by the model name, the weights
*file*'s sha256 and the package version; the next one follows it, opens the ONNX file with
onnxruntime and never imports torch (~2.5 s of every one-photo CLI run and of every
``--workers`` process). A missing, stale or unreadable pointer only means the torch path again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from featherface import __version__
from featherface.errors import FeatherFaceError
from featherface.io.cache import cache_dir
from featherface.io.outputs import atomic_write_bytes
from featherface.models.shipped import file_sha256, shipped_digest

__all__ = ["pointer_path", "recall", "remember"]

POINTER_VERSION = 1


def pointer_path(model_name: str, weights_path: str | Path) -> Path:
    """Where the pointer of ``model_name`` with the weights file at ``weights_path`` lives (a shipped
    file's recorded digest, checked when the detector resolved it, spares hashing it again)."""
    digest = shipped_digest(weights_path) or file_sha256(weights_path)
    key = f"{model_name}|{digest}|{__version__}|pointer-{POINTER_VERSION}"
    return cache_dir("onnx") / f"{model_name}-w{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def remember(model_name: str, weights_path: str | Path, onnx_path: str | Path, weights_meta: dict[str, Any]) -> None:
    """Leave the pointer (best effort: a cache that cannot be written is no error)."""
    doc = {"model": model_name, "onnx": Path(onnx_path).name, "weights_meta": weights_meta}
    try:
        atomic_write_bytes(json.dumps(doc, default=str).encode(), pointer_path(model_name, weights_path))
    except (OSError, ValueError, TypeError, FeatherFaceError):
        pass


def recall(model_name: str, weights_path: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """``(the cached ONNX file, the weights' meta)`` when a pointer for this pair leads to one, else ``None``."""
    if not Path(weights_path).is_file():  # missing, or a FIFO / device that hashing would block on
        return None
    try:
        p = pointer_path(model_name, weights_path)
        doc = json.loads(p.read_text(encoding="utf-8"))
        onnx = p.parent / str(doc["onnx"])
        if doc.get("model") != model_name or Path(doc["onnx"]).name != doc["onnx"] or not onnx.is_file():
            return None
        meta = doc.get("weights_meta")
        return onnx, dict(meta) if isinstance(meta, dict) else {}
    except (OSError, ValueError, KeyError, TypeError):
        return None

"""The weights shipped inside the package and where a weights spec points: without torch.

Why its own module: ``FaceDetector()`` on the onnxruntime backend finds the shipped file and its
cached ONNX export without importing torch (:mod:`featherface.models.weights`, which reads and
loads the files, needs it and re-exports these names).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from featherface.errors import WeightsError

__all__ = ["BUILTIN_WEIGHTS", "PACKAGE_WEIGHTS_DIR", "file_sha256", "resolve_weights", "shipped_digest",
           "verified_package_file", "verify_builtin"]

PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # the data folder featherface/weights/
# Weights shipped inside the package: model name -> (file in featherface/weights/, sha256 of the file).
# The file hash is checked before loading, so a damaged or swapped file fails loudly.
BUILTIN_WEIGHTS: dict[str, tuple[str, str]] = {
    # distilled from RetinaFace-mnet0.25 on CPU (tools/make_default_weights.sh): see docs/model_card.md (V2 Ultra: half the average of stages 8 and 11, half the tail average of stages 12-13; V1: half that blend, half stage 14)
    "featherface-v1": ("featherface-v1.pt", "916fe36d7967aee34c4328d02ce25171804a64e872323d2427192cc6e9ebd114"),
    "featherface-v2-ultra": ("featherface-v2-ultra.pt", "2dda3b0865c26525276279c6279627ad4f510129ff7ae04c5a3e71e8c8dddcba"),
}


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_digest(path: str | os.PathLike) -> str | None:
    """The recorded sha256 of ``path`` when it is one of the shipped weights files, else ``None``.

    Why: :func:`resolve_weights` has just checked that digest; a cache key made from the file (the
    cached export's pointer) takes it from here instead of hashing the file a second time."""
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError):
        return None
    for fname, digest in BUILTIN_WEIGHTS.values():
        if p == PACKAGE_WEIGHTS_DIR / fname:
            return digest
    return None


def verify_builtin(name: str) -> Path:
    """Path of the shipped weights of ``name`` after checking the file's sha256."""
    fname, digest = BUILTIN_WEIGHTS[name]
    return verified_package_file(fname, digest, f"the shipped weights of '{name}'")


def verified_package_file(fname: str, digest: str, what: str) -> Path:
    """``featherface/weights/fname`` after checking that it exists and has sha256 ``digest``."""
    path = PACKAGE_WEIGHTS_DIR / fname
    if not path.is_file():
        raise WeightsError(f"{path}: {what} is missing from the installation")
    got = file_sha256(path)
    if got != digest:
        raise WeightsError(f"{path}: {what} fails its checksum (expected {digest[:12]}…, got {got[:12]}…); "
                           "reinstall featherface")
    return path


def resolve_weights(name_or_path: str, model_name: str | None = None) -> Path:
    """Map ``"default"``/a model name to the file shipped in the package, or return a path as is.

    While no trained weights ship for a model, asking for them is an error — never random output.
    """
    key = model_name if name_or_path in ("default", "pretrained") else name_or_path
    if key in BUILTIN_WEIGHTS:
        return verify_builtin(key)
    p = Path(name_or_path)
    if name_or_path in ("default", "pretrained") and key == "retinaface-mnet025":
        raise WeightsError("RetinaFace-mnet0.25's weights are not shipped (they are its authors' release file): "
                           "pass weights=PATH to retinaface_mnet025_Final.pth (biubug6/Pytorch_Retinaface, MIT)")
    if name_or_path in ("default", "pretrained") or (not p.suffix and not p.exists()):
        shipped = ", ".join(sorted(BUILTIN_WEIGHTS)) or "none yet"
        raise WeightsError(
            f"no trained weights are shipped for '{key}' (shipped: {shipped}); pass weights=PATH to a "
            "checkpoint you trained (featherface train), or weights=None for an untrained, random model"
        )
    return p

"""Saving, verifying and loading FeatherFace weights files.

A weights file is a ``torch.save`` of a plain dict (tensors, strings, numbers only — loadable with
``torch.load(..., weights_only=True)``, so a weights file can never run code)::

    {"format": "featherface-weights", "version": 1, "model": "featherface-v2-ultra",
     "config": {...FeatherFaceConfig fields...}, "state_dict": {...}, "sha256": "<of the state_dict>",
     "meta": {...free-form: training recipe, data, metrics...}}

Training checkpoints (see :mod:`featherface.training`) embed the same dict under ``"weights"``, so
they load here too. ``sha256`` covers the tensors' bytes in key order, so a file that was damaged
after it was written (or whose tensors were edited) fails verification with a clear message.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from featherface.errors import WeightsError
from featherface.io.files import file_problem
from featherface.io.outputs import atomic_write_bytes
from featherface.models.backbone import backbone_tensors, load_backbone_checkpoint
from featherface.models.featherface import FeatherFace, FeatherFaceConfig
from featherface.models.retinaface_keys import convert_retinaface_state_dict, looks_like_retinaface
from featherface.models.shipped import (  # noqa: F401  (re-exported: the weights API in one place)
    BUILTIN_WEIGHTS,
    PACKAGE_WEIGHTS_DIR,
    file_sha256,
    resolve_weights,
    verified_package_file,
    verify_builtin,
)

FORMAT = "featherface-weights"
VERSION = 1
def state_dict_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """Hash of the tensors (names, dtypes, shapes and bytes), independent of pickling details."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def weights_dict(model: nn.Module, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The weights-file dict of a :class:`~featherface.models.FeatherFace` (also used inside checkpoints)."""
    # contiguous copies: a channels-last training model must not leave NHWC strides in the file
    sd = {k: v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in model.state_dict().items()}
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": getattr(model, "name", "featherface-custom"),
        "config": json.loads(json.dumps(model.config.to_dict())),  # tuples -> lists, plain types only
        "state_dict": sd,
        "sha256": state_dict_sha256(sd),
        "meta": dict(meta or {}),
    }


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`featherface.io.outputs.atomic_write_bytes`."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(buf.getbuffer(), path)


def save_weights(model: nn.Module, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Save a model's weights (atomically) in the verified FeatherFace format."""
    atomic_torch_save(weights_dict(model, meta), path)
    return Path(path)


def _sniff_kind(p: Path) -> str | None:
    """What a file that is not a PyTorch weights file is, from its first bytes (for the message)."""
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if not head:
        return "an empty file (0 bytes)"
    images = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"BM": "a BMP image"}
    for magic, kind in images.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if p.suffix.lower() == ".onnx" or (head[:1] == b"\x08" and b"onnx" in head.lower()):
        return "an ONNX model (load it with backend='onnxruntime', onnx_path=...)"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "a TorchScript module (run it with torch.jit.load, or export weights with featherface train)"
        return None
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError:
            return None
    return None


def check_archive_bounds(p: Path) -> None:
    """Refuse a weights archive whose entries unpack to more than the file holds.

    ``torch.save`` stores tensor data uncompressed, so a genuine file unpacks to about its own
    size; a deflate-compressed entry (a 1 MB file declaring a 400 MB tensor) would make
    ``torch.load`` allocate the whole tensor before anything can be checked. This bounds the
    memory of reading a weights file by the file's own size (plus the unpickled metadata)."""
    try:
        if not zipfile.is_zipfile(p):
            return  # legacy torch format or not a weights file: torch.load and load_error judge it
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    size = p.stat().st_size
    unpacked = sum(i.file_size for i in infos)
    compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if unpacked > size + (1 << 20) or (compressed and unpacked > 4 * size + (1 << 16)):
        raise WeightsError(f"{p}: refused: its entries unpack to {unpacked / 2**20:.1f} MiB from a "
                           f"{size / 2**20:.1f} MiB file (compressed tensor data; torch.save never writes that)")


def load_error(p: Path, exc: BaseException, what: str = "weights file") -> WeightsError:
    """One line for a ``torch.load(weights_only=True)`` failure of the ``what`` at ``p`` (weights
    file, checkpoint): what the file is when it can be told, a refusal (never torch's advice to
    retry with ``weights_only=False``, which would run the pickled code) for pickled code, else
    truncated/corrupt."""
    text = str(exc)
    kind = _sniff_kind(p)
    if kind is not None:
        return WeightsError(f"{p}: is {kind}, not a {what}")
    if "weights_only" in text or "Unsupported global" in text or "Unsupported operand" in text:
        return WeightsError(f"{p}: refused to load: the file contains pickled objects other than tensors "
                            f"(it could run code); only plain {what}s are accepted")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "weights_only" in first or "WeightsUnpickler" in first:  # torch's unsafe advice: never repeated
        first = type(exc).__name__
    return WeightsError(f"{p}: cannot read {what} (truncated or corrupt?): {first[:200]}")


def read_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Load and verify a weights file (or a training checkpoint) -> the weights dict.

    Raises :class:`WeightsError` naming the file and the cause: missing, empty, truncated/corrupt,
    not a FeatherFace file, containing pickled code, or failing its checksum.
    """
    p = Path(path)
    problem = file_problem(p)
    if problem == "not found":
        raise WeightsError(f"{p}: weights file not found")
    if problem is not None:  # a FIFO used to read as "empty (0 bytes)"
        raise WeightsError(f"{p}: {problem}, not a weights file" if "not a regular" not in problem
                           else f"{p}: {problem}; give a weights file")
    if p.stat().st_size == 0:
        raise WeightsError(f"{p}: weights file is empty (0 bytes)")
    check_archive_bounds(p)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or unsafe files
        raise load_error(p, exc) from None
    return _check_weights_obj(p, obj)


# architecture fields added after weights files existed, with the behaviour those files were trained
# with: a file that does not record a field predates it (whatever the field's default is now)
LEGACY_CONFIG = {"spatial_norm": False, "attention_residual": False}


def _check_weights_obj(p: Path, obj: Any) -> dict[str, Any]:
    """Verify an object loaded from ``p`` as a weights file (or checkpoint, or RetinaFace release
    file) -> the weights dict; see :func:`read_weights` for what is refused."""
    if isinstance(obj, dict) and "weights" in obj and isinstance(obj["weights"], dict):
        obj = obj["weights"]  # a training checkpoint
    if isinstance(obj, dict) and obj.get("format") != FORMAT and looks_like_retinaface(obj):
        obj = _from_retinaface_release(p, obj)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise WeightsError(f"{p}: not a FeatherFace weights file (no '{FORMAT}' header); "
                           "plain state_dicts can be loaded with load_state_dict_file()")
    for key in ("model", "config", "state_dict", "sha256"):
        if key not in obj:
            raise WeightsError(f"{p}: weights file lacks the '{key}' entry")
    # a damaged or hand-edited header must fail here, not as an AttributeError deep in the checksum
    for key, typ in (("model", str), ("config", dict), ("state_dict", dict), ("sha256", str), ("meta", dict)):
        if key in obj and not isinstance(obj[key], typ):
            raise WeightsError(f"{p}: weights file entry '{key}' is a {type(obj[key]).__name__}, "
                               f"expected a {typ.__name__}")
    bad = next((k for k, v in obj["state_dict"].items()
                if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise WeightsError(f"{p}: state_dict entry {bad!r} is not a tensor named by a string")
    digest = state_dict_sha256(obj["state_dict"])
    if digest != obj["sha256"]:
        raise WeightsError(f"{p}: checksum mismatch (file damaged or edited): expected {obj['sha256'][:12]}…, got {digest[:12]}…")
    bad_value = next((k for k, v in obj["state_dict"].items()
                      if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad_value is not None:
        raise WeightsError(f"{p}: tensor {bad_value!r} holds NaN or infinite values (a diverged training run?); "
                           "these weights cannot detect anything")
    obj["config"] = {**LEGACY_CONFIG, **obj["config"]}
    return obj


def _from_retinaface_release(path: Path, state_dict: dict[str, Any]) -> dict[str, Any]:
    """Wrap the RetinaFace-mnet0.25 release file (a plain state dict) as a weights dict, so that
    ``FaceDetector("retinaface-mnet025", weights="mobilenet0.25_Final.pth")`` works unchanged."""
    from featherface.models.registry import model_config  # here: the registry imports this module

    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()):
        raise WeightsError(f"{path}: RetinaFace state dict holds entries that are not named tensors")
    try:
        sd = convert_retinaface_state_dict(state_dict)
    except KeyError as exc:
        raise WeightsError(f"{path}: not a RetinaFace-mnet0.25 release file: {exc.args[0]}") from None
    name = "retinaface-mnet025"
    return {"format": FORMAT, "version": VERSION, "model": name,
            "config": json.loads(json.dumps(model_config(name).to_dict())), "state_dict": sd,
            "sha256": state_dict_sha256(sd), "meta": {"source": f"RetinaFace-mnet0.25 release file {path.name}"}}


def load_weights(model: nn.Module, path: str | os.PathLike, strict_arch: bool = True) -> dict[str, Any]:
    """Verify ``path`` and load it into ``model``; the architecture must match exactly."""
    obj = read_weights(path)
    apply_weights(model, obj, path, strict_arch)
    return obj


def model_from_weights(path: str | os.PathLike) -> nn.Module:
    """The network a weights file records (its model name and architecture), with those weights:
    one read of the file. Config fields this version does not know are refused as by :func:`load_weights`."""
    return model_for_weights(read_weights(path), path)


def model_for_weights(obj: dict[str, Any], path: str | os.PathLike) -> nn.Module:
    """:func:`model_from_weights` for a weights dict already read (``path`` names it in errors)."""
    known = set(FeatherFaceConfig().to_dict())
    model = FeatherFace(FeatherFaceConfig.from_dict({k: v for k, v in obj["config"].items() if k in known}),
                        name=obj["model"])
    apply_weights(model, obj, path, strict_arch=True)
    return model


def config_differences(model: nn.Module, obj: dict[str, Any]) -> list[str]:
    """The architecture fields in which a weights dict differs from ``model`` (fields the file does
    not record keep their defaults; fields this version does not know count as differences)."""
    ours, theirs = model.config.to_dict(), obj["config"]
    diff = [k for k in ours if k in theirs and json.dumps(ours[k]) != json.dumps(theirs[k])]
    return diff + [k for k in theirs if k not in ours]


def apply_weights(model: nn.Module, obj: dict[str, Any], path: str | os.PathLike, strict_arch: bool = True) -> None:
    """Load a verified weights dict into ``model`` (architecture checked first when ``strict_arch``)."""
    if strict_arch:
        diff = config_differences(model, obj)
        if diff:
            raise WeightsError(
                f"{path}: weights are for '{obj['model']}' with a different architecture "
                f"(differs in: {', '.join(sorted(diff)[:6])}); build the model with create_model('{obj['model']}') "
                f"or pass model='{obj['model']}'"
            )
    try:
        model.load_state_dict(obj["state_dict"], strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        if len(detail) > 200:
            detail = detail[:200] + "…"
        raise WeightsError(f"{path}: weights do not fit model '{getattr(model, 'name', '?')}': {detail}") from None


# Backbone starts shipped in the package: name -> (file in featherface/weights/, sha256 of the file).
BUILTIN_BACKBONES: dict[str, tuple[str, str]] = {
    # the 213,072 backbone parameters (+ BN statistics) of mobilenetV1X0.25_pretrain.tar
    # (biubug6/Pytorch_Retinaface, MIT; ImageNet top-1 46.58 %), renamed to our keys
    "imagenet": ("mobilenetv1-0.25-imagenet.pt", "af508abe17d602c506520e6e3bd7099d3e1a3b5cfac880d32e703057c1dbf031"),
}
BACKBONE_FORMAT = "featherface-backbone"


def torch_load_plain(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` that also admits the numpy scalars old ImageNet
    checkpoints carry (``best_acc1``); still never runs pickled code. :class:`WeightsError` on failure."""
    p = Path(path)
    check_archive_bounds(p)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as first:  # noqa: BLE001 - torch raises many types for damaged or unsafe files
        allowed: list[Any] = []
        try:  # numpy's internal path, guarded (it moves between numpy versions); only for old files
            from numpy.core.multiarray import scalar as np_scalar  # type: ignore[attr-defined]

            allowed = [np_scalar, np.dtype] + [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32")]
        except Exception:  # noqa: BLE001
            pass
        if allowed:
            try:
                with torch.serialization.safe_globals(allowed):
                    return torch.load(p, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001
                pass
        raise load_error(p, first) from None


def read_backbone_state_dict(spec: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """The MobileNetV1-0.25 tensors named by ``spec`` and what kind of file they came from.

    ``spec`` is ``"imagenet"`` (shipped, sha256-checked) or a path to: the ImageNet checkpoint
    (``module.stage*``), a RetinaFace release file (``body.*``), a FeatherFace weights file or
    training checkpoint (``backbone.*``), or a plain backbone state dict. Only backbone tensors are
    returned (keys ``stage1.*``...; layout mapping is left to
    :func:`~featherface.models.backbone.load_backbone_checkpoint`). Anything else is refused.
    """
    if str(spec) in BUILTIN_BACKBONES:
        fname, digest = BUILTIN_BACKBONES[str(spec)]
        obj = torch_load_plain(verified_package_file(fname, digest, f"the shipped '{spec}' backbone"))
        return dict(obj["state_dict"]), "ImageNet MobileNetV1-0.25 (shipped with the package)"
    p = Path(spec)
    if not p.is_file():
        raise WeightsError(f"{p}: backbone checkpoint not found (use 'imagenet', 'none' or a file)")
    obj = torch_load_plain(p)
    if not isinstance(obj, dict):
        raise WeightsError(f"{p}: not a backbone checkpoint (a {type(obj).__name__}, not a dict of tensors)")
    if obj.get("format") == FORMAT or isinstance(obj.get("weights"), dict):
        w = read_weights(p)  # re-read strictly: this loader admits numpy scalars, weights files may not
        sd, kind = w["state_dict"], f"FeatherFace weights of '{w['model']}'"
    elif obj.get("format") == BACKBONE_FORMAT:
        sd, kind = obj.get("state_dict", {}), "FeatherFace backbone file"
    elif looks_like_retinaface(obj):
        sd, kind = obj, "RetinaFace-mnet0.25 release file"
    elif isinstance(obj.get("state_dict"), dict):
        sd, kind = obj["state_dict"], "ImageNet MobileNetV1-0.25 checkpoint"
    else:
        sd, kind = obj, "state dict"
    out = backbone_tensors(sd)
    if not out:
        raise WeightsError(f"{p}: no MobileNetV1-0.25 backbone tensors in this {kind} "
                           "(expected keys stage1.*, body.stage1.*, module.stage1.* or backbone.stage1.*)")
    return dict(out), kind


def load_backbone_weights(backbone: nn.Module, spec: str | os.PathLike) -> str:
    """Load exactly the backbone's parameters and BatchNorm statistics from ``spec`` (see
    :func:`read_backbone_state_dict`); returns a one-line account of what was loaded."""
    sd, kind = read_backbone_state_dict(spec)
    try:
        loaded = set(load_backbone_checkpoint(backbone, sd))
    except KeyError as exc:
        raise WeightsError(f"{spec}: {kind} does not fit the MobileNetV1-0.25 backbone: {exc.args[0]}") from None
    n_params = sum(t.numel() for k, t in backbone.named_parameters() if k in loaded)
    n_stats = sum(1 for k in loaded if k.endswith(("running_mean", "running_var")))
    return f"{kind}: {n_params:,} parameters + {n_stats} BatchNorm statistics tensors"



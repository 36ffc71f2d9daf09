"""TorchScript export (``torch.jit.trace``) for C++/mobile consumers that link libtorch.

Tracing rather than scripting: the network has no data-dependent control flow, and its shape
arithmetic (channel shuffle reshapes, resizes to a reference's size) is recorded symbolically, so a
trace taken at one size runs at any multiple-of-32 size and any batch. The traced module returns
the tuple ``(bbox, cls, ldm)`` (the ONNX output order); the metadata of :mod:`.metadata` travels
as the extra file ``featherface.json``.

PyTorch 2.9+ marks TorchScript as deprecated (in favour of ``torch.export``); it still works and is
what libtorch C++ and older mobile runtimes load, so it stays available here. ONNX is the primary
deployment format.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from featherface.export.metadata import build_metadata
from featherface.export.onnx_export import export_size_hw
from featherface.inference.backends.metadata import RAW_OUTPUTS, parse_metadata
from featherface.io.outputs import atomic_output

EXTRA_FILE = "featherface.json"


class TupleOutputs(nn.Module):
    """dict -> tuple in the ONNX output order (TorchScript and LiteRT consumers index outputs, not keys)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(x)
        return out["bbox"], out["cls"], out["ldm"]


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    input_size: int | Sequence[int] = 640,
    weights: str | os.PathLike | None = None,
    trained: bool | str | None = None,
    freeze: bool = False,
) -> Path:
    """Trace ``model`` and save it with its metadata; returns the path.

    ``freeze=True`` folds parameters and BatchNorm into constants (``torch.jit.freeze``): a little
    faster per call in libtorch, but the file can no longer be fine-tuned and the export and first
    call take seconds longer.
    """
    h, w = export_size_hw(input_size)
    net = copy.deepcopy(model).cpu().eval()
    wrapped = TupleOutputs(net).eval()
    example = torch.zeros(2, 3, h, w)
    meta = build_metadata(net, weights=weights, trained=trained, fmt="featherface-torchscript")
    meta["outputs_order"] = json.dumps(list(RAW_OUTPUTS))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # shape-check tracer warnings are expected
        traced = torch.jit.trace(wrapped, (example,), check_trace=False)
    traced = torch.jit.freeze(traced.eval()) if freeze else traced
    path = Path(path)
    with atomic_output(path) as tmp, warnings.catch_warnings():  # complete or absent, ordinary permissions
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates TorchScript; it still works
        torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta)})
    return path


def load_torchscript(path: str | os.PathLike) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """Load a TorchScript export -> ``(module, parsed metadata)``; the module returns ``(bbox, cls, ldm)``."""
    extra = {EXTRA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    meta = parse_metadata(json.loads(extra[EXTRA_FILE])) if extra[EXTRA_FILE] else {}
    return module, meta

"""LiteRT (TFLite) export for phones and XNNPACK: the folded network through ``litert-torch``.

Why: on the CPUs measured here LiteRT runs V2 Ultra's network in 0.83x onnxruntime's time on one
thread and 0.70x on two (docs/deployment.md), and ``.tflite`` is what Android and iOS apps load.
What it costs: the converter, ``litert-torch``, brings jax and transformers (~2 GB), so it is not an
extra of this package (``pip install litert-torch``, a separate environment is fine). The file has
**one input shape**: litert-torch writes upsampling sizes and reshapes as constants of the example
input even when asked for dynamic shapes, so a file is made per input size (the size a camera or
app feeds it). Inputs and outputs are those of the raw ONNX export at that size: ``input``
1x3xHxW float32, BGR minus the model's mean; outputs ``(bbox, cls, ldm)`` as
:data:`~featherface.inference.backends.metadata.RAW_OUTPUTS`, decoded with the priors that
``featherface export --format onnx`` records in its metadata.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from featherface.errors import ConfigError
from featherface.export.deploy import deploy_model
from featherface.export.onnx_export import export_size_hw
from featherface.export.torchscript import TupleOutputs
from featherface.inference.backends.metadata import RAW_OUTPUTS
from featherface.io.outputs import atomic_output

INSTALL_HINT = "pip install litert-torch (about 2 GB with jax; a separate environment is fine)"


def require_converter() -> Any:
    """The litert_torch module, or a one-line ConfigError saying how to install it."""
    try:
        import litert_torch
    except ImportError as exc:
        raise ConfigError(f"--format tflite needs the litert-torch converter, which is not installed: {INSTALL_HINT}") from exc
    return litert_torch


def export_tflite(model: nn.Module, path: str | os.PathLike, *, input_size: int | Sequence[int] = 640) -> Path:
    """Convert ``model`` (a FeatherFace network, folded first as ``--deploy`` does) to a LiteRT file
    for a 1x3xHxW input of ``input_size`` (N or (H, W), multiples of 32); returns the path."""
    h, w = export_size_hw(input_size)  # N or (H, W), multiples of 32: a one-line error otherwise
    litert_torch = require_converter()
    net = TupleOutputs(deploy_model(model)).eval()
    with torch.no_grad():
        converted = litert_torch.convert(net, (torch.zeros(1, 3, h, w),))
    path = Path(path)
    with atomic_output(path) as tmp:  # complete or absent
        converted.export(str(tmp))
    return path


def tflite_runner(path: str | os.PathLike, threads: int = 1) -> Callable[[Any], dict[str, Any]]:
    """``batch -> raw dict`` callable over a LiteRT file (ai-edge-litert's interpreter, XNNPACK), as
    :func:`featherface.export.verify.ort_runner` is over an ONNX file."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ConfigError("running a .tflite file needs ai-edge-litert: pip install ai-edge-litert") from exc
    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    outs = [d["index"] for d in it.get_output_details()]

    def run(x: Any) -> dict[str, Any]:
        it.set_tensor(inp, x)
        it.invoke()
        return {k: it.get_tensor(i) for k, i in zip(RAW_OUTPUTS, outs)}  # written in TupleOutputs' order
    return run


__all__ = ["INSTALL_HINT", "export_tflite", "require_converter", "tflite_runner"]

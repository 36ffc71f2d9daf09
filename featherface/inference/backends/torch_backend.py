"""PyTorch (eager) backend of :class:`~featherface.inference.FaceDetector`, and the torch model an ONNX file records."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from featherface.errors import ConfigError
from featherface.inference.backends.metadata import FORMAT_TAG, RAW_OUTPUTS, read_onnx_metadata
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.models.featherface import FeatherFace, FeatherFaceConfig


class TorchBackend:
    """Runs the network with PyTorch (eager).

    FeatherFace networks run as an optimised copy (BatchNorm folded into the convs, channels-last
    memory layout; same outputs to ~1e-5, 1.5-1.9x faster on CPU — see
    :mod:`featherface.inference.backends.optimize`); other modules (e.g. test stubs) run as given.
    """

    name = "torch"

    def __init__(self, model: nn.Module, device: torch.device, optimize: bool = True):
        model = model.to(device).eval()
        if optimize and isinstance(model, FeatherFace):
            model = optimize_for_inference(model)
        self.model = model
        self.device = device

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(batch).to(self.device)
        out = self.model(x)
        return {k: out[k].float().cpu() for k in RAW_OUTPUTS}


def model_for_onnx(path: str | os.PathLike) -> nn.Module:
    """A torch model with the architecture recorded in an ONNX file (weights untouched: never run).

    For ``FaceDetector(model_for_onnx(p), backend="onnxruntime", onnx_path=p)`` when only the ONNX
    file is at hand: the detector takes anchors and normalisation from the model's config, which
    this function reads from the file, so they cannot disagree.
    """
    meta = read_onnx_metadata(path)
    if meta.get("featherface.format") != FORMAT_TAG or not isinstance(meta.get("config"), dict):
        raise ConfigError(f"{path}: not a FeatherFace ONNX export (no config in its metadata)")
    model = FeatherFace(FeatherFaceConfig.from_dict(meta["config"]), name=meta.get("model_name", "featherface-custom"))
    model._featherface_onnx_only = True  # type: ignore[assignment]  # weights live in the file
    return model.eval()

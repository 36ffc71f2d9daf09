"""PyTorch (eager) backend of :class:`~featherface.inference.FaceDetector`."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from featherface.inference.backends.metadata import RAW_OUTPUTS
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.models.featherface import FeatherFace


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

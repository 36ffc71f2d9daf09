"""Shared test fixtures. ``SHARED`` is :func:`featherface.io.paths.shared_dir` (../shared beside the
repo, or $FEATHERFACE_SHARED_DIR); tests using it skip when absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from featherface.io.paths import shared_dir
from featherface.models import create_model

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir()  # $FEATHERFACE_SHARED_DIR, else ../shared beside the checkout

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture
def example_image() -> Path:
    return REPO / "examples" / "astronaut.jpg"


# --------------------------------------------------------------------------- small seeded models, one ONNX export
# (shared by tests/export and tests/inference/backends)


def lively(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial statistics and affine terms (so BN folding is exercised)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def few_faces(model: torch.nn.Module, face_bias: float = -2.0) -> torch.nn.Module:
    """Push the face logit down so a random network reports only its strongest few priors."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if name.endswith(".cls") and isinstance(m, torch.nn.Conv2d):
                m.bias.view(-1, 2)[:, 1] += face_bias
    return model


def make_model(name: str = "featherface-v2-ultra", seed: int = 0) -> torch.nn.Module:
    """A random, BN-lively network. V2 Ultra in the sheet's plain attention form: with residual
    repeats a random network's logits grow ~3x and its face scores saturate, so ties decide which
    boxes NMS keeps and the backend and export comparisons stop meaning anything. The residual form
    is compared across backends on the shipped (trained) weights (tests/inference/test_detector.py)."""
    torch.manual_seed(seed)
    overrides = {"attention_residual": False} if name == "featherface-v2-ultra" else {}
    return lively(create_model(name, **overrides), seed)


@pytest.fixture(scope="session")
def v2_model() -> torch.nn.Module:
    return make_model("featherface-v2-ultra")


@pytest.fixture(scope="session")
def v2_onnx(v2_model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from featherface.export.onnx_export import export_onnx

    return export_onnx(v2_model, tmp_path_factory.mktemp("onnx") / "v2.onnx", input_size=64)


@pytest.fixture(scope="session")
def face_image() -> np.ndarray:
    """A synthetic 'photo' with face-like blobs (BGR uint8, 200x300)."""
    from featherface.data.synthetic import render_synthetic_image

    return render_synthetic_image(np.random.default_rng(1), (200, 300), max_faces=4)[0]


@pytest.fixture(scope="session")
def model_factory():
    """``model_factory(name, seed, face_bias=None)`` -> a fresh seeded model (``few_faces`` when face_bias)."""

    def make(name: str = "featherface-v2-ultra", seed: int = 0, face_bias: float | None = None) -> torch.nn.Module:
        m = make_model(name, seed)
        return few_faces(m, face_bias) if face_bias is not None else m

    return make


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP spinning makes 2 threads ~5x slower.
    (Made autouse by the conftests of tests/export and tests/inference/backends.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

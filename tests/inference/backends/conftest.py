"""The backend tests: the seeded models and the ONNX export they share are in tests/conftest.py."""

from __future__ import annotations

import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one intra-op thread (see ``one_torch_thread``)."""
    yield

"""Shared fixtures of the fast fuzz subset: a detector around the planted-faces stub (no trained
weights needed, and fast enough to push a few hundred inputs through in about a second)."""

from __future__ import annotations

import numpy as np
import pytest

from featherface import FaceDetector
from tests.inference.stub import PlantedFacesModel

# one small planted face, so inputs big enough to hold it come back with exactly one face
STUB_BOXES = np.array([[4, 3, 30, 40]], np.float32)
STUB_LMS = np.full((1, 5, 2), 12, np.float32)


def stub_detector(**kwargs) -> FaceDetector:
    """FaceDetector around :class:`PlantedFacesModel`; extra keyword arguments are ignored so it can
    stand in for the ``FaceDetector(...)`` call of ``featherface detect``."""
    return FaceDetector(model=PlantedFacesModel(STUB_BOXES, STUB_LMS))


@pytest.fixture
def stub_det() -> FaceDetector:
    return stub_detector()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Fuzzing runs hundreds of tiny inferences: one thread is several times faster than two on a
    shared, loaded machine (no spinning thread pools fighting for the cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

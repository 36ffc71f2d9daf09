"""Shared fixtures: tiny synthetic datasets and fast training configs (2 CPU cores)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from featherface.data.synthetic import make_synthetic_dataset
from featherface.training.config import TrainConfig


@pytest.fixture(scope="session")
def tiny_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 synthetic 96x96 pictures (RetinaFace label.txt with landmarks)."""
    root = tmp_path_factory.mktemp("tiny_synthetic")
    return make_synthetic_dataset(root, 10, img_size=96, seed=3, min_face=12, max_face=48, max_faces=3)


@pytest.fixture
def tiny_config(tiny_labels: Path, tmp_path: Path) -> TrainConfig:
    """64x64 crops, batch 4 (10 images -> 3 steps per epoch: 4, 4, 2), no workers, no bars."""
    return TrainConfig(label_file=str(tiny_labels), img_size=64, batch_size=4, workers=0, epochs=3, lr=5e-3,
                       warmup_epochs=1, schedule="step", milestones=[2], output_dir=str(tmp_path / "run"),
                       progress=False, tensorboard=False, device="cpu", seed=7, log_every=1)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # 2 spinning OpenMP threads on a shared 2-core box can be 20x slower

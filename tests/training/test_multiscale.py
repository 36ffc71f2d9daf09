"""Multi-scale batches: one size per batch, image count scaled to keep a step's cost, exact resume."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest
import torch

from featherface.errors import ConfigError
from featherface.models.weights import read_weights
from featherface.training.config import TrainConfig
from featherface.training.data import EpochBatchSampler, TrainingDataset
from featherface.training.trainer import Trainer
from featherface.data.dataset import FaceDataset
from featherface.data.transforms import TrainTransform


def test_plan_is_seeded_scaled_and_the_same_on_every_rank() -> None:
    a = EpochBatchSampler(40, 8, seed=1, sizes=[64, 128], base_size=64)
    a.set_epoch(0)
    batches = list(a)
    assert len(batches) == a.batches_per_epoch == 5  # the step count of plain batches of 8
    for bt in batches:
        sizes = {s for _, _, s in bt}
        assert len(sizes) == 1
        size = sizes.pop()
        assert len(bt) == (8 if size == 64 else 2)  # (64 / 128)^2 of 8
    assert {bt[0][2] for bt in batches} <= {64, 128}
    b = EpochBatchSampler(40, 8, seed=1, sizes=[64, 128], base_size=64)
    b.set_epoch(0, skip_batches=2)
    assert list(b) == batches[2:]
    b.set_epoch(1)
    assert [bt[0][2] for bt in b] != [bt[0][2] for bt in batches] or list(b) != batches
    r0 = EpochBatchSampler(40, 8, 0, 2, seed=1, sizes=[64, 128], base_size=64)
    r1 = EpochBatchSampler(40, 8, 1, 2, seed=1, sizes=[64, 128], base_size=64)
    r0.set_epoch(3)
    r1.set_epoch(3)
    assert [(len(x), x[0][2]) for x in r0] == [(len(x), x[0][2]) for x in r1]  # DDP steps stay in lockstep


def test_sizes_need_a_base_size_and_the_config_checks_them() -> None:
    with pytest.raises(ValueError, match="base_size"):
        EpochBatchSampler(10, 2, sizes=[64])
    with pytest.raises(ConfigError, match="multi_scale_sizes"):
        TrainConfig(multi_scale_sizes=[100]).validate()
    with pytest.raises(ConfigError, match="multi_scale_sizes"):
        TrainConfig(multi_scale_sizes="640").validate()  # type: ignore[arg-type]
    TrainConfig(multi_scale_sizes=[320, 640]).validate()


def test_dataset_items_come_at_the_batch_size(tiny_labels: Path) -> None:
    ds = TrainingDataset(FaceDataset(tiny_labels, transform=TrainTransform(64)))
    img, _, _ = ds[(0, 1, 96)]
    assert tuple(img.shape) == (3, 96, 96)
    img, _, _ = ds[(0, 1)]
    assert tuple(img.shape) == (3, 64, 64)


def test_multi_scale_run_resumes_exactly(tiny_config: TrainConfig, tmp_path: Path) -> None:
    base = dataclasses.replace(tiny_config, deterministic=True, max_steps=5, multi_scale_sizes=[64, 96])
    straight = Trainer(dataclasses.replace(base, output_dir=str(tmp_path / "straight"))).fit()
    assert straight.status == "max_steps"

    def interrupt_at_2(trainer: Trainer, info: dict) -> None:
        if info["global_step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "resumed"
    first = Trainer(dataclasses.replace(base, output_dir=str(out)), callbacks=[interrupt_at_2]).fit()
    assert first.status == "interrupted"
    second = Trainer(dataclasses.replace(base, output_dir=str(out), resume="auto")).fit()
    assert second.status == "max_steps"
    a = read_weights(tmp_path / "straight" / "final.pt")["state_dict"]
    b = read_weights(out / "final.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

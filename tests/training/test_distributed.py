"""A real 2-process DDP run (gloo on CPU) launched the way users launch it: torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

from featherface.models.weights import read_weights
from featherface.training.checkpoint import read_checkpoint


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_two_process_gloo_ddp_run(tiny_labels: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "featherface.cli", "train", "--labels", str(tiny_labels), "--img-size", "64", "-b", "2", "-j", "0",
           "--epochs", "1", "--lr", "5e-3", "--device", "cpu", "--no-progress", "--no-tensorboard", "-o", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ck = read_checkpoint(out / "last.pt")
    # 10 images sharded over 2 ranks = 5 each, batch 2 -> 3 steps (a single process would take 5)
    assert ck["world_size"] == 2 and ck["global_step"] == 3 and ck["epoch"] == 1
    assert "replicas in sync across 2 processes" in proc.stderr
    assert proc.stderr.count("epoch 1/1: loss") == 1  # only rank 0 logs
    assert proc.stderr.count("backbone initialised from imagenet") == 1  # the default start (rank 0 logs)
    read_weights(out / "final.pt")

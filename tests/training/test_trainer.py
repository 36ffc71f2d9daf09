"""Trainer: exact resume, signal stop, NaN guard, bad images, init/freeze, checkpoint format, CLI."""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from featherface.cli import main as cli_main
from featherface.errors import WeightsError
from featherface.models import create_model
from featherface.models.weights import load_weights, read_weights, save_weights
from featherface.training.checkpoint import read_checkpoint
from featherface.training.config import TrainConfig
from featherface.training.loss import MultiBoxLoss
from featherface.training.trainer import NonFiniteLossError, Trainer, load_backbone_init

from .conftest import random_backbone, to_retinaface_backbone_keys


def _cfg(cfg: TrainConfig, **kw: object) -> TrainConfig:
    return dataclasses.replace(cfg, **kw)


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_interrupt_and_resume_equals_uninterrupted(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """SIGINT mid-epoch, resume -> bit-identical weights, EMA and optimizer state to a straight run."""
    total = 7  # 3 steps/epoch: stop at step 4 = second batch of epoch 2, finish mid-epoch 3
    base = _cfg(tiny_config, ema=True, ema_decay=0.9, deterministic=True, max_steps=total,
                augment={"crop_scales": [0.5, 0.75, 1.0]})
    straight = Trainer(_cfg(base, output_dir=str(tmp_path / "straight"))).fit()
    assert straight.status == "max_steps" and straight.global_step == total

    def interrupt_at_4(trainer: Trainer, info: dict) -> None:
        if info["global_step"] == 4:
            os.kill(os.getpid(), signal.SIGINT)  # the real handler: finish the step, save, stop

    out = tmp_path / "resumed"
    # whatever handler the test process started with (SIG_IGN when launched in the background)
    handler_before = signal.getsignal(signal.SIGINT)
    first = Trainer(_cfg(base, output_dir=str(out)), callbacks=[interrupt_at_4]).fit()
    assert first.status == "interrupted" and first.global_step == 4
    assert (first.epoch, first.step_in_epoch) == (1, 1)
    assert first.final_weights is None and not (out / "final.pt").exists()
    assert signal.getsignal(signal.SIGINT) is handler_before  # handlers restored
    ck = read_checkpoint(out / "last.pt")
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (1, 1, 4)

    second = Trainer(_cfg(base, output_dir=str(out), resume="auto")).fit()
    assert second.status == "max_steps" and second.global_step == total

    a, b = _state(tmp_path / "straight" / "last.pt"), _state(out / "last.pt")
    _assert_same_tensors(a["model"], b["model"])
    _assert_same_tensors(a["ema"]["state_dict"], b["ema"]["state_dict"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    _assert_same_tensors(read_weights(tmp_path / "straight" / "final.pt")["state_dict"],
                         read_weights(out / "final.pt")["state_dict"])
    # the step log has each step once, despite the restart
    with open(out / "train_log.csv", newline="") as f:
        steps = [int(r["global_step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, total + 1))


def test_resuming_a_finished_run_keeps_its_final_weights_byte_for_byte(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """A finished run resumed again trains nothing and leaves final.pt as it was (its sha256 keys
    the ablation's score cache; rewriting it with new metadata forced every score to be redone)."""
    cfg = _cfg(tiny_config, max_steps=3, output_dir=str(tmp_path / "run"))
    first = Trainer(cfg).fit()
    final = tmp_path / "run" / "final.pt"
    before = final.read_bytes()
    again = Trainer(_cfg(cfg, resume="auto")).fit()
    assert again.status == first.status and again.global_step == first.global_step
    assert again.final_weights == final and final.read_bytes() == before


def test_resume_of_a_checkpoint_without_the_distill_sum(tiny_config: TrainConfig) -> None:
    """Checkpoints written before distillation existed keep 4 running loss sums: padded on resume."""
    base = _cfg(tiny_config, epochs=1)
    first = Trainer(_cfg(base, max_steps=1)).fit()
    ck = _state(first.last_checkpoint)
    assert len(ck["epoch_stats"]["sum"]) == 5 and ck["step_in_epoch"] == 1
    ck["epoch_stats"]["sum"] = ck["epoch_stats"]["sum"][:4]
    torch.save(ck, first.last_checkpoint)
    res = Trainer(_cfg(base, resume="auto")).fit()
    assert res.status == "finished" and res.global_step == 3
    with open(Path(base.output_dir) / "epochs.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["distill"]) == 0.0 and float(row["loss"]) > 0


def test_workers_and_sigterm_resume_match_single_process(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """Two persistent DataLoader workers, SIGTERM at step 2, resume: same weights as workers=0 straight.

    Crossing the epoch boundary (step 3 -> 4) checks the epoch reaches persistent workers."""
    base = _cfg(tiny_config, max_steps=4)
    straight = Trainer(_cfg(base, workers=0, output_dir=str(tmp_path / "w0"))).fit()

    def term_at_2(trainer: Trainer, info: dict) -> None:
        if info["global_step"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "w2"
    first = Trainer(_cfg(base, workers=2, output_dir=str(out)), callbacks=[term_at_2]).fit()
    assert first.status == "interrupted" and first.global_step == 2
    second = Trainer(_cfg(base, workers=2, output_dir=str(out), resume=str(out / "last.pt"))).fit()
    assert second.global_step == 4 and straight.global_step == 4
    _assert_same_tensors(_state(tmp_path / "w0" / "last.pt")["model"], _state(out / "last.pt")["model"])


def test_checkpoint_is_weights_only_and_loads_as_weights(tiny_config: TrainConfig, tmp_path: Path) -> None:
    res = Trainer(_cfg(tiny_config, epochs=1, ema=True, val_label_file=tiny_config.label_file)).fit()
    assert res.status == "finished" and res.global_step == 3
    ck = torch.load(res.last_checkpoint, map_location="cpu", weights_only=True)
    for key in ("model", "optimizer", "scheduler", "ema", "rng", "epoch", "step_in_epoch", "global_step", "weights"):
        assert key in ck
    assert isinstance(ck["rng"]["python"]["state"], list) and isinstance(ck["rng"]["numpy"]["keys"], torch.Tensor)
    model = create_model("featherface-v2-ultra")
    obj = load_weights(model, res.last_checkpoint)  # a checkpoint loads wherever weights do
    assert obj["meta"]["ema"] is True
    _assert_same_tensors(obj["state_dict"], ck["ema"]["state_dict"])  # published weights are the EMA's
    for name in ("best.pt", "final.pt"):
        load_weights(create_model("featherface-v2-ultra"), Path(tiny_config.output_dir) / name)
    with open(Path(tiny_config.output_dir) / "epochs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["loss"]) > 0
    assert float(rows[0]["distill"]) == 0.0  # the column is there without a teacher too
    assert float(rows[0]["val_loss"]) > 0  # best.pt is chosen by it
    assert read_weights(Path(tiny_config.output_dir) / "best.pt")["meta"]["metric"] == pytest.approx(float(rows[0]["val_loss"]), rel=1e-4)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    real_forward = MultiBoxLoss.forward
    calls = {"n": 0}

    def forward(self: MultiBoxLoss, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        out = real_forward(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            out.total = out.total * float("nan")
            out.cls = out.cls * float("nan")
        return out

    monkeypatch.setattr(MultiBoxLoss, "forward", forward)
    out = Path(tiny_config.output_dir)
    with pytest.raises(NonFiniteLossError, match=r"loss became NaN at epoch 1, step 3.*last good checkpoint"):
        Trainer(_cfg(tiny_config, save_every=1)).fit()
    ck = read_checkpoint(out / "last.pt")
    assert ck["global_step"] == 2
    assert all(bool(torch.isfinite(v).all()) for v in ck["model"].values() if v.dtype.is_floating_point)
    assert not (out / "final.pt").exists()
    assert not list(out.glob(".*.tmp"))  # no half-written temp files left behind


def test_unreadable_images_are_skipped_and_counted(tiny_labels: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    images = sorted((tiny_labels.parent / "images" / "synthetic").glob("*.jpg"))
    broken = tmp_path / "broken"
    (broken / "images" / "synthetic").mkdir(parents=True)
    for i, p in enumerate(images):
        data = b"not a jpeg" if i in (2, 5) else p.read_bytes()
        (broken / "images" / "synthetic" / p.name).write_bytes(data)
    (broken / "label.txt").write_text(tiny_labels.read_text())
    with pytest.warns(UserWarning, match="skipping unreadable training image"):
        res = Trainer(_cfg(tiny_config, label_file=str(broken / "label.txt"), epochs=1)).fit()
    assert res.status == "finished" and res.skipped_images == 2


def test_backbone_init_freeze_and_init_weights(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """Backbone from an ImageNet checkpoint, then frozen (every kind of backbone_init file:
    test_backbone_init.py)."""
    imagenet = random_backbone(11)
    tar = tmp_path / "mobilenetV1X0.25_pretrain.tar"
    torch.save({"epoch": 90, "arch": "mobilenet0.25", "best_prec1": np.float64(0.64),
                "state_dict": to_retinaface_backbone_keys(imagenet.state_dict(), "module.")}, tar)
    model = create_model("featherface-v1")
    what = load_backbone_init(model, tar)
    assert what == "ImageNet MobileNetV1-0.25 checkpoint: 213,072 parameters + 54 BatchNorm statistics tensors"
    _assert_same_tensors(model.backbone.state_dict(), imagenet.state_dict())
    with pytest.raises(WeightsError):
        load_backbone_init(model, tmp_path / "missing.tar")

    # train with the backbone frozen: backbone (weights and BN statistics) unchanged, the rest moves
    res = Trainer(_cfg(tiny_config, model="featherface-v1", backbone_init=str(tar), freeze_backbone=True,
                       max_steps=2)).fit()
    sd = read_checkpoint(res.last_checkpoint)["model"]
    for k, v in imagenet.state_dict().items():
        assert torch.equal(sd["backbone." + k], v), k
    start = create_model("featherface-v1")
    moved = [k for k, v in start.state_dict().items() if not k.startswith("backbone.") and v.dtype.is_floating_point
             and not torch.equal(v, sd[k])]
    assert moved

    # fine-tuning from a FeatherFace weights file starts from exactly those weights
    src = create_model("featherface-v1")
    save_weights(src, tmp_path / "start.pt")
    res2 = Trainer(_cfg(tiny_config, model="featherface-v1", init_weights=str(tmp_path / "start.pt"),
                        freeze_backbone=True, max_steps=1, output_dir=str(tmp_path / "ft"))).fit()
    sd2 = read_checkpoint(res2.last_checkpoint)["model"]
    for k, v in src.state_dict().items():
        if k.startswith("backbone."):
            assert torch.equal(sd2[k], v), k


def test_cli_train_and_resume(tiny_labels: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    common = ["train", "--labels", str(tiny_labels), "--img-size", "64", "-b", "4", "-j", "0", "--epochs", "2",
              "--lr", "5e-3", "--device", "cpu", "--no-progress", "--no-tensorboard", "-o", str(out)]
    assert cli_main(common + ["--max-steps", "2"]) == 0
    assert read_checkpoint(out / "last.pt")["global_step"] == 2
    # resume from the directory alone: the checkpoint's own config, the new step limit
    assert cli_main(["train", "--resume", str(out), "--max-steps", "5", "--no-progress"]) == 0
    ck = read_checkpoint(out / "last.pt")
    assert ck["global_step"] == 5 and ck["config"]["img_size"] == 64
    assert (out / "final.pt").is_file()
    assert cli_main(["train", "--labels", str(tiny_labels), "--resume", str(tmp_path / "nope.pt")]) == 2


def test_keep_epoch_weights_writes_one_file_per_epoch(tiny_config: TrainConfig) -> None:
    res = Trainer(_cfg(tiny_config, epochs=2, ema=True, keep_epoch_weights=True)).fit()
    out = Path(tiny_config.output_dir)
    assert sorted(p.name for p in out.glob("epoch*.pt")) == ["epoch1.pt", "epoch2.pt"]
    first, last = read_weights(out / "epoch1.pt"), read_weights(out / "epoch2.pt")
    assert first["meta"]["kind"] == "epoch1" and first["meta"]["global_step"] < last["meta"]["global_step"]
    # the last epoch's file is the published final weights
    _assert_same_tensors(last["state_dict"], read_weights(res.output_dir / "final.pt")["state_dict"])

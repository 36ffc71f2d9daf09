"""TrainConfig (YAML, coercion, precedence), the LR schedule, EMA, the resumable batch sampler."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from featherface.errors import ConfigError
from featherface.training.config import TrainConfig, load_config
from featherface.training.data import EpochBatchSampler
from featherface.training.ema import ModelEMA
from featherface.training.schedule import LRSchedule

REPO = Path(__file__).resolve().parents[2]


def test_shipped_yaml_configs_load() -> None:
    v2 = TrainConfig.from_yaml(REPO / "configs" / "featherface-v2-ultra.yaml")
    v1 = TrainConfig.from_yaml(REPO / "configs" / "featherface-v1.yaml")
    smoke = TrainConfig.from_yaml(REPO / "configs" / "synthetic-smoke.yaml")
    assert (v2.model, v1.model) == ("featherface-v2-ultra", "featherface-v1")
    assert v2.lr == 1e-3 and v2.epochs == 250 and v2.batch_size == 32 and v2.img_size == 640
    assert v2.milestone_epochs() == [190.0, 220.0]
    assert smoke.synthetic_images > 0 and not smoke.needs_data()
    for cfg in (v2, v1):  # the shipped ImageNet start, no teacher unless asked for
        assert cfg.backbone_init == "imagenet" and cfg.teacher is None and cfg.distill == "auto"
        assert cfg.gt_weight == 1.0


def test_distillation_and_backbone_defaults() -> None:
    cfg = TrainConfig()
    assert cfg.backbone_init == "imagenet" and cfg.init_weights is None
    assert (cfg.teacher, cfg.distill, cfg.gt_weight) == (None, "auto", 1.0)
    assert (cfg.distill_cls_weight, cfg.distill_box_weight, cfg.distill_ldm_weight) == (1.0, 1.0, 0.5)
    assert (cfg.distill_temperature, cfg.distill_conf, cfg.distill_gamma) == (1.0, 0.5, 2.0)
    assert TrainConfig.from_dict({"backbone_init": "none"}).backbone_init == "none"
    assert TrainConfig.from_dict({"gt_weight": "0", "teacher": "t.pt"}).gt_weight == 0.0  # coerced


def test_yaml_values_are_coerced_and_unknown_keys_rejected(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("lr: 1e-2\nepochs: '12'\namp: 'off'\nmilestones: [8, 10]\n")  # YAML 1.1 reads 1e-2 as a string
    cfg = load_config(p, {"batch_size": 4, "seed": None})
    assert cfg.lr == 0.01 and cfg.epochs == 12 and cfg.amp is False and cfg.batch_size == 4
    assert cfg.milestone_epochs() == [8.0, 10.0]
    p.write_text("learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="c.yaml.*learning_rate"):
        TrainConfig.from_yaml(p)
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="img_size"):
        TrainConfig.from_dict({"img_size": 100})
    with pytest.raises(ConfigError, match="batch_size: expected int"):
        TrainConfig.from_dict({"batch_size": "many"})


def test_cli_precedence_defaults_yaml_flags_set(tmp_path: Path) -> None:
    from featherface.commands.train import add_parser, build_config

    p = tmp_path / "c.yaml"
    p.write_text("lr: 0.02\nepochs: 40\nbatch_size: 16\naugment: {zoom_out_prob: 0.2}\n")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(), "train")
    args = parser.parse_args(["train", "-c", str(p), "--epochs", "50", "--set", "batch_size=8",
                              "augment.mirror_prob=0.0", "model_overrides.dynamic_sharing=false"])
    cfg = build_config(args)
    assert cfg.lr == 0.02  # YAML over default
    assert cfg.epochs == 50  # flag over YAML
    assert cfg.batch_size == 8  # --set over YAML
    assert cfg.augment == {"zoom_out_prob": 0.2, "mirror_prob": 0.0}  # merged, not replaced
    assert cfg.model_overrides == {"dynamic_sharing": False}
    assert cfg.weight_decay == 5e-4  # untouched default


def test_cli_distillation_and_backbone_flags_reach_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from featherface.cli import main as cli_main

    assert cli_main(["train", "--print-config", "--teacher", "runs/big/best.pt", "--distill", "boxes",
                     "--gt-weight", "0.25", "--backbone-init", "none",
                     "--set", "distill_conf=0.6", "distill_temperature=2"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert (cfg["teacher"], cfg["distill"], cfg["gt_weight"], cfg["backbone_init"]) == ("runs/big/best.pt", "boxes", 0.25, "none")
    assert (cfg["distill_conf"], cfg["distill_temperature"]) == (0.6, 2.0)
    assert cli_main(["train", "--print-config", "--teacher", "retinaface:weights/mnet.pth", "--gt-weight", "0"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert (cfg["teacher"], cfg["gt_weight"], cfg["distill"], cfg["backbone_init"]) == ("retinaface:weights/mnet.pth", 0.0, "auto", "imagenet")
    assert cli_main(["train", "--print-config", "--backbone-init", "weights/mobilenetV1X0.25_pretrain.tar"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["backbone_init"] == "weights/mobilenetV1X0.25_pretrain.tar"
    # refused: nothing to learn from, an unknown mode
    assert cli_main(["train", "--print-config", "--gt-weight", "0"]) == 2
    assert "gt_weight is 0 and no teacher" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["train", "--print-config", "--distill", "soft"])


def _schedule(**kw: object) -> LRSchedule:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    args = dict(base_lr=1e-3, steps_per_epoch=10, epochs=250, schedule="step", milestones=[190, 220], gamma=0.1,
                warmup_epochs=5, warmup_start_factor=1e-3)
    args.update(kw)
    return LRSchedule(opt, **args)  # type: ignore[arg-type]


def test_step_schedule_warmup_and_decays() -> None:
    s = _schedule()
    assert s.lr(0) == pytest.approx(1e-6)
    assert s.lr(25) == pytest.approx(1e-3 * (1e-3 + (1 - 1e-3) * 0.5))
    assert s.lr(50) == pytest.approx(1e-3)
    assert s.lr(1899) == pytest.approx(1e-3)
    assert s.lr(1900) == pytest.approx(1e-4)  # epoch 190
    assert s.lr(2200) == pytest.approx(1e-5)  # epoch 220
    assert s.apply(1900) == pytest.approx(1e-4) and s.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_cosine_schedule_ends_at_floor() -> None:
    s = _schedule(schedule="cosine", warmup_epochs=0, min_lr_factor=0.01)
    assert s.lr(0) == pytest.approx(1e-3)
    assert s.lr(1250) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert s.lr(2500) == pytest.approx(1e-5)


def test_batch_sampler_is_a_function_of_seed_and_epoch_and_skips() -> None:
    a = EpochBatchSampler(10, 4, seed=3)
    a.set_epoch(2)
    full = list(a)
    assert [len(b) for b in full] == [4, 4, 2] and len(a) == 3
    assert all(e == 2 for b in full for e, _ in b)
    b = EpochBatchSampler(10, 4, seed=3)
    b.set_epoch(2, skip_batches=1)
    assert list(b) == full[1:] and len(b) == 2
    b.set_epoch(3)
    assert list(b) != full
    # two ranks: disjoint halves with equal step counts
    r0, r1 = EpochBatchSampler(10, 2, 0, 2, seed=3), EpochBatchSampler(10, 2, 1, 2, seed=3)
    r0.set_epoch(0)
    r1.set_epoch(0)
    i0 = {i for bt in r0 for _, i in bt}
    i1 = {i for bt in r1 for _, i in bt}
    assert len(r0) == len(r1) == 3 and not (i0 & i1) and i0 | i1 == set(range(10))


def test_ema_tracks_and_round_trips() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = ModelEMA(net, decay=0.5, ramp=0)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    before = ema.module[0].weight.clone()
    ema.update(net)
    assert torch.allclose(ema.module[0].weight, 0.5 * before + 0.5 * net[0].weight)
    state = ema.state_dict()
    other = ModelEMA(net, decay=0.1)
    other.load_state_dict(state)
    assert other.updates == 1 and other.decay == 0.5
    assert torch.equal(other.module[0].weight, ema.module[0].weight)

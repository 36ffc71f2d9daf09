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


# ---------------------------------------------------------------------------------------------------------------------
# the precedence rule (resolve_config) and the flags generated from the fields (featherface train)


def _parse_train(argv: list[str]) -> argparse.Namespace:
    from featherface.commands.train import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(), "train")
    return parser.parse_args(["train", *argv])


def test_resolve_config_precedence(tmp_path: Path) -> None:
    from featherface.training.config import resolve_config

    p = tmp_path / "c.yaml"
    p.write_text("lr: 0.02\nepochs: 40\nbatch_size: 16\nseed: 3\naugment: {zoom_out_prob: 0.2}\n")
    cfg = resolve_config(p, {"epochs": 50, "batch_size": 12}, ["batch_size=8", "augment.mirror_prob=0.0"])
    assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.seed) == (0.02, 50, 8, 3)  # YAML < flags < --set
    assert cfg.augment == {"zoom_out_prob": 0.2, "mirror_prob": 0.0}  # merged into the YAML's mapping
    assert resolve_config() == TrainConfig()
    # an already parsed --set mapping works the same; a whole mapping merges too
    assert resolve_config(p, sets={"augment": {"mirror_prob": 0.5}}).augment == {"zoom_out_prob": 0.2,
                                                                                 "mirror_prob": 0.5}
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        resolve_config(flags={"epoch": 3})
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        resolve_config(sets=["lr"])
    with pytest.raises(ConfigError, match="only augment.* and model_overrides.* take a dotted key"):
        resolve_config(sets=["lr.x=1"])
    with pytest.raises(ConfigError, match="augment: expected dict"):
        resolve_config(sets=["augment=5"])


def _fake_checkpoint(path: Path, config: dict) -> Path:
    from featherface.training.checkpoint import CHECKPOINT_FORMAT

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CHECKPOINT_FORMAT, "model": {}, "optimizer": {}, "epoch": 1, "step_in_epoch": 0,
                "global_step": 10, "config": config}, path)
    return path


def test_resolve_config_resume_starts_from_the_checkpoints_config(tmp_path: Path) -> None:
    from featherface.training.config import resolve_config

    run = tmp_path / "run"
    stored = TrainConfig.from_dict({"lr": 0.05, "epochs": 30, "seed": 7, "output_dir": "somewhere/else"}).to_dict()
    ckpt = _fake_checkpoint(run / "last.pt", stored)
    # checkpoint < flags; a given PATH makes its folder the output
    cfg = resolve_config(flags={"resume": str(ckpt), "epochs": 40})
    assert (cfg.lr, cfg.epochs, cfg.seed, cfg.output_dir) == (0.05, 40, 7, str(run))
    # a folder works as DIR/last.pt; --set names the output explicitly
    cfg = resolve_config(flags={"resume": str(run)}, sets=["output_dir=" + str(tmp_path / "o")])
    assert (cfg.lr, cfg.output_dir) == (0.05, str(tmp_path / "o"))
    # checkpoint < YAML (which keeps the checkpoint's output_dir unless it names one)
    y = tmp_path / "c.yaml"
    y.write_text("lr: 0.01\n")
    cfg = resolve_config(y, {"resume": str(ckpt)})
    assert (cfg.lr, cfg.epochs, cfg.output_dir) == (0.01, 30, "somewhere/else")
    # auto: output_dir/last.pt, a fresh start when there is none yet
    cfg = resolve_config(flags={"resume": "auto", "output_dir": str(run)})
    assert (cfg.lr, cfg.output_dir) == (0.05, str(run))
    cfg = resolve_config(flags={"resume": "auto", "output_dir": str(tmp_path / "new")})
    assert cfg.lr == TrainConfig().lr
    with pytest.raises(Exception, match="not found"):
        resolve_config(flags={"resume": str(tmp_path / "nope.pt")})


def test_every_field_has_a_flag_with_help() -> None:
    from dataclasses import fields as dc_fields

    from featherface.commands.train import add_config_args
    from featherface.training.config import MAPPING_FIELDS
    from featherface.training.flags import FIELD_OPTIONS, field_flag, field_kind

    names = [f.name for f in dc_fields(TrainConfig)]
    assert set(FIELD_OPTIONS) == set(names), set(names) ^ set(FIELD_OPTIONS)
    assert all(FIELD_OPTIONS[n].help for n in names)
    added = add_config_args(argparse.ArgumentParser())
    # mappings and lists of mappings (extra_sources) come from YAML or --set, not from a flag of their own
    assert added == [n for n in names if n not in MAPPING_FIELDS and field_kind(n) != "records"]
    flags = [field_flag(n) for n in added]
    assert len(set(flags)) == len(flags)


# every flag `featherface train` had before its flags were generated from TrainConfig, with a value
# and the field it sets
OLD_TRAIN_FLAGS = [
    (["--model", "featherface-v1"], "model", "featherface-v1"), (["--labels", "l.txt"], "label_file", "l.txt"),
    (["--images", "im"], "image_root", "im"), (["--layout", "wider"], "layout", "wider"),
    (["--val-labels", "v.txt"], "val_label_file", "v.txt"), (["--val-images", "vi"], "val_image_root", "vi"),
    (["--synthetic", "4"], "synthetic_images", 4), (["--img-size", "320"], "img_size", 320),
    (["--min-face-size", "2"], "min_face_size", 2.0), (["--mosaic-prob", "0.5"], "mosaic_prob", 0.5),
    (["-b", "8"], "batch_size", 8), (["--batch-size", "8"], "batch_size", 8), (["-j", "0"], "workers", 0),
    (["--workers", "1"], "workers", 1), (["--epochs", "3"], "epochs", 3), (["--lr", "1e-2"], "lr", 0.01),
    (["--momentum", "0.8"], "momentum", 0.8), (["--weight-decay", "0"], "weight_decay", 0.0),
    (["--warmup-epochs", "0.5"], "warmup_epochs", 0.5), (["--schedule", "cosine"], "schedule", "cosine"),
    (["--milestones", "8", "10"], "milestones", [8.0, 10.0]), (["--gamma", "0.5"], "gamma", 0.5),
    (["--grad-clip", "10"], "grad_clip", 10.0), (["--amp"], "amp", True), (["--no-amp"], "amp", False),
    (["--ema"], "ema", True), (["--no-ema"], "ema", False), (["--ema-decay", "0.99"], "ema_decay", 0.99),
    (["--backbone-init", "none"], "backbone_init", "none"), (["--init-weights", "w.pt"], "init_weights", "w.pt"),
    (["--freeze-backbone"], "freeze_backbone", True), (["--no-freeze-backbone"], "freeze_backbone", False),
    (["--teacher", "retinaface"], "teacher", "retinaface"), (["--distill", "boxes"], "distill", "boxes"),
    (["--gt-weight", "0.5"], "gt_weight", 0.5), (["-o", "out"], "output_dir", "out"),
    (["--output", "out"], "output_dir", "out"), (["--resume"], "resume", "auto"),
    (["--resume", "r.pt"], "resume", "r.pt"), (["--save-every", "5"], "save_every", 5),
    (["--max-steps", "5"], "max_steps", 5), (["--seed", "3"], "seed", 3),
    (["--deterministic"], "deterministic", True), (["--no-deterministic"], "deterministic", False),
    (["--device", "cpu"], "device", "cpu"), (["--log-every", "2"], "log_every", 2),
    (["--progress"], "progress", True), (["--no-progress"], "progress", False),
    (["--tensorboard"], "tensorboard", True), (["--no-tensorboard"], "tensorboard", False),
]


@pytest.mark.parametrize("argv,field_name,value", OLD_TRAIN_FLAGS, ids=[" ".join(c[0]) for c in OLD_TRAIN_FLAGS])
def test_old_train_flags_still_work(argv: list[str], field_name: str, value: object) -> None:
    from featherface.commands.train import config_flags

    args = _parse_train(argv)
    assert config_flags(args) == {field_name: value}
    assert not hasattr(_parse_train([]), field_name)  # absent: must not override the YAML


def test_verb_options_and_new_field_flags() -> None:
    from featherface.commands.train import config_flags

    args = _parse_train(["-c", "x.yaml", "--set", "lr=1", "--print-config", "--force", "--no-channels-last",
                         "--amp-dtype", "bfloat16", "--distill-conf", "0.6", "--overlap-threshold", "0.4"])
    assert (args.config, args.set_items, args.print_config, args.force) == ("x.yaml", ["lr=1"], True, True)
    assert config_flags(args) == {"channels_last": False, "amp_dtype": "bfloat16", "distill_conf": 0.6,
                                  "overlap_threshold": 0.4}


def test_repeated_set_flags_add_up() -> None:
    """``--set a=1 --set b=2`` applies both (a repeated --set used to keep only the last)."""
    args = _parse_train(["--set", "lr=1", "epochs=2", "--set", "max_steps=6", "--set", "output_dir=x"])
    assert args.set_items == ["lr=1", "epochs=2", "max_steps=6", "output_dir=x"]


def test_a_new_config_field_gets_a_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import dataclass

    import featherface.commands.train as train_command
    import featherface.training.flags as flags_module
    from featherface.commands.train import config_flags

    @dataclass
    class Extended(TrainConfig):
        extra_knob: float = 0.25
        extra_switch: bool = False

    # the two readers of the fields: the verb (flags and their values) and the flag table (field kinds)
    monkeypatch.setattr(train_command, "TrainConfig", Extended)
    monkeypatch.setattr(flags_module, "TrainConfig", Extended)
    args = _parse_train(["--extra-knob", "0.5", "--extra-switch"])
    assert config_flags(args) == {"extra_knob": 0.5, "extra_switch": True}


def _outside(opt, kind: str) -> list[float]:
    step = 1 if kind == "int" else 1e-3
    out = []
    if opt.lo is not None:
        out.append(opt.lo if opt.lo_open else opt.lo - step)
    if opt.hi is not None:
        out.append(opt.hi if opt.hi_open else opt.hi + step)
    return out


def test_flag_bounds_agree_with_validate() -> None:
    """A value the parser refuses is one TrainConfig.validate refuses too (the bounds of the flags
    are no looser and no stricter than the config's)."""
    from featherface.training.flags import FIELD_OPTIONS, field_kind

    checked = 0
    for name, opt in FIELD_OPTIONS.items():
        kind = field_kind(name)
        for v in _outside(opt, kind):
            value = [v] if kind == "list" else (int(v) if kind == "int" else v)
            with pytest.raises(ConfigError):
                TrainConfig.from_dict({name: value, "teacher": "t.pt"})
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize("argv,needle", [
    (["--seed", "-1"], "--seed"), (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--momentum", "1"], "--momentum"), (["--img-size", "16"], "--img-size"), (["-b", "0"], "--batch-size"),
    (["--distill-conf", "1"], "--distill-conf"), (["--amp-dtype", "int8"], "--amp-dtype"),
    (["--milestones", "-1"], "--milestones"), (["--output", ""], "--output"),
])
def test_flags_refuse_out_of_range_values(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse_train(argv)
    assert needle in capsys.readouterr().err


def test_docs_training_table_lists_existing_flags() -> None:
    """Every flag in docs/training.md's options table exists, and every field is in the table."""
    import re
    from dataclasses import fields as dc_fields

    from featherface.commands.train import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(), "train")
    train = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    known = {s for a in train._actions for s in a.option_strings}
    text = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    table = text[text.index("## Options"):]
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    flags = {f for ln in rows for f in re.findall(r"`(-{1,2}[a-z][a-z0-9-]*)", ln.split("|")[1])}
    assert len(flags) >= 50 and flags <= known, sorted(flags - known)
    keys = {k for ln in rows for k in re.findall(r"`([a-z_]+)`", ln.split("|")[2])}
    assert {f.name for f in dc_fields(TrainConfig)} <= keys

"""Distillation: the dense per-prior loss, the teacher, the boxes fallback, and the trainer with a
teacher (dense / boxes / gt_weight, refusals, logs, exact resume). Teachers are weights files
written into tmp dirs (random weights); nothing reads ../shared."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import signal
from pathlib import Path

import pytest
import torch

from featherface.errors import ConfigError, FeatherFaceError
from featherface.models import create_model
from featherface.ops.anchors import PriorBox
from featherface.training.config import TrainConfig
from featherface.training.distill import (
    DenseDistillationLoss,
    FeatureImitationLoss,
    build_teacher_model,
    same_priors,
    teacher_box_targets,
)
from featherface.models.weights import file_sha256, read_weights, save_weights
from featherface.training.logs import EPOCH_LOG_FIELDS, STEP_LOG_FIELDS
from featherface.training.trainer import Trainer

N = 6  # priors in the hand-made outputs


def _logits_for(probs: list[float]) -> torch.Tensor:
    """(1, N, 2) class logits whose two-class softmax gives face probability ``probs``."""
    p = torch.tensor(probs, dtype=torch.float64)
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], -1).float()[None]


def _outputs(cls: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n = cls.shape[1]
    return {"cls": cls.clone(), "bbox": torch.randn(1, n, 4, generator=g), "ldm": torch.randn(1, n, 10, generator=g)}


def _student_like(teacher: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.clone().requires_grad_(True) for k, v in teacher.items()}


# ---------------------------------------------------------------- DenseDistillationLoss
def test_identical_student_and_teacher_give_zero_loss() -> None:
    torch.manual_seed(0)
    teacher = {"cls": torch.randn(2, 50, 2) * 3, "bbox": torch.randn(2, 50, 4), "ldm": torch.randn(2, 50, 10)}
    out = DenseDistillationLoss()(_student_like(teacher), teacher)
    # the focal weight |p_s - p_t|^gamma is exactly 0: no gradient where the student already agrees
    assert out.cls.item() == 0.0 and out.box.item() == 0.0 and out.ldm.item() == 0.0 and out.total.item() == 0.0
    # gamma = 0 is plain soft BCE: its minimum is the teacher's entropy, not 0
    plain = DenseDistillationLoss(gamma=0.0)(_student_like(teacher), teacher)
    assert plain.cls.item() > 0.01
    # any disagreement is penalised
    moved = _student_like(teacher)
    with torch.no_grad():
        moved["cls"][0, 3, 1] += 2.0
    out = DenseDistillationLoss()(moved, teacher)
    assert out.cls.item() > 0 and out.box.item() == 0.0


def test_gradients_reach_the_student_only_and_pull_towards_the_teacher() -> None:
    torch.manual_seed(1)
    t_cls = torch.randn(1, 40, 2) * 2
    teacher = {k: v.requires_grad_(True) for k, v in _outputs(t_cls, 2).items()}  # as if built without no_grad
    with torch.no_grad():
        teacher["cls"][0, :10, 1] = 6.0  # ten confident faces, so box/landmark terms are active
    student = {k: (v.detach() + 0.5 * torch.randn_like(v)).requires_grad_(True) for k, v in teacher.items()}
    loss = DenseDistillationLoss(conf_threshold=0.5)(student, teacher)
    loss.total.backward()
    assert all(t.grad is None for t in teacher.values())
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student.values())

    def gap(s_cls: torch.Tensor) -> float:
        p_s = torch.softmax(s_cls, -1)[..., 1]
        p_t = torch.softmax(teacher["cls"].detach(), -1)[..., 1]
        return float((p_s - p_t).abs().sum())

    before = gap(student["cls"].detach())
    after = gap(student["cls"].detach() - 0.5 * student["cls"].grad)  # one gradient step
    assert after < before


def test_box_and_landmark_terms_count_only_confident_teacher_priors() -> None:
    probs = [0.9, 0.5, 0.49, 0.2, 0.01, 0.01]  # conf 0.5: priors 0 and 1 (>=) count, 2 does not
    teacher = _outputs(_logits_for(probs), 3)
    loss_fn = DenseDistillationLoss(cls_weight=1.0, box_weight=2.0, ldm_weight=0.5, conf_threshold=0.5)

    far = _student_like(teacher)
    with torch.no_grad():
        far["bbox"][0, 2:] += 10.0  # wildly wrong boxes/landmarks where the teacher is unsure
        far["ldm"][0, 2:] -= 10.0
    out = loss_fn(far, teacher)
    assert out.box.item() == 0.0 and out.ldm.item() == 0.0 and out.cls.item() == 0.0

    near = _student_like(teacher)
    with torch.no_grad():
        near["bbox"][0, 0] += 0.5  # smooth-L1(0.5) = 0.125 per coordinate -> 0.5 for the box
        near["ldm"][0, 1] += 2.0  # smooth-L1(2) = 1.5 per coordinate -> 15 for the landmarks
    out = loss_fn(near, teacher)
    p_t = torch.softmax(teacher["cls"], -1)[0, :, 1]
    norm = float(p_t[0] + p_t[1])  # the confident priors' summed probability (>= 1 here)
    assert out.box.item() == pytest.approx(float(p_t[0]) * 0.5 / norm, rel=1e-5)
    assert out.ldm.item() == pytest.approx(float(p_t[1]) * 15.0 / norm, rel=1e-5)
    assert out.total.item() == pytest.approx(out.cls.item() + 2.0 * out.box.item() + 0.5 * out.ldm.item(), rel=1e-6)

    # a higher threshold drops prior 1 (p = 0.5) from the landmark term
    assert DenseDistillationLoss(conf_threshold=0.6)(near, teacher).ldm.item() == 0.0


def test_label_aware_leaves_the_class_term_out_where_the_labels_put_a_face() -> None:
    teacher = _outputs(_logits_for([0.05, 0.05, 0.9, 0.01]), 5)  # the teacher misses faces 0 and 1
    student = _outputs(_logits_for([0.8, 0.05, 0.9, 0.01]), 5)  # the student finds face 0
    positive = torch.tensor([[True, True, False, False]])
    plain = DenseDistillationLoss()(student, teacher, positive)  # off: the positive is ignored
    aware = DenseDistillationLoss(label_aware=True)(student, teacher, positive)
    assert plain.cls.item() > 0.1 and aware.cls.item() == pytest.approx(0.0, abs=1e-6)
    assert aware.box.item() == pytest.approx(plain.box.item())  # the confident teacher prior still teaches boxes
    assert DenseDistillationLoss(label_aware=True)(student, teacher).cls.item() == pytest.approx(plain.cls.item())


def test_the_trainer_hands_the_label_positives_to_the_distillation() -> None:
    from featherface.training.loss import MultiBoxLoss
    from featherface.models import create_model

    model = create_model("featherface-v2-ultra")
    crit = MultiBoxLoss.for_model(model)
    out = model(torch.zeros(1, 3, 64, 64))
    face = {"boxes": torch.tensor([[0.25, 0.25, 0.75, 0.75]]), "landmarks": torch.zeros(1, 10),
            "has_landmarks": torch.zeros(1, dtype=torch.bool)}
    res = crit(out, [face], image_size=(64, 64))
    assert res.positive is not None and res.positive.shape == out["cls"].shape[:2]
    assert int(res.positive.sum()) == int(res.num_pos) > 0


def test_ldm_beta_sets_the_landmark_term_s_smooth_l1_beta() -> None:
    probs = [0.9, 0.01, 0.01, 0.01, 0.01, 0.01]
    teacher = _outputs(_logits_for(probs), 4)
    near = _student_like(teacher)
    with torch.no_grad():
        near["ldm"][0, 0, 0] += 0.2  # one coordinate off by 0.2 on the one confident prior
    # beta 1: 0.5 * 0.2^2 = 0.02; beta 0 (L1): 0.2; beta 0.1: 0.2 - 0.05 = 0.15 (past beta: |x| - beta/2),
    # each weighted by the prior's teacher probability 0.9 over the normaliser max(0.9, 1) = 1
    for beta, per_coord in ((1.0, 0.02), (0.0, 0.2), (0.1, 0.15)):
        out = DenseDistillationLoss(ldm_beta=beta)(near, teacher)
        assert out.ldm.item() == pytest.approx(0.9 * per_coord, rel=1e-4), beta
        assert out.box.item() == 0.0  # the box term keeps its beta (untouched here)


def test_shape_mismatch_and_bad_temperature_raise() -> None:
    teacher = _outputs(_logits_for([0.3] * N), 4)
    fewer = {k: v[:, :-1] for k, v in teacher.items()}
    with pytest.raises(ValueError, match="same priors"):
        DenseDistillationLoss()(fewer, teacher)
    with pytest.raises(ConfigError, match="temperature"):
        DenseDistillationLoss(temperature=0)


# ---------------------------------------------------------------- teacher, priors, boxes mode
def test_same_priors() -> None:
    v2 = create_model("featherface-v2-ultra")
    assert same_priors(v2, create_model("featherface-v1"))
    assert same_priors(v2, create_model("retinaface-mnet025"))
    # same number of priors per location, other sizes: shapes agree, the priors do not
    assert not same_priors(v2, create_model("featherface-v2-ultra", min_sizes=((12, 24), (48, 96), (192, 384))))
    assert not same_priors(v2, create_model("featherface-v2-ultra", bgr_mean=(0.0, 0.0, 0.0)))
    assert not same_priors(v2, torch.nn.Conv2d(3, 3, 1))  # no config: unknown priors


def test_build_teacher_model(teacher_file: Path, retinaface_release: tuple[Path, dict],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ref = create_model("featherface-v2-ultra").eval()
    ref.load_state_dict(read_weights(teacher_file)["state_dict"])
    teacher = build_teacher_model(str(teacher_file))
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert same_priors(ref, teacher)
    x = torch.randn(2, 3, 64, 64) * 50
    with torch.no_grad():
        a, b = ref(x), teacher(x)
    for k in ("cls", "bbox", "ldm"):  # BN folding / channels-last change nothing but rounding
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-4)

    # retinaface:PATH reads the release file (RetinaFace-mnet0.25 has the student's priors)
    rf = build_teacher_model(f"retinaface:{retinaface_release[0]}")
    assert rf.config.neck == "fpn" and same_priors(ref, rf)
    # bare "retinaface" looks in the default place: pointed at tmp_path here, never ../shared
    monkeypatch.setenv("FEATHERFACE_RETINAFACE_WEIGHTS", str(tmp_path / "absent.pth"))
    with pytest.raises(FeatherFaceError, match="absent.pth"):
        build_teacher_model("retinaface")
    with pytest.raises(FeatherFaceError, match="not found"):
        build_teacher_model(str(tmp_path / "no-teacher.pt"))


def test_teacher_box_targets_decode_confident_priors() -> None:
    teacher = create_model("featherface-v2-ultra")
    size = (64, 64)
    priors = PriorBox(teacher.config.min_sizes, teacher.config.steps)(*size)  # (N, 4) cx, cy, w, h
    n = priors.shape[0]
    cls = torch.full((2, n, 2), 0.0)
    cls[..., 1] = -8.0  # background everywhere...
    cls[0, 5, 1] = 8.0  # ...but one confident face in image 0
    out = {"cls": cls, "bbox": torch.zeros(2, n, 4), "ldm": torch.zeros(2, n, 10)}
    targets = teacher_box_targets(out, teacher, size, score_threshold=0.5)
    assert len(targets) == 2 and len(targets[1]["boxes"]) == 0
    cx, cy, w, h = priors[5].tolist()
    torch.testing.assert_close(targets[0]["boxes"], torch.tensor([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]))
    assert targets[0]["landmarks"].shape == (1, 10) and bool(targets[0]["has_landmarks"].all())
    torch.testing.assert_close(targets[0]["landmarks"], torch.tensor([[cx, cy] * 5]))  # zero offsets: the centre


# ---------------------------------------------------------------- the trainer with a teacher
def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _cfg(cfg: TrainConfig, **kw: object) -> TrainConfig:
    return dataclasses.replace(cfg, **kw)


def test_distill_columns_are_logged() -> None:
    assert "distill" in STEP_LOG_FIELDS and "distill" in EPOCH_LOG_FIELDS


@pytest.mark.parametrize("gt_weight", [1.0, 0.5])
def test_dense_distillation_run(tiny_config: TrainConfig, teacher_file: Path, gt_weight: float,
                                capsys: pytest.CaptureFixture[str]) -> None:
    digest = file_sha256(teacher_file)
    trainer = Trainer(_cfg(tiny_config, teacher=str(teacher_file), gt_weight=gt_weight, epochs=1))
    res = trainer.fit()
    assert res.status == "finished" and res.global_step == 3
    assert trainer.distill_mode == "dense" and trainer.distill_loss is not None
    assert not trainer.teacher.training and not any(p.requires_grad for p in trainer.teacher.parameters())
    assert file_sha256(teacher_file) == digest
    err = capsys.readouterr().err
    assert f"teacher {teacher_file}" in err and "dense distillation" in err and f"label loss weight {gt_weight}" in err
    out = Path(tiny_config.output_dir)
    steps = _rows(out / "train_log.csv")
    assert len(steps) == 3 and all(float(r["distill"]) > 0 for r in steps)
    for r in steps:  # loss = gt_weight * (2 loc + cls + ldm) + distill
        gt = 2.0 * float(r["loc"]) + float(r["cls"]) + float(r["ldm"])
        assert float(r["loss"]) == pytest.approx(gt_weight * gt + float(r["distill"]), rel=1e-4)
    (epoch,) = _rows(out / "epochs.csv")
    assert float(epoch["distill"]) == pytest.approx(sum(float(r["distill"]) for r in steps) / 3, rel=1e-4)
    assert res.history[0]["distill"] == pytest.approx(float(epoch["distill"]), rel=1e-6)


def test_distillation_only_and_boxes_mode(tiny_config: TrainConfig, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A teacher with other priors: auto falls back to boxes, dense is refused; gt_weight 0 works."""
    torch.manual_seed(8)
    other = create_model("featherface-v2-ultra", min_sizes=((12, 24), (48, 96), (192, 384)))
    with torch.no_grad():  # a teacher that "sees" faces (~100 per 64 px crop survive 0.5 + NMS)
        for name, bias in other.named_parameters():
            if name.endswith(".cls.bias"):  # (background, face) per anchor: lean towards face
                bias.copy_(torch.tensor([0.0, 1.0]).repeat(bias.numel() // 2))
    path = save_weights(other, tmp_path / "other-priors.pt")

    with pytest.raises(ConfigError, match="distill=dense needs a teacher with the student's priors"):
        Trainer(_cfg(tiny_config, teacher=str(path), distill="dense", output_dir=str(tmp_path / "dense"))).fit()

    trainer = Trainer(_cfg(tiny_config, teacher=str(path), distill="auto", gt_weight=0.0, max_steps=2,
                           output_dir=str(tmp_path / "boxes")))
    res = trainer.fit()
    assert res.status == "max_steps" and trainer.distill_mode == "boxes" and trainer.distill_loss is None
    assert "boxes distillation, label loss weight 0.0" in capsys.readouterr().err
    steps = _rows(tmp_path / "boxes" / "train_log.csv")
    assert len(steps) == 2
    # only the teacher's boxes supervise: the total is the distillation part, and it is > 0 only
    # because the teacher's boxes arrived as targets (a batch without faces has no loss at all)
    for r in steps:
        assert float(r["distill"]) > 0 and float(r["loss"]) == pytest.approx(float(r["distill"]), rel=1e-6)
        assert all(math.isfinite(float(r[k])) for k in ("loc", "cls", "ldm"))


def test_boxes_mode_with_same_priors_and_retinaface_teacher(tiny_config: TrainConfig, tmp_path: Path,
                                                            retinaface_release: tuple[Path, dict],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"retinaface:{retinaface_release[0]}"
    boxes = Trainer(_cfg(tiny_config, teacher=spec, distill="boxes", max_steps=1, output_dir=str(tmp_path / "b")))
    assert boxes.fit().status == "max_steps" and boxes.distill_mode == "boxes"
    dense = Trainer(_cfg(tiny_config, teacher=spec, max_steps=1, output_dir=str(tmp_path / "d")))
    assert dense.fit().status == "max_steps" and dense.distill_mode == "dense"
    assert "(retinaface-mnet025): dense distillation" in capsys.readouterr().err
    assert all(math.isfinite(float(r["distill"])) for r in _rows(tmp_path / "d" / "train_log.csv"))


def test_gt_weight_zero_needs_a_teacher(tiny_config: TrainConfig, teacher_file: Path) -> None:
    with pytest.raises(ConfigError, match="gt_weight is 0 and no teacher"):
        TrainConfig.from_dict({"gt_weight": 0}, tiny_config)
    with pytest.raises(ConfigError, match="gt_weight is 0 and no teacher"):
        _cfg(tiny_config, gt_weight=0.0).validate()
    with pytest.raises(ConfigError, match="gt_weight is 0"):
        Trainer(_cfg(tiny_config, gt_weight=0.0))
    TrainConfig.from_dict({"gt_weight": 0, "teacher": str(teacher_file)}, tiny_config)  # fine with one
    for bad in ({"gt_weight": -1}, {"distill": "soft"}, {"distill_conf": 1.0}, {"distill_temperature": 0},
                {"distill_gamma": -1}, {"distill_box_weight": -0.1}):
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(bad, tiny_config)


def test_no_teacher_logs_zero_distill(tiny_config: TrainConfig) -> None:
    trainer = Trainer(_cfg(tiny_config, max_steps=1))
    trainer.fit()
    assert trainer.teacher is None and trainer.distill_mode is None
    (row,) = _rows(Path(tiny_config.output_dir) / "train_log.csv")
    assert float(row["distill"]) == 0.0


@pytest.mark.parametrize("feat", [0.0, 0.5])
def test_interrupt_and_resume_with_teacher_equals_uninterrupted(tiny_config: TrainConfig, teacher_file: Path,
                                                                tmp_path: Path, feat: float) -> None:
    """test_trainer's SIGINT/resume check with a dense teacher (and feature imitation, whose adapters
    are saved in last.pt and never in the weights): bit-identical weights and logs."""
    total = 5  # stop at step 2 (mid-epoch 1), finish mid-epoch 2
    base = _cfg(tiny_config, teacher=str(teacher_file), gt_weight=0.5, ema=True, ema_decay=0.9, deterministic=True,
                max_steps=total, distill_feat_weight=feat)
    straight = Trainer(_cfg(base, output_dir=str(tmp_path / "straight"))).fit()
    assert straight.status == "max_steps" and straight.global_step == total

    def interrupt_at_2(trainer: Trainer, info: dict) -> None:
        if info["global_step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "resumed"
    first = Trainer(_cfg(base, output_dir=str(out)), callbacks=[interrupt_at_2]).fit()
    assert first.status == "interrupted" and first.global_step == 2
    second = Trainer(_cfg(base, output_dir=str(out), resume="auto")).fit()
    assert second.status == "max_steps" and second.global_step == total

    a = torch.load(tmp_path / "straight" / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["ema"]["state_dict"]:
        assert torch.equal(a["ema"]["state_dict"][k], b["ema"]["state_dict"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert a["epoch_stats"]["sum"] == b["epoch_stats"]["sum"] and len(a["epoch_stats"]["sum"]) == 5
    if feat:
        assert a["distiller"] and all(torch.equal(a["distiller"][k], b["distiller"][k]) for k in a["distiller"])
        assert not any("adapter" in k for k in a["weights"]["state_dict"])
    else:
        assert a["distiller"] is None
    # the logs agree row for row, distillation column included
    def no_timing(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in rows]

    steps = no_timing(_rows(out / "train_log.csv"))
    assert steps == no_timing(_rows(tmp_path / "straight" / "train_log.csv"))
    assert [int(r["global_step"]) for r in steps] == list(range(1, total + 1)) and all(float(r["distill"]) > 0 for r in steps)
    ea, eb = _rows(tmp_path / "straight" / "epochs.csv"), _rows(out / "epochs.csv")
    assert [(r["epoch"], r["loss"], r["distill"]) for r in ea] == [(r["epoch"], r["loss"], r["distill"]) for r in eb]


def test_gt_weight_scales_the_label_loss_without_a_teacher(tiny_config: TrainConfig) -> None:
    """``loss = gt_weight * label loss (+ distillation)`` holds without a teacher too."""
    Trainer(_cfg(tiny_config, gt_weight=0.5, max_steps=1)).fit()
    (r,) = _rows(Path(tiny_config.output_dir) / "train_log.csv")
    gt = 2.0 * float(r["loc"]) + float(r["cls"]) + float(r["ldm"])
    assert float(r["loss"]) == pytest.approx(0.5 * gt, rel=1e-4)


def test_boxes_teacher_sees_its_own_input_normalisation(tiny_config: TrainConfig, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import featherface.training.distill as distill_module

    path = save_weights(create_model("featherface-v2-ultra", bgr_mean=(0.0, 0.0, 0.0)), tmp_path / "mean0.pt")
    seen: list[torch.Tensor] = []
    real = distill_module.build_teacher_model

    def recording(spec: str, device: object = "cpu") -> torch.nn.Module:
        teacher = real(spec, device)
        teacher.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
        return teacher

    monkeypatch.setattr(distill_module, "build_teacher_model", recording)
    trainer = Trainer(_cfg(tiny_config, teacher=str(path), max_steps=1))
    trainer.fit()
    assert trainer.distill_mode == "boxes" and seen
    assert float(seen[0].min()) >= -1e-3  # a zero-mean teacher expects raw BGR values in [0, 255]


# ---------------------------------------------------------------- feature imitation
def test_feature_imitation_is_zero_for_imitated_features_and_masks_faces_only() -> None:
    torch.manual_seed(0)
    loss = FeatureImitationLoss([4, 4], [4, 4], num_anchors=2, conf_threshold=0.5)
    for conv in loss.adapters:  # identity adapters
        torch.nn.init.zeros_(conv.bias)
        conv.weight.data = torch.eye(4)[:, :, None, None]
    t = [torch.randn(1, 4, 4, 4), torch.randn(1, 4, 2, 2)]
    n = 4 * 4 * 2 + 2 * 2 * 2
    face = torch.zeros(1, n)
    face[0, 2 * (1 * 4 + 1) + 1] = 0.9  # level 0, cell (1, 1), second anchor
    s = [t[0].clone(), t[1].clone()]
    assert loss(s, t, face).item() == 0.0
    m0, m1 = loss.masks(face, [(4, 4), (2, 2)])
    assert m0[0, 0].tolist() == [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]] and m1.sum() == 0
    # an error outside the mask costs nothing, inside it counts relative to the teacher's energy there
    s[0][0, :, 3, 3] += 5.0
    assert loss(s, t, face).item() == 0.0
    s[0][0, :, 1, 1] += 1.0
    expect = (4 * 1.0) / float((t[0][0, :, :3, :3] ** 2).sum())
    assert loss(s, t, face).item() == pytest.approx(expect, rel=1e-5)
    # no face anywhere: zero, and still a graph (the step's backward does not fail)
    none = loss(s, t, torch.zeros(1, n))
    assert none.item() == 0.0 and none.requires_grad


def test_feature_imitation_trains_the_adapters_and_is_refused_in_boxes_mode(tiny_config: TrainConfig,
                                                                           teacher_file: Path, tmp_path: Path) -> None:
    plain = Trainer(_cfg(tiny_config, teacher=str(teacher_file), max_steps=2, deterministic=True,
                         output_dir=str(tmp_path / "plain")))
    plain.fit()
    feat = Trainer(_cfg(tiny_config, teacher=str(teacher_file), max_steps=2, deterministic=True, ema=True,
                        distill_feat_weight=1.0, output_dir=str(tmp_path / "feat")))
    assert feat.fit().status == "max_steps"
    assert feat.distiller is not None and feat.distiller.imitation is not None
    adapters = feat.distiller.trainable_parameters()
    assert adapters and all(any(p is q for g in feat.optimizer.param_groups for q in g["params"]) for p in adapters)
    d_plain = [float(r["distill"]) for r in _rows(tmp_path / "plain" / "train_log.csv")]
    d_feat = [float(r["distill"]) for r in _rows(tmp_path / "feat" / "train_log.csv")]
    assert d_feat[0] > d_plain[0]  # same first step, plus the imitation term
    # the student's EMA copy holds no copy of the hook (and with it of the distiller and its teacher)
    assert feat.ema is not None
    own = set(map(id, feat.raw_model.head._forward_hooks.values()))
    assert own and set(map(id, feat.ema.module.head._forward_hooks.values())) <= own
    with pytest.raises(ConfigError, match="dense"):
        Trainer(_cfg(tiny_config, teacher=str(teacher_file), distill="boxes", distill_feat_weight=1.0,
                     max_steps=1, output_dir=str(tmp_path / "boxes"))).fit()

"""The second teacher for small faces (featherface.training.second_teacher): crops back to images, faces
mapped onto the student's priors as a floor, the floor in the dense loss, and a training run with YuNet."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from featherface.data.transforms import to_network
from featherface.errors import ConfigError
from featherface.ops.anchors import PriorBox
from featherface.ops.boxes import box_iou, cxcywh_to_xyxy
from featherface.peers.base import peers_dir
from featherface.training.config import TrainConfig
from featherface.training.distill import DenseDistillationLoss
from featherface.training.second_teacher import SmallFaceFloor, crops_as_images
from featherface.training.trainer import Trainer
from featherface.types import Face

MIN_SIZES, STEPS = ((16, 32), (64, 128), (256, 512)), (8, 16, 32)


class _Fake:
    """A detector that returns the same faces for any image (and remembers what it saw)."""

    def __init__(self, faces: list[Face]) -> None:
        self._faces = faces
        self.seen: list[np.ndarray] = []

    def detect(self, image: np.ndarray) -> list[Face]:
        self.seen.append(image)
        return list(self._faces)


def test_network_inputs_become_the_images_again() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    chw = to_network(img, np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros((0,), bool))[0]
    (back,) = crops_as_images(torch.from_numpy(np.asarray(chw))[None])
    assert back.dtype == np.uint8 and back.shape == img.shape
    np.testing.assert_array_equal(back, img)


def test_small_confident_faces_lift_the_priors_they_match() -> None:
    small = Face((100.0, 100.0, 116.0, 116.0), 0.8)  # 16 px: matches the 16-px priors around it
    big = Face((10.0, 10.0, 90.0, 90.0), 0.99)  # 80 px: left to the first teacher
    weak = Face((200.0, 200.0, 214.0, 214.0), 0.3)  # under min_score
    det = _Fake([small, big, weak])
    floor = SmallFaceFloor(det, MIN_SIZES, STEPS, max_face_px=32, min_score=0.5, overlap=0.35)
    images = torch.zeros(2, 3, 256, 256)
    out = floor(images)
    priors = cxcywh_to_xyxy(PriorBox(MIN_SIZES, STEPS)(256, 256))
    assert out.shape == (2, priors.shape[0]) and len(det.seen) == 2 and det.seen[0].shape == (256, 256, 3)
    iou_small = box_iou(torch.tensor([[100.0, 100.0, 116.0, 116.0]]) / 256, priors)[0]
    lifted = out[0] > 0
    assert lifted.any() and torch.equal(out[0], out[1])
    assert torch.allclose(out[0][lifted], torch.tensor(0.8))
    # exactly the priors the label rule matches to the small face: IoU >= 0.35, or its best prior
    expect = iou_small >= 0.35
    expect[iou_small.argmax()] = True
    assert torch.equal(lifted, expect)
    # no limit on size: the big face lifts its priors too, at its own score
    everything = SmallFaceFloor(det, MIN_SIZES, STEPS, max_face_px=0, min_score=0.5, overlap=0.35)(images[:1])
    assert (everything[0] == 0.99).any() and (everything[0] > 0).sum() > lifted.sum()
    # nothing found: all zeros
    assert SmallFaceFloor(_Fake([]), MIN_SIZES, STEPS)(images[:1]).abs().sum() == 0


def test_the_floor_raises_the_teacher_target_and_nothing_else() -> None:
    n = 6
    t_cls = torch.zeros(1, n, 2)
    t_cls[..., 1] = -6.0  # the teacher: background everywhere (p ~ 0.0025)
    teacher = {"cls": t_cls, "bbox": torch.zeros(1, n, 4), "ldm": torch.zeros(1, n, 10)}
    s_cls = t_cls.clone()  # the student agrees with the teacher everywhere...
    s_cls[0, 2, 1] = float(np.log(0.9 / 0.1))  # ...but says face (0.9) at prior 2
    student = {"cls": s_cls, "bbox": torch.ones(1, n, 4), "ldm": torch.ones(1, n, 10)}
    loss = DenseDistillationLoss()
    floor = torch.zeros(1, n)
    floor[0, 2] = 0.9
    without, with_floor = loss(student, teacher), loss(student, teacher, floor=floor)
    assert without.cls.item() > 0.5 and with_floor.cls.item() < 0.05 * without.cls.item()
    # boxes and landmarks follow the first teacher's confidence only: none here, so no term either way
    assert without.box.item() == with_floor.box.item() == 0.0 and with_floor.ldm.item() == 0.0
    assert loss(student, teacher, floor=torch.zeros(1, n)).cls.item() == pytest.approx(without.cls.item())


def test_a_second_teacher_needs_a_teacher(tiny_config: TrainConfig) -> None:
    with pytest.raises(ConfigError, match="second_teacher needs"):
        dataclasses.replace(tiny_config, second_teacher="yunet").validate()
    with pytest.raises(ConfigError, match="second_teacher_score"):
        dataclasses.replace(tiny_config, teacher="retinaface", second_teacher="yunet", second_teacher_score=2.0).validate()
    assert dataclasses.replace(tiny_config, second_teacher="none").second_teacher_spec() is None


def test_training_with_yunet_as_second_teacher(tiny_config: TrainConfig, teacher_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    yunet = peers_dir() / "yunet" / "yunet_n_dynamic.onnx"
    if not yunet.is_file():
        pytest.skip(f"{yunet} absent (../shared/peers)")
    cfg = dataclasses.replace(tiny_config, teacher=str(teacher_file), second_teacher=f"yunet:{yunet}",
                              second_teacher_max_px=0, epochs=1)
    trainer = Trainer(cfg)
    res = trainer.fit()
    assert res.status == "finished" and res.global_step == 3
    assert trainer.distiller is not None and trainer.distiller.second is not None
    assert "second teacher yunet:" in capsys.readouterr().err

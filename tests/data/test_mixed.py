"""MixedFaceDataset: several labelled sets in one epoch, each with its repeat and transform; crop_ref_size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from featherface.data.dataset import FaceDataset
from featherface.data.labels import ImageAnnotation
from featherface.data.mixed import MixedFaceDataset
from featherface.data.synthetic import make_synthetic_dataset
from featherface.data.transforms import TrainTransform


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("mixed"), n_images=6, img_size=128, seed=3, max_face=90)


def _pair(label: Path) -> tuple[FaceDataset, FaceDataset]:
    a = FaceDataset(label, transform=TrainTransform(img_size=64), seed=1)
    b = FaceDataset(label, transform=TrainTransform(img_size=96), seed=2)
    return a, b


def test_lengths_follow_repeats(synth: Path) -> None:
    a, b = _pair(synth)
    assert len(MixedFaceDataset([(a, 1.0), (b, 2.5)])) == 6 + 15
    assert len(MixedFaceDataset([(a, 0.5), (b, 0.0)])) == 3
    with pytest.raises(ValueError):
        MixedFaceDataset([(a, -1.0)])


def test_items_come_from_their_source_with_its_transform(synth: Path) -> None:
    a, b = _pair(synth)
    mixed = MixedFaceDataset([(a, 1.0), (b, 2.0)], seed=0)
    sizes = [mixed[i][0].shape[-1] for i in range(len(mixed))]
    assert sizes == [64] * 6 + [96] * 12
    # a multi-scale size overrides the source transform's own, as FaceDataset.item does
    assert mixed.item(8, 128)[0].shape == (3, 128, 128)


def test_repeat_draws_cover_every_image_and_differ(synth: Path) -> None:
    a, b = _pair(synth)
    mixed = MixedFaceDataset([(a, 0.0), (b, 2.0)], seed=0)
    paths = [mixed.image_path(i) for i in range(len(mixed))]
    assert sorted(set(paths)) == sorted({b.image_path(i) for i in range(len(b))})
    assert all(paths.count(p) == 2 for p in set(paths))
    first = {}
    for i, p in enumerate(paths):  # the two draws of one image get different augmentations
        img = mixed[i][0]
        if p in first:
            assert not torch.equal(first[p], img)
        first[p] = img


def test_epoch_mapping_is_deterministic_and_changes(synth: Path) -> None:
    a, b = _pair(synth)
    m1 = MixedFaceDataset([(a, 0.5), (b, 0.5)], seed=4)
    m2 = MixedFaceDataset([(a, 0.5), (b, 0.5)], seed=4)
    picks = []
    for epoch in range(4):
        m1.set_epoch(epoch)
        m2.set_epoch(epoch)
        p1 = [m1.image_path(i) for i in range(len(m1))]
        assert p1 == [m2.image_path(i) for i in range(len(m2))]
        assert torch.equal(m1[0][0], m2[0][0])
        picks.append(tuple(p1))
    assert len(set(picks)) > 1  # a fractional repeat draws another subset in another epoch
    with pytest.raises(IndexError):
        m1[len(m1)]


def test_crop_ref_size_keeps_face_scale_across_batch_sizes() -> None:
    img = np.full((400, 400, 3), 90, np.uint8)
    box = np.array([[190, 190, 210, 210]], np.float32)  # a 20-px face at the centre
    lms = np.full((1, 5, 2), -1, np.float32)
    has = np.zeros(1, bool)
    t = TrainTransform(img_size=640, crop_scales=(0.5,), crop_ref_size=640, photometric=False, mirror_prob=0.0)
    scales = []
    for size in (320, 640):
        _, b, _, _ = t.augment(img, box, lms, has, np.random.default_rng(0), size=size)
        scales.append(float(b[0, 2] - b[0, 0]))
    # 0.5 of the short side -> 640 px: the face is enlarged 3.2x; at 320 px the crop halves, same 3.2x
    assert scales[0] == pytest.approx(64, abs=2) and scales[1] == pytest.approx(64, abs=2)
    plain = TrainTransform(img_size=640, crop_scales=(0.5,), photometric=False, mirror_prob=0.0)
    _, b, _, _ = plain.augment(img, box, lms, has, np.random.default_rng(0), size=320)
    assert float(b[0, 2] - b[0, 0]) == pytest.approx(32, abs=2)
    with pytest.raises(ValueError):
        TrainTransform(crop_ref_size=-1)


def test_annotations_list_source() -> None:
    ann = [ImageAnnotation(path="x.jpg", boxes=np.array([[1, 1, 5, 5]]), landmarks=np.full((1, 5, 2), -1.0),
                           has_landmarks=np.zeros(1, bool))]
    ds = FaceDataset(ann)
    assert len(MixedFaceDataset([(ds, 3.0)])) == 3

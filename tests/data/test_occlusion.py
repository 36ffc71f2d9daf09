"""Occlusion and degradation change pixels only where and how they should, and never the targets."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.data.occlusion import degrade, occlude_faces
from featherface.data.transforms import TrainTransform


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A noisy 200x200 image with two faces, one with landmarks and one without."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    boxes = np.array([[20, 30, 80, 100], [120, 120, 180, 190]], np.float32)
    lm = np.full((2, 5, 2), -1, np.float32)
    lm[0] = [[38, 55], [62, 55], [50, 70], [40, 85], [60, 85]]
    has = np.array([True, False])
    return img, boxes, lm, has


def test_occluder_stays_on_the_lower_face_and_leaves_the_input_alone() -> None:
    img, boxes, lm, has = scene()
    before = img.copy()
    out = occlude_faces(img, boxes, lm, has, np.random.default_rng(3), face_prob=1.0)
    assert np.array_equal(img, before)
    changed = np.any(out != img, axis=2)
    assert changed.sum() > 200  # both faces were covered, not a few stray pixels
    ys, xs = np.nonzero(changed)
    inside = np.zeros_like(changed)
    for x1, y1, x2, y2 in boxes:  # the face box grown by a margin (ellipses and bars may overhang)
        w, h = x2 - x1, y2 - y1
        inside[int(y1 - 0.2 * h):int(y2 + 0.3 * h), int(x1 - 0.3 * w):int(x2 + 0.3 * w)] = True
    assert inside[ys, xs].all()
    # the eyes of the face with landmarks stay visible
    assert not changed[50:58, 34:66].any() or changed[50:58, 34:66].mean() < 0.5


def test_no_faces_or_zero_probability_returns_the_same_image() -> None:
    img, boxes, lm, has = scene()
    assert occlude_faces(img, boxes, lm, has, np.random.default_rng(0), face_prob=0.0) is img
    assert occlude_faces(img, boxes[:0], lm[:0], has[:0], np.random.default_rng(0)) is img
    tiny = np.array([[10, 10, 14, 14]], np.float32)
    assert occlude_faces(img, tiny, lm[:1], has[:1], np.random.default_rng(0), face_prob=1.0) is img


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_degrade_keeps_shape_and_is_seed_deterministic(seed: int) -> None:
    img = scene()[0]
    before = img.copy()
    a = degrade(img, np.random.default_rng(seed))
    b = degrade(img, np.random.default_rng(seed))
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.array_equal(img, before)
    assert a is not img


def test_degrade_softens_a_sharp_image_over_many_draws() -> None:
    img = scene()[0]
    rng = np.random.default_rng(0)
    diffs = [np.abs(degrade(img, rng).astype(int) - img).mean() for _ in range(20)]
    assert np.mean(diffs) > 5  # random noise is what low resolution, blur and JPEG destroy


def test_train_transform_targets_do_not_depend_on_occlusion_or_degradation() -> None:
    img, boxes, lm, has = scene()
    plain = TrainTransform(160, crop_scales=[1.0])
    heavy = TrainTransform(160, crop_scales=[1.0], occlusion_prob=1.0, occlusion_face_prob=1.0, degrade_prob=1.0)
    p = plain.augment(img, boxes, lm, has, np.random.default_rng(5))
    h = heavy.augment(img, boxes, lm, has, np.random.default_rng(5))
    for a, b in zip(p[1:], h[1:]):
        assert np.array_equal(a, b)
    assert not np.array_equal(p[0], h[0])


def test_train_transform_size_overrides_img_size() -> None:
    img, boxes, lm, has = scene()
    t = TrainTransform(160, crop_scales=[1.0])
    chw, b, _, _ = t(img, boxes, lm, has, np.random.default_rng(0), size=96)
    assert chw.shape == (3, 96, 96)
    chw2, b2, _, _ = t(img, boxes, lm, has, np.random.default_rng(0))
    assert chw2.shape == (3, 160, 160)
    assert np.allclose(b, b2)  # normalised targets do not depend on the output size

"""Rotation augmentation: points turn with the pixels, boxes keep their size, faces leaving the crop go."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.data.rotate import random_rotate, rotate_sample
from featherface.data.transforms import TrainTransform

LM = np.array([[[40, 50], [60, 50], [50, 60], [42, 70], [58, 70]]], np.float32)
BOX = np.array([[30, 35, 70, 80]], np.float32)


def _image():
    img = np.zeros((100, 100, 3), np.uint8)
    for x, y in LM[0]:
        cv2.circle(img, (int(x), int(y)), 2, (255, 255, 255), -1)
    return img


@pytest.mark.parametrize("deg", [15.0, -30.0, 90.0])
def test_points_follow_and_box_keeps_size(deg):
    img, b, lm, has = rotate_sample(_image(), BOX, LM, np.array([True]), deg)
    assert img.shape == (100, 100, 3) and has.tolist() == [True]
    for x, y in lm[0]:
        assert img[int(round(y)), int(round(x))].max() > 200
    np.testing.assert_allclose(b[0, 2:] - b[0, :2], BOX[0, 2:] - BOX[0, :2], atol=1e-4)
    if deg == 15.0:
        assert lm[0, 1, 1] < lm[0, 0, 1]  # counter-clockwise as shown: the image-right eye goes up


def test_faces_leaving_the_picture_dropped_and_inputs_untouched():
    boxes = np.array([[0, 0, 10, 10], [45, 45, 55, 55]], np.float32)
    lms = np.full((2, 5, 2), -1, np.float32)
    has = np.zeros(2, bool)
    before = (boxes.copy(), lms.copy())
    _, b, lm, h = rotate_sample(np.zeros((100, 100, 3), np.uint8), boxes, lms, has, 45.0)
    assert len(b) == 1 and np.all(lm == -1) and h.tolist() == [False]  # the corner face left the picture
    np.testing.assert_array_equal(boxes, before[0]) and np.testing.assert_array_equal(lms, before[1])


def test_random_rotate_bounds_and_transform_option():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        random_rotate(_image(), BOX, LM, np.array([True]), rng, float("nan"))
    with pytest.raises(ValueError):
        TrainTransform(rotate_prob=1.5)
    t = TrainTransform(img_size=64, rotate_prob=1.0, rotate_max=30.0, crop_scales=(1.0,), photometric=False,
                       mirror_prob=0.0)
    img, b, lm, has = t.augment(_image(), BOX, LM, np.array([True]), np.random.default_rng(3))
    assert img.shape == (64, 64, 3) and len(b) == 1
    eyes = lm[0, 1] - lm[0, 0]
    assert abs(np.degrees(np.arctan2(eyes[1], eyes[0]))) <= 30.0 + 1e-3
    # off by default: the old random streams (and so exact resume of old runs) are unchanged
    plain = TrainTransform(img_size=64)
    a = plain(_image(), BOX, LM, np.array([True]), np.random.default_rng(5))
    c = TrainTransform(img_size=64, rotate_prob=0.0)(_image(), BOX, LM, np.array([True]), np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, c))

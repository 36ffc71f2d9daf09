"""The measuring parts of benchmarks/landmark_roll.py: a wrong slope or R^2 would misreport where a
network loses head roll."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def roll():
    return load_script("benchmarks/landmark_roll.py")


def test_follow_slope_is_one_for_following_and_zero_for_level_points(roll) -> None:
    true = np.array([-20.0, 20.0, -10.0, 15.0])
    assert roll.follow_slope(true, true) == pytest.approx(1.0)
    assert roll.follow_slope(true, 0.5 * true) == pytest.approx(0.5)
    assert roll.follow_slope(true, np.zeros(4)) == pytest.approx(0.0)


def test_ridge_r2_reads_a_linear_signal_and_not_noise(roll) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16))
    y = x @ rng.normal(size=16)
    assert roll.ridge_r2(x, y) > 0.95
    assert roll.ridge_r2(x, rng.normal(size=400)) < 0.1
    assert np.isnan(roll.ridge_r2(x[:12], y[:12]))  # too few faces to score


@pytest.mark.parametrize("degrees", [-25.0, 0.0, 18.0])
def test_turned_face_sample_centres_the_face_at_the_level_size(roll, degrees: float) -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    eyes = np.array([[180.0, 140.0], [220.0, 150.0]])  # ~41 px apart, tilted ~14 deg
    for x, y in eyes.astype(int):
        image[y - 2:y + 3, x - 2:x + 3] = 255  # the eyes drawn, to find them in the canvas
    for level, (size, stride, canvas) in enumerate(roll.LEVELS):
        out, (r, c), angle = roll.turned_face_sample(image, eyes, degrees, level)
        assert out.shape == (canvas, canvas, 3)
        assert r == c == (canvas // 2) // stride
        # the image turns counter-clockwise as shown (cv2), so the eye line's angle drops by `degrees`
        assert angle == pytest.approx(roll.line_angle(eyes, 0, 1) - degrees, abs=1e-6)
        if level > 0:  # at level 0 the eyes are ~10 px apart: the drawn dots merge
            ys, xs = np.nonzero(out[..., 0] > 100)
            assert abs(xs.mean() - canvas / 2) < 2 and abs(ys.mean() - canvas / 2) < 2  # face centred
            assert np.ptp(xs) == pytest.approx(size / 2.5 * np.cos(np.radians(angle)), abs=0.15 * size / 2.5)

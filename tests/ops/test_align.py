"""Alignment: the closed-form similarity and the crops it makes."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.ops.align import ARCFACE_TEMPLATE_112, align_face, alignment_template, similarity_transform
from featherface.types import Face


def _similar(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


@pytest.mark.parametrize("angle,scale,shift", [(0.0, 1.0, (0, 0)), (0.4, 2.5, (300, 120)), (-1.2, 0.7, (15, 400))])
def test_similarity_recovers_a_known_transform(angle: float, scale: float, shift: tuple[float, float]) -> None:
    src = _similar(ARCFACE_TEMPLATE_112, angle, scale, shift)
    m = similarity_transform(src, ARCFACE_TEMPLATE_112)
    mapped = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE_112, atol=1e-9)
    assert np.linalg.det(m[:, :2]) > 0  # never a reflection


def test_similarity_is_least_squares_and_refuses_degenerate_input() -> None:
    rng = np.random.default_rng(0)
    src = _similar(ARCFACE_TEMPLATE_112, 0.3, 1.7, (50, 60)) + rng.normal(0, 1.0, (5, 2))
    m = similarity_transform(src, ARCFACE_TEMPLATE_112)
    err = np.linalg.norm(src @ m[:, :2].T + m[:, 2] - ARCFACE_TEMPLATE_112, axis=1).mean()
    assert err < 1.5
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), ARCFACE_TEMPLATE_112)
    with pytest.raises(ValueError, match="finite"):
        similarity_transform(np.full((5, 2), np.nan), ARCFACE_TEMPLATE_112)


def _dot_image(points: np.ndarray, h: int = 480, w: int = 640) -> np.ndarray:
    """A black image with a white 3x3 dot at each point (rounded)."""
    img = np.zeros((h, w, 3), np.uint8)
    for x, y in np.round(points).astype(int):
        img[y - 1:y + 2, x - 1:x + 2] = 255
    return img


@pytest.mark.parametrize("size,margin", [(112, 0.0), (224, 0.0), (112, 0.25)])
def test_aligned_crop_puts_the_landmarks_on_the_template(size: int, margin: float) -> None:
    """The landmarks of a rotated, scaled face land within 2 px of the template in the crop."""
    lms = np.round(_similar(ARCFACE_TEMPLATE_112, 0.35, 2.2, (260, 60)))
    face = Face(box=(0, 0, 1, 1), score=1.0, landmarks=tuple(map(tuple, lms)))
    crop = face.align(_dot_image(lms), size=size, margin=margin)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    target = alignment_template(size, margin)
    for tx, ty in target:
        y0, x0 = int(round(ty)), int(round(tx))
        win = crop[max(0, y0 - 4):y0 + 5, max(0, x0 - 4):x0 + 5, 0].astype(float)
        assert win.sum() > 0, "no dot near the template point"
        ys, xs = np.nonzero(win)
        wts = win[ys, xs]
        cy = (ys * wts).sum() / wts.sum() + max(0, y0 - 4)
        cx = (xs * wts).sum() / wts.sum() + max(0, x0 - 4)
        assert np.hypot(cx - tx, cy - ty) < 2.0


def test_template_margin_and_bad_arguments() -> None:
    np.testing.assert_allclose(alignment_template(224), ARCFACE_TEMPLATE_112 * 2)
    wide = alignment_template(112, 0.5)
    assert np.ptp(wide[:, 0]) == pytest.approx(np.ptp(ARCFACE_TEMPLATE_112[:, 0]) / 2)
    with pytest.raises(ValueError, match="size"):
        alignment_template(8)
    with pytest.raises(ValueError, match="margin"):
        alignment_template(112, -1)
    with pytest.raises(ValueError, match="5 \\(x, y\\) landmarks"):
        align_face(np.zeros((10, 10, 3), np.uint8), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no landmarks|none"):
        Face(box=(0, 0, 1, 1), score=1.0).align(np.zeros((10, 10, 3), np.uint8))

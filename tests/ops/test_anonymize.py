"""Anonymisation of face regions."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.ops.anonymize import anonymize, expand_box
from featherface.types import Face


def _noise(h: int = 120, w: int = 160) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
@pytest.mark.parametrize("shape", ["box", "ellipse"])
def test_only_the_expanded_face_region_changes(mode: str, shape: str) -> None:
    img = _noise()
    face = Face(box=(40, 30, 80, 90), score=0.9)
    out = anonymize(img, [face], mode=mode, shape=shape, margin=0.1, color=(0, 255, 0))
    assert out.shape == img.shape and out is not img
    assert np.array_equal(img, _noise())  # the input is untouched
    x1, y1, x2, y2 = expand_box(face.box, 0.1, 160, 120)
    outside = np.ones(img.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(out[outside], img[outside])
    cy, cx = (y1 + y2) // 2, (x1 + x2) // 2
    centre = out[cy - 5:cy + 5, cx - 5:cx + 5].astype(float)
    if mode == "fill":
        assert (centre == [0, 255, 0]).all()
    else:  # detail gone: the noise's local variation is far lower
        assert centre.std() < 0.5 * img[cy - 5:cy + 5, cx - 5:cx + 5].astype(float).std()
    if shape == "ellipse":  # the corners of the box stay as they were
        assert np.array_equal(out[y1, x1], img[y1, x1])


def test_boxes_as_array_and_edge_clipping() -> None:
    img = _noise()
    out = anonymize(img, np.array([[-20, -20, 30, 30, 0.9]]), mode="fill", shape="box", margin=0.0)
    assert (out[:30, :30] == 0).all() and np.array_equal(out[30:], img[30:])
    assert np.array_equal(anonymize(img, []), img)


def test_bad_arguments() -> None:
    img = _noise()
    with pytest.raises(ValueError, match="mode"):
        anonymize(img, [], mode="smudge")
    with pytest.raises(ValueError, match="shape"):
        anonymize(img, [], shape="star")
    with pytest.raises(ValueError, match="margin"):
        anonymize(img, [], margin=5)
    with pytest.raises(ValueError, match="finite"):
        anonymize(img, np.array([[0, 0, np.nan, 5]]))


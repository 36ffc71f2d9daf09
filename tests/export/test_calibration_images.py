"""Calibration images for INT8 quantization: listed and preprocessed through featherface.io."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.errors import ConfigError
from featherface.export.quantize import list_images, preprocess_image


def _reference(image: np.ndarray, input_size: int, mean) -> np.ndarray:
    """The calibration preprocessing as it was written before it used featherface.io."""
    h, w = image.shape[:2]
    s = input_size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    side = -(-input_size // 32) * 32
    out = np.zeros((1, 3, side, side), dtype=np.float32)
    out[0, :, :nh, :nw] = (image.astype(np.float32) - np.asarray(mean, dtype=np.float32)).transpose(2, 0, 1)
    return out


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (100, 100), (320, 200), (50, 700)])
@pytest.mark.parametrize("size", [160, 320, 300])
def test_preprocess_image_is_unchanged(shape, size):
    img = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    mean = (104.0, 117.0, 123.0)
    got = preprocess_image(img, size, mean)
    assert got.shape == (1, 3, -(-size // 32) * 32, -(-size // 32) * 32)
    assert np.array_equal(got, _reference(img, size, mean))


def test_list_images_lists_the_folder_images_only(tmp_path):
    for name in ("b.jpg", "a.PNG", "c.webp", "d.tif", "notes.txt", "clip.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.jpg").write_bytes(b"x")  # not recursive
    assert [p.name for p in list_images(tmp_path)] == ["a.PNG", "b.jpg", "c.webp", "d.tif"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        list_images(tmp_path / "empty")
    with pytest.raises(ConfigError, match="calibration folder not found"):
        list_images(tmp_path / "nope")

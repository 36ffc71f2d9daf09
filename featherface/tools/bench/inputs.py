"""What the benchmark runs on: pictures, network batches, and OpenCV's Haar cascade (the peer row)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError
from featherface.export.quantize import default_calibration_dir, list_images, synthetic_calibration_images
from featherface.io.images import load_image


def bench_images(n: int, source: str | None = None, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """``n`` BGR pictures: from ``source`` (a folder or ``"synthetic"``), else the shared photos, else synthetic."""
    if source == "synthetic":
        return synthetic_calibration_images(n, size=640, seed=seed), "synthetic"
    folder = Path(source) if source else default_calibration_dir()
    if folder is not None and folder.is_dir():
        files = list_images(folder)
        return [load_image(files[i % len(files)]) for i in range(n)], str(folder)
    if source:
        raise ConfigError(f"{source}: image folder not found")
    return synthetic_calibration_images(n, size=640, seed=seed), "synthetic"


def to_batch(images: Sequence[np.ndarray], mean: Sequence[float]) -> np.ndarray:
    """Letterboxed uint8 BGR images -> float32 NCHW minus mean."""
    arr = np.stack([im.astype(np.float32) - np.asarray(mean, np.float32) for im in images])
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


def load_haar() -> Any:
    """OpenCV's frontal-face Haar cascade, or ``None`` where this OpenCV has none (OpenCV >= 5)."""
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        return None
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    if not os.path.isfile(path):
        return None
    haar = cv2.CascadeClassifier(path)
    return None if haar.empty() else haar

"""Synthetic "faces" for tests and the training learning-check.

Bright ellipses (16-200 px) carrying five dark landmark dots - two eyes, nose, two mouth corners
in face-like positions - on dim, textured noise backgrounds. They are trivially separable from the
background yet vary in size, aspect, colour, count and feature placement, so a detector that
trains correctly must reach high recall on them, and one with a broken loss/anchor/target path
will not. Geometry is exact: a face's box bounds its ellipse's pixels and each landmark sits on
its dot's centre (continuous coordinates: pixel column ``c`` spans ``[c, c+1)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from featherface.data.labels import ImageAnnotation, write_retinaface_labels

__all__ = ["LANDMARK_TEMPLATE", "render_synthetic_image", "make_synthetic_dataset"]

#: Landmark positions as fractions of the face box (x of width, y of height), before jitter:
#: left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the image).
LANDMARK_TEMPLATE = np.array(
    [[0.31, 0.40], [0.69, 0.40], [0.50, 0.58], [0.35, 0.76], [0.65, 0.76]], dtype=np.float64
)

_SHIFT = 4  # cv2 fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Dim coloured low-frequency blobs + fine noise + a few dark shapes, never as bright as a face."""
    gh, gw = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    coarse = rng.uniform(10, 100, size=(gh, gw, 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0.0, rng.uniform(4, 14), size=(h, w, 3)).astype(np.float32)
    img = np.clip(img, 0, 120).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):  # clutter so "anything not black" is not a face
        colour = tuple(int(c) for c in rng.integers(0, 121, size=3))
        x1, y1 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, thickness=int(rng.choice([-1, 1, 2, 3])))
        else:
            cv2.line(img, (x1, y1), (x2, y2), colour, thickness=int(rng.integers(1, 5)))
    return img


def _fits(box: np.ndarray, placed: list[np.ndarray], gap: float) -> bool:
    for o in placed:
        if box[0] < o[2] + gap and o[0] < box[2] + gap and box[1] < o[3] + gap and o[1] < box[3] + gap:
            return False
    return True


def render_synthetic_image(
    rng: np.random.Generator,
    size: int | tuple[int, int] = 320,
    min_face: int = 16,
    max_face: int = 200,
    max_faces: int = 6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one synthetic picture in memory.

    ``size`` is an int (square) or ``(height, width)``. Returns ``(image HxWx3 uint8 BGR,
    boxes (N,4) float32 x1y1x2y2, landmarks (N,5,2) float32)``; every face has all five
    landmarks, N >= 1. Face widths are log-uniform in ``[min_face, max_face]`` (capped by the
    image), heights 1.1-1.35x the width, and faces never overlap.
    """
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min_face < 4:
        raise ValueError("min_face must be at least 4 px so landmark dots stay distinguishable")
    img = _background(rng, h, w)
    cap = int(min(max_face, 0.95 * w, 0.95 * h / 1.35))
    lo = min(min_face, cap)
    n_target = int(rng.integers(1, max(1, max_faces) + 1))
    placed: list[np.ndarray] = []
    lms: list[np.ndarray] = []
    for k in range(n_target):
        for _attempt in range(30):
            fw = int(round(np.exp(rng.uniform(np.log(lo), np.log(cap + 1e-6)))))
            fw = max(lo, min(fw, cap))
            fh = int(round(fw * rng.uniform(1.1, 1.35)))
            fh = min(fh, h - 1)
            x1 = int(rng.integers(0, w - fw + 1))
            y1 = int(rng.integers(0, h - fh + 1))
            box = np.array([x1, y1, x1 + fw, y1 + fh], dtype=np.float64)
            if _fits(box, placed, gap=2.0):
                break
        else:
            continue  # crowded: fewer faces this time (the first face always fits)
        colour = (int(rng.integers(150, 256)), int(rng.integers(170, 256)), int(rng.integers(200, 256)))
        centre = (int(round((x1 + (fw - 1) / 2) * _ONE)), int(round((y1 + (fh - 1) / 2) * _ONE)))
        axes = (int(round((fw - 1) / 2 * _ONE)), int(round((fh - 1) / 2 * _ONE)))
        cv2.ellipse(img, centre, axes, 0, 0, 360, colour, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
        # five features: a shared yaw shift (nose moves most), small independent jitter
        yaw = rng.uniform(-0.07, 0.07)
        rel = LANDMARK_TEMPLATE.copy()
        rel[:, 0] += yaw
        rel[2, 0] += 0.5 * yaw
        rel += rng.uniform(-0.02, 0.02, size=rel.shape)
        pts = np.empty((5, 2), dtype=np.float64)
        pts[:, 0] = x1 + rel[:, 0] * fw
        pts[:, 1] = y1 + rel[:, 1] * fh
        # snap each point to a pixel centre so "the dot pixel under the landmark" is unambiguous
        pts = np.floor(pts) + 0.5
        radius = max(1.0, 0.045 * fw)
        dot = (int(rng.integers(0, 60)), int(rng.integers(0, 60)), int(rng.integers(90, 170)))
        for px, py in pts:
            c = (int(round((px - 0.5) * _ONE)), int(round((py - 0.5) * _ONE)))
            cv2.circle(img, c, int(round(radius * _ONE)), dot, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
        placed.append(box)
        lms.append(pts)
    boxes = np.asarray(placed, dtype=np.float32).reshape(-1, 4)
    landmarks = np.asarray(lms, dtype=np.float32).reshape(-1, 5, 2)
    return img, boxes, landmarks


def make_synthetic_dataset(
    root: str | os.PathLike[str],
    n_images: int,
    img_size: int | tuple[int, int] = 320,
    seed: int = 0,
    min_face: int = 16,
    max_face: int = 200,
    max_faces: int = 6,
    ext: str = ".jpg",
) -> Path:
    """Write ``n_images`` synthetic pictures and a RetinaFace ``label.txt`` (with landmarks).

    Layout mirrors RetinaFace's WIDER train folder: ``root/label.txt`` whose paths are relative
    to ``root/images/`` (the default ``image_root`` of :class:`~featherface.data.dataset.FaceDataset`).
    Returns the label file path. Same ``seed`` -> same pictures and labels.
    """
    if n_images < 0:
        raise ValueError("n_images must be >= 0")
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in (".jpg", ".jpeg", ".png"):
        raise ValueError(f"unsupported image extension {ext!r} (use .jpg or .png)")
    root = Path(root)
    img_dir = root / "images" / "synthetic"
    img_dir.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext.lower() in (".jpg", ".jpeg") else []
    seq = np.random.SeedSequence(seed)
    annotations: list[ImageAnnotation] = []
    for i, child in enumerate(seq.spawn(n_images)):
        rng = np.random.default_rng(child)
        img, boxes, lms = render_synthetic_image(rng, img_size, min_face, max_face, max_faces)
        rel = f"synthetic/{i:05d}{ext}"
        if not cv2.imwrite(str(root / "images" / rel), img, params):
            raise OSError(f"could not write {root / 'images' / rel}")
        annotations.append(ImageAnnotation(rel, boxes, lms, np.ones(len(boxes), dtype=bool)))
    return write_retinaface_labels(root / "label.txt", annotations)

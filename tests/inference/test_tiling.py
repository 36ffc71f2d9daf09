"""Tiled detection: the grid covers the image, cut faces at shared edges are dropped, duplicates
merge, and a face too small for the scaled-down pass is found by the tiles."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface import FaceDetector
from featherface.errors import ConfigError
from featherface.inference.tiling import merge_tiled, tile_grid
from featherface.io.images import read_image
from featherface.types import Face

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.mark.parametrize("h,w,tile,overlap", [(1000, 1500, 512, 64), (300, 2000, 512, 100), (512, 512, 512, 0)])
def test_grid_covers_the_image_with_the_overlap(h: int, w: int, tile: int, overlap: int) -> None:
    windows = tile_grid(h, w, tile, overlap)
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in windows:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert x1 - x0 == min(tile, w) and y1 - y0 == min(tile, h)
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({x0 for x0, _, _, _ in windows})
    for a, b in zip(xs, xs[1:]):  # neighbours share at least the overlap
        assert a + tile - b >= overlap


def test_grid_refuses_an_overlap_as_big_as_the_tile() -> None:
    with pytest.raises(ValueError, match="overlap"):
        tile_grid(100, 100, 64, 64)


def face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> Face:
    return Face((x1, y1, x2, y2), score, tuple((x1 + 1, y1 + 1) for _ in range(5)))


def test_merge_shifts_tile_faces_drops_cut_ones_and_merges_duplicates() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    windows = tile_grid(200, 300, 128, 32)
    seen = []

    def native(crops: list[np.ndarray]) -> list[list[Face]]:
        out = []
        for crop in crops:
            seen.append(crop.shape)
            k = len(seen) - 1
            x0, y0 = windows[k][:2]
            faces = []
            # the same real face (image coordinates 100..120 x 90..110) wherever a tile holds it whole
            if x0 <= 100 and x0 + 128 >= 120 and y0 <= 90 and y0 + 128 >= 110:
                faces.append(face(100 - x0, 90 - y0, 120 - x0, 110 - y0, 0.8))
            faces.append(face(0, 10, 12, 30, 0.99))  # cut by the tile's left edge (kept only where that is the image's)
            out.append(faces)
        return out

    merged = merge_tiled(image, [face(10, 10, 60, 60, 0.95)], native, 128, 32, nms_threshold=0.4, max_detections=50)
    boxes = [tuple(round(v) for v in f.box) for f in merged]
    assert (10, 10, 60, 60) in boxes  # the scaled-down pass's face stays
    assert boxes.count((100, 90, 120, 110)) == 1  # found by several tiles, merged into one
    cut = [b for b in boxes if b[2] - b[0] == 12]
    assert all(b[0] == 0 for b in cut)  # only the copies on the image's own left edge survive
    assert len(seen) == len(windows) and {s[:2] for s in seen} == {(128, 128)}
    moved = next(f for f in merged if tuple(round(v) for v in f.box) == (100, 90, 120, 110))
    assert moved.landmarks is not None and round(moved.landmarks[0][0]) == 101  # landmarks moved too


@pytest.fixture(scope="module")
def crowd() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The example face shrunk to ~40 px and pasted into a 1600x1600 grey canvas."""
    img = read_image(EXAMPLE)
    det = FaceDetector(threads=1)
    f = max(det.detect(img), key=lambda f: f.score)
    x1, y1, x2, y2 = (int(v) for v in f.box)
    pad = int(0.6 * (x2 - x1))
    crop = img[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
    scale = 40.0 / (x2 - x1)
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1600, 1600, 3), 127, np.uint8)
    oy, ox = 700, 900
    canvas[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    fx1 = ox + (x1 - max(0, x1 - pad)) * scale
    fy1 = oy + (y1 - max(0, y1 - pad)) * scale
    return canvas, (int(fx1), int(fy1), int(fx1 + 40), int(fy1 + 40 * (y2 - y1) / (x2 - x1)))


def test_tiles_find_a_face_the_scaled_down_pass_misses(crowd) -> None:
    canvas, (x1, y1, x2, y2) = crowd
    det = FaceDetector(threads=1, max_size=320, tile_size=320, tile_overlap=64)  # 1600 -> 320: the face is 8 px

    def hits(faces: list[Face]) -> int:
        return sum(1 for f in faces if f.box[0] < (x1 + x2) / 2 < f.box[2] and f.box[1] < (y1 + y2) / 2 < f.box[3])

    assert hits(det.detect(canvas)) == 0
    tiled = det.detect(canvas, tile=True)
    assert hits(tiled) == 1
    assert FaceDetector(threads=1, max_size=320, tile=True, tile_size=320, tile_overlap=64).detect(canvas) == tiled


def test_images_at_native_resolution_are_not_tiled() -> None:
    img = read_image(EXAMPLE)
    det = FaceDetector(threads=1)
    assert [f.box for f in det.detect(img, tile=True)] == [f.box for f in det.detect(img)]


@pytest.mark.parametrize("kw,match", [({"tile": "yes"}, "tile must be True or False"),
                                      ({"tile_overlap": 600}, "tile_overlap"),
                                      ({"tile_size": 10}, "tile_size")])
def test_bad_tile_options_are_refused(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FaceDetector(threads=1, **kw)


def test_a_tile_fragment_inside_a_bigger_face_is_dropped() -> None:
    image = np.zeros((256, 256, 3), np.uint8)

    def native(crops: list[np.ndarray]) -> list[list[Face]]:
        # every tile sees "the lower half" of the big face, clear of its edges
        return [[face(40, 40, 80, 70, 0.9)] for _ in crops]

    big = face(20, 0, 140, 120, 0.99)
    merged = merge_tiled(image, [big], native, 128, 32, nms_threshold=0.4, max_detections=50)
    assert [f.box for f in merged][0] == big.box
    assert all(not (f.box[0] >= 20 and f.box[2] <= 140 and f.box[3] <= 120) or f is big for f in merged)


def test_the_example_face_is_found_once_with_small_tiles() -> None:
    det = FaceDetector(threads=1, max_size=256, tile_size=256, tile_overlap=64)
    faces = det.detect(read_image(EXAMPLE), tile=True)
    assert len(faces) == 1


def test_tiles_only_add_faces_too_small_for_the_scaled_down_pass() -> None:
    image = np.zeros((400, 400, 3), np.uint8)

    def native(crops: list[np.ndarray]) -> list[list[Face]]:
        return [[face(20, 20, 50, 50, 0.9), face(60, 60, 160, 160, 0.9)] for _ in crops]  # 30 px and 100 px

    merged = merge_tiled(image, [], native, 200, 50, nms_threshold=0.4, max_detections=50, full_scale=0.5)
    sizes = {round(f.width) for f in merged}
    assert sizes == {30}  # 100 px is 50 px in the scaled-down pass: its face to find, not the tiles'

"""Augmentations keep boxes and landmarks on the pixels they describe, and are seed-deterministic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.data import transforms as T

WHITE = (255, 255, 255)


def square_image(h: int, w: int, box: tuple[int, int, int, int], colour=WHITE) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = colour
    return img


def colour_extent(img: np.ndarray, colour=WHITE, tol: int = 80) -> tuple[float, float, float, float] | None:
    """Continuous-coordinate box of the pixels close to ``colour`` (None if there are none)."""
    mask = np.all(np.abs(img.astype(np.int32) - np.asarray(colour)) < tol, axis=2)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def assert_box_bounds(img: np.ndarray, box: np.ndarray, colour=WHITE, tol: float = 0.0) -> None:
    ext = colour_extent(img, colour)
    assert ext is not None, "face pixels vanished"
    np.testing.assert_allclose(box, ext, atol=tol + 1e-4)


def no_landmarks(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 5, 2), -1, np.float32), np.zeros(n, bool)


# ---------------------------------------------------------------------------------------------
# one face image with five coloured landmark dots

DOT_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255)]


def face_with_dots(h: int = 120, w: int = 160, r: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    img = np.zeros((h, w, 3), np.uint8)
    box = np.array([[40, 30, 100, 100]], np.float32)
    img[30:100, 40:100] = (200, 200, 200)
    px = np.array([[55, 50], [85, 50], [70, 65], [58, 82], [82, 82]])
    for (x, y), c in zip(px, DOT_COLOURS):
        img[y - r : y + r + 1, x - r : x + r + 1] = c
    lms = (px + 0.5).astype(np.float32)[None]  # pixel centres
    return img, box, lms


def colour_under(img: np.ndarray, pt: np.ndarray) -> tuple[int, ...]:
    x, y = int(np.floor(pt[0])), int(np.floor(pt[1]))
    return tuple(int(v) for v in img[y, x])


def nearest_dot(img: np.ndarray, pt: np.ndarray) -> int:
    c = np.asarray(colour_under(img, pt))
    return int(np.argmin([np.abs(c - np.asarray(d)).sum() for d in DOT_COLOURS]))


# ---------------------------------------------------------------------------------------------


def test_random_crop_keeps_box_on_pixels() -> None:
    box = (70, 50, 130, 110)
    img = square_image(200, 300, box)
    b = np.array([box], np.float32)
    lm, has = no_landmarks(1)
    seen_clipped = False
    for seed in range(40):
        out, nb, nlm, nhas = T.random_crop(img, b, lm, has, np.random.default_rng(seed))
        assert out.shape[0] == out.shape[1], "crops (and the fallback) are square"
        assert nb.shape == (1, 4) and nlm.shape == (1, 5, 2) and nhas.shape == (1,)
        assert_box_bounds(out, nb[0])
        assert np.all(nlm == -1)
        seen_clipped |= bool((nb[0, 2] - nb[0, 0]) < 60)
    assert seen_clipped, "expected at least one crop to cut through the face"
    np.testing.assert_array_equal(b, [box])  # inputs untouched


def test_random_crop_drops_faces_whose_centre_is_outside_and_falls_back() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    b = np.array([[0, 0, 20, 20], [70, 70, 100, 100]], np.float32)
    lm, has = no_landmarks(2)
    for seed in range(20):
        out, nb, _, _ = T.random_crop(img, b, lm, has, np.random.default_rng(seed), scales=(0.3,))
        # the centres (10,10) and (85,85) never fit one 30 px crop together
        assert len(nb) == 1 and out.shape[:2] == (30, 30)
    # impossible to keep a face (tiny scale, face centre never inside): whole image, padded square
    img2 = np.zeros((50, 80, 3), np.uint8)
    out, nb, _, _ = T.random_crop(
        img2, np.array([[0, 0, 2, 2]], np.float32), *no_landmarks(1), np.random.default_rng(0),
        scales=(0.3,), max_tries=0,
    )
    assert out.shape[:2] == (80, 80) and np.all(out[60:, :] == np.round(T.BGR_MEAN).astype(np.uint8))
    np.testing.assert_array_equal(nb, [[0, 0, 2, 2]])
    with pytest.raises(ValueError):
        T.random_crop(img, b, lm, has, np.random.default_rng(0), scales=(1.5,))


def test_random_crop_scale_range_and_faceless_image() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    b = np.zeros((0, 4), np.float32)
    lm, has = no_landmarks(0)
    out, nb, nlm, nhas = T.random_crop(img, b, lm, has, np.random.default_rng(1), scale_range=(0.5, 0.6))
    assert 50 <= out.shape[0] <= 60 and nb.shape == (0, 4) and nlm.shape == (0, 5, 2)


def test_mirror_boxes_and_landmark_swap() -> None:
    img, box, lms = face_with_dots()
    has = np.array([True])
    out, nb, nlm, nhas = T.mirror(img, box, lms, has)
    assert_box_bounds(out, nb[0], colour=(200, 200, 200), tol=0)  # dots sit inside the grey face
    # the new "left eye" (index 0) is the dot that was the right eye, etc.
    for k in range(5):
        assert nearest_dot(out, nlm[0, k]) == [1, 0, 2, 4, 3][k]
        assert colour_under(out, nlm[0, k]) == DOT_COLOURS[[1, 0, 2, 4, 3][k]]
    assert nlm[0, 0, 0] < nlm[0, 1, 0] and nlm[0, 3, 0] < nlm[0, 4, 0]
    # mirroring twice is the identity
    back = T.mirror(out, nb, nlm, nhas)
    np.testing.assert_array_equal(back[0], img)
    np.testing.assert_allclose(back[1], box)
    np.testing.assert_allclose(back[2], lms)


def test_mirror_keeps_absent_landmarks_absent() -> None:
    img = square_image(50, 80, (10, 10, 30, 40))
    b = np.array([[10, 10, 30, 40], [50, 5, 60, 15]], np.float32)
    lm = np.full((2, 5, 2), -1, np.float32)
    lm[1] = [[52, 8], [58, 8], [55, 10], [53, 13], [57, 13]]
    has = np.array([False, True])
    out, nb, nlm, nhas = T.mirror(img, b, lm, has)
    assert np.all(nlm[0] == -1) and nhas.tolist() == [False, True]
    assert np.all(nlm[1] >= 0)
    assert_box_bounds(out, nb[0])


@pytest.mark.parametrize("interp", T.INTERPOLATIONS)
def test_resize_scales_targets(interp: int) -> None:
    box = (30, 20, 90, 70)
    img = square_image(100, 150, box)
    out, nb, nlm, _ = T.resize(img, np.array([box], np.float32), *no_landmarks(1), None, 64, interp)
    assert out.shape == (64, 64, 3)
    assert_box_bounds(out, nb[0], tol=1.0)
    assert np.all(nlm == -1)
    out, nb, _, _ = T.resize(img, np.array([box], np.float32), *no_landmarks(1), None, (200, 300), interp)
    assert out.shape == (200, 300, 3)
    assert_box_bounds(out, nb[0], tol=1.0)


def test_zoom_out_shifts_targets_and_fills_mean() -> None:
    img, box, lms = face_with_dots()
    has = np.array([True])
    for seed in range(10):
        out, nb, nlm, _ = T.zoom_out(img, box, lms, has, np.random.default_rng(seed), max_scale=3.0)
        assert img.shape[0] <= out.shape[0] <= 3 * img.shape[0]
        assert_box_bounds(out, nb[0], colour=(200, 200, 200))
        for k in range(5):
            assert colour_under(out, nlm[0, k]) == DOT_COLOURS[k]
        assert tuple(out[0, 0]) in {tuple(np.round(T.BGR_MEAN).astype(np.uint8)), (0, 0, 0)}
    with pytest.raises(ValueError):
        T.zoom_out(img, box, lms, has, np.random.default_rng(0), max_scale=0.5)


def test_pad_to_square() -> None:
    box = (5, 5, 20, 30)
    img = square_image(40, 60, box)
    out, nb, _, _ = T.pad_to_square(img, np.array([box], np.float32), *no_landmarks(1))
    assert out.shape == (60, 60, 3)
    assert_box_bounds(out, nb[0])


MOSAIC_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


def test_mosaic_boxes_stay_on_their_pixels() -> None:
    shapes = [(200, 300), (300, 200), (150, 150), (240, 320)]
    samples = []
    for (h, w), c in zip(shapes, MOSAIC_COLOURS):
        box = (w // 2 - 30, h // 2 - 25, w // 2 + 30, h // 2 + 35)
        lm = np.full((1, 5, 2), -1, np.float32)
        samples.append((square_image(h, w, box, c), np.array([box], np.float32), lm, np.array([False])))
    kept_total = 0
    for seed in range(12):
        out, nb, nlm, nhas = T.mosaic(samples, np.random.default_rng(seed), size=256)
        assert out.shape == (256, 256, 3) and nb.shape[1] == 4 and nlm.shape[1:] == (5, 2)
        assert len(nb) == len(nlm) == len(nhas) <= 4
        kept_total += len(nb)
        assert np.all(nb >= 0) and np.all(nb <= 256)
        for box in nb:
            # which source is it? the colour at the box centre tells
            cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
            colour = min(MOSAIC_COLOURS, key=lambda c: np.abs(out[cy, cx].astype(int) - c).sum())
            assert_box_bounds(out, box, colour=colour, tol=1.5)
        assert np.all(nlm == -1)
    assert kept_total >= 24, "mosaic should usually keep most centred faces"
    with pytest.raises(ValueError):
        T.mosaic(samples[:3], np.random.default_rng(0))


def test_mosaic_landmarks_follow_pixels() -> None:
    img, box, lms = face_with_dots(120, 160, r=3)
    samples = [(img, box, lms, np.array([True]))] * 4
    hits = 0
    for seed in range(6):
        out, nb, nlm, nhas = T.mosaic(samples, np.random.default_rng(seed), size=320)
        assert nhas.all()
        for face in nlm:
            for k in range(5):
                if 0 <= face[k, 0] < 320 and 0 <= face[k, 1] < 320:
                    assert nearest_dot(out, face[k]) == k
                    hits += 1
    assert hits > 20


def test_photometric_is_deterministic_and_keeps_shape() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    outs = [T.photometric_distort(img, np.random.default_rng(s)) for s in range(8)]
    for s, o in enumerate(outs):
        assert o.shape == img.shape and o.dtype == np.uint8
        np.testing.assert_array_equal(o, T.photometric_distort(img, np.random.default_rng(s)))
    assert any(not np.array_equal(o, img) for o in outs)
    assert np.array_equal(img, np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))


def test_subtract_mean_and_normalize_targets() -> None:
    img = np.full((4, 6, 3), (104, 117, 123), np.uint8)
    chw = T.subtract_mean(img)
    assert chw.shape == (3, 4, 6) and chw.dtype == np.float32 and np.all(chw == 0)
    assert T.BGR_MEAN == (104.0, 117.0, 123.0)
    b = np.array([[10, 20, 30, 40], [0, 0, 5, 5]], np.float32)
    lm = np.full((2, 5, 2), -1, np.float32)
    lm[0] = 50
    nb, nlm, nhas = T.normalize_targets(b, lm, np.array([True, False]), 100, 200)
    np.testing.assert_allclose(nb[0], [0.1, 0.1, 0.3, 0.2])
    np.testing.assert_allclose(nlm[0], np.tile([0.5, 0.25], (5, 1)))
    assert np.all(nlm[1] == -1)


def test_train_transform_full_pipeline_keeps_geometry() -> None:
    img, box, lms = face_with_dots(200, 260, r=4)
    has = np.array([True])
    t = T.TrainTransform(img_size=128, photometric=False, zoom_out_prob=0.5, zoom_out_max=2.0,
                         mirror_prob=0.5, random_interpolation=False)
    perm = [1, 0, 2, 4, 3]
    mirrored_seen = 0
    n = 16
    for seed in range(n):
        out, nb, nlm, nhas = t.augment(img, box, lms, has, np.random.default_rng(seed))
        assert out.shape == (128, 128, 3)
        assert len(nb) == 1 and nhas.tolist() == [True]
        assert_box_bounds(out, nb[0], colour=(200, 200, 200), tol=1.5)
        # every landmark stays on its dot; after a mirror, on the swapped dot
        inside = [k for k in (0, 1, 3, 4) if 0 <= nlm[0, k, 0] < 128 and 0 <= nlm[0, k, 1] < 128]
        mirrored = bool(inside) and nearest_dot(out, nlm[0, inside[0]]) == perm[inside[0]]
        mirrored_seen += mirrored
        for k in range(5):
            x, y = nlm[0, k]
            if 0 <= x < 128 and 0 <= y < 128:  # a crop may cut a landmark off; it is kept, not clipped
                assert nearest_dot(out, nlm[0, k]) == (perm[k] if mirrored else k)
        assert nlm[0, 0, 0] < nlm[0, 1, 0] and nlm[0, 3, 0] < nlm[0, 4, 0]
    assert 0 < mirrored_seen < n


def test_train_transform_output_and_determinism() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (180, 240, 3), dtype=np.uint8)
    b = np.array([[20, 30, 80, 100], [150, 40, 200, 110]], np.float32)
    lm = np.full((2, 5, 2), -1, np.float32)
    lm[0] = [[35, 55], [65, 55], [50, 70], [40, 85], [60, 85]]
    has = np.array([True, False])
    t = T.TrainTransform(img_size=96, zoom_out_prob=0.5)
    a = t(img, b, lm, has, np.random.default_rng(42))
    c = t(img, b, lm, has, np.random.default_rng(42))
    for x, y in zip(a, c):
        np.testing.assert_array_equal(x, y)
    chw, nb, nlm, nhas = a
    assert chw.shape == (3, 96, 96) and chw.dtype == np.float32
    assert nb.dtype == np.float32 and np.all((nb >= 0) & (nb <= 1))
    assert nlm.shape == (len(nb), 5, 2) and nhas.dtype == bool
    assert np.all(nlm[~nhas] == -1)
    others = [t(img, b, lm, has, np.random.default_rng(s))[0] for s in range(5)]
    assert any(not np.array_equal(o, chw) for o in others)


def test_eval_transform_pads_and_resizes() -> None:
    box = (10, 20, 50, 60)
    img = square_image(100, 200, box)
    t = T.EvalTransform(img_size=100)
    out, nb, _, _ = t.augment(img, np.array([box], np.float32), *no_landmarks(1))
    assert out.shape == (100, 100, 3)
    assert_box_bounds(out, nb[0], tol=1.0)
    chw, nbn, nlm, _ = t(img, np.array([box], np.float32), *no_landmarks(1))
    assert chw.shape == (3, 100, 100)
    np.testing.assert_allclose(nbn[0], np.array(box) / 200.0, atol=1e-6)
    # padded area is the mean colour, i.e. zero after subtraction
    assert np.allclose(chw[:, 60:, :], 0, atol=1)


def test_min_face_px_filter() -> None:
    b = np.array([[0, 0, 2, 10], [0, 0, 10, 10]], np.float32)
    nb, nlm, nhas = T.filter_small_faces(b, *no_landmarks(2), min_px=3)
    assert len(nb) == 1 and nlm.shape == (1, 5, 2)


def test_interpolations_are_real_cv2_flags() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    for f in T.INTERPOLATIONS:
        assert cv2.resize(img, (5, 5), interpolation=f).shape == (5, 5, 3)

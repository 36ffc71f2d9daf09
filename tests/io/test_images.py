"""featherface.io.images: the one guarded image reader, encoding, OpenCV log muting, resizing.

The reader's regression tests came from the fuzzing campaign (``tests/fuzz/test_image_fuzz.py``):
the header-size guard against decompression bombs, the pixel limit, the file-size limit, the float
overflow warning, OpenCV's stderr noise.
"""

from __future__ import annotations

import threading
import warnings

import cv2
import numpy as np
import pytest

from featherface.errors import ConfigError, ImageError
from featherface.io import images
from featherface.io.image_header import image_header_size
from featherface.io.images import (
    encode_image,
    expand_inputs,
    is_image_path,
    letterbox,
    load_image,
    quiet_opencv,
    read_image,
    resize_by,
    resize_longer_side,
)

from tests.fuzz.campaign import base_image, huge_jpeg_header, huge_png_header


def _image(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ reading (fuzzing regressions)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".pgm", ".jp2", ".gif"])
def test_header_size_matches_decoder(ext):
    img = base_image(37, 53)
    ok, buf = cv2.imencode(ext, img[:, :, 0] if ext == ".pgm" else img)
    assert ok
    assert image_header_size(buf.tobytes()) == (53, 37)
    assert image_header_size(buf) == (53, 37)  # numpy buffers too


def test_header_size_is_total_on_garbage():
    rng = np.random.default_rng(0)
    for magic in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00",
                  b"MM\x00*", b"P6 ", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"):
        for n in (0, 1, 5, 40, 3000):
            r = image_header_size(magic + rng.bytes(n))
            assert r is None or (isinstance(r, tuple) and len(r) == 2)
    assert image_header_size(b"") is None and image_header_size(b"hello") is None


@pytest.mark.parametrize("data", [huge_png_header(20000, 20000), huge_jpeg_header(60000, 60000)],
                         ids=["png-20000", "jpeg-60000"])
def test_decompression_bomb_refused_before_decoding(data, tmp_path):
    """Regression: a 1 MB PNG declaring 20000x20000 used to take 2.3 GB and 17 s to decode."""
    p = tmp_path / "bomb.img"
    p.write_bytes(data)
    with pytest.raises(ImageError, match=r"bomb\.img: image declares \d+x\d+ pixels .* decoding limit"):
        load_image(p)
    with pytest.raises(ImageError, match="decoding limit"):
        load_image(data)


def test_pixel_limit_is_configurable(monkeypatch):
    ok, buf = cv2.imencode(".png", base_image(40, 50))
    monkeypatch.setenv("FEATHERFACE_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(ImageError, match="50x40 pixels"):
        load_image(buf.tobytes())
    monkeypatch.setenv("FEATHERFACE_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ConfigError, match="FEATHERFACE_MAX_IMAGE_PIXELS"):
        load_image(buf.tobytes())
    monkeypatch.delenv("FEATHERFACE_MAX_IMAGE_PIXELS")
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 1999)
    with pytest.raises(ImageError, match="decoding limit"):
        load_image(buf.tobytes())
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 2000)
    assert load_image(buf.tobytes()).shape == (40, 50, 3)


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    """A multi-GB file with an image extension is refused from its size alone (scaled down here)."""
    monkeypatch.setenv("FEATHERFACE_MAX_IMAGE_PIXELS", "1000")
    p = tmp_path / "video.jpg"
    with p.open("wb") as f:
        f.truncate(3 << 20)  # sparse: 3 MB > 8 bytes x 1000 pixels + 1 MB
    with pytest.raises(ImageError, match=r"video\.jpg: file is 3 MB, larger than any image within the 1,000 pixels"):
        load_image(p)


def test_float64_beyond_float32_range_has_no_overflow_warning():
    """Regression: 1e300 was cast to float32 first (RuntimeWarning: overflow) before clipping."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = load_image(np.full((4, 4, 3), 1e300))
    assert (img == 255).all()


def test_opencv_log_level_restored_after_decoding():
    """Regression: OpenCV printed several [ERROR] lines per damaged file; it is silenced while we
    decode (we raise one clear error instead) and its level restored afterwards."""
    log = cv2.utils.logging
    before = log.getLogLevel()
    with pytest.raises(ImageError):
        load_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    assert log.getLogLevel() == before


def test_read_image_names_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(ImageError, match="nope.png: file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        read_image(tmp_path)
    p = tmp_path / "ünï.png"  # non-ASCII names work (np.fromfile + imdecode)
    p.write_bytes(encode_image(_image(7, 9), ".png"))
    assert np.array_equal(read_image(p), _image(7, 9))


# ------------------------------------------------------------------ muting OpenCV, encoding


def test_quiet_opencv_nests_keeps_the_quietest_level_and_restores():
    log = cv2.utils.logging
    before = log.getLogLevel()
    try:
        log.setLogLevel(log.LOG_LEVEL_WARNING)
        with quiet_opencv(keep_errors=True):
            assert log.getLogLevel() == log.LOG_LEVEL_ERROR
            with quiet_opencv():
                assert log.getLogLevel() == log.LOG_LEVEL_SILENT
            assert log.getLogLevel() == log.LOG_LEVEL_ERROR  # the outer block's level is back
        assert log.getLogLevel() == log.LOG_LEVEL_WARNING
        log.setLogLevel(log.LOG_LEVEL_SILENT)  # never louder than the caller's own level
        with quiet_opencv(keep_errors=True):
            assert log.getLogLevel() == log.LOG_LEVEL_SILENT
        assert log.getLogLevel() == log.LOG_LEVEL_SILENT
        log.setLogLevel(log.LOG_LEVEL_WARNING)
        with pytest.raises(RuntimeError), quiet_opencv():
            raise RuntimeError("restored on errors too")
        assert log.getLogLevel() == log.LOG_LEVEL_WARNING
    finally:
        log.setLogLevel(before)


def test_quiet_opencv_is_thread_safe():
    log = cv2.utils.logging
    before = log.getLogLevel()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                with quiet_opencv():
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and log.getLogLevel() == before


def test_encode_image_round_trip_and_error():
    img = _image(12, 20)
    data = encode_image(img, ".png")
    assert isinstance(data, bytes) and np.array_equal(load_image(data), img)
    small = encode_image(img, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert load_image(small).shape == (12, 20, 3)
    with pytest.raises(ImageError):
        encode_image(img, ".not-a-format")


# ------------------------------------------------------------------ resizing


def test_resize_by_rule():
    img = _image(50, 100)
    assert resize_by(img, 1.0) is img  # same size: the array itself
    small = resize_by(img, 0.4)
    assert small.shape == (20, 40, 3)
    assert np.array_equal(small, cv2.resize(img, (40, 20), interpolation=cv2.INTER_AREA))
    big = resize_by(img, 1.5)
    assert np.array_equal(big, cv2.resize(img, (150, 75), interpolation=cv2.INTER_LINEAR))
    assert resize_by(_image(1, 3), 0.01).shape == (1, 1, 3)  # never a zero side


def test_letterbox_and_resize_longer_side():
    canvas, s = letterbox(_image(50, 100), 64, 64)
    assert canvas.shape == (64, 64, 3) and s == pytest.approx(0.64) and canvas[40:].max() == 0
    small, s2 = resize_longer_side(_image(50, 100), 40)
    assert small.shape == (20, 40, 3) and s2 == pytest.approx(0.4)
    same, s3 = resize_longer_side(_image(5, 6), None)
    assert s3 == 1.0 and same.shape == (5, 6, 3)


@pytest.mark.parametrize("shape", [(50, 100), (100, 50), (480, 640), (333, 333), (7, 1000)])
@pytest.mark.parametrize("size", [64, 320, 640])
def test_square_letterbox_is_the_benchmark_rule(shape, size):
    """``letterbox(image, size)`` (square by default) is what bench used: longer side scaled to
    ``size``, resized with INTER_AREA/INTER_LINEAR, pasted top-left on a black square."""
    img = _image(*shape)
    h, w = shape
    s = size / max(h, w)
    ref = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    want = np.zeros((size, size, 3), np.uint8)
    want[: ref.shape[0], : ref.shape[1]] = ref
    canvas, scale = letterbox(img, size)
    assert np.array_equal(canvas, want) and scale == pytest.approx(s)
    assert np.array_equal(letterbox(img, size, size)[0], canvas)


def test_letterbox_into_a_non_square_canvas():
    canvas, s = letterbox(_image(100, 100), 80, 40)
    assert canvas.shape == (40, 80, 3) and s == pytest.approx(0.4)
    assert canvas[:, 40:].max() == 0 and canvas[:, :40].max() > 0


# ------------------------------------------------------------------ sources


def test_expand_inputs_keeps_named_files_and_lists_folders(tmp_path):
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "a.PNG").write_bytes(b"x")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jpg").write_bytes(b"x")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.PNG", "b.jpg", "clip.mp4", "c.jpg"]
    assert [p.name for p in expand_inputs([tmp_path], recursive=False)] == ["a.PNG", "b.jpg", "clip.mp4"]
    assert expand_inputs([tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]  # named files are kept
    assert is_image_path(tmp_path / "a.PNG") and not is_image_path(tmp_path / "clip.mp4")


def test_float32_tiff_is_read_not_called_corrupt(tmp_path) -> None:
    import cv2
    import numpy as np

    from featherface.io.images import read_image

    a = np.zeros((40, 50, 3), np.float32)
    a[10:20, 10:30] = (0.2, 0.5, 1.0)
    path = tmp_path / "f32.tif"
    assert cv2.imwrite(str(path), a)
    img = read_image(path)
    assert img.shape == (40, 50, 3) and img.dtype == np.uint8
    assert tuple(img[15, 20]) == (51, 128, 255) and tuple(img[0, 0]) == (0, 0, 0)


def test_image_files_keeps_images_of_folders_and_drops_missing_ones(tmp_path) -> None:
    from featherface.io.images import image_files

    (tmp_path / "a").mkdir()
    for name in ("2.jpg", "1.png", "clip.mp4", "notes.txt"):
        (tmp_path / "a" / name).write_bytes(b"x")
    assert image_files([tmp_path / "a", tmp_path / "missing"]) == [tmp_path / "a" / "1.png", tmp_path / "a" / "2.jpg"]
    assert image_files([tmp_path / "a" / "2.jpg"]) == [tmp_path / "a" / "2.jpg"]

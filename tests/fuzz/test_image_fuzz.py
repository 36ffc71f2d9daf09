"""Fast fuzz subset: a few hundred bad or odd images through ``FaceDetector.detect``.

Contract: faces, or a one-line FeatherFaceError naming the input; never another exception or a
hang. Also regression tests for the fixes this fuzzing led to (header-size guard against
decompression bombs, float overflow warning, OpenCV's stderr noise).
"""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.errors import ConfigError, ImageError
from featherface.fuzz import (
    EITHER,
    FACES,
    CaseTimeout,
    Outcome,
    base_image,
    check_exif_marker,
    exif_oriented_bytes,
    huge_jpeg_header,
    huge_png_header,
    image_cases,
    judge,
    must_name_for,
    network_input_hw,
    run_case,
    time_limit,
    write_case_files,
)
from featherface.inference import image_io
from featherface.inference.image_header import image_header_size
from featherface.inference.image_io import load_image
from tests.fuzz.conftest import stub_detector

CASES = image_cases(seed=0, random_per_format=3)


def _run(det, value) -> Outcome:
    try:
        with time_limit(20, "detect"):
            return run_case(det.detect, value)
    except CaseTimeout as exc:
        return Outcome("timeout", str(exc))


def test_enough_cases_of_every_kind():
    kinds = Counter(c.kind for c in CASES)
    assert len(CASES) >= 150
    for k in ("truncated", "bit-flipped", "random-bytes", "tiny-or-thin", "zero-size", "huge-header", "bit-depth",
              "color-mode", "exif-orientation", "array-dtype", "array-nonfinite", "array-shape", "array-layout", "pil"):
        assert kinds[k] >= 1, k


def test_detect_api_never_crashes(tmp_path):
    """Every case through detect(): as a file path, as raw bytes, or as the object itself."""
    det = stub_detector()
    model = det.model
    files = write_case_files(CASES, tmp_path)
    failures: list[str] = []
    outcomes: Counter[tuple[str, str]] = Counter()
    for case in CASES:
        value = case.build()
        legs = [("path", files[case.name]), ("bytes", value)] if case.is_file else [("object", value)]
        for leg, inp in legs:
            n_calls = len(model.calls)
            out = _run(det, inp)
            outcomes[(case.kind, out.status)] += 1
            why = judge(case.expect, out, must_name_for(case, inp, files[case.name] if leg == "path" else None))
            if why is None and out.status == "faces" and case.shape is not None:
                # the network must have seen the oriented, resized image (checked from the model side)
                seen = model.calls[-1][2:] if len(model.calls) > n_calls else None
                if seen != network_input_hw(*case.shape):
                    why = f"network input {seen}, expected {network_input_hw(*case.shape)} for shape {case.shape}"
            if why is None and out.status == "faces" and case.check is not None:
                why = case.check(load_image(case.build() if leg != "path" else inp))
            if why:
                failures.append(f"{case.kind}/{case.name} [{leg}]: {why}")
    assert not failures, "\n".join(failures[:30])
    # sanity: the campaign found both outcomes among damaged files
    assert outcomes[("truncated", "error")] > 0 and outcomes[("valid-format", "faces")] > 0


def test_detect_batch_names_the_bad_input():
    det = stub_detector()
    good = base_image()
    assert [len(f) for f in det.detect_batch([good, good[:, :, 0], good.astype(np.float32) / 255])] == [1, 1, 1]
    with pytest.raises(ImageError, match="NaN"):
        det.detect_batch([good, np.full((8, 8, 3), np.nan)])
    with pytest.raises(ImageError, match="empty file"):
        det.detect_batch([good, b""])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_marker_ends_up_top_left(orientation):
    """The generator itself is checked against Pillow; then OpenCV's reading must agree."""
    from PIL import Image, ImageOps

    data = exif_oriented_bytes(orientation)
    pil = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))[:, :, ::-1]
    assert check_exif_marker(pil) is None  # generator sanity: Pillow sees the display image
    ignored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert (check_exif_marker(ignored) is None) == (orientation == 1)  # the file really is stored rotated
    assert check_exif_marker(load_image(data)) is None
    assert check_exif_marker(load_image(Image.open(io.BytesIO(data)))) is None


# ------------------------------------------------------------------ regressions of fixes


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
    monkeypatch.setattr(image_io, "MAX_DECODE_PIXELS", 1999)
    with pytest.raises(ImageError, match="decoding limit"):
        load_image(buf.tobytes())
    monkeypatch.setattr(image_io, "MAX_DECODE_PIXELS", 2000)
    assert load_image(buf.tobytes()).shape == (40, 50, 3)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX only")
def test_special_files_are_refused_instead_of_hanging(tmp_path, stub_det):
    """Regression: /dev/zero was read forever (until memory ran out) and a FIFO blocked forever."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for p in (Path("/dev/zero"), fifo):
        with time_limit(10, str(p)), pytest.raises(ImageError, match="not a regular file"):
            stub_det.detect(p)


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


def test_either_cases_are_really_damaged():
    """Guard against a generator bug that would make 'either' cases trivially valid."""
    either = [c for c in CASES if c.expect == EITHER]
    assert len(either) > 50
    valid = {c.name: c.build() for c in CASES if c.kind == "valid-format" and c.expect == FACES}
    assert all(c.build() != valid.get(f"valid{c.ext}") for c in either if c.is_file)

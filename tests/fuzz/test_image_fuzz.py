"""Fast fuzz subset: a few hundred bad or odd images through ``FaceDetector.detect``.

Contract: faces, or a one-line FeatherFaceError naming the input; never another exception or a
hang. The regression tests of the fixes this fuzzing led to in the image reader (header-size guard
against decompression bombs, float overflow warning, OpenCV's stderr noise) are in
``tests/io/test_images.py``; the special-file one, which goes through the detector, is here.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.errors import ImageError
from featherface.io.images import load_image

from tests.fuzz.campaign import (
    EITHER,
    FACES,
    CaseTimeout,
    Outcome,
    base_image,
    check_exif_marker,
    exif_oriented_bytes,
    image_cases,
    judge,
    must_name_for,
    network_input_hw,
    run_case,
    time_limit,
    write_case_files,
)
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
# (those of the image reader itself, the header-size guard, the pixel limit and OpenCV's log muting,
# are in tests/io/test_images.py)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX only")
def test_special_files_are_refused_instead_of_hanging(tmp_path, stub_det):
    """Regression: /dev/zero was read forever (until memory ran out) and a FIFO blocked forever."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for p in (Path("/dev/zero"), fifo):
        with time_limit(10, str(p)), pytest.raises(ImageError, match="not a regular file"):
            stub_det.detect(p)


def test_either_cases_are_really_damaged():
    """Guard against a generator bug that would make 'either' cases trivially valid."""
    either = [c for c in CASES if c.expect == EITHER]
    assert len(either) > 50
    valid = {c.name: c.build() for c in CASES if c.kind == "valid-format" and c.expect == FACES}
    assert all(c.build() != valid.get(f"valid{c.ext}") for c in either if c.is_file)

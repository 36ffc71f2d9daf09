"""FaceDetector refuses bad public arguments at its edge with one-line ConfigError / ImageError
(issue 14, item 8): strings, NaN, bools and floats where whole numbers go, unbounded sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from featherface import FaceDetector
from featherface.errors import ConfigError, ImageError
from tests.fuzz.conftest import STUB_BOXES, STUB_LMS
from tests.inference.stub import PlantedFacesModel


def _det(**kw):
    return FaceDetector(model=PlantedFacesModel(STUB_BOXES, STUB_LMS), **kw)


@pytest.mark.parametrize("kw,needle", [
    ({"score_threshold": "0.5"}, "score_threshold must be a number"),
    ({"score_threshold": math.nan}, "score_threshold must be in [0, 1]"),
    ({"score_threshold": 1.5}, "score_threshold"),
    ({"score_threshold": True}, "score_threshold must be a number"),
    ({"score_threshold": None}, "score_threshold must be a number"),
    ({"nms_threshold": 0}, "nms_threshold must be in (0, 1]"),
    ({"nms_threshold": math.inf}, "nms_threshold"),
    ({"threads": 1.5}, "threads must be a whole number"),
    ({"threads": 0}, "threads must be >= 1"),
    ({"threads": "2"}, "threads must be a whole number"),
    ({"pre_nms_top_k": -1}, "pre_nms_top_k must be >= 1"),
    ({"max_detections": 0}, "max_detections must be >= 1"),
    ({"max_detections": 2.0}, "max_detections must be a whole number"),
    ({"max_size": math.nan}, "max_size must be a whole number"),
    ({"max_size": 10**6}, "max_size must be from 32 to 4096"),
    ({"input_size": 100000}, "input_size must be from 32 to 4096"),
    ({"input_size": 16}, "input_size must be from 32"),
    ({"device": "bogus"}, "'bogus' is not a device"),
    ({"device": 3}, "device must be a string"),
    ({"backend": None}, "backend must be"),
    ({"backend": "tensorrt"}, "unknown backend"),
])
def test_bad_arguments(kw, needle):
    with pytest.raises(ConfigError) as e:
        _det(**kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_good_arguments_still_accepted():
    det = _det(score_threshold=np.float32(0.3), nms_threshold=1, threads=np.int64(1), max_size=4096,
               input_size=64, pre_nms_top_k=10, max_detections=5)
    assert det.post.score_threshold == pytest.approx(0.3) and det.post.max_detections == 5
    assert det.input_size == 64 and isinstance(det.post.score_threshold, float)


@pytest.mark.parametrize("bad", [None, "photo.jpg", b"\xff\xd8", 5])
def test_detect_batch_refuses_a_non_list(bad):
    with pytest.raises(ImageError, match="detect_batch takes a list of images"):
        _det().detect_batch(bad)


def test_detect_batch_lists_and_arrays():
    det = _det()
    img = np.full((48, 64, 3), 100, np.uint8)
    assert det.detect_batch([]) == []
    assert len(det.detect_batch([img, img])) == 2
    assert len(det.detect_batch(np.stack([img, img]))) == 2  # an NxHxWxC batch
    with pytest.raises(ImageError, match="use detect\\(\\) for one image"):
        det.detect_batch(img)

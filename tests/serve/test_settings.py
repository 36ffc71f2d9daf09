"""The service repeats no default (issue 29): ServeSettings holds a DetectorOptions (the keywords it
took before, threads= or score_threshold=, still work), and /v1/blur and /v1/crop default to
AnonymizeOptions and CropOptions."""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
import pytest

from featherface.cli import build_parser
from featherface.commands.serve import settings_from_args
from featherface.errors import ConfigError
from featherface.inference.anonymize import anonymize_image
from featherface.inference.options import DetectorOptions
from featherface.io.images import decode_image, encode_image
from featherface.ops.align import CropOptions
from featherface.ops.anonymize import AnonymizeOptions
from featherface.serve.settings import DETECTOR_KEYWORDS, ServeSettings
from featherface.types import Face

from .conftest import httpx, running

from featherface.serve.app import create_app  # noqa: E402  (after the importorskip in conftest)
from featherface.serve.pool import DetectorPool  # noqa: E402


def test_the_default_detector_is_detector_options() -> None:
    s = ServeSettings()
    assert s.detector == DetectorOptions()
    assert not set(DETECTOR_KEYWORDS) & {f.name for f in dataclasses.fields(ServeSettings)}  # not stored twice


def test_the_old_keywords_set_and_read_the_detector() -> None:
    s = ServeSettings(workers=2, threads=1, score_threshold=0.6, nms_threshold=0.3, weights=None, backend="torch")
    assert s.detector == DetectorOptions(threads=1, score_threshold=0.6, nms_threshold=0.3, weights=None,
                                         backend="torch")
    assert (s.threads, s.score_threshold, s.weights, s.session_threads()) == (1, 0.6, None, 1)
    s.threads = 3
    assert s.detector.threads == 3 and dataclasses.replace(s, workers=1).detector.threads == 3
    both = ServeSettings(detector=DetectorOptions(max_size=640), threads=2)  # keywords on top of ``detector``
    assert (both.detector.max_size, both.detector.threads) == (640, 2)
    with pytest.raises(ConfigError, match="threads"):
        ServeSettings(threads=0)
    with pytest.raises(ConfigError, match="DetectorOptions"):
        ServeSettings(detector={"threads": 1})  # type: ignore[arg-type]


def test_the_cli_flags_fill_the_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATHERFACE_SERVE_TOKEN", "t0k")
    args = build_parser().parse_args(["serve", "--threads", "2", "--score-threshold", "0.6", "--nms", "0.3",
                                      "--weights", "none", "--workers", "3", "--backend", "torch"])
    s = settings_from_args(args)
    assert s.detector == DetectorOptions(threads=2, score_threshold=0.6, nms_threshold=0.3, weights=None,
                                         backend="torch")
    assert (s.workers, s.token) == (3, "t0k")
    plain = settings_from_args(build_parser().parse_args(["serve"]))
    assert plain.detector == DetectorOptions() and plain.session_threads() >= 1


class _OneFace:
    """A stub session: the same face in every image, whatever the options."""

    name = "one-face"

    def detect(self, image: np.ndarray, **kw: object) -> list[Face]:
        lms = ((30.0, 40.0), (70.0, 40.0), (50.0, 60.0), (35.0, 80.0), (65.0, 80.0))
        return [Face((10.0, 10.0, 90.0, 100.0), 0.9, lms)]


def test_blur_and_crop_endpoints_default_to_the_option_dataclasses() -> None:
    """/v1/blur and /v1/crop without query options answer as the library does with AnonymizeOptions()
    and CropOptions() (the defaults blur's and crop's flags show)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    app = create_app(ServeSettings(workers=1), DetectorPool([_OneFace()], queue=2, info={"name": "one-face"}))
    with running(app) as url:
        r = httpx.post(f"{url}/v1/blur?format=png", content=encode_image(image, ".png"), timeout=30)
        assert r.status_code == 200, r.text
        expected, _ = anonymize_image(image, _OneFace(), **AnonymizeOptions().kwargs())
        assert np.array_equal(decode_image(r.content), expected)
        r = httpx.post(f"{url}/v1/crop", content=encode_image(image, ".png"), timeout=30)
        assert r.status_code == 200, r.text
    body, crop = r.json(), CropOptions()
    assert (body["size"], body["margin"]) == (crop.size, crop.margin)
    got = decode_image(base64.b64decode(body["faces"][0]["crop_png_base64"]))
    assert np.array_equal(got, _OneFace().detect(image)[0].align(image))

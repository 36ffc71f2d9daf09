"""ServeSettings holds a DetectorOptions (issue 29): no detector default is repeated by the service,
and the keywords it took before (threads=, score_threshold=...) still work."""

from __future__ import annotations

import dataclasses

import pytest

from featherface.cli import build_parser
from featherface.commands.serve import settings_from_args
from featherface.errors import ConfigError
from featherface.inference.options import DetectorOptions
from featherface.serve.settings import DETECTOR_KEYWORDS, ServeSettings


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

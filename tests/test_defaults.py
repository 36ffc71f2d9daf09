"""Each detector default below the CLI is defined once (issue 29): the others read it from its home."""

from __future__ import annotations

import re
from pathlib import Path

from featherface.cli import build_parser
from featherface.inference.options import DetectorOptions
from featherface.inference.postprocess import PostprocessConfig
from featherface.ops.anonymize import MARGIN

PACKAGE = Path(__file__).resolve().parents[1] / "featherface"
# the library's own floors (training, export and the peers have their own recipes' thresholds)
SCOPE = ("inference", "ops", "serve", "commands", "visualize.py", "types.py")
LITERALS = {
    "score threshold 0.5": re.compile(r"score_threshold\s*(:\s*float\s*)?=\s*0\.5\b"),
    "NMS 0.4": re.compile(r"nms_threshold\s*(:\s*float\s*)?=\s*0\.4\b"),
    "vote IoU 0.7": re.compile(r"vote_iou\s*(:\s*float\s*)?=\s*0\.7\b"),
    "max size 1280": re.compile(r"max_size\s*(:\s*int\s*)?=\s*1280\b"),
    "blur margin 0.3": re.compile(r"(?i)(margin\s*(:\s*float\s*)?=\s*0\.3\b|\"margin\",\s*0\.3\b|default=0\.3\b)"),
}


def test_each_default_is_written_once() -> None:
    files = [p for name in SCOPE for p in ((PACKAGE / name).rglob("*.py") if (PACKAGE / name).is_dir()
                                           else [PACKAGE / name])]
    for what, pattern in LITERALS.items():
        homes = [f"{p.relative_to(PACKAGE)}:{i}" for p in files
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
        assert len(homes) == 1, f"{what} is defined in {homes}"


def test_the_copies_read_their_home() -> None:
    opts = DetectorOptions()
    post = PostprocessConfig()
    assert (post.score_threshold, post.nms_threshold) == (opts.score_threshold, opts.nms_threshold)
    from featherface.serve.settings import ServeSettings

    serve = ServeSettings()
    assert (serve.score_threshold, serve.nms_threshold) == (opts.score_threshold, opts.nms_threshold)
    assert build_parser().parse_args(["blur", "x.jpg", "-o", "out"]).margin == MARGIN

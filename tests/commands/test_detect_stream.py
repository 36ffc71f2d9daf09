"""``featherface detect --track --jsonl`` on a generated clip: one JSON line per frame, stable IDs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featherface.cli import main
from featherface.io.images import read_image
from tests.inference.test_stream import make_pan_zoom_clip

pytest.importorskip("motpy")


def test_detect_track_jsonl(tmp_path: Path, example_image) -> None:
    clip = make_pan_zoom_clip(read_image(example_image), tmp_path / "pan.mp4", frames=12)
    rc = main(["detect", str(clip), "--track", "--jsonl", str(tmp_path / "faces.jsonl"), "-o", str(tmp_path / "out"),
               "--json", str(tmp_path / "faces.json"), "--threads", "1", "--quiet"])
    assert rc == 0
    lines = [json.loads(x) for x in (tmp_path / "faces.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(12))
    assert all("time" in x for x in lines)
    best = [max(x["faces"], key=lambda f: f["score"]) for x in lines if x["faces"]]
    assert len(best) >= 10 and {f["track_id"] for f in best} == {1}
    doc = json.loads((tmp_path / "faces.json").read_text())
    assert doc["results"][0]["frames"][0]["faces"][0]["track_id"] == 1
    assert (tmp_path / "out" / "pan_faces.mp4").stat().st_size > 1000


def test_detect_missing_camera_is_one_line(tmp_path: Path, capsys) -> None:
    rc = main(["detect", "97", "--threads", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "camera 97: cannot open" in err and "Traceback" not in err

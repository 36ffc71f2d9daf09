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


def _scene_cut_clip(image, path: Path, before: int = 6, after: int = 6) -> Path:
    """The face for ``before`` frames, then a cut to an empty grey shot."""
    import cv2
    import numpy as np

    size = (320, 240)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, size)
    face = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    for i in range(before + after):
        writer.write(face if i < before else np.full((size[1], size[0], 3), 128, np.uint8))
    writer.release()
    return path


def _red_pixels(frame) -> int:
    b, g, r = (frame[..., k].astype(int) for k in range(3))
    return int(((r > 180) & (g < 90) & (b < 90)).sum())


def test_detect_track_draws_no_missed_track_after_a_scene_cut(tmp_path: Path, example_image) -> None:
    """Issue 29: after a cut the tracks of the previous shot stay in the JSONL (flagged missed) for
    --max-missed frames, but the annotated video draws only faces seen in the frame; --max-missed
    is a detect flag as it is one of blur and crop."""
    from featherface.io.video import VideoReader

    clip = _scene_cut_clip(read_image(example_image), tmp_path / "cut.mp4")
    rc = main(["detect", str(clip), "--track", "--max-missed", "3", "--jsonl", str(tmp_path / "f.jsonl"),
               "-o", str(tmp_path / "out"), "--threads", "1", "--quiet"])
    assert rc == 0
    lines = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert lines[5]["faces"] and not any("missed" in f for f in lines[5]["faces"])
    assert [max((f.get("missed", 0) for f in x["faces"]), default=0) for x in lines[6:]] == [1, 2, 3, 0, 0, 0]
    with VideoReader(tmp_path / "out" / "cut_faces.mp4") as reader:
        red = [_red_pixels(frame) for _, _, frame in reader.frames()]
    assert min(red[:6]) > 50 and max(red[6:]) == 0, red

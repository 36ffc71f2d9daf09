"""``featherface detect`` on a video file: frames read through featherface.io.video, the annotated
video written under a temporary name and renamed when complete."""

from __future__ import annotations

import json

import cv2
import pytest

import featherface.inference.detector as detector_module
from featherface.cli import main
from featherface.io.video import VideoReader
from tests.fuzz.campaign import base_image
from tests.fuzz.conftest import stub_detector


def _write_clip(path, n: int) -> None:
    frame = base_image()
    h, w = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG .avi")
    for _ in range(n):
        writer.write(frame)
    writer.release()


def test_detect_video_frames_json_and_annotated_video(tmp_path, monkeypatch):
    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    clip = tmp_path / "clip.avi"
    _write_clip(clip, 5)
    out = tmp_path / "out"
    rc = main(["detect", str(clip), "-o", str(out), "--json", str(tmp_path / "d.json"), "--video-stride", "2",
               "--quiet"])
    assert rc == 0
    doc = json.loads((tmp_path / "d.json").read_text())
    (entry,) = doc["results"]
    assert entry["type"] == "video" and [f["frame"] for f in entry["frames"]] == [0, 2, 4]
    assert all(len(f["faces"]) >= 1 for f in entry["frames"])
    assert [p.name for p in out.iterdir()] == ["clip_faces.mp4"]  # no temporary file left
    if cv2.VideoCapture(str(out / "clip_faces.mp4")).isOpened():  # the build can read mp4 back
        with VideoReader(out / "clip_faces.mp4") as video:
            assert len(list(video)) == 3


def test_detect_unreadable_video_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"\x00" * 500)
    assert main(["detect", str(bad), "--quiet"]) == 1
    assert "garbage.mp4: cannot open video" in capsys.readouterr().err

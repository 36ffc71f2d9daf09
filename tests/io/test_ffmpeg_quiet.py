"""FFmpeg's own lines (``[mpeg4 @ 0x...] ac-tex damaged``) never reach the user's terminal (issue 29)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

READ = """
import sys
from featherface.errors import ImageError
from featherface.io.video import VideoReader
try:
    with VideoReader(sys.argv[1]) as reader:
        for _ in reader.frames():
            pass
except ImageError as exc:  # our one line is expected; FFmpeg's own lines are not
    print(exc)
"""


@pytest.fixture(scope="module")
def damaged_video(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ffmpeg")
    clip = folder / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v")
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write((rng.random((240, 320, 3)) * 255).astype(np.uint8))
    writer.release()
    data = bytearray(clip.read_bytes())
    for k in range(2000, len(data) - 5000, 997):  # zeroed runs inside the frames' packets
        data[k:k + 40] = bytes(40)
    bad = folder / "bad.avi"
    bad.write_bytes(bytes(data))
    return bad


def _output(video: Path, level: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    if level is not None:
        env["OPENCV_FFMPEG_LOGLEVEL"] = level
    done = subprocess.run([sys.executable, "-c", READ, str(video)], capture_output=True, text=True,
                          env=env, timeout=120)
    return done.stdout + done.stderr  # FFmpeg writes to stderr, OpenCV's relay of it to stdout


def _ffmpeg_lines(text: str) -> list[str]:
    # FFmpeg's own format ("[mpeg4 @ 0x...]") or OpenCV's relay of it ("[OPENCV:FFMPEG:16]")
    return [line for line in text.splitlines() if " @ 0x" in line or "FFMPEG" in line]


def test_ffmpeg_messages_are_silenced(damaged_video):
    shown = _output(damaged_video, "16")  # a level the user sets is kept: FFmpeg's errors shown
    if not _ffmpeg_lines(shown):
        pytest.skip("this FFmpeg build prints nothing for the damaged clip")
    assert _ffmpeg_lines(_output(damaged_video, None)) == []

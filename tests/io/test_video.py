"""featherface.io.video: reading frames, opening a writer, with errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface.errors import ImageError, OutputError
from featherface.io.outputs import atomic_output
from featherface.io.video import VideoReader, is_video_path, open_video_writer


def _frames(n: int = 5, h: int = 48, w: int = 64) -> list[np.ndarray]:
    return [np.full((h, w, 3), 40 * i, np.uint8) for i in range(n)]


def test_is_video_path():
    assert is_video_path(Path("a.MP4")) and is_video_path(Path("x/b.mkv"))
    assert not is_video_path(Path("a.jpg")) and not is_video_path(Path("mp4"))


def test_unreadable_video_is_an_image_error_naming_it(tmp_path):
    p = tmp_path / "garbage.mp4"
    p.write_bytes(b"\x00" * 500)
    with pytest.raises(ImageError, match="garbage.mp4: cannot open video"):
        VideoReader(p)
    with pytest.raises(ImageError, match="missing.avi"):
        VideoReader(tmp_path / "missing.avi")


def test_write_then_read_back(tmp_path):
    target = tmp_path / "clip.avi"
    with atomic_output(target) as tmp:
        try:
            writer = open_video_writer(tmp, 10.0, (64, 48), fourcc="MJPG", name=target)
        except OutputError:
            pytest.skip("this OpenCV build cannot write MJPG .avi")
        for f in _frames():
            writer.write(f)
        writer.release()
    assert [q.name for q in tmp_path.iterdir()] == ["clip.avi"]  # the temporary name is gone
    with VideoReader(target) as video:
        assert video.fps == pytest.approx(10.0)
        frames = list(video)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert abs(float(frames[3].mean()) - 120) < 8  # MJPG is lossy


def test_writer_that_cannot_open_names_the_final_path(tmp_path):
    with pytest.raises(OutputError, match="final.mp4: cannot write the video"):
        open_video_writer(tmp_path / "no" / "such" / "dir" / "x.mp4", 10.0, (64, 48), name=tmp_path / "final.mp4")

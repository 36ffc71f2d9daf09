"""Video files: which paths are videos, reading their frames, opening a writer.

Frames come out as HxWx3 uint8 BGR (OpenCV's ``VideoCapture``); a file OpenCV cannot open is an
:class:`~featherface.errors.ImageError` naming it, a writer that cannot be opened an
:class:`~featherface.errors.OutputError`. Writing a video atomically (complete or absent) is
:func:`featherface.io.outputs.atomic_output` around :func:`open_video_writer`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from featherface.errors import ImageError, OutputError

__all__ = ["VIDEO_EXTENSIONS", "VideoReader", "is_video_path", "open_video_writer"]

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


def is_video_path(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_EXTENSIONS


class VideoReader:
    """The frames of a video file, in order; a context manager that releases the file.

    ``fps`` is the frame rate the file declares (25 when it declares none), ``frame_count`` its
    declared number of frames (``None`` when unknown; only a hint for progress bars)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise ImageError(f"{self.path}: cannot open video")
        self.fps: float = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count: int | None = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._cap.read()
            if not ok:
                return
            yield frame

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_video_writer(path: str | os.PathLike, fps: float, size: tuple[int, int], fourcc: str = "mp4v",
                      name: str | os.PathLike | None = None) -> cv2.VideoWriter:
    """An OpenCV writer of ``size = (width, height)`` frames at ``fps`` into ``path``; raises
    :class:`OutputError` naming ``name`` (default ``path``: pass the final name when ``path`` is a
    temporary one) when it cannot be opened."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        writer.release()
        raise OutputError(f"{name if name is not None else path}: cannot write the video (no {fourcc} encoder, "
                          "or the folder is not writable)")
    return writer

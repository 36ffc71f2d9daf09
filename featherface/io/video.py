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

__all__ = ["STREAM_SCHEMES", "VIDEO_EXTENSIONS", "VideoReader", "describe_source", "is_stream_source", "is_video_path",
           "open_video_writer"]

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


def is_video_path(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_EXTENSIONS


STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "file://")


def is_stream_source(source: object) -> bool:
    """A webcam index (``0`` or ``"0"``) or a stream URL (RTSP, HTTP MJPEG/HLS, ...)."""
    if isinstance(source, int) and not isinstance(source, bool):
        return True
    return isinstance(source, str) and (source.isdigit() or source.lower().startswith(STREAM_SCHEMES))


def describe_source(source: object) -> str:
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return f"camera {int(source)}"
    return str(source)


class VideoReader:
    """The frames of a video file, a webcam (an index) or a stream URL, in order; a context
    manager that releases the source.

    ``fps`` is the frame rate the source declares (25 when it declares none), ``frame_count`` its
    declared number of frames (``None`` when unknown or endless; only a hint for progress bars).
    Iterating yields frames; :meth:`frames` yields ``(index, timestamp in s, frame)``. A file that
    stops decoding before its declared end raises :class:`ImageError` after the good frames (so a
    caller keeps what it wrote); a stream simply ends when it stops sending."""

    def __init__(self, source: str | os.PathLike | int):
        self.live = is_stream_source(source) and not str(source).lower().startswith("file://")
        if isinstance(source, str) and source.isdigit():
            source = int(source)
        self.source = source
        self.path = Path(source) if isinstance(source, (str, os.PathLike)) and not is_stream_source(source) else None
        self.name = describe_source(source)
        with _quiet():
            self._cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
        if not self._cap.isOpened():
            self._cap.release()
            if isinstance(source, int):
                raise ImageError(f"{self.name}: cannot open (no such camera, or it is in use)")
            if self.live:
                raise ImageError(f"{self.name}: cannot open the stream (unreachable, or not a video stream)")
            raise ImageError(f"{self.name}: cannot open video")
        self.fps: float = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        if not (0 < self.fps < 1000):
            self.fps = 25.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = count if count > 0 and not self.live else None

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, timestamp in seconds, frame)`` for every frame."""
        index = 0
        while True:
            with _quiet():
                ok, frame = self._cap.read()
            if not ok or frame is None:
                # declared counts are estimates in some containers: only a clear shortfall is damage
                if self.frame_count is not None and 0 < index < 0.95 * self.frame_count - 1:
                    raise ImageError(f"{self.name}: cannot decode frame {index} of {self.frame_count} "
                                     "(damaged or truncated video); the frames before it were processed")
                return
            msec = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            ts = msec / 1000.0 if (msec and msec > 0 and not self.live) else index / self.fps
            yield index, float(ts), frame
            index += 1

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, _, frame in self.frames():
            yield frame

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quiet():  # OpenCV's FFmpeg backend prints to stderr for every damaged packet or refused URL
    from featherface.io.images import quiet_opencv  # here: io.images imports this module

    return quiet_opencv()


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

"""Faces frame after frame from any source: image files, folders, video files, webcams, stream URLs.

:func:`stream_faces` is what ``FaceDetector.stream`` and ``featherface detect --source`` run: it
yields one :class:`FrameFaces` per frame as soon as it is detected, so an endless camera or RTSP
stream can be consumed while it runs, and a consumer that stops early (Ctrl-C) has everything so
far.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from featherface.errors import ImageError
from featherface.inference.results import Results
from featherface.inference.track import FaceTracker
from featherface.io.images import expand_inputs, read_image
from featherface.io.video import VideoReader, is_stream_source, is_video_path
from featherface.types import Face

__all__ = ["FrameFaces", "stream_faces", "iter_frames"]


class FrameFaces(Results):
    """The :class:`~featherface.inference.results.Results` of one frame: ``index``, ``timestamp``
    (seconds from the start; ``None`` for still images), ``source``, ``frame`` (the BGR frame, unless
    the stream was asked not to keep frames) and ``tracks`` when tracking."""

    def __init__(self, index: int, timestamp: float | None, faces: Iterable[Face], source: str,
                 frame: np.ndarray | None = None, tracks: list[Any] | None = None, *,
                 size: tuple[int, int] | None = None) -> None:
        h, w = size if size is not None else (None, None)
        super().__init__(faces, source=source, index=index, timestamp=timestamp, tracks=tracks, image=frame,
                         width=w, height=h)

    @property
    def frame(self) -> np.ndarray | None:
        return self.image


def iter_frames(source: str | os.PathLike | int | VideoReader) -> Iterator[tuple[str, int, float | None, np.ndarray]]:
    """``(source name, index, timestamp, BGR frame)`` of every frame of ``source``: a webcam index,
    a stream URL, a video file, an image file, a folder of images and videos (recursively), or a
    :class:`VideoReader` already open (read here, closed by whoever opened it: a FIFO, camera or
    stream cannot be opened a second time after a caller looked at its frame rate)."""
    if isinstance(source, VideoReader):
        for i, ts, frame in source.frames():
            yield source.name, i, ts, frame
        return
    if is_stream_source(source):
        with VideoReader(source) as reader:  # type: ignore[arg-type]
            for i, ts, frame in reader.frames():
                yield reader.name, i, ts, frame
        return
    p = Path(source)
    if not p.exists():
        raise ImageError(f"{p}: no such file or folder")
    files = expand_inputs([p]) if p.is_dir() else [p]
    index = 0
    for f in files:
        if is_video_path(f):
            with VideoReader(f) as reader:
                for i, ts, frame in reader.frames():
                    yield str(f), i, ts, frame
        else:
            yield str(f), index if p.is_dir() else 0, None, read_image(f)
            index += 1


def stream_faces(detector: Any, source: str | os.PathLike | int | VideoReader, every: int = 1,
                 keep_frames: bool = True, track: bool = False, smooth: bool = False,
                 max_missed: int = 5) -> Iterator[FrameFaces]:
    """Detect faces on every ``every``-th frame of ``source`` (see :func:`iter_frames`), lazily.

    ``track``: a :class:`~featherface.inference.track.FaceTracker` per video or stream (reset at
    each new file) fills :attr:`FrameFaces.tracks` — stable IDs, tracks kept ``max_missed`` frames
    through missed detections, ``smooth`` boxes and landmarks."""
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")
    tracker: Any = None
    current: str | None = None
    for name, index, ts, frame in iter_frames(source):
        if index % every:
            continue
        faces = list(detector.detect(frame))
        tracks = None
        if track:
            if name != current or tracker is None:  # FaceTracker imports motpy (the [track] extra) when built
                fps = 25.0 / every
                tracker = FaceTracker(fps=fps, max_missed=max_missed, smooth=smooth)
                current = name
            tracks = tracker.update(faces)
        yield FrameFaces(index, ts, faces, name, frame if keep_frames else None, tracks, size=frame.shape[:2])

"""Video files: which paths are videos, reading their frames, opening a writer.

Frames come out as HxWx3 uint8 BGR (OpenCV's ``VideoCapture``); a file OpenCV cannot open is an
:class:`~featherface.errors.ImageError` naming it, a writer that cannot be opened an
:class:`~featherface.errors.OutputError`. Writing a video atomically (complete or absent) is
:func:`featherface.io.outputs.atomic_output` around :func:`open_video_writer`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from featherface.errors import ImageError, OutputError
from featherface.io.sources import (  # noqa: F401 - re-exported: the reader's options live with it
    DEFAULT_OPEN_TIMEOUT_S,
    DEFAULT_READ_TIMEOUT_S,
    SourceTimeouts,
    default_timeouts,
    set_default_timeouts,
)

__all__ = ["STREAM_SCHEMES", "VIDEO_EXTENSIONS", "SourceTimeouts", "VideoReader", "default_timeouts",
           "describe_source", "is_stream_source", "is_video_path", "open_video_writer", "set_default_timeouts",
           "VideoWriter", "check_video_file"]

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


# reading threads still running: waited for (a little) at exit, since a thread inside OpenCV
# when the interpreter ends aborts the process ("terminate called without an active exception")
_pumps: set[threading.Thread] = set()


@atexit.register
def _wait_for_pumps(limit_s: float = 3.0) -> None:
    deadline = time.monotonic() + limit_s
    for t in list(_pumps):
        t.join(timeout=max(0.0, deadline - time.monotonic()))


def _special_file(path: Path) -> str | None:
    """``"fifo"``/``"device"`` for a FIFO or character device (which may block), ``None`` for a
    regular file; raises :class:`ImageError` for what is no video at all."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot open video ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{path}: is a directory, not a video")
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode):
        return "device"
    raise ImageError(f"{path}: not a regular file, FIFO or device (cannot be read as a video)")


def _unblock_fifo(path: Path) -> None:
    """Let a reader blocked opening or reading the FIFO ``path`` go: opening the write end (there
    is a reader, so this does not block) and closing it is an end of file for that reader."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


class VideoReader:
    """The frames of a video file, a FIFO or device, a webcam (an index) or a stream URL, in
    order, within :class:`SourceTimeouts`; a context manager that releases the source. The one
    way this package opens a video or stream.

    ``fps`` is the frame rate the source declares (25 when it declares none), ``frame_count`` its
    declared number of frames (``None`` when unknown or endless; only a hint for progress bars).
    Iterating yields frames; :meth:`frames` yields ``(index, timestamp in s, frame)``. A file that
    stops decoding before its declared end, a source that stalls (no frame for ``read_s``), and one
    that gives no frame at all raise :class:`ImageError` (after the good frames: a caller keeps what
    it wrote). A live stream that closes after sending frames simply ends.

    OpenCV's open and read calls block (a FIFO without a writer, forever), so they run in a
    thread of their own which hands frames over through a queue of two: the caller waits at most
    the timeout, and Ctrl-C reaches it at once. A source given up on is released by that thread
    when its call returns (OpenCV's own timeouts, set a little longer, end network calls; a FIFO
    is sent an end of file)."""

    def __init__(self, source: str | os.PathLike | int, timeouts: SourceTimeouts | None = None):
        self.timeouts = timeouts or default_timeouts()
        self.live = is_stream_source(source) and not str(source).lower().startswith("file://")
        if isinstance(source, str) and source.isdigit():
            source = int(source)
        self.source = source
        self.path = Path(source) if isinstance(source, (str, os.PathLike)) and not is_stream_source(source) else None
        self.name = describe_source(source)
        self._special = _special_file(self.path) if self.path is not None else None
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._given_up = False
        self._thread = threading.Thread(target=self._pump, name=f"featherface-video:{self.name}", daemon=True)
        self._thread.start()
        try:
            kind, info = self._next(self.timeouts.open_s, opening=True)
        except BaseException:  # Ctrl-C while opening: a FIFO open blocked in OpenCV holds its global lock
            self._give_up()
            raise
        if kind == "error":
            self._stop.set()
            raise ImageError(str(info))
        self.fps: float = info[0] or 25.0
        if not (0 < self.fps < 1000):
            self.fps = 25.0
        count = int(info[1] or 0)
        self.frame_count: int | None = count if count > 0 and not self.live else None

    # -- the reading thread: owns the capture from open to release
    def _open(self) -> Any:
        # OpenCV's own limits end a blocked network call soon after ours gave up on it (so the
        # thread, and the process, can finish); a read that fails that late is still a stall
        ms = int(1000 * max(self.timeouts.open_s, self.timeouts.read_s)) + 500
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        src = self.source if isinstance(self.source, int) else str(self.source)
        with _quiet():
            try:
                return cv2.VideoCapture(src, cv2.CAP_ANY, params)
            except cv2.error:  # a build whose backends refuse the timeout parameters
                return cv2.VideoCapture(src)

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> None:
        cap = None
        _pumps.add(threading.current_thread())
        try:
            cap = self._open()
            if not cap.isOpened():
                self._put(("error", self._cannot_open()))
                return
            if not self._put(("open", (cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)))):
                return
            while not self._stop.is_set():
                t0 = time.monotonic()
                with _quiet():
                    ok, frame = cap.read()
                if not ok or frame is None:
                    stalled = self.live and time.monotonic() - t0 >= 0.9 * self.timeouts.read_s
                    self._put(("stall", None) if stalled else ("end", None))
                    return
                msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                if not self._put(("frame", (frame, msec))):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, whose error it is
            self._put(("error", f"{self.name}: cannot read video ({type(exc).__name__}: {exc})"))
        finally:
            if cap is not None:
                cap.release()
            _pumps.discard(threading.current_thread())

    def _cannot_open(self) -> str:
        if isinstance(self.source, int):
            return f"{self.name}: cannot open (no such camera, or it is in use)"
        if self.live:
            return f"{self.name}: cannot open the stream (unreachable, or not a video stream)"
        if self._special == "fifo":
            return f"{self.name}: the FIFO sent no video (its writer closed it, or wrote no video)"
        return f"{self.name}: cannot open video"

    # -- the caller's side
    def _next(self, timeout: float, opening: bool = False, index: int = 0) -> tuple[str, Any]:
        """The reading thread's next message, waiting at most ``timeout`` seconds (interruptible)."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            pass
        self._give_up()
        return "error", self._timeout_message(timeout, opening, index)

    def _timeout_message(self, timeout: float, opening: bool, index: int) -> str:
        if opening:
            what = ("no writer opened the FIFO, or it stopped sending" if self._special == "fifo"
                    else "no answer" if self.live else "the source did not open")
            return f"{self.name}: not opened within {timeout:g} s ({what}); --open-timeout sets this limit"
        return (f"{self.name}: no frame for {timeout:g} s after frame {index - 1} (the source stalled); "
                f"the {index} frames before were processed; --read-timeout sets this limit")

    def _give_up(self) -> None:
        self._given_up = True
        self._stop.set()
        if self._special == "fifo" and self.path is not None:
            _unblock_fifo(self.path)

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, timestamp in seconds, frame)`` for every frame."""
        index = 0
        try:
            while True:
                first = max(self.timeouts.open_s, self.timeouts.read_s)
                kind, item = self._next(first if index == 0 else self.timeouts.read_s, index=index)
                if kind == "error":
                    raise ImageError(str(item))
                if kind == "stall":
                    raise ImageError(self._timeout_message(self.timeouts.read_s, index == 0, index))
                if kind == "end":
                    if index == 0:
                        raise ImageError(f"{self.name}: no readable frame (empty, damaged or not a video)")
                    # declared counts are estimates in some containers: only a clear shortfall is damage
                    if self.frame_count is not None and 0 < index < 0.95 * self.frame_count - 1:
                        raise ImageError(f"{self.name}: cannot decode frame {index} of {self.frame_count} "
                                         "(damaged or truncated video); the frames before it were processed")
                    return
                frame, msec = item
                ts = msec / 1000.0 if (msec and msec > 0 and not self.live) else index / self.fps
                yield index, float(ts), frame
                index += 1
        except BaseException:  # Ctrl-C, a consumer's error: stop the reading thread now
            self._give_up()
            raise

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, _, frame in self.frames():
            yield frame

    def close(self) -> None:
        """Stop reading; the thread releases the source (at once, unless a call is blocked in it)."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        if not self._given_up:
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                self._give_up()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quiet():  # OpenCV's FFmpeg backend prints to stderr for every damaged packet or refused URL
    from featherface.io.images import quiet_opencv  # here: io.images imports this module

    return quiet_opencv()


def open_video_writer(path: str | os.PathLike, fps: float, size: tuple[int, int], fourcc: str = "mp4v",
                      name: str | os.PathLike | None = None) -> "VideoWriter":
    """A :class:`VideoWriter` of ``size = (width, height)`` frames at ``fps`` into ``path``; raises
    :class:`OutputError` naming ``name`` (default ``path``: pass the final name when ``path`` is a
    temporary one) when it cannot be opened."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        writer.release()
        raise OutputError(f"{name if name is not None else path}: cannot write the video (no {fourcc} encoder, "
                          "or the folder is not writable)")
    return VideoWriter(writer, Path(path), name if name is not None else path)


class VideoWriter:
    """OpenCV's video writer, which never reports a failed write (a full disk left a truncated,
    unplayable file and "1/1 processed"), checked when released: the file must be there, open
    as a video and hold the frames written, else :class:`OutputError` naming ``name``. The check
    is skipped while another exception is already on its way (Ctrl-C, a failed input)."""

    def __init__(self, writer: Any, path: Path, name: str | os.PathLike) -> None:
        self._writer, self.path, self.name = writer, path, name
        self.frames = 0
        self._released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's spelling, for code written against cv2.VideoWriter
        return not self._released

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._writer.release()
        if sys.exc_info()[0] is None:
            check_video_file(self.path, self.frames, self.name)


def check_video_file(path: str | os.PathLike, frames: int, name: str | os.PathLike | None = None) -> None:
    """Raise :class:`OutputError` (naming ``name``) unless the video file ``path`` opens and
    declares at least ``frames`` frames (a FIFO or device output is not checked)."""
    p = Path(path)
    name = name if name is not None else p
    try:
        st = p.stat()
    except OSError as exc:
        raise OutputError(f"{name}: the video was not written ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode) or frames <= 0:
        return
    cap = None
    with _quiet():
        try:
            cap = cv2.VideoCapture(str(p))
            ok = cap.isOpened()
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if ok else 0
            if ok and count <= 0:  # some containers declare no count: one frame must decode
                count = 1 if cap.read()[0] else 0
                frames = 1
        finally:
            if cap is not None:
                cap.release()
    # a container may count a frame or two less than were sent (an encoder's delay): only a
    # clear shortfall, or a file that does not open, is a failed write
    if ok and count >= max(1, frames - max(1, frames // 50)):
        return
    try:
        vfs = os.statvfs(p.parent)
        full = vfs.f_bavail * vfs.f_frsize < (1 << 20)
    except OSError:
        full = False
    why = "the disk is full" if full else "the encoder or the disk failed"
    got = f"{count} of {frames} frames" if ok else "an unreadable file"
    raise OutputError(f"{name}: the video was not written completely ({got}, {st.st_size:,} bytes): {why}")

"""Issue 28, case 1: every video source (file, FIFO, stream URL) is read within its timeouts; a
source that never opens, stalls or ends early is a failed input (named, counted, exit 1), and
Ctrl-C during a stall is prompt. Bounds: open_s + 1 s, read_s + 1 s, Ctrl-C within 1 s."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.errors import ImageError
from featherface.io.video import SourceTimeouts, VideoReader, default_timeouts

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")

FAST = SourceTimeouts(open_s=1.0, read_s=0.5)


def _avi(path: Path, n: int = 30) -> bytes:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 5 * i, np.uint8))
    w.release()
    return path.read_bytes()


def _feed(fifo: Path, data: bytes, hold_s: float = 0.0) -> threading.Thread:
    """A writer that sends ``data`` into ``fifo`` then keeps it open ``hold_s`` seconds (a stall)."""

    def run() -> None:
        with open(fifo, "wb") as f:
            f.write(data)
            f.flush()
            time.sleep(hold_s)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _mjpeg_server(frames: int, mode: str) -> str:
    """An MJPEG-over-HTTP server sending ``frames`` frames, then: ``stall`` (keeps the connection
    open, silent), ``end`` (closes); ``silent``: accepts and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    jpg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))[1].tobytes()

    def run() -> None:
        conn, _ = sock.accept()
        with conn, contextlib.suppress(OSError):  # the reader may hang up first
            conn.recv(65536)
            if mode != "silent":
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
                for _ in range(frames):
                    conn.sendall(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                                 + jpg + b"\r\n")
                    time.sleep(0.02)
            if mode != "end":
                time.sleep(30)
        sock.close()

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}/cam.mjpg"


def _count(source: object, timeouts: SourceTimeouts = FAST) -> int:
    with VideoReader(source, timeouts) as r:  # type: ignore[arg-type]
        return sum(1 for _ in r)


def test_defaults_are_seconds_and_the_cli_help_states_them():
    from featherface.cli import build_parser

    t = default_timeouts()
    assert (t.open_s, t.read_s) == (10.0, 5.0)
    help_text = build_parser()._subparsers._group_actions[0].choices["detect"].format_help()
    assert "(default: 10," in help_text and "(default: 5," in help_text
    with pytest.raises(ValueError):
        SourceTimeouts(open_s=0)


def test_env_sets_the_default(monkeypatch):
    monkeypatch.setenv("FEATHERFACE_READ_TIMEOUT", "2.5")
    assert default_timeouts().read_s == 2.5


def test_fifo_without_writer_fails_within_open_timeout(tmp_path):
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(ImageError, match=r"fifo\.mp4: not opened within 1 s.*--open-timeout"):
        _count(fifo)
    assert time.monotonic() - t0 < FAST.open_s + 1.0


def test_fifo_with_a_writer_is_read(tmp_path):
    data = _avi(tmp_path / "v.avi")
    fifo = tmp_path / "pipe.avi"
    os.mkfifo(fifo)
    _feed(fifo, data)
    assert _count(fifo) == 30


def test_fifo_that_stalls_fails_after_read_timeout_keeping_frames(tmp_path):
    data = _avi(tmp_path / "v.avi")
    fifo = tmp_path / "pipe.avi"
    os.mkfifo(fifo)
    _feed(fifo, data[: len(data) // 2], hold_s=10)
    got = []
    t0 = time.monotonic()
    with pytest.raises(ImageError, match=r"pipe\.avi: no frame for 0\.5 s .*stalled.*--read-timeout"):
        with VideoReader(fifo, FAST) as r:
            for frame in r:
                got.append(frame)
    assert 0 < len(got) < 30
    assert time.monotonic() - t0 < FAST.open_s + FAST.read_s + 1.0


def test_fifo_that_ends_early_is_a_failed_input(tmp_path):
    data = _avi(tmp_path / "v.avi")
    fifo = tmp_path / "pipe.avi"
    os.mkfifo(fifo)
    _feed(fifo, data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"pipe\.avi: cannot decode frame \d+ of 30"):
        _count(fifo)


def test_socket_or_folder_is_refused_at_once(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        VideoReader(tmp_path, FAST)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "s.mp4"))
    with pytest.raises(ImageError, match="not a regular file, FIFO or device"):
        VideoReader(tmp_path / "s.mp4", FAST)
    s.close()


@pytest.mark.parametrize("mode", ["stall", "silent"])
def test_stream_that_stalls_or_never_answers_fails_in_bounded_time(mode):
    url = _mjpeg_server(5, mode)
    t0 = time.monotonic()
    with pytest.raises(ImageError, match="not opened within" if mode == "silent" else "stalled"):
        _count(url)
    assert time.monotonic() - t0 < FAST.open_s + FAST.read_s + 1.5


def test_stream_that_closes_after_frames_ends_normally():
    # its own timeouts: an open of an earlier test still blocked in FFmpeg holds its global lock a moment
    assert _count(_mjpeg_server(5, "end"), SourceTimeouts(open_s=5, read_s=0.5)) == 5


def test_ctrl_c_during_a_stall_is_prompt(tmp_path):
    fifo = tmp_path / "wait.mp4"
    os.mkfifo(fifo)
    # Python's Ctrl-C handler even where the test process was started in the background (a
    # non-interactive shell's `&` starts it with SIGINT ignored, and the signal would be lost)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            _count(fifo, SourceTimeouts(open_s=60, read_s=60))
        assert time.monotonic() - t0 < 1.3
    finally:
        signal.signal(signal.SIGINT, old)
    # the abandoned open was let go: OpenCV's one-open-at-a-time lock is free for the next source
    _avi(tmp_path / "next.avi", n=3)
    assert _count(tmp_path / "next.avi") == 3


@pytest.mark.parametrize("verb", ["detect", "blur", "crop"])
def test_cli_fifo_video_is_a_failed_input_exit_1(verb, tmp_path, monkeypatch, capsys):
    from featherface import cli
    from featherface.inference import detector as detector_module
    from tests.fuzz.conftest import stub_detector

    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    rc = cli.main([verb, str(fifo), "-o", str(tmp_path / "out"), "--open-timeout", "0.5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"{fifo}: not opened within 0.5 s" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 5
    assert default_timeouts().open_s == 10.0  # the flag does not outlive the run


def test_cli_reads_a_fifo_fed_by_a_writer(tmp_path, monkeypatch, capsys):
    """The source is opened once (not probed, closed and opened again: a FIFO has one reading)."""
    import json

    from featherface import cli
    from featherface.inference import detector as detector_module
    from tests.fuzz.conftest import stub_detector

    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    data = _avi(tmp_path / "v.avi", n=12)
    fifo = tmp_path / "pipe.avi"
    os.mkfifo(fifo)
    _feed(fifo, data)
    rc = cli.main(["detect", str(fifo), "--json", str(tmp_path / "f.json"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    (entry,) = json.loads((tmp_path / "f.json").read_text())["results"]
    assert len(entry["frames"]) == 12

"""``featherface serve`` as a user runs it: a real process, a real port, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_process_answers_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "featherface", "serve", "--port", str(port), "--threads", "1",
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not start: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.2)
        assert r.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells it
        assert proc.returncode in (0, -signal.SIGTERM), out
        assert f"on http://127.0.0.1:{port}/" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_bad_weights_is_one_line_before_binding(tmp_path) -> None:
    missing = tmp_path / "missing.pt"
    r = subprocess.run([sys.executable, "-m", "featherface", "serve", "--weights", str(missing)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.pt" in lines[0] and "not found" in lines[0]

"""Issue 28, case 2: no client can stall the HTTP service or make it allocate without bound.

Decoding, inference, cropping and encoding run in the worker pool, never on the event loop, so
``/healthz`` answers while every worker is busy; what one request may cost is bounded by settings
(declared pixels, ``input_size``, crops x size, answer bytes), and slow clients are cut off
(headers: ``header_timeout_s``, upload: ``upload_timeout_s``). Bounds checked here: /healthz
median under 100 ms and every probe under 1 s on a loaded test machine (the 100 ms target at worst
is measured by ``benchmarks/serve_load.py --hostile``), a silent
connection closed within header_timeout_s + 2 s, a stalled upload answered 408 within
upload_timeout_s + 2 s (the slack is for a loaded test machine).
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from featherface.io.images import encode_image  # noqa: E402
from featherface.serve.app import create_app  # noqa: E402
from featherface.serve.pool import DetectorPool  # noqa: E402
from featherface.serve.protocol import uvicorn_options  # noqa: E402
from featherface.serve.settings import ServeSettings  # noqa: E402
from featherface.types import Face  # noqa: E402
from tests.serve.conftest import running  # noqa: E402


class Crowd:
    """A detector that finds ``n`` faces with landmarks anywhere (a crowd mosaic's worth)."""

    name = "crowd"

    def __init__(self, n: int = 40, delay: float = 0.0) -> None:
        self.n, self.delay = n, delay

    def detect(self, image, **kw):
        time.sleep(self.delay)
        lms = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
        return [Face((10.0, 10.0, 90.0, 100.0), 0.9, lms) for _ in range(self.n)]


def _png_declaring(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 64


def _app(detector=None, workers: int = 1, **settings):
    s = ServeSettings(workers=workers, **settings)
    dets = [detector or Crowd()] * workers
    return s, create_app(s, DetectorPool(dets, queue=s.queue, info={"name": "crowd"}))


IMG = encode_image(np.full((120, 100, 3), 128, np.uint8), ".png")


def test_pixels_declared_in_the_header_are_refused_before_decoding():
    s, app = _app()
    with running(app) as url:
        t0 = time.monotonic()
        r = httpx.post(f"{url}/v1/detect", content=_png_declaring(14000, 14000), timeout=30)
        assert r.status_code == 413 and "14000x14000" in r.json()["error"]["message"]
        assert "50 Mpx limit" in r.json()["error"]["message"]
        assert time.monotonic() - t0 < 1.0


def test_input_size_above_the_limit_is_refused():
    s, app = _app(max_input_size=640)
    with running(app) as url:
        r = httpx.post(f"{url}/v1/detect?input_size=4096", content=IMG, timeout=30)
        assert r.status_code == 400 and "[32, 640]" in r.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/detect?input_size=640", content=IMG, timeout=30).status_code == 200


def test_crop_count_times_size_and_answer_bytes_are_bounded():
    s, app = _app(Crowd(40), max_crop_megapixels=16, max_response_mb=0.05)
    with running(app) as url:
        r = httpx.post(f"{url}/v1/crop?size=1024&margin=4", content=IMG, timeout=30)
        assert r.status_code == 422 and "40 faces x 1024x1024" in r.json()["error"]["message"]
        r = httpx.post(f"{url}/v1/crop?size=112", content=IMG, timeout=30)  # 0.5 Mpx: allowed, but > 50 KB
        assert r.status_code == 422 and "byte limit" in r.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/detect", content=IMG, timeout=30).status_code == 200


def test_a_silent_connection_is_closed_after_the_header_timeout():
    s, app = _app(header_timeout_s=0.5)
    with running(app, **uvicorn_options(s)) as url:
        host, port = url.rsplit(":", 1)
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as c:
            c.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\n")  # ... and never the end of the headers
            t0 = time.monotonic()
            assert c.recv(100) == b""  # closed by the server
            assert time.monotonic() - t0 < 2.5  # 0.5 s + scheduling on a loaded machine
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200  # kept-alive clients still work


def test_a_stalled_upload_gets_408():
    s, app = _app(upload_timeout_s=0.5)
    with running(app, **uvicorn_options(s)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + IMG[:100])
            t0 = time.monotonic()
            answer = b""
            while b"}}" not in answer:  # status line, headers and the JSON body may come in pieces
                chunk = c.recv(4096)
                if not chunk:
                    break
                answer += chunk
            elapsed = time.monotonic() - t0
            assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 0.5 s" in answer, answer
            assert elapsed < 2.5  # 0.5 s + scheduling on a loaded machine


def test_healthz_answers_while_every_worker_decodes_and_crops():
    """2 workers busy decoding a 6000x6000 PNG each (and 2 more waiting): /healthz stays prompt."""
    g = (np.add.outer(np.arange(6000), np.arange(6000)) % 256).astype(np.uint8)
    big = encode_image(np.dstack([g, g.T, g[::-1]]), ".png")  # 0.14 MB, ~1 s to decode
    s, app = _app(Crowd(1, delay=0.5), workers=2, max_megapixels=40, queue=4)
    stop = threading.Event()
    codes: list[int] = []

    with running(app) as url:
        def client() -> None:
            with httpx.Client(timeout=60) as c:
                while not stop.is_set():
                    codes.append(c.post(f"{url}/v1/crop?size=256", content=big).status_code)

        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        time.sleep(1.0)
        lat, busy = [], 0
        with httpx.Client(timeout=10) as c:
            for _ in range(15):
                t0 = time.perf_counter()
                r = c.get(f"{url}/healthz")
                lat.append(time.perf_counter() - t0)
                assert r.status_code == 200
                time.sleep(0.1)
                busy = max(busy, r.json()["busy"])
        stop.set()
        for t in clients:
            t.join()
    assert busy == 2 and codes and set(codes) <= {200}, (busy, codes)
    # the target is 100 ms at worst (benchmarks/serve_load.py --hostile measures it); on a loaded
    # test machine (niced, other jobs on the cores) the scheduler alone can delay a probe, so the
    # test holds the median to it and every probe to 1 s - decoding on the loop stalled it 4.5 s
    ms = sorted(round(x * 1000) for x in lat)
    assert ms[len(ms) // 2] < 100 and ms[-1] < 1000, ms


def test_serve_on_a_busy_port_is_one_line_exit_2(capsys):
    from featherface import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc = cli.main(["serve", "--port", str(port), "--weights", "none", "--backend", "torch", "--threads", "1"])
    out, err = capsys.readouterr()
    lines = [x for x in err.strip().splitlines() if "random, untrained" not in x]
    assert rc == 2 and len(lines) == 1, err
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0] and "another --port" in lines[0]
    assert "http://" not in out  # nothing announced


def test_multipart_parsing_is_off_the_event_loop():
    """A 15 MB multipart form takes the form parser most of a second: in a thread, /healthz waits for none of it."""
    import os as _os

    s, app = _app(max_upload_mb=20, workers=2, queue=4)
    body = b"\x89PNG\r\n\x1a\n" + _os.urandom(15 * 2**20)
    stop = threading.Event()
    with running(app) as url:
        def client() -> None:
            with httpx.Client(timeout=60) as c:
                while not stop.is_set():
                    c.post(f"{url}/v1/detect", files={"image": ("a.png", body, "image/png")})

        clients = [threading.Thread(target=client) for _ in range(2)]
        for t in clients:
            t.start()
        time.sleep(0.5)
        lat = []
        with httpx.Client(timeout=10) as c:
            for _ in range(15):
                t0 = time.perf_counter()
                assert c.get(f"{url}/healthz").status_code == 200
                lat.append(time.perf_counter() - t0)
                time.sleep(0.1)
        stop.set()
        for t in clients:
            t.join()
    ms = sorted(round(x * 1000) for x in lat)
    assert ms[len(ms) // 2] < 100 and ms[-1] < 1000, ms


def test_uploads_past_the_sessions_and_queue_get_429_before_their_body_is_read():
    gate = threading.Event()

    class Held(Crowd):
        def detect(self, image, **kw):
            gate.wait(10)
            return []

    s, app = _app(Held(), workers=1, queue=0)
    with running(app) as url:
        first = threading.Thread(target=httpx.post, args=(f"{url}/v1/detect",), kwargs={"content": IMG, "timeout": 30})
        first.start()
        time.sleep(0.5)  # the one upload place is taken
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")  # no body
            assert c.recv(4096).startswith(b"HTTP/1.1 429")
        gate.set()
        first.join()

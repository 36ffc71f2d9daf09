"""Load test of ``featherface serve``: N concurrent clients for T seconds against a real server.

    python benchmarks/serve_load.py                      # 8 clients, 20 s, 2 workers, the demo photo
    python benchmarks/serve_load.py --clients 16 --seconds 60 --workers 2 --image photo.jpg
    python benchmarks/serve_load.py --url http://127.0.0.1:8000   # an already running server
    python benchmarks/serve_load.py --hostile            # /healthz latency under hostile uploads

Starts uvicorn in-process on a free loopback port (unless --url), checks that every answer holds
the faces the library finds on the same image, and prints p50 / p99 latency, throughput, the error
count and the server process's memory before and after (peak RSS) — the README's serve table.
Writes the numbers as JSON with --json.

``--hostile`` (issue 28): ``--clients`` clients (default 4 here) send, in turns, a PNG whose header
declares 14000x14000 pixels and ``/v1/crop?size=1024&margin=4`` on a 4096x4096 crowd mosaic (the
demo photo 8x8), while one prober asks ``/healthz`` every 50 ms; prints the probe's p50 / p99 / max
latency (the target: under 100 ms), the hostile answers by status and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from featherface import FaceDetector
from featherface.io.images import read_image
from featherface.serve.app import create_app
from featherface.serve.protocol import uvicorn_options
from featherface.serve.settings import ServeSettings

REPO = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _start_server(settings: ServeSettings, **options: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The service on a free loopback port in a thread of this process: (server, thread, its URL)."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning",
                                           **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker session")
    ap.add_argument("--image", type=Path, default=REPO / "examples" / "astronaut.jpg")
    ap.add_argument("--url", default=None, help="test this running server instead of starting one")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--hostile", action="store_true", help="measure /healthz while clients send hostile uploads")
    args = ap.parse_args(argv)
    if args.hostile:
        return hostile(args, argv)

    data = args.image.read_bytes()
    expected = [f.to_dict() for f in FaceDetector(threads=1).detect(read_image(args.image))]
    server = thread = None
    url = args.url
    rss_before = _rss_mb()
    if url is None:
        server, thread, url = _start_server(ServeSettings(workers=args.workers, threads=args.threads,
                                                         queue=4 * args.clients))
        rss_before = _rss_mb()

    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def client() -> None:
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = c.post(f"{url}/v1/detect", content=data)
                    ok = r.status_code == 200 and r.json()["faces"] == expected
                    why = "" if ok else f"HTTP {r.status_code}: {r.text[:100]}"
                except httpx.HTTPError as exc:
                    why = f"{type(exc).__name__}: {exc}"
                with lock:
                    lat.append(time.perf_counter() - t0)
                    if why:
                        errors.append(why)

    t_start = time.perf_counter()
    clients = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    wall = time.perf_counter() - t_start
    if server is not None:
        server.should_exit = True
        thread.join(timeout=30)
    lat_ms = sorted(v * 1000 for v in lat)
    p99 = lat_ms[min(len(lat_ms) - 1, int(round(0.99 * (len(lat_ms) - 1))))] if lat_ms else float("nan")
    result = {
        "clients": args.clients, "seconds": round(wall, 1), "workers": args.workers if args.url is None else None,
        "threads_per_worker": args.threads if args.url is None else None, "image": str(args.image.name),
        "requests": len(lat), "errors": len(errors), "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(statistics.median(lat_ms), 1) if lat_ms else None, "p99_ms": round(p99, 1),
        "rss_mb_before": round(rss_before, 1), "rss_mb_after": round(_rss_mb(), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "command": "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(f"{result['requests']} requests in {result['seconds']} s from {args.clients} clients: "
          f"{result['throughput_rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
          f"{result['errors']} errors; server RSS {result['rss_mb_before']} -> {result['rss_mb_after']} MB "
          f"(peak {result['peak_rss_mb']} MB, this process: server + clients)")
    for e in errors[:5]:
        print("  error:", e)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if errors else 0


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` (what the server judges before decoding)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 64


def hostile(args: argparse.Namespace, argv: list[str] | None) -> int:
    """/healthz latency while clients send a 14000x14000 PNG header and a 4096x4096 crowd to /v1/crop."""
    import numpy as np

    from featherface.io.images import encode_image

    clients = args.clients if "--clients" in (argv if argv is not None else sys.argv[1:]) else 4
    mosaic = encode_image(np.tile(read_image(args.image), (8, 8, 1))[:4096, :4096], ".jpg")
    uploads = [("/v1/detect", _png_declaring(14000, 14000)), ("/v1/crop?size=1024&margin=4", mosaic)]
    settings = ServeSettings(workers=args.workers, threads=args.threads, queue=2 * clients)
    server, thread, url = _start_server(settings, **uvicorn_options(settings))
    rss_before = _rss_mb()
    stop = time.monotonic() + args.seconds
    statuses: dict[str, int] = {}
    probe: list[float] = []
    lock = threading.Lock()

    def attacker(k: int) -> None:
        with httpx.Client(timeout=120) as c:
            i = k
            while time.monotonic() < stop:
                path, body = uploads[i % len(uploads)]
                i += 1
                try:
                    code = str(c.post(url + path, content=body).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    key = f"{path.split('?')[0]} {code}"
                    statuses[key] = statuses.get(key, 0) + 1

    def prober() -> None:
        with httpx.Client(timeout=30) as c:
            time.sleep(0.5)
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                c.get(url + "/healthz").raise_for_status()
                probe.append(time.perf_counter() - t0)
                time.sleep(0.05)

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(clients)] + [threading.Thread(target=prober)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.should_exit = True
    thread.join(timeout=30)
    ms = sorted(v * 1000 for v in probe)
    result = {
        "mode": "hostile", "clients": clients, "seconds": args.seconds, "workers": args.workers,
        "healthz_probes": len(ms), "healthz_p50_ms": round(statistics.median(ms), 1) if ms else None,
        "healthz_p99_ms": round(ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))], 1) if ms else None,
        "healthz_max_ms": round(ms[-1], 1) if ms else None, "answers": statuses,
        "rss_mb_before": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "command": "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(f"/healthz under {clients} hostile clients for {args.seconds:g} s: {len(ms)} probes, p50 "
          f"{result['healthz_p50_ms']} ms, p99 {result['healthz_p99_ms']} ms, max {result['healthz_max_ms']} ms; "
          f"answers {statuses}; RSS {result['rss_mb_before']} MB -> peak {result['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ms and ms[-1] < 100 else 1


if __name__ == "__main__":
    sys.exit(main())

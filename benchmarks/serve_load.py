"""Load test of ``featherface serve``: N concurrent clients for T seconds against a real server.

    python benchmarks/serve_load.py                      # 8 clients, 20 s, 2 workers, the demo photo
    python benchmarks/serve_load.py --clients 16 --seconds 60 --workers 2 --image photo.jpg
    python benchmarks/serve_load.py --url http://127.0.0.1:8000   # an already running server

Starts uvicorn in-process on a free loopback port (unless --url), checks that every answer holds
the faces the library finds on the same image, and prints p50 / p99 latency, throughput, the error
count and the server process's memory before and after (peak RSS) — the README's serve table.
Writes the numbers as JSON with --json.
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
from featherface.serve.settings import ServeSettings

REPO = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker session")
    ap.add_argument("--image", type=Path, default=REPO / "examples" / "astronaut.jpg")
    ap.add_argument("--url", default=None, help="test this running server instead of starting one")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    data = args.image.read_bytes()
    expected = [f.to_dict() for f in FaceDetector(threads=1).detect(read_image(args.image))]
    server = thread = None
    url = args.url
    rss_before = _rss_mb()
    if url is None:
        settings = ServeSettings(workers=args.workers, threads=args.threads, queue=4 * args.clients)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
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


if __name__ == "__main__":
    sys.exit(main())

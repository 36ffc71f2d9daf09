"""Folder throughput of ``featherface detect --workers N`` against ``--workers 1`` (issue 30: >= 1.7x
with 2 workers on a 2-core machine). Run it on an otherwise idle machine: anything else running
takes the cores the workers need.

Two figures per worker count, the runs taking turns (``--repeats`` rounds):

* **end to end**: the wall time of the whole CLI run, a subprocess (start-up, model load, worker
  start, reading, detection, drawing and writing the annotated pictures and the JSON);
* **steady**: images/s of a warm :class:`~featherface.inference.parallel.DetectorPool` (workers
  started and one pass made before timing), i.e. what a long folder converges to;
* **ceiling**: the same ratio for a pure-Python CPU loop in N processes: what this machine's cores
  give at best (below 2.0 when the "cores" share a physical core or the host is busy).

    python benchmarks/folder_throughput.py                            # shared photos x4, workers 1 vs cores
    python benchmarks/folder_throughput.py --images 200 --workers 1 2 --repeats 3
    python benchmarks/folder_throughput.py --folder my_photos/ --no-pictures
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def make_folder(src: Path, n: int, dst: Path) -> list[Path]:
    """``n`` images copied from ``src`` (cycled, so a small folder makes a long run)."""
    pics = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not pics:
        raise SystemExit(f"no images in {src}")
    dst.mkdir(parents=True)
    out = []
    for i in range(n):
        p = pics[i % len(pics)]
        q = dst / f"{i:05d}{p.suffix.lower()}"
        shutil.copyfile(p, q)
        out.append(q)
    return out


def cli_run(folder: Path, workers: int, out: Path, pictures: bool) -> float:
    """Seconds of one ``featherface detect`` run (a fresh process, as a user runs it)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "featherface", "detect", str(folder), "--json", str(out / "faces.json"),
           "--quiet", "--workers", str(workers)] + (["-o", str(out / "pictures")] if pictures else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode not in (0, 1):  # 1: some input failed (reported), the others were processed
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return time.perf_counter() - t


def steady_rate(paths: list[Path], workers: int, passes: int) -> float:
    """Images/s of a warm pool (detection and reading; no pictures), best of ``passes``."""
    from featherface.inference.parallel import DetectorPool, detect_task

    with DetectorPool({"threads": 1}, workers) as pool:
        for _ in pool.map(detect_task, paths[: 2 * workers]):  # workers started and warm
            pass
        best = 0.0
        for _ in range(passes):
            t = time.perf_counter()
            for _ in pool.map(detect_task, paths):
                pass
            best = max(best, len(paths) / (time.perf_counter() - t))
    return best


def _spin(n: int) -> float:
    """A pure-Python CPU-bound loop (no memory traffic, no threads): the ceiling reference."""
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1000003
    return time.perf_counter() - t


def cpu_ceiling(workers: int, n: int = 6_000_000) -> float:
    """How many times one process's work ``workers`` processes get done in the same time on this machine:
    the scaling of a pure CPU loop, the best any pool can reach here (2.0 on two free cores)."""
    import multiprocessing

    one = min(_spin(n) for _ in range(2))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_spin, [n // 10] * workers)  # started
        t = time.perf_counter()
        pool.map(_spin, [n] * workers)
        wall = time.perf_counter() - t
    return workers * one / wall


def main(argv: list[str] | None = None) -> int:
    from featherface.inference.parallel import default_workers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=REPO.parent / "shared" / "data" / "photos")
    ap.add_argument("--images", type=int, default=96, help="images in the run (the folder cycled; default 96)")
    ap.add_argument("--workers", type=int, nargs="+", default=None, help="default: 1 and the cores")
    ap.add_argument("--repeats", type=int, default=2, help="rounds, the worker counts taking turns (default 2)")
    ap.add_argument("--no-pictures", action="store_true", help="JSON only (no annotated pictures written)")
    args = ap.parse_args(argv)
    counts = args.workers or sorted({1, default_workers()})
    with tempfile.TemporaryDirectory(prefix="featherface-throughput-") as tmp:
        paths = make_folder(args.folder, args.images, Path(tmp) / "in")
        e2e: dict[int, list[float]] = {w: [] for w in counts}
        for _ in range(args.repeats):
            for w in counts:
                e2e[w].append(len(paths) / cli_run(Path(tmp) / "in", w, Path(tmp) / f"out{w}", not args.no_pictures))
        steady = {w: steady_rate(paths, w, args.repeats) for w in counts}
    base = counts[0]
    print(f"{len(paths)} images from {args.folder}, {default_workers()} cores, best of {args.repeats}")
    print("| workers | end to end, images/s | ratio | steady (warm pool), images/s | ratio |")
    print("|---|---|---|---|---|")
    for w in counts:
        a, b = max(e2e[w]), steady[w]
        print(f"| {w} | {a:.2f} | {a / max(e2e[base]):.2f} | {b:.2f} | {b / steady[base]:.2f} |")
    for w in counts[1:]:
        print(f"this machine's ceiling for {w} processes (a pure CPU loop): {cpu_ceiling(w):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

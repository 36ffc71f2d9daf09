"""How the tools time things: repeated calls of one function (the benchmark) and several detectors
over the same images, one whole pass at a time (the comparison).

:func:`time_calls`: ``warmup`` untimed calls then ``repeats`` timed ones; median, 90th percentile,
minimum, mean wall time, and the median process CPU time per call (with one thread the figure least
disturbed by other processes on a shared machine: waiting for a core is not counted).

:func:`run_detectors`: one untimed pass (warm-up; its detections are the ones returned) is followed
by ``repeats`` timed rounds. In a round each detector runs over all the images back to back, as a
user runs one detector, and the detectors take turns, rotating who goes first, so that slow
background load hits all of them alike. An image's latency is the median of its repeats.

Why whole passes, not turns per image: calls interleaved image by image measure each library
just after the other one ran, with the other's worker threads still spinning on the cores and its
buffers in the caches. On a 2-core machine that slowed YuNet (OpenCV's thread pool) at 2 threads
far more than FeatherFace, and flattered FeatherFace's ratio to it (README, "Against YuNet-n").
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from featherface.errors import ConfigError
from featherface.types import Detector, Face


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median / p90 / min / mean wall time (ms) of ``fn()`` over ``repeats`` calls after ``warmup``.

    Also the median CPU time of the process per call (``cpu_median_ms``): with one thread it is the
    figure least disturbed by other processes on a shared machine (waiting for a core is not counted).
    """
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
        cs.append((time.process_time() - c0) * 1e3)
    a = np.asarray(ts)
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)),
            "min_ms": float(a.min()), "mean_ms": float(a.mean()), "runs": len(ts),
            "cpu_median_ms": float(np.median(cs))}


def run_detectors(
    detectors: Sequence[Detector],
    images: Sequence[np.ndarray],
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
    settle_s: float = 0.2,
) -> tuple[list[list[list[Face]]], list[list[float]]]:
    """Warm-up pass (whose detections are returned) then ``repeats`` timed rounds of one whole pass
    per detector. With several detectors each pass starts after a ``settle_s`` pause (the previous
    library's worker threads stop spinning) and one untimed call (the detector's threads and
    buffers are its own again).

    Returns ``faces[d][i]`` and ``latencies_ms[d][i]`` (median over repeats; empty lists when
    ``repeats == 0``).
    """
    if repeats < 0:
        raise ConfigError(f"repeats must be >= 0, got {repeats}")
    nd, ni = len(detectors), len(images)
    faces: list[list[list[Face]]] = [[[] for _ in range(ni)] for _ in range(nd)]
    for d, det in enumerate(detectors):
        if progress:
            progress(f"{det.name}: detecting ({ni} images)")
        for i, img in enumerate(images):
            faces[d][i] = list(det.detect(img))
    times = np.zeros((nd, ni, repeats), dtype=np.float64)
    for r in range(repeats):
        if progress:
            progress(f"timing pass {r + 1}/{repeats}")
        for k in range(nd):
            d = (k + r) % nd  # rotate who goes first
            if ni and nd > 1:
                time.sleep(settle_s)  # the previous library's worker threads go idle
                detectors[d].detect(images[-1])  # untimed: caches and threads are this detector's
            for i, img in enumerate(images):
                t0 = time.perf_counter()
                detectors[d].detect(img)
                times[d, i, r] = (time.perf_counter() - t0) * 1000.0
    lat = [list(np.median(times[d], axis=1)) if repeats else [] for d in range(nd)]
    return faces, [[float(x) for x in row] for row in lat]

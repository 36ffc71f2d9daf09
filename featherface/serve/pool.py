"""A fixed pool of detector sessions with admission control, for the HTTP service.

Each session (a :class:`~featherface.FaceDetector`) is used by one request at a time, in a worker
thread, so requests never share mutable state; a request that finds every session busy waits in a
bounded queue, and one beyond the queue is refused at once (HTTP 429) instead of piling up until the
machine swaps. A request that times out stops waiting, but its session returns to the pool only when
its thread has finished — a session is never handed out twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import anyio
import numpy as np

from featherface.serve.settings import ServeSettings
from featherface.types import Face

__all__ = ["DetectorPool", "Overloaded", "detect_with"]


class Overloaded(Exception):
    """Every session is busy and the queue is full."""


def detect_with(detector: Any, image: np.ndarray, score_threshold: float | None = None,
                nms_threshold: float | None = None, input_size: int | None = None) -> list[Face]:
    """``detector.detect(image)`` with one request's options (the caller has the detector to itself)."""
    return detector.detect(image, score_threshold=score_threshold, nms_threshold=nms_threshold,
                           input_size=input_size)


class DetectorPool:
    """``size`` detectors; at most ``queue`` requests wait for one."""

    def __init__(self, detectors: Sequence[Any], queue: int = 16, info: dict[str, Any] | None = None) -> None:
        if not detectors:
            raise ValueError("DetectorPool needs at least one detector")
        self.size = len(detectors)
        self.queue_limit = int(queue)
        self._free: asyncio.Queue[Any] = asyncio.Queue()
        for d in detectors:
            self._free.put_nowait(d)
        self.waiting = 0
        self.info = info or {"name": getattr(detectors[0], "name", "detector")}

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> "DetectorPool":
        """Build ``settings.workers`` sessions of the configured model (errors surface here, before binding)."""
        from featherface.inference.detector import FaceDetector
        from featherface.models.weights import file_sha256

        threads = settings.session_threads()
        dets = [FaceDetector.from_options(settings.detector, threads=threads) for _ in range(settings.workers)]
        d0 = dets[0]
        info = {
            "name": d0.name,
            "params": int(sum(p.numel() for p in d0.model.parameters())),
            # the file's name, never its path: a client has no business knowing the server's folders
            "weights": Path(d0.weights_path).name if d0.weights_path else None,
            "weights_sha256": file_sha256(d0.weights_path) if d0.weights_path else None,
            "backend": settings.detector.backend,
            "threads_per_worker": threads,
            "workers": settings.workers,
        }
        return cls(dets, settings.queue, info)

    @property
    def busy(self) -> int:
        return self.size - self._free.qsize()

    async def run(self, job: Callable[[Any], Any]) -> tuple[Any, float, float]:
        """``job(detector)`` in a worker thread -> ``(result, seconds queued, seconds run)``."""
        if self._free.qsize() == 0 and self.waiting >= self.queue_limit:
            raise Overloaded(f"all {self.size} inference session(s) are busy and {self.waiting} request(s) "
                             "are waiting; retry shortly")
        t0 = time.perf_counter()
        self.waiting += 1
        try:
            det = await self._free.get()
        finally:
            self.waiting -= 1
        queued = time.perf_counter() - t0
        loop = asyncio.get_running_loop()

        def work() -> Any:
            try:
                return job(det)
            finally:  # back to the pool when the work is really over, even if the request gave up
                loop.call_soon_threadsafe(self._free.put_nowait, det)

        t1 = time.perf_counter()
        result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        return result, queued, time.perf_counter() - t1

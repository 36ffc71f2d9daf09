"""All cores for many images: a pool of processes, each holding its own :class:`FaceDetector`.

Why processes: one detector call is a chain of small ops that one core runs best (issue 30); a
second thread in the same call mostly spins. N processes with one thread each keep N cores busy
on N images. Each worker builds its detector once (``threads=1``) from plain keyword arguments,
so only paths and small records cross the process boundary; workers are started with ``spawn``
(``forkserver`` where available), never ``fork``, because torch's and onnxruntime's thread pools
do not survive a fork.

Results come back **in input order** (a bounded window of tasks in flight, so a slow consumer
never makes the pool hold the whole folder in memory), and a task's :class:`FeatherFaceError` is
returned as a value, so one unreadable file is a named failure and the others go on.

    from featherface.inference.parallel import detect_files
    for source, found in zip(paths, detect_files(paths, workers=4)):
        print(source, found if isinstance(found, Exception) else len(found))
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from featherface.errors import ConfigError, FeatherFaceError

T = TypeVar("T")
R = TypeVar("R")

#: the detector of this worker process (set by :func:`_init_worker`)
_DETECTOR: Any = None


def default_workers() -> int:
    """The cores this process may use (its CPU affinity where the OS tells it): ``--workers`` to
    pass for the fastest folder runs."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    return workers


# what the fork server imports once, before it forks workers: each worker then starts with them
# loaded instead of importing them again (0.3-0.4 s of a 2-worker pool's ~1.2 s start, measured here);
# none of them starts a thread on import, so forking after them is safe (a missing one is skipped)
_PRELOAD = ["numpy", "cv2", "onnxruntime", "featherface.io.images", "featherface.inference.detector",
            "featherface.inference.parallel"]


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)  # no effect once this process's fork server runs
        return ctx
    return multiprocessing.get_context("spawn")


def _init_worker(detector_kwargs: dict[str, Any]) -> None:
    """Build this worker's detector; Ctrl-C is the parent's to handle (it stops the pool)."""
    global _DETECTOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from featherface.inference.detector import FaceDetector

    _DETECTOR = FaceDetector(**detector_kwargs)


def _call(task: Callable[[Any, Any], Any], item: Any) -> tuple[bool, Any]:
    """Run ``task(detector, item)`` in a worker; a FeatherFaceError comes back as a value."""
    try:
        return True, task(_DETECTOR, item)
    except FeatherFaceError as exc:
        return False, exc


class DetectorPool:
    """``workers`` processes with a detector each; :meth:`map` runs ``task(detector, item)`` over items.

    ``workers=1`` starts no process: the tasks run here on one detector (the given ``detector``,
    or one built from ``detector_kwargs``), through the same code. Use it as a context manager
    (the processes are stopped on leaving, Ctrl-C included).

    Args:
        detector_kwargs: ``FaceDetector(**detector_kwargs)`` in every worker (``threads`` is set to
            1 when ``workers > 1``); picklable values only (paths, names, numbers).
        workers: processes; see :func:`default_workers`.
        detector: for ``workers=1``, an already built detector to use.
        window: tasks in flight per worker (bounds the memory of results not yet consumed).
    """

    def __init__(self, detector_kwargs: dict[str, Any], workers: int = 1, detector: Any = None, window: int = 4):
        self.workers = check_workers(workers)
        self.window = max(1, int(window)) * self.workers
        self._pool: Any = None
        self._detector = detector
        if self.workers > 1:
            kwargs = {**detector_kwargs, "threads": 1}
            self._pool = _context().Pool(self.workers, initializer=_init_worker, initargs=(kwargs,))
        elif detector is None:
            from featherface.inference.detector import FaceDetector

            self._detector = FaceDetector(**detector_kwargs)

    def map(self, task: Callable[[Any, T], R], items: Iterable[T]) -> Iterator[R | FeatherFaceError]:
        """``task(detector, item)`` for each item, in order; a FeatherFaceError is yielded, not raised.

        ``task`` must be a module-level function (it is pickled to the workers)."""
        if self._pool is None:
            for item in items:
                try:
                    yield task(self._detector, item)
                except FeatherFaceError as exc:
                    yield exc
            return
        pending: deque[Any] = deque()
        for item in items:
            pending.append(self._pool.apply_async(_call, (task, item)))
            if len(pending) >= self.window:
                yield _unwrap(pending.popleft().get())
        while pending:
            yield _unwrap(pending.popleft().get())

    def close(self) -> None:
        """Stop the workers (at once: results not consumed are dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "DetectorPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _unwrap(res: tuple[bool, Any]) -> Any:
    return res[1]


def detect_task(det: Any, source: Any) -> Any:
    """The :meth:`DetectorPool.map` task of :func:`detect_files`: one image file's faces, without the
    decoded image (sending megabytes of pixels back to the parent cost a fifth of the pool's
    throughput; :meth:`Results.plot` reads the file again when asked to draw)."""
    from featherface.io.images import load_image

    found = det.detect(load_image(source))
    found.source = str(source)
    found.image = None
    return found


def detect_files(sources: Iterable[Any], workers: int = 1, **detector_kwargs: Any) -> Iterator[Any]:
    """:class:`~featherface.inference.results.Results` for each image file, in input order, on
    ``workers`` processes (:func:`default_workers` for all cores; the results keep no decoded image:
    ``plot``/``save`` read the file again); ``detector_kwargs`` are
    :class:`FaceDetector`'s. An input that cannot be read or decoded yields its
    :class:`~featherface.errors.FeatherFaceError` instead of stopping the others."""
    with DetectorPool(detector_kwargs, workers) as pool:
        yield from pool.map(detect_task, sources)


__all__ = ["DetectorPool", "check_workers", "default_workers", "detect_files", "detect_task"]

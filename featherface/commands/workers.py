"""``--workers N`` of detect, blur and crop: still images on N processes, one detector each.

Why a flag and not the default: starting a worker costs an import of torch and a model load
(~2 s each), which a handful of photos never earns back; a folder of hundreds does. N = the
cores (:func:`featherface.inference.parallel.default_workers`) is the fast setting. Outputs and
the JSON come out in input order and identical to ``--workers 1``; videos and streams stay in the
main process.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from featherface.commands.argtypes import positive_int


def add_workers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="process still images on N processes, each with its own detector on 1 thread "
                        "(default 1; N = the number of cores is the fast setting for folders; results and "
                        "outputs keep the input order)")


def images_per_second(n_images: int, started: float, workers: int, verb: str,
                      stream: TextIO | None = None) -> None:
    """The closing throughput line (when the run had still images)."""
    if n_images < 1:
        return
    dt = max(time.perf_counter() - started, 1e-9)
    print(f"{n_images} images in {dt:.1f} s: {n_images / dt:.1f} images/s ({verb}, --workers {workers})",
          file=stream or sys.stdout)


def make_pool(args: argparse.Namespace, detector_kwargs: dict[str, Any], det: Any) -> Any:
    """The :class:`DetectorPool` of ``--workers`` (``None`` for 1: the verb's own loop runs as before)."""
    workers = int(getattr(args, "workers", 1) or 1)
    if workers < 2:
        return None
    from featherface.inference.parallel import DetectorPool  # torch: on use

    return DetectorPool(detector_kwargs, workers, detector=det)


__all__ = ["add_workers_arg", "images_per_second", "make_pool"]

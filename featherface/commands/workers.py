"""``--workers N`` of detect, blur and crop: still images on N processes, one detector each.

The default, ``auto``, takes the cores for a run of at least :data:`AUTO_MIN_IMAGES` still images
on the CPU's onnxruntime backend, else one process: a worker starts in ~0.4 s (the cached ONNX
export, no torch) and the pool's fixed cost (~0.6 s) is earned back from a few dozen photos on;
on the torch backend (CUDA, no onnxruntime) each worker would import torch and hold its own
network, so ``auto`` stays at 1 there. N = the cores
(:func:`featherface.inference.parallel.default_workers`) is the fast setting. Outputs and the
JSON come out in input order and identical to ``--workers 1``; videos and streams stay in the
main process.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Iterable, TextIO

from featherface.commands.argtypes import positive_int
from featherface.commands.media import is_still

#: still images from which ``--workers auto`` (the default) takes all cores
AUTO_MIN_IMAGES = 32


def workers_arg(text: str) -> int | None:
    return None if text.strip().lower() == "auto" else positive_int(text)


def add_workers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=workers_arg, default=None, metavar="N",
                   help=f"process still images on N processes, each with its own detector on 1 thread (default "
                        f"auto: the cores for {AUTO_MIN_IMAGES} or more still images on the CPU's onnxruntime "
                        "backend, else 1; results and outputs keep the input order)")


def resolve_workers(requested: int | None, n_stills: int, det: Any) -> int:
    """``--workers``: as given, or for ``auto`` (``None``) the cores when ``n_stills`` earns a pool back
    and the detector runs onnxruntime (workers then start without torch), else 1."""
    if requested is not None:
        return int(requested)
    if n_stills >= AUTO_MIN_IMAGES and getattr(getattr(det, "backend", None), "name", None) == "onnxruntime":
        from featherface.inference.parallel import default_workers

        return max(1, min(default_workers(), n_stills))
    return 1


def images_per_second(n_images: int, started: float, workers: int, verb: str,
                      stream: TextIO | None = None) -> None:
    """The closing throughput line (when the run had still images)."""
    if n_images < 1:
        return
    dt = max(time.perf_counter() - started, 1e-9)
    print(f"{n_images} images in {dt:.1f} s: {n_images / dt:.1f} images/s ({verb}, --workers {workers})",
          file=stream or sys.stdout)


def make_pool(args: argparse.Namespace, detector_kwargs: dict[str, Any], det: Any, inputs: Iterable[Any]) -> Any:
    """The :class:`DetectorPool` of ``--workers`` for the still images among ``inputs`` (``None`` for 1:
    the verb's own loop runs as before); ``args.workers`` is set to the count used."""
    args.workers = resolve_workers(getattr(args, "workers", None), sum(1 for s in inputs if is_still(s)), det)
    if args.workers < 2:
        return None
    from featherface.inference.parallel import DetectorPool

    return DetectorPool(detector_kwargs, args.workers, detector=det)


__all__ = ["AUTO_MIN_IMAGES", "add_workers_arg", "images_per_second", "make_pool", "resolve_workers", "workers_arg"]

"""Ray for archives that outgrow one machine: a ``ray.data`` pipeline of :class:`FaceDetector` actors.

Why Ray and not a scheduler of our own: ``ray.data`` already streams a dataset through a pool of
long-lived actors on every node of a cluster, with back-pressure and retries; each actor here
holds one detector (model loaded once, one thread per CPU it is given) the way a ``--workers``
process does on one machine. The same code runs on a laptop (a local Ray instance started on
the fly) and on a cluster (``address="auto"`` or ``"ray://head:10001"``), unchanged::

    paths -> ray.data.from_items({i, path})                      # the images to read
          -> map_batches(DetectorActor, ActorPoolStrategy(N))    # read + detect in N actors
          -> the driver: records back in input order -> JSONL / JSON

Each record is the one ``featherface detect --json`` writes (``{"file", "type": "image", ...}``,
or ``{"file", "error"}`` for a file that cannot be read), so the two can be compared line by line.
The actors read the files themselves with the package's own loader (EXIF, colour conversions,
the same error messages), so every node must see the paths (a shared file system); for object
stores, replace ``from_items`` by ``ray.data.read_binary_files`` and decode the bytes in the actor.

Needs ``pip install 'featherface[ray]'``; ``ray`` is imported only when a pipeline runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from featherface.errors import FeatherFaceError


class DetectorActor:
    """A ``map_batches`` callable class: one :class:`FaceDetector` per actor, built once."""

    def __init__(self, detector_kwargs: dict[str, Any]):
        from featherface.inference.detector import FaceDetector

        self.det = FaceDetector(**{**detector_kwargs, "threads": 1})

    def record(self, path: str) -> dict[str, Any]:
        """The CLI's JSON entry of one image (or its error)."""
        from featherface.io.images import load_image

        try:
            faces = self.det.detect(load_image(Path(path)))
        except FeatherFaceError as exc:
            return {"file": path, "error": str(exc)}
        faces.source = path
        rec = faces.to_dict()
        return {"file": rec.pop("file"), "type": "image", **rec}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # records as JSON text: faces lists of varying length need no Arrow schema
        records = [json.dumps(self.record(str(p))) for p in batch["path"]]
        return {"i": np.asarray(batch["i"]), "record": np.asarray(records, dtype=object)}


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the data library is the part used)
    except ImportError as exc:
        raise FeatherFaceError("this needs Ray, which is not installed: pip install 'featherface[ray]'") from exc
    return ray


def detect_with_ray(paths: Sequence[str | Path], *, address: str | None = None, actors: int | None = None,
                    batch_size: int = 4, init_kwargs: dict[str, Any] | None = None,
                    **detector_kwargs: Any) -> Iterator[dict[str, Any]]:
    """The ``featherface detect`` record of each path, in input order, computed by Ray actors.

    Args:
        paths: image files readable from every node.
        address: Ray cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` joins the one
            ``RAY_ADDRESS`` names or starts a local instance (stopped again at the end).
        actors: detector actors (one CPU each); default: the cluster's CPUs.
        batch_size: images per actor call.
        init_kwargs: more ``ray.init`` arguments (``num_cpus=2`` for a small local instance).
        detector_kwargs: :class:`FaceDetector`'s keywords (``threads`` is 1 in every actor).
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 ignore_reinit_error=True, **(init_kwargs or {}))
    try:
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # no per-run banners on the CLI's streams
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        items = [{"i": i, "path": str(p)} for i, p in enumerate(paths)]
        if not items:
            return
        ds = ray.data.from_items(items).map_batches(
            DetectorActor, fn_constructor_kwargs={"detector_kwargs": detector_kwargs}, batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=n), num_cpus=1)
        pending: dict[int, dict[str, Any]] = {}
        nxt = 0
        for row in ds.iter_rows():  # the blocks may finish out of order: records go out in input order
            pending[int(row["i"])] = json.loads(row["record"])
            while nxt in pending:
                yield pending.pop(nxt)
                nxt += 1
    finally:
        if started_here:
            ray.shutdown()


__all__ = ["DetectorActor", "detect_with_ray", "import_ray"]

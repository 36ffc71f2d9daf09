"""Running the comparison: every detector on every image, timed, and scored against a reference.

:func:`compare_detectors` returns a :class:`ComparisonResult` (``to_dict`` for JSON,
:func:`featherface.tools.compare.report.format_markdown` for people).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from featherface.errors import ConfigError
from featherface.format import rounded
from featherface.io.images import load_image
from featherface.tools.compare.agreement import Agreement, agreement
from featherface.tools.machine import environment
from featherface.tools.timing import run_detectors
from featherface.types import Detector, Face


@dataclass
class DetectorRun:
    """What one detector produced on the image set: faces and per-image latency (ms)."""

    name: str
    faces: list[list[Face]]
    latencies_ms: list[float]
    input: str = ""
    landmarks: bool = False
    description: str = ""

    @property
    def faces_found(self) -> int:
        return sum(len(f) for f in self.faces)

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    def to_dict(self, images: Sequence[str], agreement: Agreement | None, include_faces: bool = False) -> dict[str, Any]:
        """This run in the JSON output (``images`` name the per-image rows)."""
        return {
            "name": self.name,
            "description": self.description,
            "input": self.input,
            "landmarks": self.landmarks,
            "faces_found": self.faces_found,
            "latency_ms": {
                "median": rounded(self.latency(50), 2),
                "p90": rounded(self.latency(90), 2),
                "mean": rounded(float(np.mean(self.latencies_ms)) if self.latencies_ms else None, 2),
            },
            "agreement": agreement.to_dict() if agreement is not None else None,
            "per_image": [
                {"image": img, "faces": len(f), "latency_ms": rounded(t, 2)}
                | ({"detections": [x.to_dict() for x in f]} if include_faces else {})
                for img, f, t in zip(images, self.faces, self.latencies_ms or [None] * len(images))
            ],
        }


@dataclass
class ComparisonResult:
    """Everything :func:`compare_detectors` measured; ``to_dict`` for JSON, ``format_markdown`` for people."""

    images: list[str]
    runs: list[DetectorRun]
    reference: str | None
    iou_threshold: float
    repeats: int
    agreements: dict[str, Agreement] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def run(self, name: str) -> DetectorRun:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self, include_faces: bool = False) -> dict[str, Any]:
        return {
            "images": self.images,
            "reference": self.reference,
            "iou_threshold": self.iou_threshold,
            "repeats": self.repeats,
            "settings": self.settings,
            "environment": environment(),
            "detectors": [r.to_dict(self.images, self.agreements.get(r.name), include_faces) for r in self.runs],
        }


def describe_detector(det: Detector) -> tuple[str, bool, str]:
    """``(input description, gives landmarks?, one-line description)`` of any detector.

    Peer adapters say it themselves (``describe_input()``, ``gives_landmarks``); for others
    (our :class:`~featherface.FaceDetector`) it is read from ``input_size``.
    """
    describe = getattr(det, "describe_input", None)
    if callable(describe):
        inp = str(describe())
    else:
        size = getattr(det, "input_size", None)
        inp = "original" if size is None else f"longer side {size}"
    lm = getattr(det, "gives_landmarks", None)
    if lm is None:
        lm = type(det).__name__ == "FaceDetector"
    return inp, bool(lm), repr(det)


def _check_lineup(detectors: Sequence[Detector], iou_threshold: float, images: Sequence[Any]) -> set[str]:
    """The detectors' names, after refusing an empty or ambiguous line-up and bad settings."""
    if not detectors:
        raise ConfigError("compare: no detector to run")
    seen: set[str] = set()
    for det in detectors:
        if det.name in seen:
            raise ConfigError(f"compare: two detectors are named {det.name!r}")
        seen.add(det.name)
    if not 0.0 < iou_threshold <= 1.0:
        raise ConfigError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if not images:
        raise ConfigError("compare: no images")
    return seen


def compare_detectors(
    detectors: Sequence[Detector],
    images: Sequence[Any],
    names: Sequence[str] | None = None,
    reference: str | None = None,
    repeats: int = 3,
    iou_threshold: float = 0.5,
    progress: Callable[[str], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ComparisonResult:
    """Run every detector on every image, time them, and score agreement with ``reference``.

    ``images`` are paths or BGR arrays (decoded once, up front); ``names`` label them (default:
    file names). ``reference`` is a detector name (``None``: the first detector); every
    detector, the reference included, gets an :class:`Agreement` with it.
    """
    seen = _check_lineup(detectors, iou_threshold, images)
    arrays = [load_image(im) for im in images]
    if names is None:
        names = [Path(im).name if isinstance(im, (str, os.PathLike)) else f"image{i}" for i, im in enumerate(images)]
    ref_name = reference if reference is not None else detectors[0].name
    if ref_name not in seen:
        raise ConfigError(f"reference detector {ref_name!r} is not among the detectors run ({', '.join(seen)})")
    faces, lat = run_detectors(detectors, arrays, repeats, progress)
    runs: list[DetectorRun] = []
    for det, f, t in zip(detectors, faces, lat):
        inp, lm, desc = describe_detector(det)
        has_lm = any(x.landmarks is not None for per in f for x in per) or lm
        runs.append(DetectorRun(det.name, f, t, inp, has_lm, desc))
    result = ComparisonResult(list(names), runs, ref_name, float(iou_threshold), int(repeats), settings=dict(settings or {}))
    ref_faces = result.run(ref_name).faces
    for r in runs:
        result.agreements[r.name] = agreement(r.faces, ref_faces, iou_threshold)
    return result

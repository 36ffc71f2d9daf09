"""WIDER FACE val AP of every detector of a comparison, by the official protocol
(:mod:`featherface.evaluation.widerface`), with the time each one took."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from featherface.errors import ConfigError, FeatherFaceError
from featherface.evaluation.runner import evaluate_detectors, find_wider_image, wider_image_root
from featherface.evaluation.wider_gt import WiderGroundTruth, load_wider_ground_truth
from featherface.types import Detector


def wider_image_paths(images_dir: str | os.PathLike[str], gt: Any) -> list[Path]:
    """The image file of every ground-truth entry, found by the evaluation's rule
    (:func:`~featherface.evaluation.runner.wider_image_root`, :func:`~featherface.evaluation.runner.find_wider_image`).

    Every image must exist: scoring with missing images would silently lower AP.
    """
    root = wider_image_root(images_dir, gt.events[0] if gt.num_images else "")
    paths: list[Path] = []
    missing: list[str] = []
    for e, n in zip(gt.events, gt.names):
        p = find_wider_image(root, e, n)
        if p is None:
            missing.append(f"{e}/{n}.jpg")
        else:
            paths.append(p)
    if missing:
        raise FeatherFaceError(
            f"{len(missing)} of {gt.num_images} WIDER images are missing under {root} (e.g. {', '.join(missing[:3])}); "
            "pass the WIDER_val/images folder (or a limit / --wider-limit N for a partial run)"
        )
    return paths


def evaluate_on_wider(
    detectors: Sequence[Detector],
    images_dir: str | os.PathLike[str],
    gt: Any,
    limit: int | None = None,
    iou_threshold: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every detector over the WIDER val images and score it with the official protocol
    (:func:`~featherface.evaluation.runner.evaluate_detectors`: one decode per image, every detector).

    ``gt`` is a :class:`~featherface.evaluation.wider_gt.WiderGroundTruth` or its folder.
    Detectors should be built with a low score threshold (0.02 is the convention) since AP is
    computed over the whole score range. ``limit`` keeps the first N images (quick checks;
    such APs are not comparable with published numbers). Returns ``{name: {easy, medium, hard,
    images, seconds, partial}}``.
    """
    g = gt if isinstance(gt, WiderGroundTruth) else load_wider_ground_truth(gt)
    partial = limit is not None and limit < g.num_images
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"limit must be >= 1, got {limit}")
        g = g.subset(range(min(limit, g.num_images)))
    wider_image_paths(images_dir, g)  # every image must be there before anything is scored
    out = evaluate_detectors({det.name: det for det in detectors}, g, images_dir, iou_threshold, progress or False)
    for scores in out.values():
        scores.update(images=g.num_images, partial=partial)
    return out

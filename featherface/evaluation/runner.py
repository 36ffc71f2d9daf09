"""Running a detector over the WIDER FACE validation images: the predictions :func:`evaluate` scores.

    >>> gt = load_wider_ground_truth("shared/data/widerface/ground_truth")
    >>> preds = detect_wider(gt, "WIDER_val/images", DetectorOptions(weights="best.pt", score_threshold=0.02))
    >>> evaluate(preds, gt)

What ``featherface eval --images DIR`` runs; the command only parses its flags and prints.

Where a WIDER image is has one rule, used by ``featherface eval`` and ``featherface compare``
(:mod:`featherface.tools.compare.wider`) alike: the folder holds ``<event>/<image>.<ext>``
(``WIDER_val/images``), or is its parent with an ``images/`` folder that holds the first event
(:func:`wider_image_root`); the file is the first of ``<image>.jpg``, ``.jpeg``, ``.png``, ``.JPG``
that exists (:func:`find_wider_image`). What a missing image means is the caller's: the
evaluation skips it with a warning, the comparison refuses to score (it would lower AP silently).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from tqdm import tqdm

from featherface.errors import FeatherFaceError, ImageError
from featherface.evaluation.predictions import EvaluationWarning, faces_to_prediction, write_predictions
from featherface.evaluation.widerface import evaluate
from featherface.inference.options import DetectorOptions

__all__ = ["WIDER_SCORE_THRESHOLD", "WiderSubset", "describe_subset", "detect_wider", "evaluate_detectors", "find_wider_image",
           "restrict_to_present", "wider_image_root", "wider_options"]

# the usual WIDER FACE setting: AP needs the low-score detections of the whole ranking
WIDER_SCORE_THRESHOLD = 0.02
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG")


def wider_options(**fields: Any) -> DetectorOptions:
    """``DetectorOptions`` for WIDER: ``score_threshold`` :data:`WIDER_SCORE_THRESHOLD` unless given."""
    fields.setdefault("score_threshold", WIDER_SCORE_THRESHOLD)
    return DetectorOptions(**fields)


def wider_image_root(images: str | os.PathLike[str], first_event: str) -> Path:
    """The folder holding ``<event>/<image>.jpg``: ``WIDER_val/images`` or, given ``WIDER_val``, its ``images/``
    (when that holds ``first_event``; give ``""`` when there is no event to look for)."""
    root = Path(images)
    if not root.is_dir():
        raise FeatherFaceError(f"image folder {root} does not exist")
    if not (root / first_event).is_dir() and (root / "images" / first_event).is_dir():
        root = root / "images"
    return root


def find_wider_image(root: Path, event: str, name: str) -> Path | None:
    """``root/event/name`` with the first image extension that exists, or ``None``."""
    for ext in _EXTENSIONS:
        p = root / event / f"{name}{ext}"
        if p.is_file():
            return p
    return None


@dataclass(frozen=True)
class WiderSubset:
    """The images a WIDER score covers when a folder holds only some of the validation images.

    Why it travels with every number: AP over a subset is not comparable with published full-val AP,
    only with other detectors scored on the same images; ``key`` (a digest of the image names) lets a
    table refuse to mix numbers of different image sets.
    """

    images: int
    of: int
    key: str

    def note(self) -> str:
        return f"subset: {self.images:,} of {self.of:,} images — not comparable to full-val numbers"

    def to_dict(self) -> dict[str, Any]:
        return {"images": self.images, "of": self.of, "key": self.key, "note": self.note()}


def restrict_to_present(gt: Any, images: str | os.PathLike[str]) -> tuple[Any, WiderSubset | None]:
    """``gt`` restricted to the images present under ``images`` (:func:`find_wider_image`), and the
    :class:`WiderSubset` it then is (``None`` when every image is there). None present is an error."""
    root = wider_image_root(images, gt.events[0] if gt.num_images else "")
    present = [i for i in range(gt.num_images) if find_wider_image(root, gt.events[i], gt.names[i]) is not None]
    if not present:
        raise ImageError(f"no WIDER FACE validation image found under {root} (expected <event>/<image>.jpg with "
                         "the official names)")
    if len(present) == gt.num_images:
        return gt, None
    sub = gt.subset(present)
    return sub, describe_subset(sub, gt.num_images)


def describe_subset(sub: Any, of: int) -> WiderSubset:
    """The :class:`WiderSubset` of ground truth ``sub``, cut from a set of ``of`` images."""
    digest = hashlib.sha256("\n".join(sorted(sub.key(i) for i in range(sub.num_images))).encode()).hexdigest()[:12]
    return WiderSubset(images=sub.num_images, of=of, key=digest)


def evaluate_detectors(detectors: dict[str, Any], gt: Any, images: str | os.PathLike[str], iou: float = 0.5,
                       progress: bool | Callable[[int, int], None] = False) -> dict[str, dict[str, Any]]:
    """Every detector over the same images, scored by the official protocol: ``{name: {easy, medium, hard,
    predictions, seconds, recall_by_size}}`` (``seconds``: its detection time, image reading excluded;
    ``recall_by_size``: the hard faces' recall per height bucket).

    Image-outer: each image is decoded once and handed to every detector in turn, so a table of
    several detectors costs one pass of reading; missing and undecodable images are skipped as in
    :func:`detect_wider`. ``progress``: a bar, or a callback ``(images done, images in gt)``."""
    root = wider_image_root(images, gt.events[0])
    preds: dict[str, dict[str, np.ndarray]] = {name: {} for name in detectors}
    seconds = dict.fromkeys(detectors, 0.0)
    for i, img in _wider_images(gt, root, progress, "detecting (" + ", ".join(detectors) + ")"):
        for name, det in detectors.items():
            t0 = time.perf_counter()
            preds[name][gt.key(i)] = faces_to_prediction(det.detect(img))
            seconds[name] += time.perf_counter() - t0
    out: dict[str, dict[str, Any]] = {}
    for name in detectors:
        res = evaluate(preds[name], gt, iou)
        out[name] = {k: round(float(res[k]), 6) for k in ("easy", "medium", "hard") if k in res}
        out[name].update(predictions=int(res["num_predictions"]), seconds=round(seconds[name], 2))
        if "recall_by_size" in res:
            out[name]["recall_by_size"] = [{k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}
                                           for d in res["recall_by_size"]]
    return out


def _wider_images(gt: Any, root: Path, progress: bool | Callable[[int, int], None],
                  desc: str) -> Iterator[tuple[int, Any]]:
    """``(index, decoded image)`` of every ground-truth image found under ``root``; the missing and the
    undecodable are skipped with one :class:`EvaluationWarning` each kind, none at all is an :class:`ImageError`."""
    from featherface.io.images import load_image  # OpenCV: not for ``featherface eval --help``

    missing: list[str] = []
    unreadable: list[str] = []
    found = 0
    it: Any = range(gt.num_images)
    if progress is True:
        it = tqdm(it, desc=desc, unit="img")
    for i in it:
        path = find_wider_image(root, gt.events[i], gt.names[i])
        if path is None:
            missing.append(gt.key(i))
        else:
            try:  # the guarded reader: a decompression bomb or a FIFO is refused, not decoded or waited on
                img = load_image(path)
            except ImageError:
                unreadable.append(str(path))
            else:
                found += 1
                yield i, img
        if callable(progress):
            progress(i + 1, gt.num_images)
    if not found:
        raise ImageError(f"no validation image found under {root} (expected <event>/<image>.jpg)")
    if missing:
        warnings.warn(f"{len(missing)} validation image(s) not found under {root} (e.g. {missing[0]}.jpg)",
                      EvaluationWarning, stacklevel=3)
    if unreadable:
        warnings.warn(f"{len(unreadable)} image(s) could not be decoded (e.g. {unreadable[0]})",
                      EvaluationWarning, stacklevel=3)


def _build_detector(options: DetectorOptions, flip: bool) -> tuple[Any, bool]:
    """(our detector, whether it flips by itself); looked up at call time (tests swap the class)."""
    try:  # torch: imported when a detector is built, not for ``featherface eval --help``
        from featherface.inference.detector import FaceDetector
    except ImportError as exc:
        raise FeatherFaceError(f"our detector is not available in this installation ({exc})") from exc
    kwargs = options.kwargs(changed_only=True)  # the defaults are FaceDetector's own
    native_flip = False
    if flip:
        try:
            native_flip = "flip" in inspect.signature(FaceDetector).parameters
        except (TypeError, ValueError):  # pragma: no cover - exotic callables
            native_flip = False
        if native_flip:
            kwargs["flip"] = True
    return FaceDetector(**kwargs), native_flip


def detect_wider(gt: Any, images: str | os.PathLike[str], options: DetectorOptions | None = None, *,
                 detector: Any = None, flip: bool = False, save_predictions: str | os.PathLike[str] | None = None,
                 progress: bool = False, desc: str = "detecting") -> dict[str, np.ndarray]:
    """Run a detector over every ground-truth image; ``{event/image: (N, 5) x y w h score}``.

    ``detector``: anything with ``detect(image) -> list[Face]``; by default our
    :class:`~featherface.FaceDetector` built from ``options`` (default :func:`wider_options`).
    ``flip``: also detect on the mirrored image and merge (:func:`~featherface.evaluation.flip.flip_test`,
    NMS at ``options.nms_threshold``). ``save_predictions``: also write a standard prediction folder.
    Images not found or not decodable are skipped with an :class:`EvaluationWarning` each kind;
    none found at all is an :class:`ImageError`.
    """
    # torch and OpenCV: imported on use, not for ``featherface eval --help`` (commands/evaluate imports this module)
    from featherface.evaluation.flip import flip_test

    options = options if options is not None else wider_options()
    root = wider_image_root(images, gt.events[0])
    native_flip = False
    if detector is None:
        detector, native_flip = _build_detector(options, flip)

    preds: dict[str, np.ndarray] = {}
    for i, img in _wider_images(gt, root, progress, desc):
        if flip and not native_flip:
            arr = flip_test(detector, img, options.nms_threshold)
        else:
            arr = faces_to_prediction(detector.detect(img))
        if save_predictions is not None:
            write_predictions(save_predictions, gt.events[i], gt.names[i], arr[:, :4], arr[:, 4])
        preds[gt.key(i)] = arr
    return preds

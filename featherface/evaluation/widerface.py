"""The official WIDER FACE validation protocol (easy / medium / hard AP), numpy-vectorised.

This reproduces the semantics of the official toolkit (the MATLAB ``wider_eval`` code shipped
with the dataset and its widely used python port ``widerface_evaluate/evaluation.py``), so a
number printed here can be put next to published numbers. It is an independent implementation:
per image one IoU matrix, then every threshold of every setting from sorted cumulative counts,
instead of the toolkit's per-prediction and per-threshold Python/MATLAB loops.

Rules (each one is the official behaviour unless marked *choice*):

1. **Ground truth** comes from ``wider_face_val.mat`` (``event_list``, ``file_list``,
   ``face_bbx_list``: ``x y w h`` per face, all 39,708 faces of the 3,226 images) and
   ``wider_{easy,medium,hard}_val.mat`` (``gt_list``: per image the 1-based indices of the
   faces that *count* in that setting). A face not in a setting's list is **ignored** there.
2. **Score normalisation**: every score is mapped to ``(s - min) / (max - min)`` with min and
   max taken over all predictions of the whole set (not per image), so any detector's score
   range lands on ``[0, 1]``. *Choice*: the true min and max are used (MATLAB semantics; the
   python port starts its running min/max at 1 and 0, which only differs for scores outside
   ``[0, 1]``). *Choice*: if every score is equal (e.g. the ground truth fed back as
   predictions) all scores become 1 instead of the toolkit's 0/0 = NaN.
3. **Order**: within an image predictions are taken best score first (the MATLAB reader
   sorts them; the python port assumes the file is already sorted).
4. **IoU** uses the toolkit's pixel convention: ``x2 = x + w``, areas and intersections get a
   ``+1`` (``(x2 - x1 + 1) * (y2 - y1 + 1)``) and an intersection with a non-positive side is 0.
   So a 0-size box has area 1, and the few ground-truth boxes of width/height <= 0 in the
   official files can never be matched (as in the toolkit).
5. **Matching** (the official, slightly unusual rule): each prediction looks only at the
   ground-truth face of *highest* IoU with it (first one on ties), whether or not that face
   was already recalled. If that IoU >= ``iou_threshold`` (0.5):

   * the face is ignored in this setting -> the prediction is neither a true nor a false
     positive (the toolkit marks the proposal ``-1`` and drops it from the proposal count);
   * the face counts and is not yet recalled -> it becomes recalled (a true positive);
   * the face counts and was already recalled (a **duplicate**) -> the prediction stays a
     proposal that recalls nothing: it is a **false positive**. It is *not* re-matched to a
     second-best face, even one with IoU >= 0.5.

   A prediction below the IoU threshold is a false positive. Because a prediction's best face
   does not depend on the other predictions, matching needs no sequential loop: a counted face
   is recalled at the best score among the predictions whose best face it is.
6. **Thresholds**: 1000 score thresholds ``t_k = 1 - k/1000`` for ``k = 1..1000`` (0.999 ...
   0.0). At ``t_k`` an image contributes its predictions with normalised score ``>= t_k``:
   ``proposals`` = those not matched to an ignored face, ``recalled`` = counted faces recalled
   by them. Both are summed over images (images with no prediction or no ground-truth face
   contribute nothing, but their counted faces stay in the denominator of recall).
7. **Curve**: ``precision_k = recalled_k / proposals_k`` and ``recall_k = recalled_k /
   (number of faces that count in the setting)``. Note that precision counts recalled *faces*,
   not matched predictions, which is how duplicates become false positives. *Choice*: where no
   prediction passes a threshold precision is 0 (the toolkit divides 0 by 0; it sits at recall
   0 and cannot change the AP).
8. **AP** (VOC style): append ``(recall 0, precision 0)`` and ``(recall 1, precision 0)``,
   replace precision by its running maximum from the high-recall end (the monotone envelope)
   and sum ``delta recall * precision`` where recall changes.

Predictions come either from a folder in the standard layout (:func:`read_prediction_dir`,
strict parsing rules in :mod:`featherface.evaluation.predictions`) or from memory: a mapping
whose keys are ``"event/image"``, ``"image"`` or ``(event, image)`` (or a nested
``{event: {image: ...}}`` mapping) and whose values are ``(N, 5)`` ``x y w h score`` arrays or
lists of :class:`~featherface.types.Face`. Ground-truth images without an entry count as images
with no detections (an :class:`EvaluationWarning` says how many); entries that match no image
are ignored with a warning; two entries for one image are an error; predictions that match no
image at all are an error (a wrong folder must not read as AP 0).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from featherface.errors import FeatherFaceError, LabelFormatError
from featherface.evaluation.predictions import (
    faces_to_prediction,
    image_stem,
    read_prediction_file,
    validate_prediction_array,
    write_predictions,
)

__all__ = [
    "GT_FILES",
    "NUM_THRESHOLDS",
    "SETTINGS",
    "EvaluationWarning",
    "WiderGroundTruth",
    "average_precision",
    "evaluate",
    "evaluate_prediction_dir",
    "faces_to_prediction",
    "load_wider_ground_truth",
    "read_prediction_dir",
    "wider_iou",
    "write_predictions",
]

SETTINGS: tuple[str, ...] = ("easy", "medium", "hard")
NUM_THRESHOLDS = 1000
#: file of each part of the official ground truth
GT_FILES: dict[str, str] = {
    "all": "wider_face_val.mat",
    "easy": "wider_easy_val.mat",
    "medium": "wider_medium_val.mat",
    "hard": "wider_hard_val.mat",
}


class EvaluationWarning(UserWarning):
    """Something was skipped or assumed while evaluating (missing images, empty files, ...)."""


def _warn(msg: str) -> None:
    warnings.warn(msg, EvaluationWarning, stacklevel=3)


# --------------------------------------------------------------------------- ground truth


@dataclass(eq=False, repr=False)
class WiderGroundTruth:
    """Faces of every validation image and, per setting, which of them count.

    ``events[i]``/``names[i]`` identify image ``i`` (``names`` without extension); ``boxes[i]``
    is ``(n_i, 4)`` float64 ``x y w h``; ``keep[setting][i]`` is an ``(n_i,)`` bool mask of the
    faces that count in that setting (the others are ignored). ``keep`` values may also be given
    as the official 1-based index lists; they are converted to masks.
    """

    events: list[str]
    names: list[str]
    boxes: list[np.ndarray]
    keep: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.events) != n or len(self.boxes) != n:
            raise FeatherFaceError(
                f"ground truth: {len(self.events)} events, {n} names and {len(self.boxes)} box lists "
                "(need one of each per image)"
            )
        self.events = [str(e) for e in self.events]
        self.names = [image_stem(str(x)) for x in self.names]
        self.boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in self.boxes]
        keep: dict[str, list[np.ndarray]] = {}
        for setting, masks in self.keep.items():
            masks = list(masks)
            if len(masks) != n:
                raise FeatherFaceError(f"ground truth: setting {setting!r} lists {len(masks)} images, expected {n}")
            keep[setting] = [
                self._as_mask(m, self.boxes[i].shape[0], setting, i) for i, m in enumerate(masks)
            ]
        self.keep = keep
        self._sizes = np.array([b.shape[0] for b in self.boxes], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(np.int64)
        self._by_key: dict[tuple[str, str], int] = {}
        self._by_name: dict[str, list[int]] = {}
        for i, (e, nm) in enumerate(zip(self.events, self.names)):
            if (e, nm) in self._by_key:
                raise FeatherFaceError(f"ground truth lists image {e}/{nm} twice")
            self._by_key[(e, nm)] = i
            self._by_name.setdefault(nm, []).append(i)

    def __repr__(self) -> str:
        counted = ", ".join(f"{s}={self.num_counted(s)}" for s in self.settings)
        return f"WiderGroundTruth({self.num_images} images, {self.num_faces} faces; counted: {counted})"

    def _as_mask(self, m: Any, n_faces: int, setting: str, i: int) -> np.ndarray:
        arr = np.asarray(m)
        if arr.dtype == bool:
            if arr.size != n_faces:
                raise FeatherFaceError(
                    f"ground truth {setting!r}, image {self.events[i]}/{self.names[i]}: mask of {arr.size} "
                    f"for {n_faces} faces"
                )
            return arr.reshape(n_faces).copy()
        idx = arr.reshape(-1).astype(np.int64)
        if idx.size and (idx.min() < 1 or idx.max() > n_faces):
            raise FeatherFaceError(
                f"ground truth {setting!r}, image {self.events[i]}/{self.names[i]}: face index "
                f"{int(idx.min()) if idx.min() < 1 else int(idx.max())} outside 1..{n_faces} (indices are 1-based)"
            )
        mask = np.zeros(n_faces, dtype=bool)
        mask[idx - 1] = True
        return mask

    @property
    def num_images(self) -> int:
        return len(self.names)

    @property
    def num_faces(self) -> int:
        return int(self._offsets[-1])

    @property
    def settings(self) -> tuple[str, ...]:
        """Settings present, in the official order first (easy, medium, hard)."""
        known = [s for s in SETTINGS if s in self.keep]
        return tuple(known + [s for s in self.keep if s not in SETTINGS])

    def num_counted(self, setting: str) -> int:
        """Number of faces that count in ``setting`` (the recall denominator)."""
        return int(sum(int(m.sum()) for m in self.keep[setting]))

    def key(self, i: int) -> str:
        """``"event/image"`` of image ``i``: the relative path of its prediction file, minus ``.txt``."""
        return f"{self.events[i]}/{self.names[i]}"

    def find(self, key: Any) -> int | None:
        """Index of the image a prediction key names, or ``None``.

        Accepts ``"event/image"``, ``"image"``, either with an image extension or ``.txt``, and
        ``(event, image)`` tuples. WIDER image names are unique, so a name alone suffices; an
        entry filed under another event folder still finds its image by name.
        """
        if isinstance(key, tuple) and len(key) == 2:
            event, raw = str(key[0]), str(key[1])
        else:
            s = str(key).replace("\\", "/").strip()
            if s.lower().endswith(".txt"):
                s = s[:-4]
            parts = [p for p in s.split("/") if p and p != "."]
            if not parts:
                return None
            raw = parts[-1]
            event = parts[-2] if len(parts) >= 2 else ""
        name = image_stem(raw)
        hit = self._by_key.get((event, name))
        if hit is not None:
            return hit
        cands = self._by_name.get(name, [])
        return cands[0] if len(cands) == 1 else None

    def subset(self, indices: Iterable[int]) -> "WiderGroundTruth":
        """A ground truth restricted to some images (for quick partial runs; APs are then not comparable)."""
        idx = [int(i) for i in indices]
        return WiderGroundTruth(
            events=[self.events[i] for i in idx],
            names=[self.names[i] for i in idx],
            boxes=[self.boxes[i] for i in idx],
            keep={s: [m[i] for i in idx] for s, m in self.keep.items()},
        )

    def flat_keep(self, setting: str) -> np.ndarray:
        """All faces' keep flags of ``setting`` concatenated in image order."""
        masks = self.keep[setting]
        return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _cells(x: Any) -> list[Any]:
    """The elements of a MATLAB cell array as loaded by scipy (any shape) as a flat list."""
    return list(np.asarray(x, dtype=object).reshape(-1))


def _mat_string(x: Any) -> str:
    arr = np.asarray(x)
    while arr.dtype == object and arr.size == 1:
        arr = np.asarray(arr.reshape(-1)[0])
    if arr.size == 0:
        return ""
    return str(arr.reshape(-1)[0]) if arr.dtype.kind in "UO" else str(arr)


def _loadmat(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    try:
        from scipy.io import loadmat
    except ImportError as exc:  # pragma: no cover - scipy is a dependency
        raise FeatherFaceError("reading the WIDER ground truth needs scipy (pip install scipy)") from exc
    try:
        mat = loadmat(str(path))
    except Exception as exc:  # scipy raises many types for corrupt files
        raise FeatherFaceError(f"{path}: cannot read MATLAB file ({exc})") from exc
    missing = [k for k in keys if k not in mat]
    if missing:
        raise FeatherFaceError(f"{path}: missing variable(s) {', '.join(missing)}; is this a WIDER FACE ground-truth file?")
    return mat


def load_wider_ground_truth(gt_dir: str | os.PathLike[str]) -> WiderGroundTruth:
    """Read the four official ``.mat`` files of ``gt_dir`` (the toolkit's ``ground_truth`` folder).

    Checks that the three setting files describe the same events and image counts as
    ``wider_face_val.mat`` and that every index is a valid 1-based face index, because a
    mismatched file would silently shift which faces count.
    """
    d = Path(gt_dir)
    if not d.is_dir():
        raise FeatherFaceError(f"ground-truth folder {d} does not exist")
    missing = [f for f in GT_FILES.values() if not (d / f).is_file()]
    if missing:
        raise FeatherFaceError(
            f"ground-truth folder {d} lacks {', '.join(missing)} (the four files of the official "
            "WIDER FACE eval toolkit's ground_truth folder are needed)"
        )
    main = _loadmat(d / GT_FILES["all"], ("event_list", "file_list", "face_bbx_list"))
    event_cells = _cells(main["event_list"])
    file_cells = _cells(main["file_list"])
    box_cells = _cells(main["face_bbx_list"])
    if not (len(event_cells) == len(file_cells) == len(box_cells)):
        raise FeatherFaceError(f"{d / GT_FILES['all']}: event_list, file_list and face_bbx_list differ in length")
    events: list[str] = []
    names: list[str] = []
    boxes: list[np.ndarray] = []
    per_event: list[int] = []
    for ev, files, bbs in zip(event_cells, file_cells, box_cells):
        ev_name = _mat_string(ev)
        f_list = _cells(files)
        b_list = _cells(bbs)
        if len(f_list) != len(b_list):
            raise FeatherFaceError(f"{d / GT_FILES['all']}: event {ev_name} has {len(f_list)} files but {len(b_list)} box lists")
        per_event.append(len(f_list))
        for f, b in zip(f_list, b_list):
            events.append(ev_name)
            names.append(_mat_string(f))
            arr = np.asarray(b, dtype=np.float64)
            boxes.append(arr.reshape(-1, 4) if arr.size else np.zeros((0, 4), np.float64))
    keep: dict[str, list[np.ndarray]] = {}
    for setting in SETTINGS:
        path = d / GT_FILES[setting]
        mat = _loadmat(path, ("gt_list",))
        gl = _cells(mat["gt_list"])
        if len(gl) != len(per_event):
            raise FeatherFaceError(f"{path}: {len(gl)} events, but {GT_FILES['all']} has {len(per_event)}")
        if "event_list" in mat:
            evs = [_mat_string(e) for e in _cells(mat["event_list"])]
            if evs != [_mat_string(e) for e in event_cells]:
                raise FeatherFaceError(f"{path}: its event list differs from {GT_FILES['all']}")
        masks: list[np.ndarray] = []
        for e_i, (cell, n_img) in enumerate(zip(gl, per_event)):
            imgs = _cells(cell)
            if len(imgs) != n_img:
                raise FeatherFaceError(f"{path}: event {e_i + 1} lists {len(imgs)} images, expected {n_img}")
            for c in imgs:
                a = np.asarray(c)
                masks.append(a.reshape(-1).astype(np.int64) if a.size else np.zeros(0, np.int64))
        keep[setting] = masks
    try:
        return WiderGroundTruth(events=events, names=names, boxes=boxes, keep=keep)
    except FeatherFaceError as exc:
        raise FeatherFaceError(f"{d}: {exc}") from exc


# --------------------------------------------------------------------------- predictions


def read_prediction_dir(
    pred_dir: str | os.PathLike[str],
    gt: WiderGroundTruth | None = None,
    *,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Read a prediction folder (``<event>/<image>.txt``, any depth) into ``{key: (N, 5) array}``.

    With ``gt`` the keys are ``gt.key(i)`` (``"event/image"``); files that match no
    ground-truth image are not parsed (so a stray ``README.txt`` is harmless) and reported in one
    :class:`EvaluationWarning`; two files for one image raise :class:`LabelFormatError`.
    Without ``gt`` keys are the relative paths without ``.txt``. Empty files count as "no
    detections" and are reported in one warning. Malformed files raise ``LabelFormatError``
    naming ``file:line``.
    """
    root = Path(pred_dir)
    if not root.is_dir():
        raise FeatherFaceError(f"prediction folder {root} does not exist")
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise FeatherFaceError(f"no .txt prediction files under {root} (expected <event>/<image>.txt)")
    jobs: list[tuple[str, Path]] = []
    unknown: list[str] = []
    owner: dict[int, Path] = {}
    for f in files:
        rel = f.relative_to(root).as_posix()[:-4]
        if gt is None:
            jobs.append((rel, f))
            continue
        i = gt.find(rel)
        if i is None:
            unknown.append(rel + ".txt")
            continue
        if i in owner:
            raise LabelFormatError(f"{f}: second prediction file for image {gt.key(i)} (the first is {owner[i]})")
        owner[i] = f
        jobs.append((gt.key(i), f))
    if gt is not None and unknown:
        _warn(
            f"{len(unknown)} file(s) under {root} match no ground-truth image and were ignored "
            f"(e.g. {', '.join(unknown[:3])})"
        )
    if gt is not None and not jobs:
        raise FeatherFaceError(
            f"none of the {len(files)} .txt files under {root} matches a ground-truth image; "
            "is this a WIDER FACE val prediction folder (<event>/<image>.txt)?"
        )
    it: Iterable[tuple[str, Path]] = jobs
    if progress:
        from tqdm import tqdm

        it = tqdm(jobs, desc="reading predictions", unit="img", leave=False)
    out: dict[str, np.ndarray] = {}
    empty: list[str] = []
    for key, f in it:
        pf = read_prediction_file(f)
        if pf.empty:
            empty.append(str(f))
        out[key] = pf.boxes
    if empty:
        _warn(
            f"{len(empty)} prediction file(s) were empty and count as images with no detections "
            f"(e.g. {', '.join(empty[:3])})"
        )
    return out


def _flatten_mapping(predictions: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    items: list[tuple[Any, Any]] = []
    for k, v in predictions.items():
        if isinstance(v, Mapping):
            items.extend(((str(k), str(k2)), v2) for k2, v2 in v.items())
        else:
            items.append((k, v))
    return items


def _resolve_predictions(predictions: Mapping[Any, Any], gt: WiderGroundTruth) -> list[np.ndarray | None]:
    """Per ground-truth image: its checked ``(N, 5)`` predictions, or ``None`` when absent."""
    if not isinstance(predictions, Mapping):
        raise FeatherFaceError(
            "predictions must be a mapping {'event/image': (N, 5) x y w h score array or list of Face}"
        )
    per: list[np.ndarray | None] = [None] * gt.num_images
    source: dict[int, Any] = {}
    unknown: list[str] = []
    items = _flatten_mapping(predictions)
    for key, value in items:
        i = gt.find(key)
        if i is None:
            unknown.append("/".join(key) if isinstance(key, tuple) else str(key))
            continue
        if i in source:
            raise FeatherFaceError(
                f"two prediction entries for image {gt.key(i)}: {source[i]!r} and {key!r}"
            )
        source[i] = key
        per[i] = validate_prediction_array(value, gt.key(i))
    if not source:
        raise FeatherFaceError(
            f"none of the {len(items)} prediction entries matches a ground-truth image "
            f"(e.g. {', '.join(unknown[:3]) or 'no entries at all'})"
        )
    if unknown:
        _warn(
            f"{len(unknown)} prediction {'entry matches' if len(unknown) == 1 else 'entries match'} no "
            f"ground-truth image and {'was' if len(unknown) == 1 else 'were'} ignored (e.g. {', '.join(unknown[:3])})"
        )
    missing = gt.num_images - len(source)
    if missing:
        first = next(gt.key(i) for i, p in enumerate(per) if p is None)
        _warn(
            f"{missing} of {gt.num_images} ground-truth images have no predictions and count as "
            f"images with no detections (e.g. {first})"
        )
    return per


# --------------------------------------------------------------------------- evaluation


def wider_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """IoU matrix ``(len(a), len(b))`` with the toolkit's ``+1`` pixel convention (rule 4)."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1.0
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1.0
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0] + 1.0) * (a[:, 3] - a[:, 1] + 1.0)
    area_b = (b[:, 2] - b[:, 0] + 1.0) * (b[:, 3] - b[:, 1] + 1.0)
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=(iw > 0) & (ih > 0))
    return out


def _xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    out = b[:, :4].astype(np.float64, copy=True)
    out[:, 2] += out[:, 0]
    out[:, 3] += out[:, 1]
    return out


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC area under the monotone precision envelope (rule 8); ``recall`` must be non-decreasing."""
    mrec = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.nan_to_num(np.asarray(precision, dtype=np.float64), nan=0.0), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _count_at_least(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold, how many ``values`` are ``>=`` it (exactly the toolkit's comparison)."""
    v = np.sort(values)
    return (v.size - np.searchsorted(v, thresholds, side="left")).astype(np.int64)


def evaluate(
    predictions: Mapping[Any, Any],
    gt: WiderGroundTruth,
    iou_threshold: float = 0.5,
    *,
    num_thresholds: int = NUM_THRESHOLDS,
) -> dict[str, Any]:
    """Official WIDER FACE AP of ``predictions`` against ``gt`` for every setting of ``gt``.

    ``predictions``: ``{key: (N, 5) x y w h score}`` as returned by :func:`read_prediction_dir`,
    or any in-memory mapping described in the module docstring. Returns a dict with one float AP
    per setting (``easy``, ``medium``, ``hard``) and
    ``curves[setting] = {thresholds, precision, recall, recalled, proposals}`` (arrays of
    ``num_thresholds``, highest threshold first), ``faces[setting]`` (recall denominators),
    ``num_images``, ``images_with_predictions``, ``missing_images``, ``num_predictions``,
    ``score_range`` (the min and max used for normalisation) and ``iou_threshold``.
    """
    if not (0.0 < float(iou_threshold) <= 1.0):
        raise FeatherFaceError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if int(num_thresholds) < 1:
        raise FeatherFaceError(f"num_thresholds must be >= 1, got {num_thresholds}")
    if not gt.settings:
        raise FeatherFaceError("ground truth has no setting (easy/medium/hard keep lists)")
    per = _resolve_predictions(predictions, gt)

    # rule 2: one min-max over every prediction of the set
    all_scores = [p[:, 4] for p in per if p is not None and p.shape[0]]
    n_pred = int(sum(s.size for s in all_scores))
    if n_pred:
        lo = float(min(s.min() for s in all_scores))
        hi = float(max(s.max() for s in all_scores))
    else:
        lo = hi = 0.0

    # rules 3-5: per prediction its best face (global index) and whether IoU passes
    scores_parts: list[np.ndarray] = []
    best_parts: list[np.ndarray] = []
    hit_parts: list[np.ndarray] = []
    for i, p in enumerate(per):
        if p is None or p.shape[0] == 0 or gt.boxes[i].shape[0] == 0:
            continue  # the toolkit skips such images (their counted faces still count)
        s = (p[:, 4] - lo) / (hi - lo) if hi > lo else np.ones(p.shape[0])
        iou = wider_iou(_xywh_to_xyxy(p), _xywh_to_xyxy(gt.boxes[i]))
        best = np.argmax(iou, axis=1)
        best_iou = iou[np.arange(iou.shape[0]), best]
        scores_parts.append(s)
        best_parts.append(best + gt._offsets[i])
        hit_parts.append(best_iou >= iou_threshold)
    scores = np.concatenate(scores_parts) if scores_parts else np.zeros(0)
    best_gt = np.concatenate(best_parts) if best_parts else np.zeros(0, np.int64)
    hit = np.concatenate(hit_parts) if hit_parts else np.zeros(0, bool)

    T = int(num_thresholds)
    thresholds = 1.0 - (np.arange(T, dtype=np.float64) + 1.0) / T  # rule 6, same float ops as the toolkit
    result: dict[str, Any] = {
        "iou_threshold": float(iou_threshold),
        "num_images": gt.num_images,
        "images_with_predictions": int(sum(p is not None for p in per)),
        "missing_images": int(sum(p is None for p in per)),
        "num_predictions": n_pred,
        "score_range": (lo, hi),
        "faces": {},
        "curves": {},
    }
    for setting in gt.settings:
        keep = gt.flat_keep(setting)
        count_face = int(keep.sum())
        counted_hit = hit & keep[best_gt]
        proposal = ~(hit & ~keep[best_gt])  # rule 5: matched to an ignored face -> not a proposal
        # a counted face is recalled at the best score among the predictions that chose it
        recall_score = np.full(keep.size, -np.inf)
        np.maximum.at(recall_score, best_gt[counted_hit], scores[counted_hit])
        recalled = _count_at_least(recall_score[np.isfinite(recall_score)], thresholds)
        proposals = _count_at_least(scores[proposal], thresholds)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(proposals > 0, recalled / np.maximum(proposals, 1), 0.0)
        if count_face == 0:
            _warn(f"setting {setting!r} has no face that counts in these images; its AP is undefined (NaN)")
            recall = np.zeros(T)
            result[setting] = float("nan")
        else:
            recall = recalled / count_face
            result[setting] = average_precision(recall, precision)
        result["faces"][setting] = count_face
        result["curves"][setting] = {
            "thresholds": thresholds,
            "precision": precision,
            "recall": recall,
            "recalled": recalled,
            "proposals": proposals,
        }
    return result


def evaluate_prediction_dir(
    pred_dir: str | os.PathLike[str],
    gt: WiderGroundTruth | str | os.PathLike[str],
    iou_threshold: float = 0.5,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Read ``pred_dir`` and :func:`evaluate` it; ``gt`` is a loaded ground truth or its folder."""
    g = gt if isinstance(gt, WiderGroundTruth) else load_wider_ground_truth(gt)
    return evaluate(read_prediction_dir(pred_dir, g, progress=progress), g, iou_threshold)

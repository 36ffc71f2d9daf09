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
   faces that *count* in that setting). A face not in a setting's list is **ignored** there
   (read by :mod:`featherface.evaluation.wider_gt`).
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

Predictions come either from a folder in the standard layout
(:func:`featherface.evaluation.predictions.read_prediction_dir`, strict parsing rules there) or
from memory: a mapping whose keys are ``"event/image"``, ``"image"`` or ``(event, image)`` (or a
nested ``{event: {image: ...}}`` mapping) and whose values are ``(N, 5)`` ``x y w h score`` arrays
or lists of :class:`~featherface.types.Face`. Ground-truth images without an entry count as
images with no detections (an :class:`~featherface.evaluation.predictions.EvaluationWarning` says
how many); entries that match no image are ignored with a warning; two entries for one image are
an error; predictions that match no image at all are an error (a wrong folder must not read as
AP 0).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from featherface.errors import FeatherFaceError
from featherface.evaluation.predictions import read_prediction_dir, validate_prediction_array, warn_evaluation
from featherface.evaluation.wider_gt import WiderGroundTruth, load_wider_ground_truth

__all__ = ["NUM_THRESHOLDS", "average_precision", "evaluate", "evaluate_prediction_dir", "wider_iou", "xywh_to_xyxy"]

NUM_THRESHOLDS = 1000


# --------------------------------------------------------------------------- predictions in memory


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
        warn_evaluation(
            f"{len(unknown)} prediction {'entry matches' if len(unknown) == 1 else 'entries match'} no "
            f"ground-truth image and {'was' if len(unknown) == 1 else 'were'} ignored (e.g. {', '.join(unknown[:3])})"
        )
    missing = gt.num_images - len(source)
    if missing:
        first = next(gt.key(i) for i, p in enumerate(per) if p is None)
        warn_evaluation(
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


def xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    """WIDER's ``x y w h`` boxes (first four columns) as float64 ``x1 y1 x2 y2``."""
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


# face heights (px) of the size table: WIDER's hard setting is mostly faces under 20 px
SIZE_EDGES = (10, 20, 40, 80)


def _recall_by_size(gt: WiderGroundTruth, keep: np.ndarray, recall_score: np.ndarray, lo: float, hi: float,
                    at: float = 0.5) -> list[dict[str, Any]]:
    """Recall of the counted faces per height bucket: at the end of the ranking (every prediction) and at
    raw score ``at``. Why: AP says how much is missed, this says which faces (WIDER-hard is small faces)."""
    heights = np.concatenate([b[:, 3] for b in gt.boxes]) if gt.boxes else np.zeros(0)
    at_norm = (at - lo) / (hi - lo) if hi > lo else 0.0
    edges = (0.0, *map(float, SIZE_EDGES), float("inf"))
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = keep & (heights >= a) & (heights < b)
        n = int(sel.sum())
        name = f"<{b:g} px" if a == 0 else (f">={a:g} px" if b == float("inf") else f"{a:g}-{b:g} px")
        found = np.isfinite(recall_score[sel])
        out.append({"bucket": name, "faces": n,
                    "recall": float(found.mean()) if n else None,
                    f"recall_at_{at:g}": float((recall_score[sel] >= at_norm).mean()) if n else None})
    return out


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
    ``score_range`` (the min and max used for normalisation), ``iou_threshold`` and, with a ``hard``
    setting, ``recall_by_size`` (:func:`_recall_by_size`: the hard faces' recall per height bucket).
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
        iou = wider_iou(xywh_to_xyxy(p), xywh_to_xyxy(gt.boxes[i]))
        best = np.argmax(iou, axis=1)
        best_iou = iou[np.arange(iou.shape[0]), best]
        scores_parts.append(s)
        best_parts.append(best + gt.offsets[i])
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
            warn_evaluation(f"setting {setting!r} has no face that counts in these images; its AP is undefined (NaN)")
            recall = np.zeros(T)
            result[setting] = float("nan")
        else:
            recall = recalled / count_face
            result[setting] = average_precision(recall, precision)
        if setting == "hard":
            result["recall_by_size"] = _recall_by_size(gt, keep, recall_score, lo, hi)
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

"""From raw head outputs to faces: face scores, threshold, top-k, decode against priors, NMS.

Shared by the detector, the evaluation runner, the training learning check and the ONNX backend,
so every path turns network outputs into faces the same way. It is numpy (and OpenCV's NMS): the
tensors are small, numpy ops cost microseconds where torch's cost ~10, no OpenMP worker is left
spinning beside the next network call, and the detector runs without importing torch.
Torch tensors (CPU or not) are taken as they come; :mod:`featherface.inference.postprocess_torch`
gives training code tensors back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from featherface.inference.options import DetectorOptions
from featherface.ops.nms import batched_nms_numpy
from featherface.ops.priors import decode_box_array, decode_landmark_array

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class PostprocessConfig:
    """Thresholds of the decoding step (use ``score_threshold=0.02`` for WIDER eval). The score, NMS,
    top-k and count defaults are :class:`DetectorOptions`' (RetinaFace's), defined there once."""

    score_threshold: float = DetectorOptions.score_threshold
    nms_threshold: float = DetectorOptions.nms_threshold
    pre_nms_top_k: int = DetectorOptions.pre_nms_top_k
    max_detections: int = DetectorOptions.max_detections
    # box and landmark voting (see _vote): the IoU at which overlapping candidates vote; 0 = off.
    # Off here (training, its checks and the export checks see each prior's own regression);
    # FaceDetector turns it on.
    vote_iou: float = 0.0
    vote_min_score: float = 0.1


def as_array(x: Any) -> np.ndarray:
    """A float32 numpy view or copy of an array or a torch tensor (any device, any float dtype)."""
    if not isinstance(x, np.ndarray) and hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def face_scores(cls_logits: Any) -> np.ndarray:
    """``softmax(logits)[..., 1]`` of ``(..., 2)`` (background, face) logits, as the sigmoid of their
    difference (the same values to float rounding, without overflow at either end)."""
    c = as_array(cls_logits)
    d = c[..., 1] - c[..., 0]
    e = np.exp(-np.abs(d))
    with np.errstate(invalid="ignore"):
        return np.where(d >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


def decode_outputs(outputs: dict[str, Any], priors: Any, variances: Sequence[float] = (0.1, 0.2)
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs -> ``boxes (B,N,4)`` x1y1x2y2 and ``landmarks (B,N,10)`` normalised, ``scores (B,N)``."""
    p = as_array(priors)
    return (decode_box_array(as_array(outputs["bbox"]), p, variances), face_scores(outputs["cls"]),
            decode_landmark_array(as_array(outputs["ldm"]), p, variances))


def _candidates(scores: np.ndarray, cfg: PostprocessConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``pre_nms_top_k`` best scores above the threshold (with voting on, above the lower of it
    and ``vote_min_score``), per image: ``(image ids, prior indices, scores)``, by image, best
    first (ties: lower prior index first).

    Threshold first, then rank only the survivors: a full top-k over the ~16,800 priors costs more
    than everything after it when a few hundred pass the threshold."""
    threshold = cfg.score_threshold
    if cfg.vote_iou > 0:  # the voters too: the same boxes at every score threshold
        threshold = min(threshold, cfg.vote_min_score)
    img_ids, idx = np.nonzero(scores > threshold)  # by image, then prior
    cand = scores[img_ids, idx]
    order = np.argsort(-cand, kind="stable")
    order = order[np.argsort(img_ids[order], kind="stable")]  # by image, best first within each
    img_ids, idx, cand = img_ids[order], idx[order], cand[order]
    counts = np.bincount(img_ids, minlength=scores.shape[0])
    if len(cand) and int(counts.max()) > cfg.pre_nms_top_k:
        starts = np.cumsum(counts) - counts
        rank = np.arange(len(cand)) - starts[img_ids]
        keep = rank < cfg.pre_nms_top_k
        img_ids, idx, cand = img_ids[keep], idx[keep], cand[keep]
    return img_ids, idx, cand


def _nms_per_image(boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray, img_ids: np.ndarray,
                   bsz: int, cfg: PostprocessConfig) -> list[Detections]:
    """One batched NMS over all candidates, then each image's survivors (best first, capped),
    voted (:func:`_vote`) when ``cfg.vote_iou`` is set. The candidates of one image are contiguous;
    only those above the score threshold enter NMS, all of them vote."""
    if cfg.vote_iou > 0:  # the candidates reach down to vote_min_score: only those above the threshold
        eligible = np.flatnonzero(scores > cfg.score_threshold)
        kept = eligible[batched_nms_numpy(boxes[eligible], scores[eligible], img_ids[eligible], cfg.nms_threshold)]
    else:
        kept = batched_nms_numpy(boxes, scores, img_ids, cfg.nms_threshold)
    counts = np.bincount(img_ids, minlength=bsz).tolist()
    results = []
    start = 0
    for b in range(bsz):
        sel = kept[img_ids[kept] == b][: cfg.max_detections]
        kept_boxes, kept_scores, kept_ldm = boxes[sel], scores[sel], landmarks[sel]
        if cfg.vote_iou > 0 and len(sel):
            end = start + counts[b]
            kept_boxes, kept_ldm = _vote(kept_boxes, kept_scores, kept_ldm, boxes[start:end], scores[start:end],
                                         landmarks[start:end], cfg)
        results.append((kept_boxes, kept_scores, kept_ldm))
        start += counts[b]
    return results


def _vote(kept_boxes: np.ndarray, kept_scores: np.ndarray, kept_ldm: np.ndarray,
          boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray,
          cfg: PostprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Box and landmark voting: each kept face's box and points become the score-weighted mean of
    those of the candidates overlapping its box by IoU >= ``vote_iou`` (itself included); its
    score stays. Neighbouring priors see one face from shifted windows, and their regression
    errors partly cancel.

    Only candidates and kept faces scoring >= ``vote_min_score`` take part. Both lists are sorted
    best first, so they are prefixes, and the cost does not grow at low score thresholds."""
    n = int(np.count_nonzero(scores >= cfg.vote_min_score))
    k = int(np.count_nonzero(kept_scores >= cfg.vote_min_score))
    if not n or not k:
        return kept_boxes, kept_ldm
    out = np.concatenate([kept_boxes, kept_ldm], axis=1)
    voters = np.concatenate([boxes[:n], landmarks[:n]], axis=1)
    kb, vb = out[:k, :4], voters[:, :4]
    inter = (np.minimum(kb[:, None, 2:], vb[None, :, 2:]) - np.maximum(kb[:, None, :2], vb[None, :, :2])).clip(0, None)
    inter = inter[..., 0] * inter[..., 1]
    area_k = (kb[:, 2] - kb[:, 0]) * (kb[:, 3] - kb[:, 1])
    area_v = (vb[:, 2] - vb[:, 0]) * (vb[:, 3] - vb[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_k[:, None] + area_v[None, :] - inter)
    finite = np.isfinite(voters).all(axis=1)  # a malformed candidate never votes (nor does a NaN IoU)
    weights = np.where((iou >= cfg.vote_iou) & finite, scores[:n], np.float32(0))
    total = weights.sum(axis=1)
    has = np.flatnonzero(total > 0)
    out[has] = (weights[has] / total[has, None]) @ np.where(finite[:, None], voters, np.float32(0))
    return out[:, :4], out[:, 4:]


def select_detections(boxes: Any, scores: Any, landmarks: Any, cfg: PostprocessConfig) -> list[Detections]:
    """Per image: threshold, top-k, NMS (one batched call for the whole batch), cap.

    Inputs are ``(B, N, ...)`` already decoded; returns per image ``(boxes (K,4), scores (K,),
    landmarks (K,10))`` sorted by score, in the same coordinates as the inputs.
    """
    boxes, scores, landmarks = as_array(boxes), as_array(scores), as_array(landmarks)
    img_ids, idx, cand_scores = _candidates(scores, cfg)
    return _nms_per_image(boxes[img_ids, idx], cand_scores, landmarks[img_ids, idx], img_ids, scores.shape[0], cfg)


def postprocess(
    outputs: dict[str, Any],
    priors: Any,
    cfg: PostprocessConfig,
    variances: Sequence[float] = (0.1, 0.2),
    timings: dict[str, float] | None = None,
) -> list[Detections]:
    """Raw outputs -> per image ``(boxes (K,4), scores (K,), landmarks (K,10))``, normalised, best first.

    The detector's path: scores first, then the threshold and top-k, and only the survivors are
    decoded — at most ``pre_nms_top_k`` of the ~16,800 priors of a 640² image (32,000 at 1024²) —
    so the cost follows the number of candidates, not the image size, and NMS (kept x candidates,
    :func:`featherface.ops.nms.nms_numpy`) stays in milliseconds at the WIDER threshold of 0.02.
    Same results as :func:`decode_outputs` + :func:`select_detections`. ``timings``, when given,
    receives the seconds of ``decode`` (scores, top-k, decoding) and ``nms``, and ``candidates``.
    """
    t0 = time.perf_counter()
    scores = face_scores(outputs["cls"])
    img_ids, flat_idx, cand_scores = _candidates(scores, cfg)
    cand_priors = as_array(priors)[flat_idx]
    cand_boxes = decode_box_array(as_array(outputs["bbox"])[img_ids, flat_idx], cand_priors, variances)
    cand_ldm = decode_landmark_array(as_array(outputs["ldm"])[img_ids, flat_idx], cand_priors, variances)
    t1 = time.perf_counter()
    results = _nms_per_image(cand_boxes, cand_scores, cand_ldm, img_ids, scores.shape[0], cfg)
    if timings is not None:
        timings["decode"] = timings.get("decode", 0.0) + (t1 - t0)
        timings["nms"] = timings.get("nms", 0.0) + (time.perf_counter() - t1)
        timings["candidates"] = timings.get("candidates", 0.0) + float(len(cand_scores))
    return results


__all__ = ["Detections", "PostprocessConfig", "as_array", "decode_outputs", "face_scores", "postprocess",
           "select_detections"]

"""Export parity check: how far an exported backend's raw outputs and decoded faces are from another's.

Used by ``featherface export`` (to print how far the ONNX / INT8 files are from PyTorch right after
writing them) and by the benchmark's INT8 rows.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from featherface.export.quantize import preprocess_image
from featherface.inference.backends import RAW_OUTPUTS, make_session
from featherface.inference.options import DetectorOptions
from featherface.inference.postprocess import PostprocessConfig
from featherface.inference.postprocess_torch import decode_outputs, select_detections
from featherface.ops.anchors import generate_priors
from featherface.ops.matching import greedy_match


def raw_diff(ref: dict[str, Any], other: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per output: max absolute difference and RMS difference relative to the reference's RMS."""
    out = {}
    for k in RAW_OUTPUTS:
        a = np.asarray(ref[k], dtype=np.float64)
        b = np.asarray(other[k], dtype=np.float64)
        rms = float(np.sqrt((a ** 2).mean())) or 1.0
        out[k] = {"max_abs": float(np.abs(a - b).max()), "rel_rms": float(np.sqrt(((a - b) ** 2).mean())) / rms}
    return out


def face_scores(cls_logits: Any) -> np.ndarray:
    """Face probability per prior from ``cls`` logits (B, N, 2)."""
    return torch.softmax(torch.as_tensor(np.asarray(cls_logits), dtype=torch.float32), -1)[..., 1].numpy()


def match_faces(ref_boxes: np.ndarray, boxes: np.ndarray, iou: float = 0.5) -> tuple[int, int, int]:
    """Greedy one-to-one matching at ``iou`` -> (matched, only in ref, only in other)."""
    if len(ref_boxes) == 0 or len(boxes) == 0:
        return 0, len(ref_boxes), len(boxes)
    matched = len(greedy_match(np.asarray(ref_boxes, np.float64), np.asarray(boxes, np.float64), iou))
    return matched, len(ref_boxes) - matched, len(boxes) - matched


def decoded_faces(raw: dict[str, Any], height: int, width: int, config: Any,
                  score_threshold: float = DetectorOptions.score_threshold,
                  nms_threshold: float = DetectorOptions.nms_threshold) -> list[np.ndarray]:
    """Per image: (K, 5) boxes in input pixels + score, decoded exactly like the detector."""
    priors = generate_priors(height, width, config.min_sizes, config.steps)
    t = {k: torch.as_tensor(np.asarray(raw[k])) for k in RAW_OUTPUTS}
    boxes, scores, ldms = decode_outputs(t, priors, config.variances)
    res = select_detections(boxes, scores, ldms, PostprocessConfig(score_threshold, nms_threshold))
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    return [torch.cat([b * scale, s[:, None]], 1).numpy() for b, s, _ in res]


def compare_sessions(
    ref_run: Any,
    other_run: Any,
    batches: Iterable[np.ndarray],
    config: Any,
    score_threshold: float = DetectorOptions.score_threshold,
) -> dict[str, Any]:
    """Run two backends (callables batch -> raw dict) on ``batches``; summarise raw and face differences.

    Returns worst-case raw differences, the worst face-probability change, and face agreement
    (IoU >= 0.5 matching) at ``score_threshold``.
    """
    worst: dict[str, dict[str, float]] = {k: {"max_abs": 0.0, "rel_rms": 0.0} for k in RAW_OUTPUTS}
    score_diff = 0.0
    matched = only_ref = only_other = 0
    n = 0
    for x in batches:
        a, b = ref_run(x), other_run(x)
        a = {k: np.asarray(a[k]) for k in RAW_OUTPUTS}
        b = {k: np.asarray(b[k]) for k in RAW_OUTPUTS}
        for k, d in raw_diff(a, b).items():
            worst[k] = {m: max(worst[k][m], d[m]) for m in d}
        score_diff = max(score_diff, float(np.abs(face_scores(a["cls"]) - face_scores(b["cls"])).max()))
        h, w = x.shape[2:]
        for fa, fb in zip(decoded_faces(a, h, w, config, score_threshold),
                          decoded_faces(b, h, w, config, score_threshold)):
            m, r, o = match_faces(fa[:, :4], fb[:, :4])
            matched, only_ref, only_other = matched + m, only_ref + r, only_other + o
        n += x.shape[0]
    total = matched + only_ref
    return {
        "images": n,
        "raw": worst,
        "max_score_change": score_diff,
        "faces_ref": total,
        "faces_matched": matched,
        "faces_missing": only_ref,
        "faces_extra": only_other,
        "face_agreement": (matched / max(1, matched + only_ref + only_other)),
        "score_threshold": score_threshold,
    }


def ort_runner(path: str | os.PathLike, threads: int | None = 1) -> Any:
    """``batch -> raw dict`` callable over an ONNX file (no metadata checks: for comparisons)."""
    sess = make_session(path, threads)
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(RAW_OUTPUTS, sess.run(list(RAW_OUTPUTS), {name: np.ascontiguousarray(x, np.float32)})))

    return run


def torch_runner(model: torch.nn.Module) -> Any:
    """``batch -> raw dict`` callable over a torch model (eval, no grad)."""
    model = model.eval()

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
        return {k: out[k].numpy() for k in RAW_OUTPUTS}

    return run


def summary_line(name: str, report: dict[str, Any]) -> str:
    """One human line of a :func:`compare_sessions` report."""
    raw = report["raw"]
    return (f"{name}: on {report['images']} image(s): max |diff| bbox {raw['bbox']['max_abs']:.3g}, "
            f"cls {raw['cls']['max_abs']:.3g}, ldm {raw['ldm']['max_abs']:.3g}; relative RMS "
            f"{max(v['rel_rms'] for v in raw.values()):.3g}; face prob change <= {report['max_score_change']:.3g}; "
            f"faces at score>{report['score_threshold']}: {report['faces_matched']}/{report['faces_ref']} matched, "
            f"{report['faces_extra']} extra")


def as_batches(images: Sequence[np.ndarray], size: int, mean: Sequence[float]) -> list[np.ndarray]:
    """BGR images -> detector-style (1, 3, S, S) batches at ``size``."""
    return [preprocess_image(im, size, mean) for im in images]

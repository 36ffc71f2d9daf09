"""Shared helpers of the WIDER evaluation tests: hand-made ground truth, official-style .mat files,
and a literal (slow, loop-by-loop) transcription of the official toolkit's algorithm to check the
vectorised evaluator against."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from featherface.evaluation.wider_gt import WiderGroundTruth
from featherface.io.paths import shared_dir

SHARED_GT = shared_dir() / "data" / "widerface" / "ground_truth"


def make_gt(images: Sequence[tuple[str, str, Any, dict[str, Any]]]) -> WiderGroundTruth:
    """``images``: ``(event, name, boxes xywh, {setting: 1-based kept indices})`` per image."""
    return WiderGroundTruth(
        events=[e for e, _, _, _ in images],
        names=[n for _, n, _, _ in images],
        boxes=[np.asarray(b, dtype=np.float64).reshape(-1, 4) for _, _, b, _ in images],
        keep={
            s: [np.asarray(k[s], dtype=np.int64) for _, _, _, k in images]
            for s in ("easy", "medium", "hard")
        },
    )


def _cell(items: list[Any]) -> np.ndarray:
    a = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        a[i, 0] = x
    return a


def write_gt_mats(folder: Path, images: Sequence[tuple[str, str, Any, dict[str, Any]]]) -> Path:
    """Write the four official ground-truth files (same MATLAB cell layout as the real ones)."""
    import scipy.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    events: list[str] = []
    for e, *_ in images:
        if e not in events:
            events.append(e)
    by_event = {e: [im for im in images if im[0] == e] for e in events}
    event_list = _cell([np.array([e]) for e in events])
    file_list = _cell([_cell([np.array([n]) for _, n, _, _ in by_event[e]]) for e in events])
    bbx = _cell(
        [_cell([np.asarray(b, dtype=np.int32).reshape(-1, 4) for _, _, b, _ in by_event[e]]) for e in events]
    )
    sio.savemat(folder / "wider_face_val.mat",
                {"event_list": event_list, "file_list": file_list, "face_bbx_list": bbx})
    for s in ("easy", "medium", "hard"):
        gl = _cell(
            [_cell([np.asarray(k[s], dtype=np.uint16).reshape(-1, 1) for _, _, _, k in by_event[e]])
             for e in events]
        )
        sio.savemat(folder / f"wider_{s}_val.mat",
                    {"event_list": event_list, "file_list": file_list, "face_bbx_list": bbx, "gt_list": gl})
    return folder


# ------------------------------------------------------------------ literal reference (slow)


def _ref_overlap(gt_xyxy: np.ndarray, box: np.ndarray) -> np.ndarray:
    out = np.zeros(gt_xyxy.shape[0])
    for k, g in enumerate(gt_xyxy):
        iw = min(g[2], box[2]) - max(g[0], box[0]) + 1
        ih = min(g[3], box[3]) - max(g[1], box[1]) + 1
        if iw > 0 and ih > 0:
            ua = (g[2] - g[0] + 1) * (g[3] - g[1] + 1) + (box[2] - box[0] + 1) * (box[3] - box[1] + 1) - iw * ih
            out[k] = iw * ih / ua
    return out


def reference_ap(per_image: list[np.ndarray | None], gt: WiderGroundTruth, setting: str,
                 iou_thresh: float = 0.5, thresh_num: int = 1000) -> float:
    """The toolkit's algorithm, one prediction and one threshold at a time (sorted input, true min-max)."""
    scores = [p[:, 4] for p in per_image if p is not None and len(p)]
    lo = min(float(s.min()) for s in scores)
    hi = max(float(s.max()) for s in scores)
    pr = np.zeros((thresh_num, 2))
    count_face = 0
    for i, pred in enumerate(per_image):
        keep = gt.keep[setting][i]
        count_face += int(keep.sum())
        gtb = gt.boxes[i]
        if pred is None or len(pred) == 0 or len(gtb) == 0:
            continue
        p = pred.copy()
        p[:, 4] = (p[:, 4] - lo) / (hi - lo) if hi > lo else 1.0
        p = p[np.argsort(-p[:, 4], kind="stable")]
        pb = p[:, :4].copy()
        pb[:, 2:] += pb[:, :2]
        gb = gtb.copy()
        gb[:, 2:] += gb[:, :2]
        recall_list = np.zeros(len(gb))
        proposal_list = np.ones(len(pb))
        pred_recall = np.zeros(len(pb))
        for h in range(len(pb)):
            ov = _ref_overlap(gb, pb[h])
            idx = int(np.argmax(ov))
            if ov[idx] >= iou_thresh:
                if not keep[idx]:
                    recall_list[idx] = -1
                    proposal_list[h] = -1
                elif recall_list[idx] == 0:
                    recall_list[idx] = 1
            pred_recall[h] = np.sum(recall_list == 1)
        for t in range(thresh_num):
            thresh = 1 - (t + 1) / thresh_num
            r = np.where(p[:, 4] >= thresh)[0]
            if len(r):
                r = r[-1]
                pr[t, 0] += np.sum(proposal_list[: r + 1] == 1)
                pr[t, 1] += pred_recall[r]
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = pr[:, 1] / pr[:, 0]
    rec = pr[:, 1] / count_face
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.fmax(mpre[i - 1], mpre[i])  # MATLAB max ignores NaN
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))

"""One-to-one matching of two box sets by IoU (the comparison tools' agreement, the export check).

:func:`greedy_match` repeatedly takes the highest-IoU pair whose boxes are both still free, while
that IoU reaches the threshold. The evaluation protocols match differently on purpose, in
descending *score* order (VOC / WIDER FACE rules, :mod:`featherface.evaluation`); they share the
IoU itself (:func:`featherface.ops.boxes.iou_matrix`).
"""

from __future__ import annotations

import numpy as np

from featherface.ops.iou import iou_matrix


def greedy_match(boxes: np.ndarray, ref_boxes: np.ndarray, iou_threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one matching: repeatedly take the highest-IoU unused pair while IoU >= threshold.

    Returns ``(index in boxes, index in ref_boxes, iou)`` triples. Ties are broken by index
    (stable), so results are deterministic.
    """
    iou = iou_matrix(boxes, ref_boxes)
    if iou.size == 0:
        return []
    ii, jj = np.nonzero(iou >= iou_threshold)
    if ii.size == 0:
        return []
    vals = iou[ii, jj]
    order = np.lexsort((jj, ii, -vals))
    used_a: set[int] = set()
    used_b: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for k in order:
        i, j = int(ii[k]), int(jj[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, float(vals[k])))
    return out

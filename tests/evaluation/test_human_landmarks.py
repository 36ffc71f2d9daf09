"""Landmark sets (CUHK): the found rule and the NME arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.evaluation.human_landmarks import score_landmark_set
from featherface.types import Face


def F(x1, y1, x2, y2, s, lm=None):
    return Face.from_arrays([x1, y1, x2, y2], s, lm)


LM = np.array([[30, 40], [70, 40], [50, 60], [35, 75], [65, 75]], float)  # iod 40
BOX = np.array([0, 0, 100, 100], float)


def test_landmark_found_rule_and_nme_arithmetic():
    shifted = LM + [3, 4]  # every point 5 px off
    dets = [
        [F(0, 0, 100, 100, 0.9, shifted), F(50, 50, 60, 60, 0.95, LM)],  # best IoU wins, not best score
        [F(0, 0, 100, 100, 0.3, LM)],  # below the threshold: not found
        [F(60, 60, 160, 160, 0.9, LM)],  # IoU 0.09: not found
        [F(5, 0, 105, 100, 0.9)],  # found (IoU 0.905), no landmarks
        [F(0, 0, 100, 100, 0.8, LM + [0, 10])],  # 10 px off
    ]
    r = score_landmark_set(dets, [(BOX, LM)] * 5, threshold=0.5)
    assert (r.images, r.found, r.with_landmarks) == (5, 3, 2) and r.found_rate == 0.6
    assert r.nme == pytest.approx((5 / 100 + 10 / 100) / 2)
    assert r.nme_iod == pytest.approx((5 / 40 + 10 / 40) / 2)
    assert r.mean_iou == pytest.approx((1 + 95 / 105 + 1) / 3)
    assert score_landmark_set([[F(0, 0, 100, 100, 0.9)]], [(BOX, LM)]).nme is None

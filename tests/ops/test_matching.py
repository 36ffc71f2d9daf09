"""One-to-one greedy matching by IoU (featherface.ops.matching)."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.ops.matching import greedy_match


def test_greedy_match_takes_best_pairs_one_to_one():
    ref = np.array([[0, 0, 10, 10], [8, 0, 18, 10]], float)
    # p0 overlaps ref0 at 0.667 and ref1 barely; p1 matches ref0 perfectly -> p1-ref0 first, p0 left alone
    pred = np.array([[2, 0, 12, 10], [0, 0, 10, 10]], float)
    m = greedy_match(pred, ref, 0.5)
    assert [(i, j) for i, j, _ in m] == [(1, 0)]
    assert m[0][2] == pytest.approx(1.0)
    assert greedy_match(pred, ref, 0.1)[1][:2] == (0, 1)  # lower threshold: p0 takes ref1
    assert greedy_match(np.zeros((0, 4)), ref) == []

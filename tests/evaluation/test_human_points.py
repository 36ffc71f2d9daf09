"""Point sets (Caltech): the point scale, the finds rule, recall, unmatched detections and duplicates."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.evaluation.human_points import finds_face, point_scale, score_point_set
from featherface.types import Face


def F(x1, y1, x2, y2, s, lm=None):
    return Face.from_arrays([x1, y1, x2, y2], s, lm)


PTS = np.array([[40, 40], [60, 40], [50, 50], [50, 60]], float)  # iod 20, eyes-to-mouth 20 -> s 20


def test_point_scale_and_finds_rule():
    assert point_scale(PTS) == 20.0
    turned = np.array([[45, 40], [55, 40], [50, 50], [50, 60]], float)  # head turned: eyes close up
    assert point_scale(turned) == 20.0
    assert finds_face([25, 25, 75, 80], PTS)  # side 52.4 = 2.6 s
    assert finds_face([40, 40, 60, 60], PTS)  # tight: side 20 = 1.0 s, points on the border count
    assert not finds_face([39, 39, 59, 61], PTS)  # right eye outside
    assert not finds_face([25, 25, 75, 55], PTS)  # mouth outside
    assert finds_face([10, 10, 90, 90], PTS)  # side 80 = 4.0 s
    assert not finds_face([0, 0, 100, 100], PTS)  # side 100 = 5 s: a big box around a small face
    assert not finds_face([10, 10, 90, 90], PTS, scale=(1.0, 3.5))
    assert not finds_face([40, 40, 60, 60], PTS, scale=(1.2, 4.0))


def test_point_set_recall_unmatched_and_duplicates():
    faces_img1 = np.stack([PTS, PTS + [100, 0]])  # two faces side by side
    dets1 = [
        F(25, 25, 75, 80, 0.9),  # finds face 0
        F(28, 28, 72, 78, 0.8),  # finds face 0 again: duplicate
        F(125, 25, 175, 80, 0.3),  # finds face 1, below the threshold
        F(300, 300, 350, 350, 0.7),  # no labelled face: unmatched
        F(0, 0, 200, 200, 0.95),  # contains both faces but far too big: unmatched
    ]
    dets2 = [F(25, 25, 75, 80, 0.6)]
    r = score_point_set([dets1, dets2, []], [faces_img1, PTS[None], PTS[None]], threshold=0.5)
    assert (r.images, r.faces, r.found, r.unmatched, r.duplicates, r.detections) == (3, 4, 2, 2, 1, 5)
    assert r.recall == 0.5 and r.unmatched_per_image == pytest.approx(2 / 3)
    low = score_point_set([dets1, dets2, []], [faces_img1, PTS[None], PTS[None]], threshold=0.2)
    assert low.found == 3
    d = r.to_dict()
    assert d["curve"][0] == {"threshold": 0.1, "recall": 0.75, "unmatched_per_image": pytest.approx(0.6667, abs=1e-4)}
    assert sum(b["faces"] for b in d["by_scale"]) == 4 and d["by_scale"][2]["scale_px"] == "20-40"


def test_point_set_one_to_one_takes_the_nearest_face():
    a, b = PTS, PTS + [8, 0]  # two overlapping labelled faces
    big = F(20, 25, 90, 85, 0.9)  # finds both; its centre (55, 55) is nearer b's centroid (58, 47.5) than a's (50, 47.5)
    only_a = F(30, 25, 62, 80, 0.8)  # finds a only
    r = score_point_set([[big, only_a]], [np.stack([a, b])])
    assert r.found == 2 and r.duplicates == 0

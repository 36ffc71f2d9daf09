"""Box sets: AP and P/R with ignored small and difficult faces, P/R by face size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from featherface.data.benchmarks import BoxAnnotation
from featherface.errors import ConfigError
from featherface.evaluation.human_boxes import score_box_set
from featherface.types import Face


def F(x1, y1, x2, y2, s, lm=None):
    return Face.from_arrays([x1, y1, x2, y2], s, lm)


GT = np.array([[0, 0, 20, 20], [50, 50, 80, 80], [100, 100, 110, 110]], float)  # sizes 20, 30, 10 (ignored)
DETS = [
    F(0, 0, 20, 20, 0.9),  # TP (A)
    F(200, 200, 230, 230, 0.8),  # FP, size 30
    F(100, 100, 110, 110, 0.7),  # matches the ignored small face: ignored
    F(52, 52, 80, 80, 0.6),  # TP (B), IoU 0.87
    F(1, 1, 20, 20, 0.5),  # second detection of A: FP
    F(300, 300, 308, 308, 0.4),  # unmatched and smaller than min_face: ignored
]


def test_box_set_ap_ignored_faces_and_pr_at_threshold():
    r = score_box_set([DETS], [GT], threshold=0.55, min_face=16)
    assert (r.faces, r.ignored_faces) == (2, 1)
    # ranked, ignored ones dropped: TP FP TP FP -> rec .5 .5 1 1, prec 1 .5 .667 .5 -> AP = .5*1 + .5*2/3
    assert r.ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    np.testing.assert_allclose(r.curve["recall"], [0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(r.curve["precision"], [1.0, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(r.curve["score"], [0.9, 0.8, 0.6, 0.5])
    assert (r.tp, r.fp, r.ignored_detections) == (2, 1, 1)
    assert r.precision == pytest.approx(2 / 3) and r.recall == 1.0
    assert [b["bucket"] for b in r.by_size] == ["16-32", "32-64", "64-128", ">=128"]
    b = r.by_size[0]
    assert (b["faces"], b["found"], b["fp"], b["recall"], b["precision"]) == (2, 2, 1, 1.0, pytest.approx(2 / 3, abs=1e-4))
    assert r.by_size[1]["faces"] == 0 and r.by_size[1]["recall"] is None
    r5 = score_box_set([DETS], [GT], threshold=0.5)
    assert (r5.tp, r5.fp) == (2, 2) and r5.precision == 0.5
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ap"] == pytest.approx(0.8333, abs=1e-4) and d["curve"]["recall"] == [0.5, 0.5, 1.0, 1.0]


def test_box_set_without_size_floor_counts_small_faces_and_small_false_positives():
    r = score_box_set([DETS], [GT], threshold=0.0, min_face=0)
    assert (r.faces, r.ignored_faces) == (3, 0)
    # TP FP TP TP FP FP: rec 1/3 1/3 2/3 1 1 1; prec 1 .5 2/3 3/4 3/5 1/2
    assert r.ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 0.75 + 1 / 3 * 0.75)
    assert [b["bucket"] for b in r.by_size][0] == "0-32"


def test_box_set_difficult_faces_and_matching_preferences():
    ann = BoxAnnotation(image=None, source=None, boxes=np.array([[0, 0, 40, 40], [2, 2, 42, 42]], float),
                        labels=("a", "b"), difficult=np.array([True, False]))
    # the detection overlaps the difficult face best but takes the counted face (IoU >= 0.5)
    r = score_box_set([[F(0, 0, 40, 40, 0.9)]], [ann])
    assert (r.faces, r.ignored_faces, r.tp, r.fp) == (1, 1, 1, 0) and r.ap == 1.0
    # no labelled faces at all: AP undefined, detections >= min_face are false positives
    r = score_box_set([[F(0, 0, 40, 40, 0.9)]], [np.zeros((0, 4))])
    assert r.ap is None and r.fp == 1 and r.recall is None
    # an image without detections and an empty set
    r = score_box_set([[], [F(0, 0, 20, 20, 0.7)]], [GT[:1], GT[:1]])
    assert r.ap == pytest.approx(0.5) and r.recall == 0.5
    with pytest.raises(ConfigError):
        score_box_set([[]], [GT, GT])


def test_box_set_size_edges_split_the_faces_where_asked():
    r = score_box_set([DETS], [GT], threshold=0.55, min_face=8, size_edges=(15, 25))
    assert [b["bucket"] for b in r.by_size] == ["8-15", "15-25", ">=25"]
    assert [b["faces"] for b in r.by_size] == [1, 1, 1]  # sizes 10, 20, 30
    assert [b["found"] for b in r.by_size] == [1, 1, 1]

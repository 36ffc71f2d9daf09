"""Metrics against human labels: box-set AP and P/R (ignored small faces), the Caltech finds rule, CUHK NME."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from featherface.data.benchmarks import BoxAnnotation
from featherface.errors import ConfigError
from featherface.evaluation.human import (
    HumanEvalOptions,
    evaluate_human,
    finds_face,
    plot_box_pr,
    point_scale,
    score_box_set,
    score_landmark_set,
    score_point_set,
    voc_ap,
)
from featherface.types import Face


def F(x1, y1, x2, y2, s, lm=None):
    return Face.from_arrays([x1, y1, x2, y2], s, lm)


# --------------------------------------------------------------------------- box sets

GT = np.array([[0, 0, 20, 20], [50, 50, 80, 80], [100, 100, 110, 110]], float)  # sizes 20, 30, 10 (ignored)
DETS = [
    F(0, 0, 20, 20, 0.9),  # TP (A)
    F(200, 200, 230, 230, 0.8),  # FP, size 30
    F(100, 100, 110, 110, 0.7),  # matches the ignored small face: ignored
    F(52, 52, 80, 80, 0.6),  # TP (B), IoU 0.87
    F(1, 1, 20, 20, 0.5),  # second detection of A: FP
    F(300, 300, 308, 308, 0.4),  # unmatched and smaller than min_face: ignored
]


def test_voc_ap_hand_cases():
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == 1.0
    assert voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap(np.array([0.0, 0.5]), np.array([0.0, 0.5])) == pytest.approx(0.25)
    assert voc_ap(np.zeros(0), np.zeros(0)) == 0.0


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


# --------------------------------------------------------------------------- point sets

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


# --------------------------------------------------------------------------- landmark sets

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


# --------------------------------------------------------------------------- end to end on generated sets


def _img(path, k):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((120, 160, 3), 20 * k, np.uint8))


class KeyedDetector:
    """Returns the faces chosen for image k (images are flat, grey level 20*k)."""

    def __init__(self, by_image, name="fake"):
        self.by_image, self.name, self.calls = by_image, name, 0

    def detect(self, image):
        self.calls += 1
        return list(self.by_image.get(int(round(float(image[0, 0, 0]) / 20)), []))


def make_sets(root):
    from tests.data.test_benchmarks import voc_xml

    fm = root / "facemask-kaggle"
    (fm / "annotations").mkdir(parents=True)
    (fm / "annotations" / "x1.xml").write_text(voc_xml("x1.jpg", [("with_mask", (0, 0, 20, 20)),
                                                                   ("with_mask", (50, 50, 80, 80))], stray="junk"))
    (fm / "annotations" / "x2.xml").write_text(voc_xml("x2.jpg", [("without_mask", (10, 10, 14, 14))]))
    _img(fm / "images" / "x1.jpg", 1)
    _img(fm / "images" / "x2.jpg", 2)
    ca = root / "caltech-webfaces"
    ca.mkdir()
    (ca / "WebFaces_GroundThruth.txt").write_text("pic00001.jpg 40 40 60 40 50 50 50 60\n")
    _img(ca / "images" / "pic00001.jpg", 3)
    cu = root / "cuhk-landmarks"
    cu.mkdir()
    (cu / "landmarks.txt").write_text("images/f.jpg 0 100 0 100 30 40 70 40 50 60 35 75 65 75\n")
    _img(cu / "images" / "f.jpg", 4)
    return root


DET_FACES = {
    1: [F(0, 0, 20, 20, 0.9), F(100, 100, 130, 130, 0.6)],
    2: [F(10, 10, 14, 14, 0.9)],
    3: [F(25, 25, 75, 80, 0.8), F(120, 0, 150, 30, 0.7)],
    4: [F(0, 0, 100, 100, 0.9, LM + [3, 4])],
}


def test_evaluate_human_end_to_end_table_json_plot(tmp_path):
    root = make_sets(tmp_path / "data")
    det = KeyedDetector(DET_FACES)
    res = evaluate_human([det], facemask=root / "facemask-kaggle", caltech=root / "caltech-webfaces",
                         cuhk=root / "cuhk-landmarks", caltech_split="all", progress=False)
    rep = res.report("fake")
    fm, ca, cu = rep.sets["facemask"], rep.sets["caltech"], rep.sets["cuhk"]
    assert (fm.faces, fm.ignored_faces, fm.tp, fm.fp, fm.ignored_detections) == (2, 1, 1, 1, 1)
    assert fm.ap == pytest.approx(0.5)
    assert (ca.found, ca.unmatched, ca.recall) == (1, 1, 1.0)
    assert cu.found == 1 and cu.nme == pytest.approx(0.05) and cu.nme_iod == pytest.approx(0.125)
    assert det.calls == 4 + 1  # one untimed warm-up
    assert rep.ms_per_image is not None and len(rep.latency_ms["facemask"]) == 2
    table = res.markdown()
    head = table.splitlines()[0]
    for col in ("facemask AP@0.5 (≥16px)", "facemask P@0.5", "caltech-all R@0.5", "cuhk NME (box)", "ms/img"):
        assert col in head
    row = next(l for l in table.splitlines() if l.startswith("| fake |"))
    assert "| 0.5000 | 0.500 | 0.500 | 1.000 | 1 (1.00) | 1.000 | 0.0500 | 0.1250 |" in row
    assert "R 16-32 | P 16-32" in table
    d = json.loads(json.dumps(res.to_dict()))
    assert d["options"]["threshold"] == 0.5 and d["detectors"][0]["facemask"]["ap"] == 0.5
    assert d["sets"]["caltech"]["split"] == "all" and d["sets"]["facemask"]["images"] == 2
    png = plot_box_pr(res, tmp_path / "out" / "pr.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_human_options_limit_and_errors(tmp_path):
    root = make_sets(tmp_path / "data")
    dets = {"a": KeyedDetector(DET_FACES), "b": KeyedDetector({})}
    res = evaluate_human(dets, facemask=root / "facemask-kaggle", options=HumanEvalOptions(limit=1, progress=False))
    assert [r.name for r in res.reports] == ["a", "b"] and res.sets["facemask"]["images"] == 1
    assert res.report("b").sets["facemask"].ap == 0.0 and "cuhk" not in res.markdown()
    assert "first 1 images" in res.markdown()
    with pytest.raises(ConfigError, match="no human-labelled set"):
        evaluate_human(dets, progress=False)
    with pytest.raises(ConfigError, match="threshold"):
        evaluate_human(dets, facemask=root / "facemask-kaggle", threshold=2.0)
    with pytest.raises(ConfigError, match="share a name"):
        evaluate_human([KeyedDetector({}), KeyedDetector({})], facemask=root / "facemask-kaggle")
    assert math.isfinite(res.report("a").ms_per_image)

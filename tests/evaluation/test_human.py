"""Metrics against human labels end to end: generated sets, one run, the table, the JSON and the PR picture."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from featherface.errors import ConfigError
from featherface.evaluation.human import HumanEvalOptions, evaluate_human
from featherface.evaluation.plot import plot_box_pr
from featherface.types import Face

from tests.evaluation.test_human_landmarks import LM


def F(x1, y1, x2, y2, s, lm=None):
    return Face.from_arrays([x1, y1, x2, y2], s, lm)


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

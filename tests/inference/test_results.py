"""The one results object (issue 29): a list of Faces that also writes them, the same record everywhere."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from featherface import FaceDetector, Results
from featherface.inference.results import CSV_COLUMNS
from featherface.inference.track import TrackedFace
from featherface.io.images import read_image
from featherface.types import Face

LM = ((110.0, 120.0), (150.0, 121.0), (130.0, 140.0), (115.0, 160.0), (146.0, 161.0))


def _faces() -> list[Face]:
    return [Face((100.0, 100.0, 160.0, 180.0), 0.93, LM), Face((10.0, 10.0, 40.0, 50.0), 0.61, None)]


def test_results_is_the_list_detect_returned_before() -> None:
    res = Results(_faces(), source="a.jpg", width=320, height=240)
    assert len(res) == 2 and res[0].score == 0.93 and [f.score for f in res] == [0.93, 0.61]
    assert res == _faces() and res.faces == _faces() and isinstance(res.faces, list) and bool(res)
    assert not Results() and Results() == []
    assert "a.jpg" in repr(res) and "2 faces" in repr(res)


def test_to_dict_json_and_csv_carry_the_same_record() -> None:
    res = Results(_faces(), source="a.jpg", image=np.zeros((240, 320, 3), np.uint8))
    d = res.to_dict()
    assert d == {"file": "a.jpg", "width": 320, "height": 240, "faces": [f.to_dict() for f in _faces()]}
    assert json.loads(res.to_json()) == d
    assert all("landmarks" not in f for f in res.to_dict(landmarks=False)["faces"])
    rows = list(csv.DictReader(io.StringIO(res.to_csv())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 2
    assert [float(rows[0][k]) for k in ("x1", "y1", "x2", "y2")] == d["faces"][0]["box"]
    assert float(rows[0]["left_eye_x"]) == 110.0 and rows[1]["left_eye_x"] == "" and rows[0]["frame"] == ""


def test_tracks_are_in_the_record_but_only_seen_faces_are_drawn() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    a, b = _faces()
    res = Results([a], index=7, timestamp=0.2801, image=frame,
                  tracks=[TrackedFace(1, a), TrackedFace(2, b, missed=2)])
    d = res.to_dict()
    assert d["frame"] == 7 and d["time"] == 0.28 and [f["track_id"] for f in d["faces"]] == [1, 2]
    assert "missed" not in d["faces"][0] and d["faces"][1]["missed"] == 2
    assert res.seen == [(a, 1)]
    drawn = res.plot()
    assert drawn[100:181, 100:161].any() and not drawn[10:51, 10:41].any()  # the missed track is not drawn
    with pytest.raises(ValueError, match="no image"):
        Results(_faces()).plot()


def test_save_by_suffix(tmp_path: Path) -> None:
    res = Results(_faces(), source="a.jpg", image=np.full((240, 320, 3), 90, np.uint8))
    assert json.loads(res.save(tmp_path / "r.json").read_text()) == res.to_dict()
    assert res.save(tmp_path / "r.csv").read_text() == res.to_csv()
    assert read_image(res.save(tmp_path / "r.png")).shape == (240, 320, 3)


def test_detect_and_detect_batch_return_results(example_image: Path) -> None:
    det = FaceDetector(threads=1)
    res = det.detect(example_image)
    assert isinstance(res, Results) and res.source == str(example_image) and (res.width, res.height) == (512, 512)
    assert res and res.to_dict()["faces"][0] == res[0].to_dict()
    image = read_image(example_image)
    batch = det.detect_batch([image, example_image])
    assert [type(r) for r in batch] == [Results, Results] and batch[0].source is None
    assert batch[0] == batch[1] and len(batch[0]) == len(res)
    assert batch[0][0].box == pytest.approx(res[0].box, abs=1e-3)
    assert res.plot().shape == image.shape

"""Hard-negative mining: a detector's false faces become crops with the real faces inside them as labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.cli import main
from featherface.data.labels import ImageAnnotation, load_annotations, write_retinaface_labels
from featherface.errors import ConfigError
from featherface.negatives import crop_name, mine_hard_negatives, negative_crop
from featherface.types import Face

LMS = np.array([[112, 114], [124, 114], [118, 120], [113, 126], [123, 126]], np.float32)


class Miner:
    """Finds the labelled face, a big false face (a 'logo'), a tiny false face and one the teacher backs."""

    name = "miner"

    def detect(self, image):
        return [Face.from_arrays([100, 100, 130, 132], 0.95, LMS),   # the labelled face: not false
                Face.from_arrays([300, 40, 340, 80], 0.6, None),     # false, 40 px: mined
                Face.from_arrays([20, 300, 30, 310], 0.7, None),     # false but 10 px: below min_size
                Face.from_arrays([200, 300, 240, 340], 0.5, None)]   # false for the labels, a face for the teacher


class Teacher:
    name = "teacher"

    def detect(self, image):
        return [Face.from_arrays([102, 101, 131, 131], 0.9, LMS), Face.from_arrays([198, 302, 241, 339], 0.2, None)]


@pytest.fixture()
def labelled(tmp_path):
    (tmp_path / "images" / "ev").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images" / "ev" / "a.jpg"), np.full((360, 400, 3), 90, np.uint8))
    ann = ImageAnnotation(path="ev/a.jpg", boxes=np.array([[100, 100, 130, 130]]), landmarks=LMS[None],
                          has_landmarks=np.ones(1, bool))
    return tmp_path, write_retinaface_labels(tmp_path / "human.txt", [ann])


def test_crop_is_square_around_the_box_and_inside_the_image():
    assert negative_crop((360, 400, 3), np.array([300, 40, 340, 80]), 3.0, 64) == (260, 0, 380, 120)
    assert negative_crop((360, 400, 3), np.array([390, 350, 400, 360]), 3.0, 100) == (300, 260, 400, 360)
    assert negative_crop((50, 400, 3), np.array([0, 0, 10, 10]), 3.0, 160) == (0, 0, 50, 50)  # cut to the image


def test_only_big_false_faces_the_teacher_does_not_back_are_mined(labelled):
    root, label = labelled
    rep = mine_hard_negatives(load_annotations(label), root / "images", Miner(), root / "crops", root / "neg.txt",
                              teacher=Teacher(), context=3.0, min_side=180, progress=False)
    assert rep.scores == [0.6] and rep.rejected_by_teacher == 1 and rep.failures == []
    assert sorted(p.name for p in (root / "crops").iterdir()) == ["ev_a__neg0.jpg"]
    (ann,) = load_annotations(rep.label_file)
    assert ann.path == "ev_a__neg0.jpg"
    # crop (220, 0, 400, 180): the labelled face is not inside it; no labels, a pure negative
    assert len(ann.boxes) == 0 and cv2.imread(str(root / "crops" / ann.path)).shape[:2] == (180, 180)
    rep = mine_hard_negatives(load_annotations(label), root / "images", Miner(), root / "c2", root / "neg2.txt",
                              context=6.0, min_side=300, progress=False)
    assert len(rep.scores) == 2 and rep.rejected_by_teacher == 0  # no teacher: the backed one is mined too
    anns = load_annotations(rep.label_file)
    first = next(a for a in anns if a.path.endswith("neg0.jpg"))  # crop (100, 0, 400, 300) holds the face
    np.testing.assert_allclose(first.boxes, [[0, 100, 30, 130]], atol=0.01)
    np.testing.assert_allclose(first.landmarks[0], LMS - [100, 0], atol=0.01)
    assert first.has_landmarks.tolist() == [True]


def test_cli_hard_negatives_refusals(labelled, capsys):
    root, label = labelled
    assert main(["autolabel", str(root / "images"), "--hard-negatives", str(root / "c"), "-o", str(root / "n.txt")]) == 2
    assert "--boxes" in capsys.readouterr().err
    (root / "full").mkdir()
    (root / "full" / "x.jpg").write_bytes(b"x")
    assert main(["autolabel", str(root / "images"), "--boxes", str(label), "--hard-negatives", str(root / "full"),
                 "--teacher", "yunet:missing.onnx", "-o", str(root / "n.txt")]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="iou"):
        mine_hard_negatives([], root, Miner(), root / "c3", root / "n3.txt", iou=0.0)


def test_crop_names_stay_unique_when_two_paths_clean_to_one():
    used: set[str] = set()
    assert crop_name("ev/a b.jpg", 0, used) == "ev_a_b__neg0.jpg"
    assert crop_name("ev/a_b.png", 0, used) == "ev_a_b__neg0_1.jpg"

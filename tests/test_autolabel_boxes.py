"""autolabel --boxes: human boxes kept, the teacher's landmarks attached only where one of its faces matches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.autolabel import attach_landmarks
from featherface.cli import main
from featherface.data.labels import ImageAnnotation, load_annotations, write_retinaface_labels
from featherface.errors import ConfigError
from featherface.types import Face

LMS = np.array([[12, 14], [24, 14], [18, 20], [13, 26], [23, 26]], np.float32)


class Teacher:
    name = "fake"

    def detect(self, image):
        return [Face.from_arrays([10, 10, 30, 32], 0.9, LMS),          # matches box 0
                Face.from_arrays([200, 200, 240, 240], 0.9, LMS + 190),  # no human box there: ignored
                Face.from_arrays([61, 60, 80, 80], 0.9, None)]         # matches box 1, but has no landmarks


@pytest.fixture()
def labelled(tmp_path):
    img_dir = tmp_path / "images" / "ev"
    img_dir.mkdir(parents=True)
    cv2.imwrite(str(img_dir / "a.jpg"), np.full((256, 256, 3), 120, np.uint8))
    ann = ImageAnnotation(path="ev/a.jpg", boxes=np.array([[10, 10, 30, 30], [60, 60, 80, 80], [100, 100, 104, 104]]),
                          landmarks=np.full((3, 5, 2), -1.0), has_landmarks=np.zeros(3, bool))
    label = write_retinaface_labels(tmp_path / "human.txt", [ann])
    return tmp_path, label


def test_landmarks_only_on_matched_boxes(labelled):
    root, label = labelled
    rep = attach_landmarks(load_annotations(label), root / "images", Teacher(), root / "out.txt", progress=False)
    assert (rep.boxes, rep.with_landmarks, rep.failures) == (3, 1, [])
    (ann,) = load_annotations(rep.label_file)
    np.testing.assert_allclose(ann.boxes, [[10, 10, 30, 30], [60, 60, 80, 80], [100, 100, 104, 104]])
    assert ann.has_landmarks.tolist() == [True, False, False]
    np.testing.assert_allclose(ann.landmarks[0], LMS, atol=0.01)
    with pytest.raises(ConfigError, match="match_iou"):
        attach_landmarks([], root, Teacher(), root / "x.txt", match_iou=0.0)


def test_cli_boxes_refusals(labelled, capsys):
    root, label = labelled
    for argv, words in ((["--boxes", str(label), str(root / "images"), str(root)], "the one image folder"),
                        (["--boxes", str(label), str(root / "images"), "--val-fraction", "0.1"], "do not apply"),
                        (["--boxes", str(label), str(root / "images"), "-o", str(label), "--force"], "is also an input of this run")):
        argv = ["autolabel", *argv] + ([] if "-o" in argv else ["-o", str(root / "o.txt")])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1

"""The WIDER FACE ground truth: the official .mat layout read back, and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from featherface.errors import FeatherFaceError
from featherface.evaluation.wider_gt import load_wider_ground_truth

from _wider_eval_helpers import write_gt_mats


def test_load_ground_truth_from_official_layout(tmp_path):
    images = [
        ("0--A", "0_A_1", [[1, 2, 3, 4], [10, 10, 5, 5]], {"easy": [2], "medium": [1, 2], "hard": [1, 2]}),
        ("0--A", "0_A_2", [[7, 7, 7, 7]], {"easy": [], "medium": [], "hard": [1]}),
        ("1--B", "1_B_1", [[0, 0, 9, 9], [1, 1, 2, 2], [5, 5, 5, 5]], {"easy": [1], "medium": [1, 3], "hard": [1, 2, 3]}),
    ]
    gt = load_wider_ground_truth(write_gt_mats(tmp_path / "gt", images))
    assert gt.num_images == 3 and gt.num_faces == 6
    assert [gt.key(i) for i in range(3)] == ["0--A/0_A_1", "0--A/0_A_2", "1--B/1_B_1"]
    assert (gt.num_counted("easy"), gt.num_counted("medium"), gt.num_counted("hard")) == (2, 4, 6)
    assert gt.keep["easy"][0].tolist() == [False, True]
    np.testing.assert_array_equal(gt.boxes[2][0], [0, 0, 9, 9])
    assert gt.find("1_B_1.jpg") == 2 and gt.find("0--A/nope") is None


def test_ground_truth_errors(tmp_path):
    with pytest.raises(FeatherFaceError, match="does not exist"):
        load_wider_ground_truth(tmp_path / "absent")
    d = write_gt_mats(tmp_path / "gt", [("0--A", "x", [[1, 2, 3, 4]], {"easy": [1], "medium": [1], "hard": [1]})])
    (d / "wider_hard_val.mat").unlink()
    with pytest.raises(FeatherFaceError, match="lacks wider_hard_val.mat"):
        load_wider_ground_truth(d)
    d2 = write_gt_mats(tmp_path / "gt2", [("0--A", "x", [[1, 2, 3, 4]], {"easy": [2], "medium": [1], "hard": [1]})])
    with pytest.raises(FeatherFaceError, match=r"face index 2 outside 1..1"):
        load_wider_ground_truth(d2)

"""Prediction folders: round trip, and every malformed input gives a clear error or a counted skip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface.errors import FeatherFaceError, LabelFormatError
from featherface.evaluation.predictions import image_stem, read_prediction_file, write_predictions
from featherface.evaluation.predictions import EvaluationWarning, read_prediction_dir
from featherface.evaluation.widerface import evaluate, evaluate_prediction_dir

from _wider_eval_helpers import make_gt

BOXES = [[10, 10, 20, 20], [50, 50, 30, 30], [100, 10, 40, 44]]
KEEP = {s: [1, 2, 3] for s in ("easy", "medium", "hard")}


@pytest.fixture()
def gt():
    return make_gt([("0--Parade", "0_Parade_1", BOXES, KEEP), ("1--Handshaking", "1_Hand_2", BOXES[:2], {s: [1, 2] for s in KEEP})])


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def good_dir(root: Path) -> Path:
    write_predictions(root, "0--Parade", "0_Parade_1.jpg", np.array(BOXES, float), [0.9, 0.8, 0.7])
    write_predictions(root, "1--Handshaking", "1_Hand_2", np.array(BOXES[:2], float), [0.6, 0.5])
    return root


def test_round_trip_and_same_ap_as_in_memory(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    text = (root / "0--Parade" / "0_Parade_1.txt").read_text()
    assert text.splitlines()[:3] == ["0_Parade_1", "3", "10.000 10.000 20.000 20.000 0.9"]
    preds = read_prediction_dir(root, gt)
    assert sorted(preds) == ["0--Parade/0_Parade_1", "1--Handshaking/1_Hand_2"]
    np.testing.assert_allclose(preds["0--Parade/0_Parade_1"][:, 4], [0.9, 0.8, 0.7])
    r = evaluate_prediction_dir(root, gt)
    assert [r[s] for s in ("easy", "medium", "hard")] == [1.0, 1.0, 1.0]


def test_write_predictions_sorts_and_validates(tmp_path):
    p = write_predictions(tmp_path, "ev", "img", [[0, 0, 1, 1], [5, 5, 2, 2]], [0.1, 0.9])
    assert p.read_text().splitlines()[2].endswith(" 0.9")
    empty = write_predictions(tmp_path, "ev", "none", np.zeros((0, 4)), [])
    assert empty.read_text() == "none\n0\n"
    with pytest.raises(FeatherFaceError, match="negative box size"):
        write_predictions(tmp_path, "ev", "x", [[0, 0, -1, 1]], [0.5])
    with pytest.raises(FeatherFaceError, match="need boxes"):
        write_predictions(tmp_path, "ev", "x", [[0, 0, 1, 1]], [0.5, 0.2])
    with pytest.raises(FeatherFaceError, match="score is nan"):
        write_predictions(tmp_path, "ev", "x", [[0, 0, 1, 1]], [float("nan")])


def test_image_stem():
    assert image_stem("0--Parade/0_Parade_1.jpg") == "0_Parade_1"
    assert image_stem("img_jpg") == "img_jpg"  # not rstrip('.jpg')
    assert image_stem("a\\b\\c.PNG") == "c"


def test_bom_and_windows_line_endings_are_accepted(tmp_path):
    f = write(tmp_path / "ev" / "img.txt", "\ufeffimg.jpg\r\n2\r\n1 2 3 4 0.5 \r\n\r\n5 6 7 8 0.25\r\n\r\n")
    pf = read_prediction_file(f)
    assert pf.name == "img.jpg"
    np.testing.assert_array_equal(pf.boxes, [[1, 2, 3, 4, 0.5], [5, 6, 7, 8, 0.25]])


@pytest.mark.parametrize(
    "content, line, match",
    [
        ("img\n2\n1 2 3 4 0.5\n", 2, "announces 2 detection"),
        ("img\n1\n1 2 3 4 0.5\n1 2 3 4 0.4\n", 2, "announces 1 detection"),
        ("img\n1\n1 2 3 4\n", 3, "expected 5 values"),
        ("img\n1\n1 2 3 4 0.5 9\n", 3, "expected 5 values"),
        ("img\n2\n1 2 3 4 0.5\n1 2 x 4 0.5\n", 4, "'x' is not a number"),
        ("img\n1\n1 2 3 4 nan\n", 3, "score is nan"),
        ("img\n1\n1 2 3 4 inf\n", 3, "score is inf"),
        ("img\n1\n1 2 -3 4 0.5\n", 3, "negative box size"),
        ("img\ntwo\n", 2, "must be the number of detections"),
        ("img\n-1\n", 2, "negative number"),
        ("img\n", 2, "missing the number-of-detections line"),
        ("other_image\n0\n", 1, "names image 'other_image'"),
        ("5\n1 2 3 4 0.5\n", 1, "names image '5'"),
        ("\n0\n", 1, "empty line"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, content, line, match):
    f = write(tmp_path / "ev" / "img.txt", content)
    with pytest.raises(LabelFormatError, match=match) as info:
        read_prediction_file(f)
    assert str(info.value).startswith(f"{f}:{line}:")


def test_not_utf8_is_an_error(tmp_path):
    f = write(tmp_path / "ev" / "img.txt", b"img\n1\n1 2 3 4 0.5\xff\n")
    with pytest.raises(LabelFormatError, match="not a UTF-8 text file"):
        read_prediction_file(f)


def test_empty_files_count_as_no_detections_with_a_warning(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    write(root / "1--Handshaking" / "1_Hand_2.txt", "  \n\n")
    with pytest.warns(EvaluationWarning, match="1 prediction file.s. were empty"):
        preds = read_prediction_dir(root, gt)
    assert preds["1--Handshaking/1_Hand_2"].shape == (0, 5)
    r = evaluate(preds, gt)
    assert r["hard"] == pytest.approx(0.6) and r["missing_images"] == 0  # 3 of 5 faces, precision 1


def test_missing_images_are_counted_and_reported(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    (root / "1--Handshaking" / "1_Hand_2.txt").unlink()
    preds = read_prediction_dir(root, gt)
    with pytest.warns(EvaluationWarning, match=r"1 of 2 ground-truth images have no predictions.*1--Handshaking/1_Hand_2"):
        r = evaluate(preds, gt)
    assert r["missing_images"] == 1 and r["hard"] == pytest.approx(0.6)


def test_duplicate_image_files_are_an_error(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    write(root / "misc" / "0_Parade_1.txt", "0_Parade_1\n0\n")
    with pytest.raises(LabelFormatError, match="second prediction file for image 0--Parade/0_Parade_1"):
        read_prediction_dir(root, gt)


def test_unknown_files_are_skipped_unparsed_with_a_warning(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    write(root / "README.txt", "this is not a prediction file\n")
    write(root / "9--Other" / "9_x.txt", "garbage")
    with pytest.warns(EvaluationWarning, match="2 file.s. under .* match no ground-truth image"):
        preds = read_prediction_dir(root, gt)
    assert len(preds) == 2


def test_wrong_or_empty_folder_is_an_error(tmp_path, gt):
    with pytest.raises(FeatherFaceError, match="does not exist"):
        read_prediction_dir(tmp_path / "nope", gt)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatherFaceError, match="no .txt prediction files"):
        read_prediction_dir(tmp_path / "empty", gt)
    write(tmp_path / "other" / "x" / "y.txt", "y\n0\n")
    with pytest.raises(FeatherFaceError, match="none of the 1 .txt files"):
        with pytest.warns(EvaluationWarning):
            read_prediction_dir(tmp_path / "other", gt)


def test_malformed_file_inside_a_folder_stops_the_evaluation(tmp_path, gt):
    root = good_dir(tmp_path / "pred")
    bad = write(root / "1--Handshaking" / "1_Hand_2.txt", "1_Hand_2\n2\n1 2 3 4 0.5\n")
    with pytest.raises(LabelFormatError, match=rf"{bad}:2:"):
        evaluate_prediction_dir(root, gt)


def test_reading_without_ground_truth_keys_by_relative_path(tmp_path):
    root = good_dir(tmp_path / "pred")
    assert sorted(read_prediction_dir(root)) == ["0--Parade/0_Parade_1", "1--Handshaking/1_Hand_2"]


def test_huge_prediction_files_are_refused_before_they_are_parsed(tmp_path: Path) -> None:
    """A count beyond any detector's, a count that disagrees with a junk body, or a file of many MB:
    one-line errors, without first splitting millions of rows into Python lists."""
    from featherface.evaluation import predictions as P

    p = tmp_path / "img.txt"
    p.write_text(f"img\n{P.MAX_PREDICTIONS_PER_IMAGE + 1}\n1 2 3 4 0.5\n")
    with pytest.raises(LabelFormatError, match="detections for one image"):
        read_prediction_file(p)
    p.write_text("img\n2\n" + "1 2 3 4 0.5\n" * 50_000)
    with pytest.raises(LabelFormatError, match="announces 2 detection"):
        read_prediction_file(p)
    with open(p, "wb") as f:
        f.write(b"img\n1\n1 2 3 4 0.5\n")
        f.truncate(P.MAX_PREDICTION_FILE_BYTES + 1)
    with pytest.raises(LabelFormatError, match="too large"):
        read_prediction_file(p)

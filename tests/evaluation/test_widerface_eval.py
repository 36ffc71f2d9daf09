"""WIDER FACE evaluator: APs known by construction, official matching semantics, input forms,
and the real ground truth when ../shared is present."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from featherface.errors import FeatherFaceError
from featherface.evaluation.predictions import EvaluationWarning
from featherface.evaluation.wider_gt import load_wider_ground_truth
from featherface.evaluation.widerface import average_precision, evaluate, wider_iou
from featherface.types import Face

from _wider_eval_helpers import SHARED_GT, make_gt, reference_ap

ALL3 = {"easy": [1, 2, 3], "medium": [1, 2, 3], "hard": [1, 2, 3]}


def det(box, score):
    """One prediction row from an ``x y w h`` box."""
    return [*box, score]


def aps(result):
    return [result[s] for s in ("easy", "medium", "hard")]


# ---------------------------------------------------------------- APs known by construction


def test_perfect_detections_give_ap_one():
    boxes = [[10, 10, 20, 20], [50, 50, 30, 30], [100, 10, 40, 44]]
    gt = make_gt([("0--A", "a", boxes, ALL3), ("1--B", "b", boxes[:2], {"easy": [1], "medium": [1, 2], "hard": [1, 2]})])
    preds = {
        "0--A/a": [det(b, 0.9 - 0.1 * k) for k, b in enumerate(boxes)],
        "1--B/b": [det(b, 0.5) for b in boxes[:2]],
    }
    assert aps(evaluate(preds, gt)) == [1.0, 1.0, 1.0]


def test_detections_on_ignored_faces_change_nothing():
    boxes = [[10, 10, 20, 20], [50, 50, 30, 30], [100, 10, 40, 44]]
    keep = {"easy": [1, 2], "medium": [1, 2], "hard": [1, 2, 3]}  # face 3 ignored in easy/medium
    gt = make_gt([("0--A", "a", boxes, keep)])
    found = [det(boxes[0], 0.5), det(boxes[1], 0.4)]
    base = evaluate({"a": found}, gt)
    # the ignored face detected at the very top score: not a false positive
    with_ignored = evaluate({"a": [det(boxes[2], 0.99)] + found}, gt)
    assert with_ignored["easy"] == base["easy"] == 1.0
    assert with_ignored["medium"] == 1.0
    # hard counts face 3: the extra detection is a true positive there
    assert base["hard"] == pytest.approx(2 / 3)
    assert with_ignored["hard"] == 1.0
    # only ignored faces detected: no proposal at all, AP 0 and no false positive counted
    only = evaluate({"a": [det(boxes[2], 0.7), det(boxes[2], 0.6)]}, gt)
    assert only["easy"] == 0.0
    assert only["curves"]["easy"]["proposals"].max() == 0
    assert only["curves"]["hard"]["proposals"][-1] == 2  # counted in hard: one TP + one duplicate


def test_half_the_faces_at_top_score_no_false_positive():
    # 4 faces, 2 found exactly, every score equal (normalised to 1): recall 0.5 at precision 1
    # at every threshold; the VOC envelope appends (1, 0), so AP = 0.5 * 1 + 0.5 * 0 = 0.5
    boxes = [[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10], [60, 0, 10, 10]]
    keep = {s: [1, 2, 3, 4] for s in ("easy", "medium", "hard")}
    gt = make_gt([("0--A", "a", boxes, keep)])
    r = evaluate({"a": [det(boxes[0], 0.8), det(boxes[2], 0.8)]}, gt)
    assert aps(r) == [0.5, 0.5, 0.5]
    c = r["curves"]["easy"]
    assert np.all(c["precision"] == 1.0) and np.all(c["recall"] == 0.5)


def test_duplicate_detection_is_a_false_positive():
    # faces F1, F2. Predictions (normalised scores): F1 at 1.0, F1 again at 0.5, F2 at 0.0.
    # t in (0.5, 1): P=1/1 R=1/2;  t in (0, 0.5]: P=1/2 R=1/2 (the duplicate is a proposal that
    # recalls nothing);  t=0: P=2/3 R=1.  Envelope: 1 up to R=1/2, 2/3 up to R=1 -> AP = 5/6.
    boxes = [[0, 0, 20, 20], [100, 0, 20, 20]]
    gt = make_gt([("0--A", "a", boxes, {s: [1, 2] for s in ("easy", "medium", "hard")})])
    r = evaluate({"a": [det(boxes[0], 0.9), det([1, 0, 20, 20], 0.6), det(boxes[1], 0.3)]}, gt)
    assert r["easy"] == pytest.approx(5 / 6, abs=1e-12)
    c = r["curves"]["easy"]
    assert c["proposals"][-1] == 3 and c["recalled"][-1] == 2
    # a duplicate below every true positive cannot lower the AP (the envelope takes precision 1)
    r2 = evaluate({"a": [det(boxes[0], 0.9), det(boxes[1], 0.8), det([1, 0, 20, 20], 0.1)]}, gt)
    assert r2["easy"] == 1.0


def test_official_max_iou_rule_no_rematch_to_second_best_face():
    # G1=(0,0,100,100) and G2=(10,0,100,100) overlap (IoU 0.82). P1 = G1 exactly (top score),
    # P2 = (2,0,100,100): IoU 0.96 with G1 and 0.85 with G2. The toolkit matches P2 to its
    # max-IoU face G1, already recalled -> P2 is a false positive and G2 is never recalled.
    # t > 0: P=1 R=1/2; t = 0: P=1/2 R=1/2 -> AP = 0.5 (a greedy matcher would give 1.0).
    boxes = [[0, 0, 100, 100], [10, 0, 100, 100]]
    gt = make_gt([("0--A", "a", boxes, {s: [1, 2] for s in ("easy", "medium", "hard")})])
    r = evaluate({"a": [det(boxes[0], 0.9), det([2, 0, 100, 100], 0.4)]}, gt)
    assert aps(r) == [0.5, 0.5, 0.5]


def test_false_positive_ordering_exact_ap():
    # 3 faces; predictions FP (0.9), TP1 (0.8), TP2 (0.7) -> normalised 1, 0.5, 0.
    # t in (0.5,1): P=0 R=0;  t in (0,0.5]: P=1/2 R=1/3;  t=0: P=2/3 R=2/3.
    # Envelope: 2/3 on (0, 2/3], 0 after -> AP = 2/3 * 2/3 = 4/9 (7/18 without the envelope).
    boxes = [[0, 0, 20, 20], [100, 0, 20, 20], [200, 0, 20, 20]]
    gt = make_gt([("0--A", "a", boxes, {s: [1, 2, 3] for s in ("easy", "medium", "hard")})])
    r = evaluate({"a": [det([500, 500, 20, 20], 0.9), det(boxes[0], 0.8), det(boxes[1], 0.7)]}, gt)
    assert r["easy"] == pytest.approx(4 / 9, abs=1e-12)


def test_scores_are_normalised_over_the_whole_set():
    boxes = [[0, 0, 20, 20], [100, 0, 20, 20]]
    gt = make_gt([
        ("0--A", "a", boxes, {s: [1, 2] for s in ("easy", "medium", "hard")}),
        ("0--A", "b", boxes, {s: [1, 2] for s in ("easy", "medium", "hard")}),
    ])
    preds = {"a": [det(boxes[0], 0.9), det([300, 0, 9, 9], 0.6)], "b": [det(boxes[1], 0.7), det(boxes[0], 0.2)]}
    base = evaluate(preds, gt)["hard"]
    shifted = {k: [[*r[:4], 100 + 7 * r[4]] for r in v] for k, v in preds.items()}
    assert evaluate(shifted, gt)["hard"] == pytest.approx(base, abs=1e-12)
    assert 0 < base < 1


def test_images_without_predictions_still_count_their_faces():
    boxes = [[0, 0, 20, 20]]
    keep = {s: [1] for s in ("easy", "medium", "hard")}
    gt = make_gt([("0--A", "a", boxes, keep), ("0--A", "b", boxes, keep)])
    with pytest.warns(EvaluationWarning, match=r"1 of 2 ground-truth images have no predictions"):
        r = evaluate({"a": [det(boxes[0], 1.0)]}, gt)
    assert r["easy"] == 0.5 and r["missing_images"] == 1
    # an explicitly empty entry is the same (and no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate({"a": [det(boxes[0], 1.0)], "b": np.zeros((0, 5))}, gt)["easy"] == 0.5


def test_iou_uses_the_toolkit_plus_one_convention():
    a = np.array([[0, 0, 9, 9]], float)
    b = np.array([[5, 0, 14, 9]], float)
    # +1 convention: 10x10 boxes, intersection 5x10 -> 50 / (100 + 100 - 50)
    assert wider_iou(a, b)[0, 0] == pytest.approx(1 / 3)
    assert wider_iou(a, a)[0, 0] == 1.0
    z = np.array([[3, 3, 3, 3]], float)  # a 0-size box has area 1
    assert wider_iou(z, z)[0, 0] == 1.0
    assert wider_iou(a, np.array([[20, 20, 30, 30]], float))[0, 0] == 0.0
    neg = np.array([[5, 5, 3, 8]], float)  # ground truth of negative width never overlaps
    assert wider_iou(a, neg)[0, 0] == 0.0


def test_average_precision_envelope():
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 0.5])) == 0.75
    assert average_precision(np.array([0.0, 0.25]), np.array([np.nan, 1.0])) == 0.25
    assert average_precision(np.array([0.5]), np.array([0.4])) == pytest.approx(0.2)


def test_average_precision_hand_cases():
    """The one AP of the package: WIDER's rule 8 and the human box sets' VOC all-point AP."""
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == 1.0
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.0, 0.5]), np.array([0.0, 0.5])) == pytest.approx(0.25)
    assert average_precision(np.zeros(0), np.zeros(0)) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_matches_literal_reference_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    images = []
    preds = {}
    for i in range(12):
        n = int(rng.integers(1, 9))
        xy = rng.uniform(0, 150, (n, 2))
        wh = rng.uniform(2, 60, (n, 2))
        if n > 2:  # overlapping faces exercise the max-IoU rule
            xy[1] = xy[0] + rng.uniform(-4, 4, 2)
            wh[1] = wh[0]
        boxes = np.round(np.concatenate([xy, wh], 1))
        keep = {}
        for s, p in (("easy", 0.3), ("medium", 0.6), ("hard", 0.9)):
            keep[s] = np.flatnonzero(rng.random(n) < p) + 1
        images.append(("0--E" if i < 6 else "1--F", f"img_{i}", boxes, keep))
        if i == 5:
            continue  # one image without predictions
        k = int(rng.integers(0, 3 * n + 1))
        src = boxes[rng.integers(0, n, k)] if k else np.zeros((0, 4))
        jit = src + rng.normal(0, 3, src.shape) * np.array([1, 1, 0.5, 0.5])
        jit[:, 2:] = np.maximum(jit[:, 2:], 0)
        rand = np.concatenate([rng.uniform(0, 150, (3, 2)), rng.uniform(0, 50, (3, 2))], 1)
        b = np.concatenate([jit, rand])
        sc = np.round(rng.random(b.shape[0]), 2)  # coarse scores -> ties
        preds[f"img_{i}"] = np.concatenate([b, sc[:, None]], 1)
    gt = make_gt(images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        r = evaluate(preds, gt)
    per = [preds.get(f"img_{i}") for i in range(len(images))]
    for s in ("easy", "medium", "hard"):
        if gt.num_counted(s) == 0:
            continue
        assert r[s] == pytest.approx(reference_ap(per, gt, s), abs=1e-12), s


# ---------------------------------------------------------------- input forms and errors


def _gt_two():
    boxes = [[0, 0, 20, 20], [100, 0, 20, 20]]
    keep = {s: [1, 2] for s in ("easy", "medium", "hard")}
    return make_gt([("0--A", "a", boxes, keep), ("1--B", "b", boxes, keep)]), boxes


def test_prediction_key_forms_and_face_lists_agree():
    gt, boxes = _gt_two()
    arr = np.array([det(boxes[0], 0.9), det([300, 0, 5, 5], 0.5)])
    faces = [Face(box=(0.0, 0.0, 20.0, 20.0), score=0.9), Face(box=(300.0, 0.0, 305.0, 5.0), score=0.5)]
    forms = [
        {"0--A/a": arr, "1--B/b": arr},
        {"a.jpg": arr, "b": arr},
        {("0--A", "a"): arr, ("1--B", "b.jpg"): arr},
        {"0--A": {"a": arr}, "1--B": {"b": arr}},
        {"0--A/a": faces, "1--B/b": faces},
        {"0--A/a.txt": arr.tolist(), "wrong-event/b": arr},  # name alone identifies a WIDER image
    ]
    values = [evaluate(f, gt)["hard"] for f in forms]
    assert values == [values[0]] * len(values) and 0 < values[0] < 1


def test_two_entries_for_one_image_is_an_error():
    gt, boxes = _gt_two()
    with pytest.raises(FeatherFaceError, match="two prediction entries for image 0--A/a"):
        evaluate({"0--A/a": [det(boxes[0], 1)], "a.jpg": [det(boxes[0], 1)], "b": []}, gt)


def test_unknown_entries_warn_and_no_match_at_all_is_an_error():
    gt, boxes = _gt_two()
    with pytest.warns(EvaluationWarning, match="1 prediction entry matches no ground-truth image"):
        evaluate({"a": [det(boxes[0], 1)], "b": [], "zzz": [det(boxes[0], 1)]}, gt)
    with pytest.raises(FeatherFaceError, match="none of the 2 prediction entries"):
        evaluate({"x": [], "y": []}, gt)
    with pytest.raises(FeatherFaceError, match="mapping"):
        evaluate([det(boxes[0], 1)], gt)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "row, match",
    [
        ([0, 0, 10, 10, float("nan")], "score is nan"),
        ([0, 0, 10, float("inf"), 0.5], "h is inf"),
        ([0, 0, -3, 10, 0.5], "negative box size"),
    ],
)
def test_invalid_in_memory_values_are_errors(row, match):
    gt, _ = _gt_two()
    with pytest.raises(FeatherFaceError, match=match):
        evaluate({"a": [row], "b": []}, gt)


def test_bad_shape_and_iou_argument():
    gt, _ = _gt_two()
    with pytest.raises(FeatherFaceError, match=r"shape \(N, 5\)"):
        evaluate({"a": np.zeros((2, 4)), "b": []}, gt)
    with pytest.raises(FeatherFaceError, match="iou_threshold"):
        evaluate({"a": [], "b": []}, gt, iou_threshold=0)


def test_higher_iou_threshold_is_stricter():
    gt, boxes = _gt_two()
    preds = {"a": [det([3, 3, 20, 20], 0.9), det(boxes[1], 0.8)], "b": [det(boxes[0], 0.7)]}
    assert evaluate(preds, gt, 0.7)["hard"] < evaluate(preds, gt, 0.5)["hard"]


# ---------------------------------------------------------------- the real ground truth


@pytest.mark.shared
def test_real_ground_truth_counts_and_self_evaluation():
    if not (SHARED_GT / "wider_face_val.mat").is_file():
        pytest.skip(f"official WIDER FACE ground truth not found at {SHARED_GT}")
    gt = load_wider_ground_truth(SHARED_GT)
    assert gt.num_images == 3226 and gt.num_faces == 39708
    assert len(set(gt.events)) == 61
    assert (gt.num_counted("easy"), gt.num_counted("medium"), gt.num_counted("hard")) == (7211, 13319, 31958)
    # the ground truth itself as predictions (score 1). A handful of official boxes have a
    # negative width/height (they can never be matched) and are clipped to 0 to be valid
    # predictions; one box is listed twice. So AP is 1 up to those few faces.
    preds = {
        gt.key(i): np.concatenate([np.maximum(b, 0), np.ones((len(b), 1))], 1) for i, b in enumerate(gt.boxes)
    }
    r = evaluate(preds, gt)
    for s in ("easy", "medium", "hard"):
        assert r[s] == pytest.approx(1.0, abs=1e-3), s
    assert r["missing_images"] == 0 and r["num_predictions"] == 39708


def test_recall_by_size_counts_the_hard_faces_per_height_bucket():
    boxes = [[0, 0, 8, 8], [20, 0, 15, 15], [40, 0, 30, 30], [80, 0, 100, 100], [200, 0, 6, 6]]
    gt = make_gt([("0--Parade", "a", boxes, {"easy": [4], "medium": [3, 4], "hard": [1, 2, 3, 4]})])  # face 5 ignored
    # the 15-px face at 0.9, the 100-px face at 0.3, the 8-px face missed, a false positive at 0.1
    pred = np.array([[20, 0, 15, 15, 0.9], [80, 0, 100, 100, 0.3], [300, 300, 10, 10, 0.1]])
    rows = {d["bucket"]: d for d in evaluate({"0--Parade/a": pred}, gt)["recall_by_size"]}
    assert list(rows) == ["<10 px", "10-20 px", "20-40 px", "40-80 px", ">=80 px"]
    assert [rows[b]["faces"] for b in rows] == [1, 1, 1, 0, 1]  # the ignored 6-px face is not counted
    assert rows["<10 px"]["recall"] == 0.0 and rows["10-20 px"]["recall"] == 1.0 and rows[">=80 px"]["recall"] == 1.0
    assert rows["10-20 px"]["recall_at_0.5"] == 1.0 and rows[">=80 px"]["recall_at_0.5"] == 0.0  # 0.3 < 0.5
    assert rows["40-80 px"]["recall"] is None

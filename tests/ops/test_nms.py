import numpy as np
import pytest
import torch

from featherface.ops.nms import nms_numpy, nms_reference_numpy
from featherface.ops.nms_torch import batched_nms, nms, nms_reference


def brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Textbook greedy NMS, one box at a time."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            xx1, yy1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            xx2, yy2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, xx2 - xx1) * max(0.0, yy2 - yy1)
            ua = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1]) + \
                 (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1]) - inter
            if ua > 0 and inter / ua > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_brute_force(seed, thr):
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 60, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    got = nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).tolist()
    assert got == brute_force_nms(boxes.astype(np.float64), scores, thr)


def test_nms_empty_and_batched_groups_independent():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 11, 11]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    groups = torch.tensor([0, 1, 0])
    kept = sorted(batched_nms(boxes, scores, groups, 0.5).tolist())
    assert kept == [0, 1]  # identical boxes in different images both survive


def test_nms_numpy():
    """The numpy variant (peer decoders, flip-test merge): int64 indices, best first, optional top_k."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    assert nms_numpy(boxes, np.array([0.5, 0.9, 0.7]), 0.3).tolist() == [1, 2]
    assert nms_numpy(boxes, np.array([0.5, 0.9, 0.7]), 0.3, top_k=1).tolist() == [1]
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    assert nms_numpy(boxes, np.array([0.5, 0.9, 0.7]), 0.4).tolist() == [1, 2]
    assert nms_numpy(np.zeros((0, 4)), np.zeros(0), 0.4).tolist() == []
    assert nms_numpy(boxes, np.array([0.5, 0.9, 0.7]), 0.4).dtype == np.int64


@pytest.mark.parametrize("thr", [0.3, 0.4, 0.7])
def test_opencv_path_equals_the_reference_loop_on_clustered_faces(thr: float) -> None:
    """Detector-like input: clusters of jittered boxes around faces, with exact score ties."""
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 600, (40, 2))
    sizes = rng.uniform(10, 120, 40)
    k = rng.integers(0, 40, 2000)
    jitter = rng.normal(0, 0.15, (2000, 4)) * sizes[k, None]
    c = centres[k]
    half = sizes[k, None] / 2
    boxes = np.concatenate([c - half, c + half], 1) + jitter
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    scores = np.round(rng.uniform(0.02, 1, 2000), 2)  # many ties
    b, s = torch.from_numpy(boxes.astype(np.float32)), torch.from_numpy(scores.astype(np.float32))
    assert nms(b, s, thr).tolist() == nms_reference(b, s, thr).tolist()


def test_malformed_boxes_take_the_reference_loop() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 5, 5], [0, 0, 10, 10], [20, 20, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.5, 0.9, float("nan"), 0.7])
    assert nms(boxes, scores, 0.4).tolist() == nms_reference(boxes, scores, 0.4).tolist()
    zero = torch.tensor([0.9, 0.0, 0.5, 0.7])
    assert nms(boxes, zero, 0.4).tolist() == nms_reference(boxes, zero, 0.4).tolist()


def test_numpy_reference_orders_nan_scores_like_torch() -> None:
    """The numpy loop is the one rule behind the tensor wrappers: NaN scores rank first, ties keep input order."""
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40]], np.float32)
    scores = np.array([0.5, np.nan, 0.5, 0.9], np.float32)
    assert nms_reference_numpy(boxes, scores, 0.5).tolist() == [1, 3]
    order = torch.argsort(torch.from_numpy(scores), descending=True, stable=True).tolist()
    assert order[0] == 1 and nms_reference_numpy(boxes, scores, 1.0).tolist() == order

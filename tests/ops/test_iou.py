"""IoU of numpy boxes (tracking, matching, evaluation) against the tensor IoU of training."""

import numpy as np
import torch

from featherface.ops.boxes import box_iou
from featherface.ops.iou import iou_matrix


def test_iou_matrix_equals_box_iou_and_zero_for_empty_unions() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (30, 2))
    a = np.concatenate([xy, xy + rng.uniform(0, 40, (30, 2))], 1)
    b = a[::-1] + rng.normal(0, 5, a.shape)
    want = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(iou_matrix(a, b), want, rtol=1e-12, atol=1e-12)
    point = np.array([[5.0, 5.0, 5.0, 5.0]])
    assert iou_matrix(point, point).tolist() == [[0.0]]
    assert iou_matrix(np.zeros((0, 4)), a).shape == (0, 30)

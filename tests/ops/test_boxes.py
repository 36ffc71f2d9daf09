import numpy as np
import pytest
import torch

from featherface.ops.anchors import generate_priors
from featherface.ops.boxes import (box_iou, cxcywh_to_xyxy, decode_boxes, decode_landmarks, encode_boxes,
                                   encode_landmarks, xyxy_to_cxcywh)
from featherface.ops.iou import iou_matrix


def test_encode_decode_round_trip():
    torch.manual_seed(0)
    priors = generate_priors(320, 320)
    idx = torch.randint(0, priors.shape[0], (500,))
    pr = priors[idx]
    c = torch.rand(500, 2)
    wh = torch.rand(500, 2) * 0.5 + 0.01
    gt = cxcywh_to_xyxy(torch.cat([c, wh], 1))
    assert torch.allclose(decode_boxes(encode_boxes(gt, pr), pr), gt, atol=1e-5)
    lm = torch.rand(500, 10)
    assert torch.allclose(decode_landmarks(encode_landmarks(lm, pr), pr), lm, atol=1e-5)


def test_known_encoding_values():
    prior = torch.tensor([[0.5, 0.5, 0.1, 0.1]])
    gt = torch.tensor([[0.46, 0.46, 0.56, 0.56]])  # centre +0.01, size 0.1
    t = encode_boxes(gt, prior)
    assert torch.allclose(t, torch.tensor([[1.0, 1.0, 0.0, 0.0]]), atol=1e-5)  # 0.01 / (0.1 * 0.1)


def test_batched_decode_broadcasts():
    priors = generate_priors(64, 64)
    loc = torch.zeros(3, priors.shape[0], 4)
    out = decode_boxes(loc, priors)
    assert out.shape == (3, priors.shape[0], 4)
    assert torch.allclose(out[1], cxcywh_to_xyxy(priors))


def test_iou_values_and_conversions():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 2.0, 2.0]])
    assert torch.allclose(box_iou(a, b), torch.tensor([[1 / 7, 0.0, 1.0]]))
    assert torch.allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b)
    assert box_iou(torch.tensor([[1.0, 1.0, 1.0, 1.0]]), torch.tensor([[1.0, 1.0, 1.0, 1.0]])).item() == 0.0


def test_iou_matrix_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    m = iou_matrix(a, b)
    assert m[0] == pytest.approx([1.0, 50 / 150, 0.0])
    assert m[1] == pytest.approx([0, 0, 0])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


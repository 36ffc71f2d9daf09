"""Matching and MultiBoxLoss on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from featherface.ops.anchors import generate_priors
from featherface.ops.boxes import box_iou, cxcywh_to_xyxy
from featherface.training.loss import MultiBoxLoss, hard_negative_mask
from featherface.training.matching import match_priors, pad_targets

SIZE = 64  # 64x64 input: 8x8, 4x4, 2x2 cells -> 2*(64+16+4) = 168 priors


@pytest.fixture(scope="module")
def priors() -> torch.Tensor:
    return generate_priors(SIZE, SIZE)


def _prior_index(priors: torch.Tensor, cx_px: float, cy_px: float, size_px: float) -> int:
    hit = ((priors[:, 0] - cx_px / SIZE).abs() < 1e-6) & ((priors[:, 1] - cy_px / SIZE).abs() < 1e-6) \
        & ((priors[:, 2] - size_px / SIZE).abs() < 1e-6)
    (idx,) = torch.nonzero(hit, as_tuple=True)
    assert idx.numel() == 1
    return int(idx)


def _square(cx: float, cy: float, side: float) -> torch.Tensor:
    """Normalised x1y1x2y2 of a square in pixels of the 64x64 input."""
    h = side / 2
    return torch.tensor([[cx - h, cy - h, cx + h, cy + h]]) / SIZE


def _zero_outputs(n_images: int, n_priors: int) -> dict[str, torch.Tensor]:
    return {"bbox": torch.zeros(n_images, n_priors, 4, requires_grad=True),
            "cls": torch.zeros(n_images, n_priors, 2, requires_grad=True),
            "ldm": torch.zeros(n_images, n_priors, 10, requires_grad=True)}


def _target(boxes: torch.Tensor, landmarks: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    n = boxes.shape[0]
    if landmarks is None:
        return {"boxes": boxes, "landmarks": torch.full((n, 10), -1.0), "has_landmarks": torch.zeros(n, dtype=torch.bool)}
    return {"boxes": boxes, "landmarks": landmarks, "has_landmarks": torch.ones(n, dtype=torch.bool)}


def test_gt_exactly_on_a_prior_is_positive_with_zero_loc_loss(priors: torch.Tensor) -> None:
    k = _prior_index(priors, 28.0, 20.0, 16)  # cell (row 2, col 3) of the stride-8 level
    gt = cxcywh_to_xyxy(priors[k:k + 1])
    t = pad_targets([_target(gt)])
    m = match_priors(t.boxes, t.valid, priors)
    assert bool(m.positive[0, k]) and int(m.gt_index[0, k]) == 0
    # neighbours at +-8 px overlap 1/3 < 0.35 and the 32 px prior 1/4: the only positive
    assert int(m.positive.sum()) == 1
    out = _zero_outputs(1, priors.shape[0])
    loss = MultiBoxLoss()(out, [_target(gt)], priors=priors)
    assert loss.loc.item() == 0.0
    assert loss.num_pos.item() == 1.0


def test_best_prior_is_forced_when_iou_below_threshold(priors: torch.Tensor) -> None:
    k = _prior_index(priors, 28.0, 20.0, 16)
    gt = _square(28.0, 20.0, 9.0)  # IoU with the 16 px prior = 81/256 = 0.32 < 0.35
    iou = box_iou(gt[None], cxcywh_to_xyxy(priors))[0, 0]
    assert 0.2 <= float(iou.max()) < 0.35 and int(iou.argmax()) == k
    t = pad_targets([_target(gt)])
    m = match_priors(t.boxes, t.valid, priors)
    assert torch.nonzero(m.positive[0]).flatten().tolist() == [k]
    assert float(m.iou[0, k]) == 2.0
    # too small to be forced (IoU 36/256 = 0.14 < force_min_iou 0.2): no positive at all
    t = pad_targets([_target(_square(28.0, 20.0, 6.0))])
    assert int(match_priors(t.boxes, t.valid, priors).positive.sum()) == 0
    # ... unless forcing is allowed down to any overlap
    assert int(match_priors(t.boxes, t.valid, priors, force_min_iou=0.0).positive.sum()) == 1


def test_two_faces_sharing_a_best_prior_later_face_wins(priors: torch.Tensor) -> None:
    k = _prior_index(priors, 28.0, 20.0, 16)
    a = _square(27.5, 20.0, 9.0)
    b = _square(28.5, 20.0, 9.0)
    t = pad_targets([_target(torch.cat([a, b]))])
    m = match_priors(t.boxes, t.valid, priors)
    assert bool(m.positive[0, k]) and int(m.gt_index[0, k]) == 1


def test_padding_rows_never_match_and_chunking_is_identical(priors: torch.Tensor) -> None:
    torch.manual_seed(0)
    targets = []
    for n in (3, 0, 1, 5):
        c = torch.rand(n, 2) * 0.8 + 0.1
        s = torch.rand(n, 1) * 0.4 + 0.05
        targets.append(_target(torch.cat([c - s / 2, c + s / 2], 1).clamp(0, 1)))
    t = pad_targets(targets)
    assert t.boxes.shape == (4, 5, 4) and t.valid.sum(1).tolist() == [3, 0, 1, 5]
    full = match_priors(t.boxes, t.valid, priors)
    assert int(full.positive[1].sum()) == 0  # the image without faces
    for b, n in enumerate((3, 0, 1, 5)):
        assert bool((full.gt_index[b][full.positive[b]] < n).all())
    chunked = match_priors(t.boxes, t.valid, priors, max_elements=1)  # one image per chunk
    assert torch.equal(full.gt_index, chunked.gt_index) and torch.equal(full.positive, chunked.positive)


def test_hard_negative_count_is_three_per_positive() -> None:
    torch.manual_seed(0)
    bg = torch.rand(3, 200)
    pos = torch.zeros(3, 200, dtype=torch.bool)
    pos[0, [5, 50, 99]] = True  # 3 positives -> 9 negatives
    pos[2, :60] = True  # 60 positives -> 180 wanted, only 140 non-positives left
    neg = hard_negative_mask(bg, pos, 3.0)
    assert neg.sum(1).tolist() == [9, 0, 140]
    assert not bool((neg & pos).any())
    # they are the non-positives with the largest background loss
    cand = bg[0].masked_fill(pos[0], -1.0)
    assert set(torch.topk(cand, 9).indices.tolist()) == set(torch.nonzero(neg[0]).flatten().tolist())


def test_classification_loss_by_hand(priors: torch.Tensor) -> None:
    torch.manual_seed(1)
    k = _prior_index(priors, 28.0, 20.0, 16)
    gt = cxcywh_to_xyxy(priors[k:k + 1])
    out = _zero_outputs(1, priors.shape[0])
    logits = torch.randn(1, priors.shape[0], 2)
    out["cls"] = logits.clone().requires_grad_(True)
    loss = MultiBoxLoss()(out, [_target(gt)], priors=priors)
    logp = F.log_softmax(logits[0], -1)
    bg = -logp[:, 0].clone()
    bg[k] = -math.inf
    negs = torch.topk(bg, 3).indices
    expected = -logp[k, 1] - logp[negs, 0].sum()
    assert loss.cls.item() == pytest.approx(float(expected), rel=1e-5)
    loss.total.backward()
    assert int((out["cls"].grad.abs().sum(-1) > 0).sum()) == 4  # 1 positive + 3 hard negatives


def test_faces_without_landmarks_give_no_landmark_loss(priors: torch.Tensor) -> None:
    torch.manual_seed(2)
    crit = MultiBoxLoss()
    out = _zero_outputs(1, priors.shape[0])
    out["ldm"] = torch.randn(1, priors.shape[0], 10, requires_grad=True)
    face = _square(28.0, 20.0, 16.0)
    no_lm = crit(out, [_target(face)], priors=priors)
    assert no_lm.ldm.item() == 0.0 and no_lm.num_pos_ldm.item() == 0.0 and no_lm.num_pos.item() >= 1
    no_lm.total.backward()
    assert float(out["ldm"].grad.abs().sum()) == 0.0
    lms = torch.tensor([[24, 16, 32, 16, 28, 20, 25, 24, 31, 24]], dtype=torch.float32) / SIZE
    with_lm = crit(out, [_target(face, lms)], priors=priors)
    assert with_lm.ldm.item() > 0.0
    # a face without landmarks next to one with: only the latter's priors contribute
    other = _square(44.0, 44.0, 16.0)
    mixed_targets = [{"boxes": torch.cat([face, other]), "landmarks": torch.cat([torch.full((1, 10), -1.0), lms + 16 / SIZE]),
                      "has_landmarks": torch.tensor([False, True])}]
    mixed = crit(out, mixed_targets, priors=priors)
    only = crit(out, [_target(other, lms + 16 / SIZE)], priors=priors)
    assert mixed.ldm.item() == pytest.approx(only.ldm.item(), rel=1e-6)
    assert mixed.num_pos_ldm.item() == only.num_pos_ldm.item()


def test_ldm_beta_is_the_landmark_smooth_l1_beta_and_leaves_the_box_term(priors: torch.Tensor) -> None:
    torch.manual_seed(3)
    out = _zero_outputs(1, priors.shape[0])
    out["ldm"] = (0.3 * torch.randn(1, priors.shape[0], 10)).requires_grad_(True)
    out["bbox"] = (0.3 * torch.randn(1, priors.shape[0], 4)).requires_grad_(True)
    face = _square(28.0, 20.0, 16.0)
    lms = torch.tensor([[24, 16, 32, 16, 28, 20, 25, 24, 31, 24]], dtype=torch.float32) / SIZE
    target = [_target(face, lms)]
    ref = MultiBoxLoss()(out, target, priors=priors)
    l1 = MultiBoxLoss(ldm_beta=0.0)(out, target, priors=priors)
    assert l1.loc.item() == ref.loc.item() and l1.cls.item() == ref.cls.item()
    assert l1.num_pos_ldm.item() == ref.num_pos_ldm.item() >= 1
    # every coordinate's L1 is >= its smooth-L1 (beta 1), strictly unless the error is 0 or >= 2
    assert l1.ldm.item() > ref.ldm.item() > 0.0


def test_batch_loss_is_the_positive_weighted_sum_of_per_image_losses(priors: torch.Tensor) -> None:
    torch.manual_seed(3)
    crit = MultiBoxLoss()
    n = priors.shape[0]
    out = {"bbox": torch.randn(3, n, 4), "cls": torch.randn(3, n, 2), "ldm": torch.randn(3, n, 10)}
    lms = torch.rand(2, 10) * 0.5 + 0.25
    targets = [_target(torch.cat([_square(28, 20, 16), _square(40, 40, 30)]), lms),
               _target(_square(30, 34, 24)),
               _target(torch.zeros(0, 4))]
    batch = crit(out, targets, priors=priors)
    parts = [crit({k: v[i:i + 1] for k, v in out.items()}, [targets[i]], priors=priors) for i in range(3)]
    npos = batch.num_pos.item()
    assert npos == sum(p.num_pos.item() for p in parts)
    for name in ("loc", "cls"):
        expected = sum(getattr(p, name).item() * max(1.0, p.num_pos.item()) for p in parts if p.num_pos.item() > 0) / npos
        assert getattr(batch, name).item() == pytest.approx(expected, rel=1e-5)
    assert batch.total.item() == pytest.approx(2.0 * batch.loc.item() + batch.cls.item() + batch.ldm.item(), rel=1e-6)


def test_loss_handles_a_batch_without_faces_and_checks_prior_count(priors: torch.Tensor) -> None:
    out = _zero_outputs(2, priors.shape[0])
    loss = MultiBoxLoss()(out, [_target(torch.zeros(0, 4))] * 2, image_size=(SIZE, SIZE))
    assert loss.total.item() == 0.0
    loss.total.backward()
    with pytest.raises(ValueError, match="priors"):
        MultiBoxLoss()(out, [_target(torch.zeros(0, 4))] * 2, image_size=(96, 96))

"""Post-processing: the detector's top-k-first path against the decode-everything reference."""

from __future__ import annotations

import pytest
import torch

from featherface.inference.postprocess import PostprocessConfig, postprocess
from featherface.inference.postprocess_torch import decode_outputs, select_detections
from featherface.ops.anchors import PriorBox


@pytest.mark.parametrize("thr", [0.02, 0.5])
def test_topk_first_postprocess_equals_decode_then_select(thr: float) -> None:
    """The detector's path (scores, top-k, then decode the survivors) gives exactly the faces of
    decoding every prior first."""
    torch.manual_seed(0)
    priors = PriorBox(((16, 32), (64, 128), (256, 512)), (8, 16, 32))(320, 256, torch.device("cpu"))
    n = priors.shape[0]
    out = {"bbox": torch.randn(2, n, 4) * 0.5, "cls": torch.randn(2, n, 2) * 2, "ldm": torch.randn(2, n, 10)}
    cfg = PostprocessConfig(thr, 0.4, pre_nms_top_k=1500, max_detections=300)
    ref = select_detections(*decode_outputs(out, priors), cfg)  # tensors, every prior decoded by torch
    got = [tuple(map(torch.as_tensor, r)) for r in postprocess(out, priors, cfg)]  # numpy, candidates only
    for (rb, rs, rl), (gb, gs, gl) in zip(ref, got):
        assert len(gb) > 0
        torch.testing.assert_close(gb, rb)
        torch.testing.assert_close(gs, rs)
        torch.testing.assert_close(gl, rl)


def _old_candidates(scores: torch.Tensor, cfg: PostprocessConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The earlier rule, kept here as the reference: a full top-k per image, then the threshold."""
    bsz, n = scores.shape
    k = min(cfg.pre_nms_top_k, n)
    top_scores, top_idx = scores.topk(k, dim=1)
    keep = top_scores > cfg.score_threshold
    img_ids = torch.arange(bsz)[:, None].expand(bsz, k)[keep]
    return img_ids, top_idx[keep], top_scores[keep]


@pytest.mark.parametrize("thr,top_k", [(0.02, 1500), (0.5, 5000), (0.9, 20)])
def test_threshold_first_candidates_equal_the_earlier_topk_first_faces(thr: float, top_k: int) -> None:
    """Scores as sigmoid(logit difference) and threshold-then-rank give the faces of the earlier
    softmax + full top-k + threshold to 1e-4 (boxes), at a low threshold where the top-k cap binds too."""
    from featherface.ops.boxes import decode_boxes, decode_landmarks
    from featherface.ops.nms_torch import batched_nms

    torch.manual_seed(1)
    priors = PriorBox(((16, 32), (64, 128), (256, 512)), (8, 16, 32))(320, 320, torch.device("cpu"))
    n = priors.shape[0]
    # distinct face logits 1e-3 apart (scores >= 1e-5 apart): float rounding of the two score formulas
    # (~1e-7) cannot reorder two candidates, which would make either result right
    diff = torch.stack([torch.randperm(n) for _ in range(3)]).float() * (8.0 / n) - 4.0
    cls = torch.stack([torch.randn(3, n), torch.zeros(3, n)], -1)
    cls[..., 1] = cls[..., 0] + diff
    out = {"bbox": torch.randn(3, n, 4) * 0.5, "cls": cls, "ldm": torch.randn(3, n, 10)}
    cfg = PostprocessConfig(thr, 0.4, pre_nms_top_k=top_k, max_detections=300)
    scores = torch.softmax(out["cls"], dim=-1)[..., 1]
    img_ids, idx, cand = _old_candidates(scores, cfg)
    boxes = decode_boxes(out["bbox"][img_ids, idx], priors[idx])
    ldms = decode_landmarks(out["ldm"][img_ids, idx], priors[idx])
    kept = batched_nms(boxes, cand, img_ids, cfg.nms_threshold)
    ref = []
    for b in range(3):
        sel = kept[img_ids[kept] == b][: cfg.max_detections]
        ref.append((boxes[sel], cand[sel], ldms[sel]))
    got = [tuple(map(torch.as_tensor, r)) for r in postprocess(out, priors, cfg)]
    for (rb, rs, rl), (gb, gs, gl) in zip(ref, got):
        assert len(gb) > 0 and len(gb) == len(rb)
        torch.testing.assert_close(gb, rb, atol=1e-4, rtol=0)
        torch.testing.assert_close(gs, rs, atol=1e-6, rtol=0)
        torch.testing.assert_close(gl, rl, atol=1e-4, rtol=0)


def test_torch_threads_nests_and_restores_the_setting() -> None:
    """featherface.device.torch_threads (the ablation's timing runs): one thread inside, the setting back after."""
    import threading

    from featherface.device import torch_threads

    before = torch.get_num_threads()
    seen: list[int] = []
    with torch_threads(1):
        seen.append(torch.get_num_threads())
        with torch_threads(1):  # nested: still one thread, restored only at the outer exit
            pass
        seen.append(torch.get_num_threads())
    assert seen == [1, 1] and torch.get_num_threads() == before
    # several Python threads at once: the setting comes back when the last one leaves
    barrier = threading.Barrier(4)

    def work() -> None:
        with torch_threads(1):
            barrier.wait()
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert torch.get_num_threads() == before


def _voting_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One image, four candidates: a face (0.9) with an overlapping neighbour (0.6, IoU 0.82), a
    weak overlapping one below the voting floor (0.05) and a separate face far away (0.7)."""
    boxes = torch.tensor([[[0.10, 0.10, 0.30, 0.30], [0.11, 0.11, 0.31, 0.31], [0.10, 0.11, 0.30, 0.31],
                           [0.60, 0.60, 0.80, 0.80]]])
    scores = torch.tensor([[0.9, 0.6, 0.05, 0.7]])
    landmarks = torch.arange(40, dtype=torch.float32).reshape(1, 4, 10) / 40
    return boxes, scores, landmarks


def test_voting_averages_overlapping_candidates_by_score_and_keeps_faces_and_scores() -> None:
    boxes, scores, landmarks = _voting_case()
    off = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.02))[0]
    on = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.02, vote_iou=0.7))[0]
    assert torch.equal(off[1], on[1])  # the same faces, same scores, same order
    assert torch.allclose(off[0], boxes[0, [0, 3]])
    # the 0.05 candidate is below the floor; the far face votes for nobody
    assert torch.allclose(on[0][0], (0.9 * boxes[0, 0] + 0.6 * boxes[0, 1]) / 1.5, atol=1e-6)
    assert torch.allclose(on[2][0], (0.9 * landmarks[0, 0] + 0.6 * landmarks[0, 1]) / 1.5, atol=1e-6)
    assert not torch.allclose(on[2][0], off[2][0])
    assert torch.allclose(on[0][1], boxes[0, 3], atol=1e-7) and torch.allclose(on[2][1], landmarks[0, 3], atol=1e-7)
    # an IoU above every overlap: each face keeps its own box and points
    strict = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.02, vote_iou=0.95))[0]
    assert torch.allclose(strict[0], off[0], atol=1e-7) and torch.allclose(strict[2], off[2], atol=1e-7)


def test_voting_is_per_image_in_a_batch() -> None:
    boxes, scores, landmarks = _voting_case()
    other = torch.zeros_like(landmarks)  # a second image with the same boxes and other points
    cfg = PostprocessConfig(score_threshold=0.02, vote_iou=0.7)
    batch = select_detections(torch.cat([boxes, boxes]), torch.cat([scores, scores]), torch.cat([landmarks, other]), cfg)
    alone = select_detections(boxes, scores, landmarks, cfg)[0]
    assert torch.allclose(batch[0][2], alone[2]) and torch.equal(batch[1][2], torch.zeros_like(alone[2]))
    assert torch.allclose(batch[1][0], alone[0])


def test_voting_faces_below_the_floor_keep_their_own() -> None:
    boxes, scores, landmarks = _voting_case()
    scores = scores * 0.1  # every candidate below the 0.1 floor
    on = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.001, vote_iou=0.7))[0]
    assert torch.equal(on[0], boxes[0, [0, 3]]) and torch.equal(on[2], landmarks[0, [0, 3]])


def test_voting_ignores_non_finite_candidates() -> None:
    boxes, scores, landmarks = _voting_case()
    boxes[0, 1, 2] = float("nan")  # the overlapping neighbour's box is malformed
    scores[0, 2] = 0.5
    landmarks[0, 2, 3] = float("inf")  # and the third candidate's points
    on = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.02, vote_iou=0.7))[0]
    assert torch.allclose(on[0][0], boxes[0, 0], atol=1e-7) and torch.allclose(on[2][0], landmarks[0, 0], atol=1e-7)


def test_voted_faces_do_not_depend_on_the_score_threshold() -> None:
    """Candidates below the threshold still vote: a face scoring 0.9 gets the same box at 0.02 and at 0.8."""
    boxes, scores, landmarks = _voting_case()
    low = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.02, vote_iou=0.7))[0]
    high = select_detections(boxes, scores, landmarks, PostprocessConfig(score_threshold=0.8, vote_iou=0.7))[0]
    assert len(high[1]) == 1 and torch.allclose(high[0][0], low[0][0], atol=1e-7)
    assert torch.allclose(high[2][0], low[2][0], atol=1e-7)

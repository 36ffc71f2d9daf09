"""Post-processing: the detector's top-k-first path against the decode-everything reference."""

from __future__ import annotations

import pytest
import torch

from featherface.inference.postprocess import PostprocessConfig, decode_outputs, postprocess, select_detections
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
    ref = select_detections(*decode_outputs(out, priors), cfg)
    got = postprocess(out, priors, cfg)
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
    from featherface.ops.nms import batched_nms

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
    got = postprocess(out, priors, cfg)
    for (rb, rs, rl), (gb, gs, gl) in zip(ref, got):
        assert len(gb) > 0 and len(gb) == len(rb)
        torch.testing.assert_close(gb, rb, atol=1e-4, rtol=0)
        torch.testing.assert_close(gs, rs, atol=1e-6, rtol=0)
        torch.testing.assert_close(gl, rl, atol=1e-4, rtol=0)


def test_postprocess_runs_on_one_torch_thread_and_restores_the_setting() -> None:
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

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

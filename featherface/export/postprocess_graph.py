"""Decoding + score threshold + NMS as traceable torch code, for ``export --postprocess``.

:class:`DetectorWithPostprocess` wraps a FeatherFace network so the exported graph ends in faces:

* priors are computed **in the graph from the input's shape** (``Range`` over ``0..H`` by
  ``step`` gives exactly ``ceil(H / step)`` rows), so one file serves every input size;
* boxes and landmarks are decoded as in :mod:`featherface.ops.boxes`, scores are the face softmax;
* NMS is the standard ONNX ``NonMaxSuppression`` operator (emitted through a ``symbolic`` of a
  custom autograd function; in eager PyTorch the same function runs :func:`featherface.ops.nms`),
  which applies the same rules as the detector: keep ``score > score_threshold``, suppress
  ``IoU > nms_threshold``, at most ``max_detections`` per image, best first.

Two differences from :class:`~featherface.inference.FaceDetector`: there is no pre-NMS top-k
(5,000) in the graph, which only matters when more than 5,000 priors pass the score threshold; and
no box and landmark voting (``vote_iou``): each face keeps its own prior's box and points, as
with ``FaceDetector(vote_iou=0)``. The faces found and their scores are the same.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from featherface.inference.options import DetectorOptions
from featherface.ops.nms_torch import nms as _nms


def priors_like(x: torch.Tensor, min_sizes: Sequence[Sequence[int]], steps: Sequence[int]) -> torch.Tensor:
    """Priors ``(N, 4)`` (cx, cy, w, h normalised) for the input ``x`` (B, C, H, W), traced from its shape.

    Same values and order as :func:`featherface.ops.anchors.generate_priors`, computed with tensor
    ops only so a traced/exported graph recomputes them for every input size.
    """
    shape = torch._shape_as_tensor(x)  # exported as Shape: stays dynamic
    h = shape[2].to(torch.float32)
    w = shape[3].to(torch.float32)
    out = []
    for sizes, step in zip(min_sizes, steps):
        ys = torch.arange(0, shape[2], step, device=x.device).to(torch.float32)  # ceil(H/step) values
        xs = torch.arange(0, shape[3], step, device=x.device).to(torch.float32)
        cy = (ys + 0.5 * step) / h
        cx = (xs + 0.5 * step) / w
        s = torch.tensor([float(v) for v in sizes], dtype=torch.float32, device=x.device)
        zero = cy[:, None, None] * 0 + cx[None, :, None] * 0 + s[None, None, :] * 0  # (rows, cols, k)
        level = torch.stack([
            zero + cx[None, :, None],
            zero + cy[:, None, None],
            zero + s[None, None, :] / w,
            zero + s[None, None, :] / h,
        ], dim=-1)
        out.append(level.reshape(-1, 4))
    return torch.cat(out, 0)


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` semantics; eager mode runs our NMS per image.

    Inputs: boxes ``(B, N, 4)`` x1y1x2y2, scores ``(B, 1, N)``, and three scalar tensors
    (max boxes per image, IoU threshold, score threshold). Output: ``(K, 3)`` int64 rows
    ``(batch, class=0, box)``, image by image, best first.
    """

    @staticmethod
    def forward(ctx: Any, boxes: torch.Tensor, scores: torch.Tensor, max_out: torch.Tensor,
                iou: torch.Tensor, score_thr: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        rows = []
        k_max, t_iou, t_score = int(max_out), float(iou), float(score_thr)
        for b in range(boxes.shape[0]):
            sc = scores[b, 0]
            cand = torch.nonzero(sc > t_score).flatten()
            keep = cand[_nms(boxes[b, cand], sc[cand], t_iou)][:k_max]
            r = torch.zeros((keep.numel(), 3), dtype=torch.int64)
            r[:, 0] = b
            r[:, 2] = keep
            rows.append(r)
        return torch.cat(rows, 0) if rows else torch.zeros((0, 3), dtype=torch.int64)

    @staticmethod
    def symbolic(g: Any, boxes: Any, scores: Any, max_out: Any, iou: Any, score_thr: Any) -> Any:
        return g.op("NonMaxSuppression", boxes, scores, max_out, iou, score_thr, center_point_box_i=0)


class DetectorWithPostprocess(nn.Module):
    """FeatherFace network + decode + NMS: ``input -> (detections (K, 15), batch_index (K,))``.

    ``detections`` rows are ``x1, y1, x2, y2, score, lx1, ly1, ..., lx5, ly5`` in pixels of the
    (padded) input tensor.
    """

    def __init__(self, model: nn.Module, score_threshold: float = DetectorOptions.score_threshold,
                 nms_threshold: float = DetectorOptions.nms_threshold,
                 max_detections: int = DetectorOptions.max_detections):
        super().__init__()
        self.model = model
        cfg = model.config
        self.min_sizes = [list(m) for m in cfg.min_sizes]
        self.steps = list(cfg.steps)
        self.variances = (float(cfg.variances[0]), float(cfg.variances[1]))
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_detections = int(max_detections)

    def settings(self) -> dict[str, Any]:
        """The thresholds baked into the graph (recorded in the file's metadata)."""
        return {"score_threshold": self.score_threshold, "nms_threshold": self.nms_threshold,
                "max_detections": self.max_detections, "pre_nms_top_k": None,
                "nms": "ONNX NonMaxSuppression, per image, keep score > score_threshold, suppress IoU > nms_threshold"}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(x)
        priors = priors_like(x, self.min_sizes, self.steps)  # (N, 4)
        v0, v1 = self.variances
        loc, ldm = out["bbox"], out["ldm"]
        c = priors[:, :2] + loc[..., :2] * v0 * priors[:, 2:]
        wh = priors[:, 2:] * torch.exp(loc[..., 2:] * v1)
        shape = torch._shape_as_tensor(x)
        scale = torch.stack([shape[3], shape[2]]).to(torch.float32)  # (W, H)
        boxes = torch.cat([(c - wh / 2) * scale, (c + wh / 2) * scale], dim=-1)  # (B, N, 4) pixels
        pts = priors[:, None, :2] + ldm.reshape(ldm.shape[0], -1, 5, 2) * v0 * priors[:, None, 2:]
        pts = (pts * scale).reshape(ldm.shape[0], -1, 10)
        scores = torch.softmax(out["cls"], dim=-1)[..., 1]  # (B, N)
        sel = _NonMaxSuppression.apply(
            boxes, scores.unsqueeze(1),
            torch.tensor([self.max_detections], dtype=torch.int64),
            torch.tensor([self.nms_threshold], dtype=torch.float32),
            torch.tensor([self.score_threshold], dtype=torch.float32),
        )
        bi, idx = sel[:, 0], sel[:, 2]
        det = torch.cat([boxes[bi, idx], scores[bi, idx].unsqueeze(1), pts[bi, idx]], dim=1)
        return det, bi

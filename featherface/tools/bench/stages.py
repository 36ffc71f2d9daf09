"""Where a detection's time goes: read, preprocess, network, decode, NMS, drawing, per image.

``featherface bench --profile`` runs :class:`~featherface.FaceDetector`'s own stages
(:meth:`~featherface.FaceDetector.preprocess`, the backend, :meth:`~featherface.FaceDetector.faces_from_outputs`)
on real photos at the application threshold (0.5) and the WIDER evaluation threshold (0.02), so the
next bottleneck is visible — and so is whether post-processing still costs the same at any threshold.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from featherface.inference.postprocess import PostprocessConfig
from featherface.io.images import read_image
from featherface.visualize import draw_faces

STAGES = ("read", "preprocess", "network", "decode", "nms", "draw")


def profile_stages(detector: Any, paths: Sequence[Path], thresholds: Sequence[float] = (0.5, 0.02),
                   repeats: int = 3) -> list[dict[str, Any]]:
    """Means over ``repeats`` passes of every image: ms per image for each stage, per threshold."""
    rows = []
    originals = [read_image(p) for p in paths]  # warm the page cache and the detector before timing
    detector.detect(originals[0])
    for thr in thresholds:
        post = PostprocessConfig(thr, detector.post.nms_threshold, detector.post.pre_nms_top_k,
                                 detector.post.max_detections)
        acc = dict.fromkeys(STAGES, 0.0)
        faces_total = 0
        timings: dict[str, float] = {}
        for _ in range(repeats):
            for p in paths:
                t0 = time.perf_counter()
                img = read_image(p)
                t1 = time.perf_counter()
                batch, scales = detector.preprocess([img])
                t2 = time.perf_counter()
                out = detector.backend(batch)
                t3 = time.perf_counter()
                faces = detector.faces_from_outputs(out, batch.shape[2:], [img], scales, post, timings)[0]
                t4 = time.perf_counter()
                draw_faces(img, faces)
                t5 = time.perf_counter()
                acc["read"] += t1 - t0
                acc["preprocess"] += t2 - t1
                acc["network"] += t3 - t2
                acc["draw"] += t5 - t4
                faces_total += len(faces)
        n = repeats * len(paths)
        acc["decode"], acc["nms"] = timings["decode"], timings["nms"]
        rows.append({"threshold": thr, **{k: round(v * 1000 / n, 2) for k, v in acc.items()},
                     "total": round(sum(acc.values()) * 1000 / n, 2), "candidates": round(timings["candidates"] / n, 1),
                     "faces": round(faces_total / n, 1)})
    return rows


def format_stages(rows: list[dict[str, Any]], title: str) -> str:
    """A markdown table: one column per threshold."""
    head = "| stage (ms / image) | " + " | ".join(f"score >= {r['threshold']:g}" for r in rows) + " |"
    lines = [f"**{title}**", "", head, "|---|" + "---|" * len(rows)]
    for key in (*STAGES, "total", "candidates", "faces"):
        lines.append(f"| {key} | " + " | ".join(f"{r[key]:g}" for r in rows) + " |")
    return "\n".join(lines)

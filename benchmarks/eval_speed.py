"""How long the WIDER FACE evaluation takes on a full-size validation prediction set.

Builds a synthetic prediction folder for all 3,226 validation images from the official ground
truth (jittered copies of the faces, more often and with higher scores for large faces, plus
random boxes, about 400k boxes in all), writes it to a temporary folder, then times reading it
and evaluating it (and evaluating the same predictions from memory).

    .venv/bin/python benchmarks/eval_speed.py [--gt DIR] [--boxes 400000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from featherface.evaluation.predictions import read_prediction_dir, write_predictions  # noqa: E402
from featherface.evaluation.wider_gt import WiderGroundTruth, load_wider_ground_truth  # noqa: E402
from featherface.evaluation.widerface import evaluate  # noqa: E402
from featherface.io.paths import shared_dir  # noqa: E402

DEFAULT_GT = shared_dir() / "data" / "widerface" / "ground_truth"


def synthetic_predictions(gt: WiderGroundTruth, total_boxes: int, seed: int) -> dict[str, np.ndarray]:
    """``{event/image: (N, 5)}``: a detector-like mix of true detections and clutter."""
    rng = np.random.default_rng(seed)
    true_parts: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(gt.num_images):
        b = gt.boxes[i]
        size = np.sqrt(np.clip(b[:, 2], 1, None) * np.clip(b[:, 3], 1, None))
        p_found = np.clip(0.15 + size / 40.0, 0.0, 0.97)  # small faces are often missed
        found = rng.random(len(b)) < p_found
        copies = np.repeat(b[found], 1 + (rng.random(found.sum()) < 0.3), axis=0)  # some duplicates
        jit = copies + rng.normal(0, 1, copies.shape) * np.maximum(copies[:, 2:3], 2) * 0.08
        jit[:, 2:] = np.maximum(jit[:, 2:], 1)
        s_true = np.clip(0.35 + 0.6 * rng.random(len(jit)) * np.minimum(1, np.sqrt(jit[:, 2]) / 6), 0.02, 1)
        true_parts.append((jit, s_true))
    n_true = sum(len(s) for _, s in true_parts)
    per_image_random = max(0.0, (total_boxes - n_true) / gt.num_images)
    out: dict[str, np.ndarray] = {}
    for i, (jit, s_true) in enumerate(true_parts):
        b = gt.boxes[i]
        extent = np.maximum(np.max(b[:, :2] + np.maximum(b[:, 2:], 0), axis=0), 64) * 1.1
        k = int(rng.poisson(per_image_random))
        wh = np.exp(rng.uniform(np.log(4), np.log(200), (k, 1))) * np.array([[1.0, 1.2]])
        xy = rng.uniform(0, 1, (k, 2)) * extent
        s_rand = 0.02 + 0.5 * rng.random(k) ** 3
        boxes = np.concatenate([jit, np.concatenate([xy, wh], 1)])
        scores = np.concatenate([s_true, s_rand])
        out[gt.key(i)] = np.concatenate([boxes, scores[:, None]], 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", type=Path, default=DEFAULT_GT)
    ap.add_argument("--boxes", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (args.gt / "wider_face_val.mat").is_file():
        print(f"official ground truth not found at {args.gt}; pass --gt DIR", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    gt = load_wider_ground_truth(args.gt)
    t_gt = time.perf_counter() - t0
    preds = synthetic_predictions(gt, args.boxes, args.seed)
    n_boxes = sum(len(v) for v in preds.values())
    print(f"ground truth: {gt.num_images} images, {gt.num_faces} faces, loaded in {t_gt:.2f} s")
    print(f"synthetic predictions: {n_boxes} boxes")

    with tempfile.TemporaryDirectory(prefix="ff_eval_bench_") as tmp:
        t0 = time.perf_counter()
        for key, arr in preds.items():
            event, name = key.split("/")
            write_predictions(tmp, event, name, arr[:, :4], arr[:, 4])
        t_write = time.perf_counter() - t0

        t0 = time.perf_counter()
        read = read_prediction_dir(tmp, gt)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        r_file = evaluate(read, gt)
        t_eval_file = time.perf_counter() - t0

    t0 = time.perf_counter()
    r_mem = evaluate(preds, gt)
    t_eval_mem = time.perf_counter() - t0

    print(f"write folder      {t_write:6.2f} s  (not part of the evaluation)")
    print(f"read folder       {t_read:6.2f} s")
    print(f"evaluate          {t_eval_file:6.2f} s")
    print(f"read + evaluate   {t_read + t_eval_file:6.2f} s  (target < 60 s)")
    print(f"evaluate (memory) {t_eval_mem:6.2f} s")
    print("AP from files : " + "  ".join(f"{s} {r_file[s]:.4f}" for s in ("easy", "medium", "hard")))
    print("AP from memory: " + "  ".join(f"{s} {r_mem[s]:.4f}" for s in ("easy", "medium", "hard")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

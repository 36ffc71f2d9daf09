"""Model-card numbers: precision / recall by face size and landmark NME on a labelled hold-out set.

    python benchmarks/model_card.py --labels runs/default-weights/labels_val.txt --root ../shared/data \
        --weights featherface/weights/featherface-v2-ultra.pt runs/default-weights/featherface-v1/final.pt

Each weights file is run through ``FaceDetector`` at the original image size (score 0.5, NMS 0.4
unless changed); results are compared with the labels by greedy one-to-one matching at IoU 0.5
(``featherface/evaluation/heldout.py``). Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True, help="RetinaFace label file of the held-out images")
    ap.add_argument("--root", required=True, help="folder the label paths are relative to")
    ap.add_argument("--weights", nargs="+", required=True, help="weights files / checkpoints to score")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--nms", type=float, default=0.4)
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (latency is measured with these)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    from featherface.evaluation.heldout import evaluate_heldout, format_heldout_table
    from featherface.inference.detector import FaceDetector
    from featherface.weights import read_weights

    torch.set_num_threads(args.threads)
    results = []
    for w in args.weights:
        model = read_weights(w)["model"]
        det = FaceDetector(model=model, weights=w, score_threshold=args.threshold, nms_threshold=args.nms,
                           input_size=args.input_size)
        det.name = f"{model} ({Path(w).parent.name}/{Path(w).name})"
        det.detect(torch.zeros(64, 64, 3, dtype=torch.uint8).numpy())  # warm-up
        results.append(evaluate_heldout(det, args.labels, args.root))
    table = format_heldout_table(results)
    print(table)
    print(f"\n(score threshold {args.threshold}, NMS {args.nms}, input size {args.input_size or 'original'}, "
          f"{args.threads} torch thread(s), {platform.processor() or platform.machine()})")
    if args.json:
        doc = {"labels": args.labels, "threshold": args.threshold, "nms": args.nms, "input_size": args.input_size,
               "threads": args.threads, "results": [r.to_dict() for r in results]}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

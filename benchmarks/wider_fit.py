"""Does WIDER AP stop for lack of data or lack of fit? The same metric on the photos trained on and on held-out ones.

Each detector runs on the 200 WIDER train photos of ``train-subset`` (the ones stages 9-11 trained
on; RetinaFace was trained on the full WIDER train, these included) and on the 399 ``val-subset``
photos (never trained on), and is scored by one rule on both: every human box is a face, those
under ``--min-face`` px (sqrt(w*h)) are ignored, AP and recall per face size at IoU 0.5, recall at
any score (0.02) and at 0.5. A model that finds its training faces much better than held-out ones
is short of data; one that misses its own training faces as often is short of fit (capacity, the
recipe, or a teacher that contradicts the labels: RetinaFace's row on the train photos says how
many of the small labelled faces the teacher itself finds).

    python benchmarks/wider_fit.py --detectors featherface-v2-ultra,featherface-v2-ultra:runs/x.pt,retinaface \
        --json docs/wider_fit.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from featherface.data.labels import load_annotations
from featherface.evaluation.human_boxes import score_box_set
from featherface.evaluation.runner import find_wider_image, restrict_to_present
from featherface.evaluation.wider_gt import load_wider_ground_truth
from featherface.evaluation.widerface import xywh_to_xyxy
from featherface.io.images import load_image
from featherface.io.paths import shared_dir
from featherface.peers.factory import build_detectors

ANY_SCORE = 0.02
SIZE_EDGES = (20.0, 40.0, 80.0)  # the WIDER report's buckets (there by height)


def _train_set(root: Path, limit: int | None) -> list[tuple[Path, np.ndarray]]:
    anns = load_annotations(root / "label.txt", layout="retinaface")
    return [(root / "images" / a.path, np.asarray(a.boxes, np.float64).reshape(-1, 4)) for a in anns[:limit]]


def _val_set(root: Path, limit: int | None) -> list[tuple[Path, np.ndarray]]:
    images = root / "val-subset" / "images"
    gt, _ = restrict_to_present(load_wider_ground_truth(root / "ground_truth"), images)
    return [(find_wider_image(images, gt.events[i], gt.names[i]), xywh_to_xyxy(gt.boxes[i]))
            for i in range(gt.num_images)][:limit]


def _score(name: str, dets, images, min_face: float) -> dict:
    found, gts = [], []
    for path, boxes in tqdm(images, desc=name, unit="img"):
        img = load_image(path)
        found.append([list(det.detect(img)) for det in dets.values()])
        gts.append(boxes)
    rows = {}
    for k, det_name in enumerate(dets):
        per_image = [f[k] for f in found]
        any_ = score_box_set(per_image, gts, threshold=ANY_SCORE, min_face=min_face, size_edges=SIZE_EDGES)
        at5 = score_box_set(per_image, gts, threshold=0.5, min_face=min_face, size_edges=SIZE_EDGES)
        rows[det_name] = {"ap": round(any_.ap, 4), "faces": any_.faces,
                          "recall_by_size": [{"bucket": a["bucket"], "faces": a["faces"],
                                              "recall": a["recall"], "recall_at_0.5": b["recall"]}
                                             for a, b in zip(any_.by_size, at5.by_size)]}
    return rows


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--detectors", default="featherface-v2-ultra,featherface-v1,retinaface")
    ap.add_argument("--min-face", type=float, default=10.0, help="faces under this sqrt(w*h) are ignored")
    ap.add_argument("--limit", type=int, default=None, help="first N photos of each set")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    wider = shared_dir() / "data" / "widerface"
    if not (wider / "train-subset").is_dir() or not (wider / "val-subset").is_dir():
        print(f"{wider}/train-subset and val-subset are needed", file=sys.stderr)
        return 1
    dets, skipped = build_detectors([s for s in args.detectors.split(",") if s], score_threshold=ANY_SCORE,
                                    threads=args.threads)
    sets = {"train-subset": _train_set(wider / "train-subset", args.limit),
            "val-subset": _val_set(wider, args.limit)}
    result = {name: _score(name, dets, images, args.min_face) for name, images in sets.items()}
    print(f"\nAP and recall at any score / at 0.5 by face size sqrt(w*h), IoU 0.5, faces < {args.min_face:g} px ignored:\n")
    buckets = [b["bucket"] for b in next(iter(result[next(iter(result))].values()))["recall_by_size"]]
    print("| detector | photos | AP | " + " | ".join(buckets) + " |")
    print("|---|---|---|" + "---|" * len(buckets))
    for det_name in dets:
        for set_name, rows in result.items():
            r = rows[det_name]
            cells = " | ".join("–" if b["recall"] is None else f"{b['recall']:.2f} / {b['recall_at_0.5']:.2f}"
                               for b in r["recall_by_size"])
            print(f"| {det_name} | {set_name} | {r['ap']:.3f} | {cells} |")
    for set_name, rows in result.items():
        counts = ", ".join(f"{b['bucket']}: {b['faces']}" for b in next(iter(rows.values()))["recall_by_size"])
        print(f"{set_name}: {len(sets[set_name])} photos, faces per size {counts}")
    for s in skipped:
        print(f"not run: {s}")
    if args.json:
        args.json.write_text(json.dumps({"min_face": args.min_face, "sets": result}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())

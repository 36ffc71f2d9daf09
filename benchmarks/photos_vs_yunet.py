"""Agreement with YuNet-n on the shared unlabelled photos: the "photos the project never saw" test of
issue 11, done on the photos it has (``data/photos`` and ``data/faces-unlabeled``, 118 portraits,
group and crowd pictures; note that they are also training photos, unlabelled).

Reference: YuNet-n at full resolution, score >= 0.7. Each detector (ours at the given weights and
``max_size``, RetinaFace-mnet0.25) at its default score 0.5: precision, recall and AP at IoU 0.5 for
faces >= 32 px (smaller reference faces, and detections smaller than that, are ignored).

    python benchmarks/photos_vs_yunet.py                                  # shipped V2 Ultra, V1, RetinaFace
    python benchmarks/photos_vs_yunet.py --max-size 2048 --weights featherface-v2-ultra:runs/default-weights/v2-ultra-stage6.pt
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from featherface import FaceDetector
from featherface.evaluation.human_boxes import score_box_set
from featherface.inference.options import DetectorOptions
from featherface.io.images import image_files, read_image
from featherface.io.paths import shared_dir
from featherface.peers.factory import peer_detector
from featherface.peers.retinaface import resolve_retinaface_weights

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-size", type=int, default=DetectorOptions().max_size)
    ap.add_argument("--weights", nargs="*", default=None, metavar="MODEL:PATH",
                    help="our detectors (default: the shipped V2 Ultra and V1)")
    ap.add_argument("--no-retinaface", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    data = shared_dir() / "data"
    files = image_files([data / "photos", data / "faces-unlabeled"])
    if not files:
        print(f"no photos under {data}", file=sys.stderr)
        return 1
    images = [read_image(p) for p in files]
    yunet = peer_detector("yunet", score_threshold=0.7, threads=args.threads)
    ref = [np.array([f.box for f in yunet.detect(im)], np.float64).reshape(-1, 4) for im in images]
    dets: dict[str, FaceDetector] = {}
    for spec in args.weights or ["featherface-v2-ultra", "featherface-v1"]:
        model, _, path = spec.partition(":")
        dets[spec] = FaceDetector(model, weights=path or "default", max_size=args.max_size, threads=args.threads)
    if not args.no_retinaface:
        dets["retinaface"] = FaceDetector("retinaface-mnet025", weights=resolve_retinaface_weights(None),
                                          max_size=args.max_size, threads=args.threads)
    print(f"{len(images)} photos; reference YuNet-n (full size, score >= 0.7); faces >= 32 px; max_size {args.max_size}")
    print("| detector | precision | recall | AP | TP | FP | faces |")
    print("|---|---|---|---|---|---|---|")
    for name, det in dets.items():
        r = score_box_set([det.detect(im) for im in images], ref, threshold=0.5, min_face=32)
        print(f"| {name} | {r.precision:.3f} | {r.recall:.3f} | {r.ap:.3f} | {r.tp} | {r.fp} | {r.faces} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

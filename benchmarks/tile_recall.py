"""Issue 15's tiling yardstick: recall of small faces in big photos with and without ``tile=True``.

Reference faces: YuNet-n at the full native resolution (score >= 0.7), on every shared photo larger
than the detector's ``max_size`` (default: ``FaceDetector``'s), and on "crowd montages": 4x4 grids of the shared crowd and
group photos (``data/photos``, each fitted into a 1024 px cell), 4096 px images whose faces are
20-100 px, as in a big crowd photo. Our default ``FaceDetector()`` runs once plainly and once
tiled; the table gives recall / precision against the reference (IoU >= 0.5, score >= 0.5, faces
>= 10 px), overall and by face size, and the median time per photo of each.

    python benchmarks/tile_recall.py [--max-size 1024] [--json runs/tile_recall.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from featherface import FaceDetector
from featherface.inference.options import DetectorOptions
from featherface.evaluation.human_boxes import score_box_set
from featherface.io.images import image_files, read_image
from featherface.io.paths import shared_dir
from featherface.peers.factory import peer_detector

def montages(files: list[Path], grid: int = 4, cell: int = 1024) -> list[np.ndarray]:
    """4x4 grids of the photos (each fitted into a ``cell`` px square, mean grey around it); a new grid
    starts every 8 photos, so each photo appears in two grids at different places."""
    cells = []
    for p in files:
        im = read_image(p)
        s = cell / max(im.shape[:2])
        im = cv2.resize(im, (max(1, round(im.shape[1] * s)), max(1, round(im.shape[0] * s))), interpolation=cv2.INTER_AREA)
        c = np.full((cell, cell, 3), 127, np.uint8)
        c[:im.shape[0], :im.shape[1]] = im
        cells.append(c)
    out = []
    n = grid * grid
    for start in range(0, max(0, len(cells) - n) + 1, n // 2):
        part = cells[start:start + n]
        if len(part) < n:
            break
        rows = [np.hstack(part[r * grid:(r + 1) * grid]) for r in range(grid)]
        out.append(np.vstack(rows))
    return out


def by_size(found: list, ref: list[np.ndarray]) -> dict[str, dict]:
    """Overall and per-size recall / precision of ``found`` vs the reference faces >= 10 px."""
    r = score_box_set(found, ref, threshold=0.5, min_face=10)
    rows = {"all": {"faces": r.faces, "recall": round(r.recall or 0, 3), "precision": round(r.precision or 0, 3)}}
    for b in r.by_size:
        rows[b["bucket"]] = {"faces": b["faces"], "recall": b["recall"], "precision": b["precision"]}
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-size", type=int, default=DetectorOptions().max_size)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    data = shared_dir() / "data"
    files = image_files([data / "photos", data / "faces-unlabeled"])
    if not files:
        print(f"no photos under {data}", file=sys.stderr)
        return 1
    images = [im for im in (read_image(p) for p in files) if max(im.shape[:2]) > args.max_size]
    images += montages(image_files([data / "photos"]))
    if not images:
        print(f"no photo is larger than {args.max_size} px", file=sys.stderr)
        return 1
    yunet = peer_detector("yunet", score_threshold=0.7, threads=args.threads)
    ref = [np.array([f.box for f in yunet.detect(im)], np.float64).reshape(-1, 4) for im in images]
    det = FaceDetector(max_size=args.max_size, threads=args.threads)
    rows = {}
    for name, tile in (("plain", False), ("tile", True)):
        det.detect(images[0], tile=tile)  # warm-up
        found, times = [], []
        for im in images:
            t = time.perf_counter()
            found.append(det.detect(im, tile=tile))
            times.append(time.perf_counter() - t)
        rows[name] = {"sizes": by_size(found, ref), "median_s": round(statistics.median(times), 3)}
    print(f"{len(images)} photos larger than {args.max_size} px (crowd montages included); "
          "reference: YuNet-n at full size, score >= 0.7")
    buckets = list(rows["plain"]["sizes"])
    print("| run | " + " | ".join(f"R / P {b} px ({rows['plain']['sizes'][b]['faces']})" for b in buckets) + " | s/photo |")
    print("|---|" + "---|" * (len(buckets) + 1))
    for name, r in rows.items():
        cells = [" / ".join("-" if r["sizes"][b][k] is None else f"{r['sizes'][b][k]:.3f}" for k in ("recall", "precision"))
                 for b in buckets]
        print(f"| {name} | " + " | ".join(cells) + f" | {r['median_s']:.2f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"max_size": args.max_size, "photos": len(images), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

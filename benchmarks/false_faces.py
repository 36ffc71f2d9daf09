"""False faces on a held-out human-labelled set, and the logo of the shared photo 5.jpg.

A false face is what hard-negative mining would mine (:func:`featherface.negatives.false_faces`): a
detection at the operating score that overlaps no human box and no RetinaFace face (at 0.1, so that
faces the annotators skipped are not counted) by IoU 0.3, at least 24 px. Counted per 100 images of
facemask-kaggle (evaluation only: never trained on), at scores 0.5 (the default operating point) and
0.3. Also the best score any detector gives the adidas logo of ``photos/5.jpg`` (a training photo: a
symptom, not a held-out measure), on the still and on a 24-frame pan-and-zoom through it (960 px
wide, zooming to 1.5x, as a video would show it): the frames where the logo scores >= 0.5.

    python benchmarks/false_faces.py --detectors featherface-v2-ultra,featherface-v2-ultra:runs/x/final.pt \
        --json docs/false_faces.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from featherface.data.benchmarks import load_voc_dir
from featherface.io.images import load_image
from featherface.io.paths import shared_dir
from featherface.negatives import false_faces
from featherface.ops.iou import iou_matrix
from featherface.peers.factory import build_detectors, build_teacher

LOGO_IMAGE = "photos/5.jpg"
LOGO_BOX = np.array([[378, 434, 478, 542]], np.float32)  # the adidas logo on a shirt, by eye
SCORES = (0.5, 0.3)
CLIP_FRAMES, CLIP_WIDTH = 24, 960


def pan_zoom_frames(image: np.ndarray, box: np.ndarray, frames: int = CLIP_FRAMES, width: int = CLIP_WIDTH):
    """``(frame, box in the frame)`` of a pan across and zoom into ``image`` (1x to 1.5x)."""
    h, w = image.shape[:2]
    size = (width, int(round(width * h / w)))
    for i in range(frames):
        t = i / max(1, frames - 1)
        zoom = 1.0 + 0.5 * t
        cw, ch = int(w / zoom), int(h / zoom)
        x0, y0 = int((w - cw) * (0.3 + 0.4 * t)), int((h - ch) * 0.4)
        s = size[0] / cw
        frame = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], size, interpolation=cv2.INTER_AREA)
        yield frame, ((box - np.array([x0, y0, x0, y0], np.float32)) * s).astype(np.float32)


def best_score(det, image: np.ndarray, box: np.ndarray) -> float:
    """The best score of a detection overlapping ``box`` (1, 4) by IoU 0.3 (0 when none)."""
    found = det.detect(image)
    boxes = np.array([f.box for f in found], np.float32).reshape(-1, 4)
    hit = iou_matrix(boxes, box)[:, 0] >= 0.3 if len(found) else np.zeros(0, bool)
    return float(max((f.score for f, h in zip(found, hit) if h), default=0.0))


class _Memo:
    """The teacher's faces per image, computed once for every detector."""

    def __init__(self, teacher):
        self.teacher, self.cache, self.key = teacher, {}, None

    def detect(self, image):
        if self.key not in self.cache:
            self.cache[self.key] = self.teacher.detect(image)
        return self.cache[self.key]


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--detectors", default="featherface-v2-ultra,featherface-v1,retinaface,yunet")
    ap.add_argument("--limit", type=int, default=None, help="first N facemask images")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data = shared_dir() / "data"
    if not (data / "facemask-kaggle").is_dir():
        print(f"{data / 'facemask-kaggle'} is not present", file=sys.stderr)
        return 1
    anns = load_voc_dir(data / "facemask-kaggle", limit=args.limit)
    dets, skipped = build_detectors([s for s in args.detectors.split(",") if s], score_threshold=min(SCORES),
                                    threads=args.threads)
    teacher = _Memo(build_teacher("retinaface", score_threshold=0.1))
    counts = {name: dict.fromkeys(SCORES, 0) for name in dets}
    for ann in tqdm(anns, desc="false faces", unit="img"):
        img = load_image(ann.image)
        teacher.key = ann.key
        for name, det in dets.items():
            faces, false, _ = false_faces(img, ann.boxes, det, teacher)
            for s in SCORES:
                counts[name][s] += int(sum(1 for f, x in zip(faces, false) if x and f.score >= s))
    logo_img = load_image(data / LOGO_IMAGE)
    rows = {}
    clip = list(pan_zoom_frames(logo_img, LOGO_BOX))
    for name, det in dets.items():
        rows[name] = {f"false_per_100_at_{s:g}": round(100.0 * counts[name][s] / len(anns), 2) for s in SCORES}
        rows[name]["logo_score"] = round(best_score(det, logo_img, LOGO_BOX), 3)
        in_clip = [best_score(det, frame, box) for frame, box in clip]
        rows[name]["logo_clip_frames_at_0.5"] = int(sum(v >= 0.5 for v in in_clip))
        rows[name]["logo_clip_max"] = round(max(in_clip), 3)
    print(f"\nFalse faces per 100 facemask-kaggle images ({len(anns)} images; no human box, no RetinaFace face "
          f"at 0.1, >= 24 px) and the 5.jpg logo's score (0: below {min(SCORES):g}), on the still and in a "
          f"{CLIP_FRAMES}-frame pan-zoom clip:\n")
    print("| detector | at 0.5 | at 0.3 | logo score | logo in the clip: frames >= 0.5 | its best score |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['false_per_100_at_0.5']:.1f} | {r['false_per_100_at_0.3']:.1f} | {r['logo_score']:.2f} | "
              f"{r['logo_clip_frames_at_0.5']} of {CLIP_FRAMES} | {r['logo_clip_max']:.2f} |")
    for s in skipped:
        print(f"not run: {s}")
    if args.json:
        args.json.write_text(json.dumps({"images": len(anns), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())

"""Frames per second of ``FaceDetector.stream`` on a 720p clip made from the shared photos.

    python benchmarks/stream_fps.py                  # 90 frames of 1280x720, backends torch and auto, 1 thread
    python benchmarks/stream_fps.py --frames 300 --threads 2 --input-size 640 --json fps.json

The clip pans and zooms across the crowd photos of ../shared/data/photos (the demo portrait when
they are absent), is written to a temporary MP4, then read back and detected frame by frame through
the same path ``featherface detect clip.mp4`` takes (one detector, one session, reused), so the
figure includes decoding the video. Prints frames per second and ms per frame per backend.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from featherface import FaceDetector
from featherface.io.images import expand_inputs, is_image_path, read_image
from featherface.io.paths import find_shared

REPO = Path(__file__).resolve().parents[1]


def make_clip(path: Path, frames: int, size: tuple[int, int] = (1280, 720), fps: float = 30.0) -> Path:
    shared = find_shared()
    folder = shared / "data" / "photos" if shared is not None else None
    photos = [p for p in expand_inputs([folder])][:6] if folder is not None and folder.is_dir() else []
    images = [read_image(p) for p in photos if is_image_path(p)] or [read_image(REPO / "examples" / "astronaut.jpg")]
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    per = max(1, frames // len(images))
    for i in range(frames):
        img = images[min(i // per, len(images) - 1)]
        t = (i % per) / max(1, per - 1)
        ih, iw = img.shape[:2]
        scale = max(w / iw, h / ih) * (1.0 + 0.3 * t)  # cover the frame, zooming in
        big = cv2.resize(img, (max(w, int(iw * scale)), max(h, int(ih * scale))), interpolation=cv2.INTER_LINEAR)
        x0 = int((big.shape[1] - w) * t)
        y0 = int((big.shape[0] - h) * 0.5)
        writer.write(np.ascontiguousarray(big[y0:y0 + h, x0:x0 + w]))
    writer.release()
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--input-size", type=int, default=None, help="resize the longer side (default: 1280, native)")
    ap.add_argument("--backends", nargs="+", default=["torch", "auto"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    out = []
    with tempfile.TemporaryDirectory() as d:
        clip = make_clip(Path(d) / "clip720p.mp4", args.frames)
        for backend in args.backends:
            det = FaceDetector(backend=backend, threads=args.threads, input_size=args.input_size)
            next(iter(det.stream(clip, keep_frames=False)))  # warm-up: first frame, session ready
            t0 = time.perf_counter()
            n = faces = 0
            for r in det.stream(clip, keep_frames=False):
                n += 1
                faces += len(r.faces)
            dt = time.perf_counter() - t0
            row = {"backend": backend, "resolved": det.backend.name, "frames": n, "seconds": round(dt, 2),
                   "fps": round(n / dt, 2), "ms_per_frame": round(dt * 1000 / n, 1), "faces_per_frame": round(faces / n, 1),
                   "threads": args.threads, "input_size": args.input_size or 1280}
            out.append(row)
            print(f"{backend} ({det.backend.name}): {row['fps']} frames/s, {row['ms_per_frame']} ms/frame, "
                  f"{row['faces_per_frame']} faces/frame on {n} frames of 1280x720")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``featherface detect PATH...``: faces in images, folders and videos -> annotated pictures + JSON.

Every input is processed independently: a missing or corrupt file is reported (one line naming the
file and the cause) and counted, the others are still processed, and the exit code is 1 if any
input failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from featherface.errors import FeatherFaceError


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="detect faces in images, folders or videos",
                       description="Detect faces (box, score, 5 landmarks) in images, folders (recursively) "
                                   "and video files (frame by frame); write annotated pictures and JSON.")
    p.add_argument("paths", nargs="+", help="image files, folders or video files")
    p.add_argument("--output", "-o", default=None, help="folder for annotated pictures/videos (none if omitted)")
    p.add_argument("--json", default=None, help="write all detections to this JSON file ('-' for stdout)")
    p.add_argument("--model", default="featherface-v2-ultra", help="model name (default featherface-v2-ultra)")
    p.add_argument("--weights", default="default",
                   help="weights file or training checkpoint (default: the weights shipped with the package)")
    p.add_argument("--threshold", type=float, default=0.5, help="score threshold (default 0.5)")
    p.add_argument("--nms", type=float, default=0.4, help="NMS IoU threshold (default 0.4)")
    p.add_argument("--input-size", type=int, default=None, help="resize the longer side to N (default: original size)")
    p.add_argument("--max-size", type=int, default=2048, help="scale down images whose longer side exceeds this")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"], help="inference backend")
    p.add_argument("--onnx", default=None, help="exported .onnx file for --backend onnxruntime")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for inference (default: library default)")
    p.add_argument("--video-stride", type=int, default=1, help="process every N-th video frame")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _output_path(out_dir: Path, stem: str, suffix: str, used: set[str]) -> Path:
    """``<stem>_faces<suffix>``, or ``<stem>_faces-2<suffix>``... when an earlier input of this run
    already took that name (``a.jpg`` and ``a.png``, or ``x/a.jpg`` and ``y/a.jpg``): one input's
    picture must never silently overwrite another's."""
    name, k = f"{stem}_faces{suffix}", 1
    while name.lower() in used:
        k += 1
        name = f"{stem}_faces-{k}{suffix}"
    used.add(name.lower())
    return out_dir / name


def _process_video(det, path: Path, out_dir: Path | None, stride: int, quiet: bool,
                   used: set[str] | None = None) -> list[dict[str, Any]]:
    import cv2
    from tqdm import tqdm

    from featherface.errors import ImageError
    from featherface.visualize import draw_faces

    used = set() if used is None else used
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"{path}: cannot open video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer = None
    frames: list[dict[str, Any]] = []
    idx = 0
    bar = tqdm(total=total, desc=path.name, unit="frame", disable=quiet, leave=False)
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if idx % stride == 0:
                faces = det.detect(frame)
                frames.append({"frame": idx, "faces": [f.to_dict() for f in faces]})
                if out_dir is not None:
                    if writer is None:
                        h, w = frame.shape[:2]
                        writer = cv2.VideoWriter(str(_output_path(out_dir, path.stem, ".mp4", used)),
                                                 cv2.VideoWriter_fourcc(*"mp4v"), fps / stride, (w, h))
                    writer.write(draw_faces(frame, faces))
            idx += 1
            bar.update(1)
    finally:
        bar.close()
        cap.release()
        if writer is not None:
            writer.release()
    if idx == 0:
        raise ImageError(f"{path}: video has no readable frames")
    return frames


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from featherface.inference.detector import FaceDetector
    from featherface.inference.image_io import expand_inputs, is_video_path, load_image
    from featherface.visualize import draw_faces

    weights = None if args.weights in ("none", "random") else args.weights
    det = FaceDetector(model=args.model, weights=weights, device=args.device, score_threshold=args.threshold,
                       nms_threshold=args.nms, input_size=args.input_size, max_size=args.max_size,
                       backend=args.backend, onnx_path=args.onnx, threads=args.threads)
    inputs = expand_inputs(args.paths)
    out_dir = Path(args.output) if args.output else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    used_names: set[str] = set()
    n_faces = 0
    bar = tqdm(inputs, desc="detect", unit="file", disable=args.quiet or len(inputs) < 2)
    for path in bar:
        try:
            if is_video_path(path):
                frames = _process_video(det, path, out_dir, max(1, args.video_stride), args.quiet, used_names)
                results.append({"file": str(path), "type": "video", "frames": frames})
                n_faces += sum(len(f["faces"]) for f in frames)
                continue
            image = load_image(path)
            faces = det.detect(image)
            n_faces += len(faces)
            results.append({"file": str(path), "type": "image", "width": image.shape[1], "height": image.shape[0],
                            "faces": [f.to_dict() for f in faces]})
            if out_dir is not None:
                target = _output_path(out_dir, path.stem, ".jpg", used_names)
                if not cv2.imwrite(str(target), draw_faces(image, faces)):
                    raise FeatherFaceError(f"{target}: cannot write annotated picture")
        except FeatherFaceError as exc:
            failures.append((str(path), str(exc)))
            tqdm.write(f"featherface detect: error: {exc}", file=sys.stderr)
            results.append({"file": str(path), "error": str(exc)})
    doc = {"model": det.name, "weights": str(det.weights_path) if det.weights_path else None,
           "score_threshold": args.threshold, "results": results}
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=1)
        print()
    elif args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
    ok = len(inputs) - len(failures)
    summary = f"{ok}/{len(inputs)} inputs processed, {n_faces} faces found"
    if failures:
        summary += f", {len(failures)} failed"
    print(summary, file=sys.stderr if args.json == "-" else sys.stdout)
    if out_dir is not None:
        print(f"annotated output in {out_dir}/", file=sys.stderr if args.json == "-" else sys.stdout)
    return 1 if failures or not inputs else 0

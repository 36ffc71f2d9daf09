"""``featherface detect PATH...``: faces in images, folders and videos -> annotated pictures + JSON.

Every input is processed independently: a missing or corrupt file is reported (one line naming the
file and the cause) and counted, the others are still processed, and the exit code is 1 if any
input failed. Output paths are checked before the model is built (:mod:`featherface.io.outputs`): the
JSON never replaces an input or a folder, annotated pictures never take the name of an input
(``detect DIR -o DIR``). The JSON is written whatever ends the run: the last input, Ctrl-C or
SIGTERM (``"interrupted": true``, exit 130), or an unexpected error (``"aborted"``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

from featherface.commands.argtypes import int_range, open_unit_float, output_path, positive_int, unit_float
from featherface.errors import FeatherFaceError, ImageError, OutputError
from featherface.io.outputs import InputSet, atomic_output, check_output_dir, check_output_file, write_bytes, write_text

# the network input is a canvas of about side^2 x 3 floats plus activations: bound it (4096: 1.3 GB peak)
MAX_SIDE = 4096
# a file name is at most 255 bytes; keep "<stem>_faces-NN.jpg" and its ".<name>.XXXXXXXX.tmp"
# temporary sibling well inside that
_MAX_STEM_BYTES = 180
_JPEG_MAX_SIDE = 65500


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="detect faces in images, folders or videos",
                       description="Detect faces (box, score, 5 landmarks) in images, folders (recursively) "
                                   "and video files (frame by frame); write annotated pictures and JSON.")
    p.add_argument("paths", nargs="+", help="image files, folders or video files")
    p.add_argument("--output", "-o", type=output_path, default=None, help="folder for annotated pictures/videos (none if omitted)")
    p.add_argument("--json", type=output_path, default=None, help="write all detections to this JSON file ('-' for stdout)")
    p.add_argument("--force", action="store_true",
                   help="let --json replace an existing file that is not a .json file")
    p.add_argument("--model", default="featherface-v2-ultra", help="model name (default featherface-v2-ultra)")
    p.add_argument("--weights", default="default",
                   help="weights file or training checkpoint (default: the weights shipped with the package)")
    p.add_argument("--threshold", type=unit_float, default=0.5, help="score threshold in [0, 1] (default 0.5)")
    p.add_argument("--nms", type=open_unit_float, default=0.4, help="NMS IoU threshold in (0, 1] (default 0.4)")
    p.add_argument("--input-size", type=int_range(32, MAX_SIDE, name="size"), default=None,
                   help=f"resize the longer side to N, 32..{MAX_SIDE} (default: original size)")
    p.add_argument("--max-size", type=int_range(32, MAX_SIDE, name="size"), default=2048,
                   help=f"scale down images whose longer side exceeds this, 32..{MAX_SIDE} (default 2048)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"], help="inference backend")
    p.add_argument("--onnx", default=None, help="exported .onnx file for --backend onnxruntime")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for inference (default: library default)")
    p.add_argument("--video-stride", type=positive_int, default=1, help="process every N-th video frame")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _short_stem(stem: str) -> str:
    """``stem`` cut to :data:`_MAX_STEM_BYTES` bytes of UTF-8 (never inside a character)."""
    b = stem.encode("utf-8", "surrogateescape")
    if len(b) <= _MAX_STEM_BYTES:
        return stem
    return b[:_MAX_STEM_BYTES].decode("utf-8", "ignore") or "image"


def _output_path(out_dir: Path, stem: str, suffix: str, used: set[str], avoid: Any = ()) -> Path:
    """``<stem>_faces<suffix>``, or ``<stem>_faces-2<suffix>``... when an earlier input of this run
    already took that name (``a.jpg`` and ``a.png``, or ``x/a.jpg`` and ``y/a.jpg``) or when the
    name is one of the run's inputs (``avoid``: ``detect DIR -o DIR`` over a ``a_faces.jpg`` of the
    user's own): one input's picture must never silently overwrite another's, nor an input."""
    stem = _short_stem(stem)
    name, k = f"{stem}_faces{suffix}", 1
    while name.lower() in used or (out_dir / name) in avoid:
        k += 1
        name = f"{stem}_faces-{k}{suffix}"
    used.add(name.lower())
    return out_dir / name


def _process_video(det, path: Path, out_dir: Path | None, stride: int, quiet: bool,
                   used: set[str] | None = None, avoid: Any = ()) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from featherface.io.video import VideoReader, open_video_writer
    from featherface.visualize import draw_faces

    used = set() if used is None else used
    video = VideoReader(path)
    target = _output_path(out_dir, path.stem, ".mp4", used, avoid) if out_dir is not None else None
    writer = None
    frames: list[dict[str, Any]] = []
    idx = 0
    bar = tqdm(total=video.frame_count, desc=path.name, unit="frame", disable=quiet, leave=False)
    # the video is written under a temporary name and renamed when complete: a failed or interrupted
    # video leaves no half-written file
    with (atomic_output(target) if target is not None else contextlib.nullcontext(None)) as tmp:
        try:
            for frame in video:
                if idx % stride == 0:
                    faces = det.detect(frame)
                    frames.append({"frame": idx, "faces": [f.to_dict() for f in faces]})
                    if tmp is not None:
                        if writer is None:
                            h, w = frame.shape[:2]
                            writer = open_video_writer(tmp, video.fps / stride, (w, h), name=target)
                        writer.write(draw_faces(frame, faces))
                idx += 1
                bar.update(1)
        finally:
            bar.close()
            video.close()
            if writer is not None:
                writer.release()
        if idx == 0:
            raise ImageError(f"{path}: video has no readable frames")
    return frames


def _write_picture(target: Path, image: Any) -> None:
    """Encode in memory, then write atomically: a picture is complete or absent, non-ASCII names work."""
    from featherface.io.images import encode_image

    try:
        data = encode_image(image, target.suffix or ".jpg")
    except ImageError as exc:
        raise OutputError(f"{target}: cannot encode the annotated picture ({exc})") from None
    try:
        write_bytes(target, data)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the annotated picture ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C (the JSON of the inputs done so far is still written)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from featherface.inference.detector import FaceDetector
    from featherface.io.images import expand_inputs, load_image
    from featherface.io.video import is_video_path
    from featherface.visualize import draw_faces

    # outputs are checked before the model is built or any image read
    inputs = expand_inputs(args.paths)
    avoid = InputSet(inputs)
    json_path: Path | None = None
    if args.json and args.json != "-":
        json_path = check_output_file(args.json, "--json", inputs=avoid, suffixes={".json"},
                                      force=getattr(args, "force", False))
    out_dir = check_output_dir(args.output, "--output", inputs=avoid) if args.output else None
    used_names: set[str] = set()
    if json_path is not None and out_dir is not None and json_path.parent.resolve() == out_dir.resolve():
        used_names.add(json_path.name.lower())  # no picture may take the JSON's name

    weights = None if args.weights in ("none", "random") else args.weights
    det = FaceDetector(model=args.model, weights=weights, device=args.device, score_threshold=args.threshold,
                       nms_threshold=args.nms, input_size=args.input_size, max_size=args.max_size,
                       backend=args.backend, onnx_path=args.onnx, threads=args.threads)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    n_faces = 0
    interrupted = False
    aborted: BaseException | None = None
    stream = sys.stderr if args.json == "-" else sys.stdout

    def fail(path: Path, message: str) -> None:
        failures.append((str(path), message))
        tqdm.write(f"featherface detect: error: {message}", file=sys.stderr)

    bar = tqdm(inputs, desc="detect", unit="file", disable=args.quiet or len(inputs) < 2)
    try:
        with _sigterm_as_interrupt():
            for path in bar:
                try:
                    if is_video_path(path):
                        frames = _process_video(det, path, out_dir, max(1, args.video_stride), args.quiet,
                                                used_names, avoid)
                        results.append({"file": str(path), "type": "video", "frames": frames})
                        n_faces += sum(len(f["faces"]) for f in frames)
                        continue
                    image = load_image(path)
                    faces = det.detect(image)
                except FeatherFaceError as exc:
                    fail(path, str(exc))
                    results.append({"file": str(path), "error": str(exc)})
                    continue
                n_faces += len(faces)
                entry = {"file": str(path), "type": "image", "width": image.shape[1], "height": image.shape[0],
                         "faces": [f.to_dict() for f in faces]}
                results.append(entry)
                if out_dir is not None:
                    # the faces are found: a picture that cannot be drawn or written is reported on
                    # the same JSON entry, never as a second one
                    # JPEG stops at 65500 pixels a side: a valid 1x100000 image gets a PNG instead
                    suffix = ".jpg" if max(image.shape[:2]) <= _JPEG_MAX_SIDE else ".png"
                    target = _output_path(out_dir, path.stem, suffix, used_names, avoid)
                    try:
                        _write_picture(target, draw_faces(image, faces))
                    except (FeatherFaceError, cv2.error, ValueError, MemoryError) as exc:
                        entry["picture_error"] = str(exc)
                        fail(path, f"{path}: faces found, but {exc}")
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as exc:  # a bug or a late failure: keep what was found, then let it surface
        aborted = exc
    finally:
        bar.close()
    doc: dict[str, Any] = {"model": det.name, "weights": str(det.weights_path) if det.weights_path else None,
                           "score_threshold": args.threshold, "results": results}
    if interrupted:
        doc["interrupted"] = True
    if aborted is not None:
        doc["aborted"] = f"{type(aborted).__name__}: {aborted}"
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=1)
        print()
    elif json_path is not None:
        write_text(json_path, json.dumps(doc, indent=1))
    if aborted is not None:
        if json_path is not None:
            print(f"featherface detect: {len(results)} results so far written to {json_path}", file=sys.stderr)
        raise aborted
    done = len(results)
    ok = done - len({f for f, _ in failures})
    summary = f"{ok}/{len(inputs)} inputs processed, {n_faces} faces found"
    if failures:
        summary += f", {len(failures)} failed"
    if interrupted:
        summary += f" (interrupted after {done} inputs)"
    print(summary, file=stream)
    if out_dir is not None:
        print(f"annotated output in {out_dir}/", file=stream)
    if interrupted:
        return 130
    return 1 if failures or not inputs else 0

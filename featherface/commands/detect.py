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
import time
from pathlib import Path
from typing import Any, Iterator

from featherface.commands.argtypes import output_path, positive_int
from featherface.commands.media import (
    MEDIA_DETECTOR_FLAGS,
    add_max_missed_arg,
    add_source_args,
    output_name,
    renamed_note,
    source_stem,
    write_results_doc,
)
from featherface.commands.options import add_detector_args, detector_options
from featherface.commands.ray_detect import add_ray_arg, run_ray
from featherface.commands.workers import add_workers_arg, images_per_second, make_pool
from featherface.errors import FeatherFaceError, ImageError, OutputError
from featherface.io.outputs import (
    LineWriter,
    atomic_output,
    check_output_dir,
    check_output_file,
    write_bytes,
)

_JPEG_MAX_SIDE = 65500


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="detect faces in images, folders or videos",
                       description="Detect faces (box, score, 5 landmarks) in images, folders (recursively) "
                                   "and video files (frame by frame); write annotated pictures and JSON.")
    p.add_argument("paths", nargs="+", help="image files, folders, video files, a camera index (0) or a stream URL "
                                             "(rtsp://, http://...)")
    p.add_argument("--output", "-o", type=output_path, default=None, help="folder for annotated pictures/videos (none if omitted)")
    p.add_argument("--json", type=output_path, default=None, help="write all detections to this JSON file ('-' for stdout)")
    p.add_argument("--force", action="store_true",
                   help="let outputs replace existing files: pictures and videos of an earlier run in --output "
                        "(else they take a numbered name), a --json file that is not a .json file")
    add_detector_args(p, MEDIA_DETECTOR_FLAGS, title="detector")
    p.add_argument("--video-stride", type=positive_int, default=1, help="process every N-th video frame")
    p.add_argument("--track", action="store_true",
                   help="video/stream: give each face a stable track_id across frames (drawn and in the JSON; "
                        "needs pip install 'featherface[track]')")
    add_max_missed_arg(p)
    p.add_argument("--jsonl", type=output_path, default=None,
                   help="also write one JSON line per image/frame as soon as it is done ('-' for stdout): "
                        "for long or endless streams")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_workers_arg(p)
    add_ray_arg(p)
    add_source_args(p)
    p.set_defaults(func=run)


def _detect_still(det: Any, item: tuple[str, bool]) -> dict[str, Any]:
    """The ``--workers`` task (in a worker process): one image's record, and its annotated picture
    drawn and encoded when ``item[1]`` asks for it (the parent names and writes it, in input order)."""
    import cv2

    from featherface.io.images import encode_image, load_image

    path, draw = item
    faces = det.detect(load_image(Path(path)))
    faces.source = path
    out: dict[str, Any] = {"record": faces.to_dict(), "n": len(faces)}
    if draw:
        out["suffix"] = suffix = ".jpg" if max(faces.width, faces.height) <= _JPEG_MAX_SIDE else ".png"
        try:
            out["picture"] = encode_image(faces.plot(), suffix)
        except ImageError as exc:
            out["encode_error"] = str(exc)
        except (FeatherFaceError, cv2.error, ValueError, MemoryError) as exc:
            out["plot_error"] = str(exc)
    return out


def _process_video(det, path: Path | str, out_dir: Path | None, stride: int, quiet: bool,
                   used: set[str] | None = None, avoid: Any = (), track: bool = False,
                   on_frame: Any = None, replace: bool = False,
                   renamed: list[Path] | None = None, max_missed: int = 5) -> list[dict[str, Any]]:
    """Detect (and track) frame by frame; ``on_frame(dict)`` sees each frame's entry as it is made."""
    from tqdm import tqdm

    from featherface.inference.stream import stream_faces
    from featherface.io.video import VideoReader, open_video_writer

    used = set() if used is None else used
    target = (output_name(out_dir, source_stem(path), "_faces", ".mp4", used, avoid, replace, renamed)
              if out_dir is not None else None)
    writer = None
    frames: list[dict[str, Any]] = []
    name = Path(str(path)).name
    # the video is written under a temporary name and renamed when complete: a failed or interrupted
    # video leaves no half-written file
    with (atomic_output(target) if target is not None else contextlib.nullcontext(None)) as tmp:
        # opened once and read by stream_faces: a FIFO, camera or stream cannot be opened twice
        reader = VideoReader(path)
        fps, total = reader.fps, reader.frame_count
        bar = tqdm(total=total, desc=name, unit="frame", disable=quiet, leave=False)
        try:
            for r in stream_faces(det, reader, every=stride, track=track, max_missed=max_missed):
                entry = r.to_dict()
                entry.pop("file", None)
                frames.append(entry)
                if on_frame is not None:
                    on_frame({"file": str(path), **entry})
                if tmp is not None:
                    if writer is None:
                        h, w = r.frame.shape[:2]
                        writer = open_video_writer(tmp, fps / stride, (w, h), name=target)
                    # only the faces seen in this frame: a track the detector did not match (after a
                    # scene cut, say) stays in the JSON, flagged "missed", not in the picture
                    writer.write(r.plot())
                bar.update(stride)
        finally:
            bar.close()
            reader.close()
            if writer is not None:
                writer.release()
        if not frames:
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


def _write_done(done: dict[str, Any], path: Any, out_dir: Path | None, results: list[dict[str, Any]],
                fail: Any, emit: Any, naming: tuple[set[str], Any, bool, list[Path]]) -> None:
    """A ``--workers`` result, recorded and its picture written as the one-process loop does."""
    record = dict(done["record"])
    entry = {"file": record.pop("file"), "type": "image", **record}
    results.append(entry)
    emit(entry)
    if out_dir is None:
        return
    used, avoid, force, renamed = naming
    target = output_name(out_dir, Path(path).stem, "_faces", done["suffix"], used, avoid, force, renamed)
    error = done.get("plot_error")
    if "encode_error" in done:
        error = f"{target}: cannot encode the annotated picture ({done['encode_error']})"
    if error is None:
        try:
            write_bytes(target, done["picture"])
            return
        except OSError as exc:
            error = f"{target}: cannot write the annotated picture ({exc.strerror or exc})"
        except OutputError as exc:
            error = str(exc)
    entry["picture_error"] = error
    fail(path, f"{path}: faces found, but {error}")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "ray", None) is not None:  # --ray: the images on Ray actors (commands/ray_detect.py)
        return run_ray(args)
    import cv2
    from tqdm import tqdm

    from featherface.inference.detector import FaceDetector
    from featherface.io.images import load_image
    from featherface.io.video import is_video_path

    from featherface.commands.media import expand_media
    from featherface.io.video import is_stream_source

    # outputs are checked before the model is built or any image read
    inputs, avoid = expand_media(args.paths)
    json_path: Path | None = None
    if args.json and args.json != "-":
        json_path = check_output_file(args.json, "--json", inputs=avoid, suffixes={".json"},
                                      force=getattr(args, "force", False))
    out_dir = check_output_dir(args.output, "--output", inputs=avoid) if args.output else None
    jsonl_path = None
    if getattr(args, "jsonl", None) and args.jsonl != "-":
        jsonl_path = check_output_file(args.jsonl, "--jsonl", inputs=avoid, suffixes={".jsonl", ".ndjson"},
                                       force=getattr(args, "force", False))
    used_names: set[str] = set()
    force = bool(getattr(args, "force", False))
    renamed: list[Path] = []
    if json_path is not None and out_dir is not None and json_path.parent.resolve() == out_dir.resolve():
        used_names.add(json_path.name.lower())  # no picture may take the JSON's name

    opts = detector_options(args)  # --weights none: an untrained network, as in every verb
    det = FaceDetector(**opts.kwargs())
    pool = make_pool(args, opts.kwargs(), det, inputs)  # --workers N: the still images on N processes
    stills = [p for p in inputs if not (is_stream_source(str(p)) or is_video_path(Path(p)))]
    done_stills = pool.map(_detect_still, ((str(p), out_dir is not None) for p in stills)) if pool else None
    started = time.perf_counter()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    n_faces = 0
    interrupted = False
    aborted: BaseException | None = None
    stream = sys.stderr if "-" in (args.json, getattr(args, "jsonl", None)) else sys.stdout
    # JSON lines go out as each image/frame is done (flushed), so a consumer of an endless stream
    # or a run stopped by Ctrl-C has every line so far
    jsonl = (sys.stdout if getattr(args, "jsonl", None) == "-" else
             (LineWriter(jsonl_path) if jsonl_path is not None else None))

    def emit(entry: dict[str, Any]) -> None:
        if jsonl is not None:
            jsonl.write(json.dumps(entry) + "\n")
            jsonl.flush()

    def fail(path: Path, message: str) -> None:
        failures.append((str(path), message))
        tqdm.write(f"featherface detect: error: {message}", file=sys.stderr)

    bar = tqdm(inputs, desc="detect", unit="file", disable=args.quiet or len(inputs) < 2)
    try:
        with _sigterm_as_interrupt():
            for path in bar:
                try:
                    if is_stream_source(str(path)) or is_video_path(Path(path)):
                        frames = _process_video(det, path, out_dir, max(1, args.video_stride), args.quiet,
                                                used_names, avoid, track=getattr(args, "track", False),
                                                on_frame=emit, replace=force, renamed=renamed,
                                                max_missed=getattr(args, "max_missed", 5))
                        results.append({"file": str(path), "type": "video", "frames": frames})
                        n_faces += sum(len(f["faces"]) for f in frames)
                        continue
                    if done_stills is not None:
                        done = next(done_stills)
                        if isinstance(done, FeatherFaceError):
                            raise done
                        _write_done(done, path, out_dir, results, fail, emit, (used_names, avoid, force, renamed))
                        n_faces += done["n"]
                        continue
                    faces = det.detect(load_image(path))
                    faces.source = str(path)
                except FeatherFaceError as exc:
                    fail(path, str(exc))
                    results.append({"file": str(path), "error": str(exc)})
                    continue
                n_faces += len(faces)
                record = faces.to_dict()  # the record every verb and the service write
                entry = {"file": record.pop("file"), "type": "image", **record}
                results.append(entry)
                emit(entry)
                if out_dir is not None:
                    # the faces are found: a picture that cannot be drawn or written is reported on
                    # the same JSON entry, never as a second one
                    # JPEG stops at 65500 pixels a side: a valid 1x100000 image gets a PNG instead
                    suffix = ".jpg" if max(faces.width, faces.height) <= _JPEG_MAX_SIDE else ".png"
                    target = output_name(out_dir, path.stem, "_faces", suffix, used_names, avoid, force, renamed)
                    try:
                        _write_picture(target, faces.plot())
                    except (FeatherFaceError, cv2.error, ValueError, MemoryError) as exc:
                        entry["picture_error"] = str(exc)
                        fail(path, f"{path}: faces found, but {exc}")
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as exc:  # a bug or a late failure: keep what was found, then let it surface
        aborted = exc
    finally:
        bar.close()
        if pool is not None:
            pool.close()
        if jsonl is not None and jsonl is not sys.stdout:
            jsonl.close()
    write_results_doc(args.json, json_path, det, opts.score_threshold, results, interrupted, aborted)
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
    images_per_second(sum(1 for r in results if r.get("type") != "video"), started,
                      getattr(args, "workers", 1), "detect", stream)
    if out_dir is not None:
        print(f"annotated output in {out_dir}/", file=stream)
        note = renamed_note(renamed, out_dir)
        if note:
            print(note, file=stream)
    if interrupted:
        return 130
    return 1 if failures or not inputs else 0


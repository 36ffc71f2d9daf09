"""``featherface blur PATH... -o DIR``: anonymise every face in images, videos and streams.

Images: each face found is covered, then the covered picture is searched again and whatever is
still found is covered too (``--passes``). Videos and streams: with ``--track`` a face the detector
misses for a frame or two stays covered at its tracked position. Outputs never replace an input;
a video is written under a temporary name and appears only when complete (Ctrl-C keeps the
finished files and the JSON of what was done).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from featherface.commands.argtypes import float_range, int_range, output_path
from featherface.commands.dataclass_flags import FieldFlag, add_dataclass_flags, read_dataclass_flags
from featherface.commands.media import (
    VideoOut,
    add_media_args,
    expand_media,
    is_still,
    output_name,
    progress,
    renamed_note,
    source_stem,
)
from featherface.commands.options import detector_options
from featherface.commands.workers import add_workers_arg, images_per_second, make_pool
from featherface.errors import FeatherFaceError
from featherface.inference.anonymize import anonymize_image
from featherface.inference.results import Results
from featherface.io.outputs import check_output_dir, check_output_file, write_bytes, write_text
from featherface.ops.anonymize import ANONYMIZE_MODES, ANONYMIZE_SHAPES, MARGIN_RANGE, PASSES_RANGE, AnonymizeOptions

# the AnonymizeOptions fields blur takes as flags (the defaults are the dataclass's; color: Python only)
ANONYMIZE_FLAGS = {
    "mode": FieldFlag("how faces are covered", choices=ANONYMIZE_MODES),
    "shape": FieldFlag("covered region", choices=ANONYMIZE_SHAPES),
    "margin": FieldFlag(f"grow each face region by this fraction of its size on every side, "
                        f"{MARGIN_RANGE[0]:g} to {MARGIN_RANGE[1]:g}", type=float_range(*MARGIN_RANGE, name="margin"),
                        metavar="MARGIN"),
    "passes": FieldFlag("detect-and-cover rounds per image/frame: later rounds cover what is still found, "
                        f"{PASSES_RANGE[0]}..{PASSES_RANGE[1]}", type=int_range(*PASSES_RANGE, name="passes"),
                        metavar="PASSES"),
}


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="anonymise faces (blur, pixelate or fill) in images, videos and streams",
                       description="Cover every face found with a blur, pixelation or fill, in images, folders, "
                                   "videos, cameras or stream URLs; write the anonymised copies to --output.")
    add_media_args(p)
    p.add_argument("--output", "-o", type=output_path, required=True, help="folder for the anonymised files")
    add_dataclass_flags(p, AnonymizeOptions(), ANONYMIZE_FLAGS)
    p.add_argument("--json", type=output_path, default=None, help="also write the faces covered, per file/frame")
    add_workers_arg(p)
    p.set_defaults(func=run)


_KEEP_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".webp")


def _still_suffix(src: Any) -> str:
    suffix = Path(str(src)).suffix.lower()
    return suffix if suffix in _KEEP_SUFFIXES else ".jpg"


def _blur_still(det: Any, item: tuple[str, str, dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    """The ``--workers`` task (in a worker process): one image anonymised and encoded, and its record."""
    from featherface.io.images import encode_image, read_image

    src, suffix, kw = item
    image = read_image(src)
    out, faces = anonymize_image(image, det, **kw)
    return encode_image(out, suffix), Results(faces, source=src, image=image).to_dict()


def run(args: argparse.Namespace) -> int:
    # torch and OpenCV (detector, readers, encoder): imported on use, not for ``featherface --help``
    from featherface.inference.detector import FaceDetector
    from featherface.inference.stream import stream_faces
    from featherface.io.images import encode_image, read_image
    from featherface.io.video import VideoReader, is_stream_source

    anon = read_dataclass_flags(args, AnonymizeOptions(), ANONYMIZE_FLAGS)  # ranges checked by the parser
    inputs, avoid = expand_media(args.paths)
    json_path = check_output_file(args.json, "--json", inputs=avoid, suffixes={".json"}) if args.json else None
    out_dir = check_output_dir(args.output, "--output", inputs=avoid)
    det = FaceDetector(**detector_options(args).kwargs())
    pool = make_pool(args, detector_options(args).kwargs(), det, inputs)  # --workers N: still images on N processes
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    renamed: list[Path] = []
    audio_states: list[str] = []
    results: list[dict[str, Any]] = []
    failed = 0
    interrupted = False

    def target(src: Any, suffix: str) -> Path:
        return output_name(out_dir, source_stem(src), "_anon", suffix, used, avoid, args.force, renamed)

    kw = anon.kwargs()
    done_stills = pool.map(_blur_still, ((str(s), _still_suffix(s), kw) for s in inputs if is_still(s))) \
        if pool is not None else None
    started = time.perf_counter()
    try:
        for src in inputs:
            try:
                if is_still(src) and done_stills is not None:
                    done = next(done_stills)
                    if isinstance(done, FeatherFaceError):
                        raise done
                    dst = target(src, _still_suffix(src))
                    write_bytes(dst, done[0])
                    record = dict(done[1])
                    results.append({"file": record.pop("file"), "output": str(dst), **record})
                    continue
                if is_still(src):
                    image = read_image(src)
                    out, faces = anonymize_image(image, det, **kw)
                    dst = target(src, _still_suffix(src))
                    write_bytes(dst, encode_image(out, dst.suffix))
                    record = Results(faces, source=str(src), image=image).to_dict()  # as every verb writes it
                    results.append({"file": record.pop("file"), "output": str(dst), **record})
                    continue
                dst = target(src, ".mp4")
                # opened once and read by stream_faces: a FIFO, camera or stream cannot be opened twice
                reader = VideoReader(src)
                fps, total = reader.fps, reader.frame_count
                video = VideoOut(dst, fps / args.every)
                frames: list[dict[str, Any]] = []
                ok = False
                try:
                    with progress(total, Path(str(src)).name, args.quiet) as bar:
                        for r in stream_faces(det, reader, every=args.every, track=args.track,
                                              max_missed=args.max_missed):
                            cover = [t.face for t in r.tracks] if r.tracks is not None else r.faces
                            out, _ = anonymize_image(r.frame, det, faces=cover, **kw)
                            video.write(out)
                            frames.append(r.to_dict())
                            bar.update(args.every)
                    ok = True
                finally:
                    reader.close()
                    audio = video.close(ok, audio_from=None if is_stream_source(str(src)) else src)
                entry = {"file": str(src), "output": str(dst), "frames": frames}
                if audio is not None:
                    entry["audio"] = audio
                    audio_states.append(audio)
                    if audio.startswith("failed"):
                        print(f"featherface blur: warning: {dst}: the audio of {src} was not copied ({audio[8:]})",
                              file=sys.stderr)
                results.append(entry)
            except FeatherFaceError as exc:
                failed += 1
                results.append({"file": str(src), "error": str(exc)})
                print(f"featherface blur: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.close()
    if json_path is not None:
        write_text(json_path, json.dumps({"model": det.name, "mode": anon.mode, "results": results,
                                          **({"interrupted": True} if interrupted else {})}, indent=1))
    n = sum(len(r.get("faces", [])) + sum(len(f["faces"]) for f in r.get("frames", [])) for r in results)
    print(f"{len(results) - failed}/{len(inputs)} inputs anonymised ({n} faces covered) in {out_dir}/"
          + (" (interrupted)" if interrupted else ""))
    images_per_second(sum(1 for s in inputs[:len(results)] if is_still(s)), started, args.workers, "blur")
    note = renamed_note(renamed, out_dir)
    if note:
        print(note)
    if "no PyAV" in audio_states:
        print("note: the anonymised videos have no sound; pip install 'featherface[video]' (PyAV) to keep "
              "the source's audio")
    return 130 if interrupted else (1 if failed else 0)

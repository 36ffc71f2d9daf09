"""``featherface crop PATH... -o DIR``: aligned face crops (the ArcFace 5-point template) with an index.

Each crop is the similarity-aligned ``--size`` square (112 = the recognition-model standard; 224
and a ``--margin`` for wider views); ``index.csv`` (and ``--json``) tells for every crop its source,
frame, time, box, score and, with ``--track``, the track ID — what a recognition or clustering job
needs to go back from a crop to where it came from.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from featherface.commands.argtypes import float_range, int_range, output_path
from featherface.commands.dataclass_flags import FieldFlag, add_dataclass_flags, read_dataclass_flags
from featherface.commands.media import (
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
from featherface.io.outputs import check_output_dir, check_output_file, write_bytes, write_text
from featherface.ops.align import CROP_MARGIN_RANGE, CROP_SIZE_RANGE, CropOptions

INDEX_FIELDS = ["crop", "source", "frame", "time", "track_id", "score", "x1", "y1", "x2", "y2"]
# the CropOptions fields crop takes as flags (the defaults are the dataclass's; border: Python only)
CROP_FLAGS = {
    "size": FieldFlag(f"crop side in pixels, {CROP_SIZE_RANGE[0]}..{CROP_SIZE_RANGE[1]} (112: the ArcFace size)",
                      type=int_range(*CROP_SIZE_RANGE, name="size"), metavar="SIZE"),
    "margin": FieldFlag("widen the view: the standard crop fills 1/(1+2*margin) of each side, "
                        f"{CROP_MARGIN_RANGE[0]:g} to {CROP_MARGIN_RANGE[1]:g}",
                        type=float_range(*CROP_MARGIN_RANGE, name="margin"), metavar="MARGIN"),
}


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="aligned face crops (ArcFace template) from images, videos and streams",
                       description="Write one aligned crop per face found (5-point similarity transform onto the "
                                   "ArcFace template) and an index.csv of crop -> source, frame, box, score, track.")
    add_media_args(p)
    p.add_argument("--output", "-o", type=output_path, required=True, help="folder for the crops and index.csv")
    add_dataclass_flags(p, CropOptions(), CROP_FLAGS)
    p.add_argument("--min-score", type=float, default=None,
                   help="crop only faces scoring at least this (default: the detector's threshold)")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="crop file format (default: png)")
    p.add_argument("--json", type=output_path, default=None, help="also write the index as JSON")
    p.add_argument("--sheet", type=output_path, default=None,
                   help="also write a contact sheet (JPEG) of up to 64 crops, labelled with their track or frame")
    add_workers_arg(p)
    p.set_defaults(func=run)


def _frame_crops(r: Any, still: bool, min_score: float, size: int, margin: float,
                 fmt: str) -> list[tuple[str, bytes | None, dict[str, Any]]]:
    """One image's or frame's crops: ``(name tag, encoded crop or None when its landmarks coincide,
    index row without its name)`` per face kept, in face order."""
    from featherface.io.images import encode_image

    record = r.to_dict()  # the record every verb writes; one CSV row per face seen
    faces = r.tracks if r.tracks is not None else list(r)
    items = [(f.get("track_id"), getattr(x, "face", x), f) for x, f in zip(faces, record["faces"]) if not f.get("missed")]
    out: list[tuple[str, bytes | None, dict[str, Any]]] = []
    for k, (tid, face, fd) in enumerate(items):
        if face.score < min_score or face.landmarks is None:
            continue
        tag = f"t{tid}" if tid is not None else f"{k:02d}"
        tag = f"_{tag}" if still else f"_f{r.index:06d}_{tag}"
        try:
            data: bytes | None = encode_image(face.align(r.frame, size=size, margin=margin), "." + fmt)
        except ValueError:  # landmarks that coincide: no similarity to fit
            data = None
        x1, y1, x2, y2 = fd["box"]
        out.append((tag, data, {"source": record["file"], "frame": record["frame"], "time": record.get("time"),
                                "track_id": tid, "score": fd["score"], "x1": x1, "y1": y1, "x2": x2, "y2": y2}))
    return out


def _crop_still(det: Any, item: tuple[str, dict[str, Any], tuple[Any, ...]]) -> list[tuple[str, bytes | None, dict[str, Any]]]:
    """The ``--workers`` task (in a worker process): the crops of one still image."""
    from featherface.inference.stream import stream_faces

    src, stream_kw, crop_args = item
    return [c for r in stream_faces(det, src, **stream_kw) for c in _frame_crops(r, True, *crop_args)]


def run(args: argparse.Namespace) -> int:
    # torch and OpenCV (detector, readers, encoder): imported on use, not for ``featherface --help``
    from featherface.inference.detector import FaceDetector
    from featherface.inference.stream import stream_faces
    from featherface.io.images import encode_image

    crop_opts = read_dataclass_flags(args, CropOptions(), CROP_FLAGS)  # ranges checked by the parser
    inputs, avoid = expand_media(args.paths)
    json_path = check_output_file(args.json, "--json", inputs=avoid, suffixes={".json"}) if args.json else None
    sheet_path = check_output_file(args.sheet, "--sheet", inputs=avoid, suffixes={".jpg", ".jpeg", ".png"}) \
        if args.sheet else None
    out_dir = check_output_dir(args.output, "--output", inputs=avoid)
    det = FaceDetector(**detector_options(args).kwargs())
    min_score = det.post.score_threshold if args.min_score is None else float(args.min_score)
    out_dir.mkdir(parents=True, exist_ok=True)
    stream_kw = {"every": args.every, "track": args.track, "max_missed": args.max_missed}
    crop_args = (min_score, crop_opts.size, crop_opts.margin, args.format)
    pool = make_pool(args, detector_options(args).kwargs(), det, inputs)  # --workers N: still images on N processes
    done_stills = pool.map(_crop_still, ((str(s), stream_kw, crop_args) for s in inputs if is_still(s))) \
        if pool is not None else None
    started = time.perf_counter()

    def keep(stem: str, crops: list[tuple[str, bytes | None, dict[str, Any]]]) -> None:
        nonlocal degenerate
        for tag, data, row in crops:
            name = output_name(out_dir, stem, tag, "." + args.format, used, avoid, args.force, renamed).name
            if data is None:
                degenerate += 1
                continue
            write_bytes(out_dir / name, data)
            rows.append({"crop": name, **row})

    rows: list[dict[str, Any]] = []
    stems: dict[str, int] = {}
    used: set[str] = set()
    renamed: list[Path] = []
    failed = 0
    degenerate = 0
    interrupted = False
    try:
        for src in inputs:
            stem = source_stem(src)
            stems[stem] = stems.get(stem, 0) + 1
            if stems[stem] > 1:
                stem = f"{stem}-{stems[stem]}"
            try:
                if is_still(src) and done_stills is not None:
                    done = next(done_stills)
                    if isinstance(done, FeatherFaceError):
                        raise done
                    keep(stem, done)
                    continue
                with progress(None, Path(str(src)).name, args.quiet or is_still(src)) as bar:
                    for r in stream_faces(det, src, **stream_kw):
                        keep(stem, _frame_crops(r, is_still(src), *crop_args))
                        bar.update(args.every)
            except FeatherFaceError as exc:
                failed += 1
                print(f"featherface crop: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.close()
    n_stills = sum(1 for s in inputs if is_still(s))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=INDEX_FIELDS)
    w.writeheader()
    w.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    index = output_name(out_dir, "index", "", ".csv", used, avoid, args.force, renamed)
    write_text(index, buf.getvalue())
    if json_path is not None:
        write_text(json_path, json.dumps({"model": det.name, "size": crop_opts.size, "margin": crop_opts.margin,
                                          "crops": rows}, indent=1))
    if sheet_path is not None and rows:
        write_bytes(sheet_path, encode_image(contact_sheet(out_dir, rows), sheet_path.suffix))
    print(f"{len(rows)} aligned {crop_opts.size}x{crop_opts.size} crops from {len(inputs) - failed}/{len(inputs)} inputs "
          f"in {out_dir}/ ({index.name})" + (" (interrupted)" if interrupted else ""))
    if not interrupted:
        images_per_second(n_stills, started, args.workers, "crop")
    note = renamed_note(renamed, out_dir)
    if note:
        print(note)
    if degenerate:
        print(f"note: {degenerate} face(s) not cropped: their landmarks coincide (nothing to align)")
    return 130 if interrupted else (1 if failed else 0)


def contact_sheet(folder: Path, rows: list[dict[str, Any]], columns: int = 8, limit: int = 64) -> Any:
    """A grid of up to ``limit`` crops (evenly picked), each labelled ``#track`` or ``f<frame>``."""
    import cv2
    import numpy as np

    from featherface.io.images import read_image

    step = max(1, len(rows) // limit)
    picked = rows[::step][:limit]
    tiles = []
    for r in picked:
        tile = read_image(folder / r["crop"]).copy()
        label = f"#{r['track_id']}" if r["track_id"] is not None else f"f{r['frame']}"
        scale = tile.shape[0] / 224
        cv2.putText(tile, label, (4, int(18 * max(scale, 0.5)) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * max(scale, 0.5),
                    (0, 255, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    side = tiles[0].shape[0]
    cols = min(columns, len(tiles))
    rows_n = -(-len(tiles) // cols)
    sheet = np.full((rows_n * side, cols * side, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        y, x = divmod(i, cols)
        sheet[y * side:(y + 1) * side, x * side:(x + 1) * side] = cv2.resize(t, (side, side))
    return sheet


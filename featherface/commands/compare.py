"""``featherface compare``: our detector next to YuNet, UltraFace, RetinaFace-mnet0.25 and a Haar cascade.

On photos (no labels): speed, faces found, agreement with a reference detector, a markdown table,
optional JSON and a picture grid. With ``--wider-images DIR --gt DIR``: WIDER FACE val AP
(easy/medium/hard, official protocol) for every detector in one table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from featherface.commands.argtypes import int_range, nonneg_int, open_unit_float, output_path, positive_int, unit_float
from featherface.commands.options import add_detector_args
from featherface.errors import ConfigError, FeatherFaceError
from featherface.inference.options import is_random_weights
from featherface.io.outputs import InputSet, check_output_file, write_text
from featherface.tools.compare.report import format_markdown, format_wider_markdown

DEFAULT_PEERS = "yunet,ultraface-rfb320,haar"


def add_parser(subparsers: Any, name: str = "compare") -> argparse.ArgumentParser:
    """Register the ``compare`` verb and its options."""
    p = subparsers.add_parser(
        name,
        help="compare FeatherFace with peer detectors (YuNet, UltraFace, RetinaFace, Haar): speed, agreement, WIDER AP",
        description=(
            "Run several face detectors on the same images in one process and report per-image latency "
            "(median/p90 after a warm-up), faces found and agreement with a reference detector "
            "(precision/recall at IoU 0.5, landmark error). Peer model files are read from "
            "../shared/peers or $FEATHERFACE_PEERS_DIR, RetinaFace-mnet0.25's weights from "
            "../shared/weights/retinaface_mnet025_Final.pth or $FEATHERFACE_RETINAFACE_WEIGHTS; any of them can be "
            "given as NAME:PATH. A peer whose file is missing is skipped with a note. Our detector takes part "
            "only with --weights (or once trained weights ship)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("images", nargs="*", help="image files or folders")
    p.add_argument("--peers", default=DEFAULT_PEERS,
                   help="comma-separated peers: yunet, yunet-s, yunet-640, ultraface-rfb320 (ultraface), "
                        "ultraface-slim320, ultraface-rfb640, haar, retinaface (RetinaFace-mnet0.25, weights read by "
                        "path); NAME:PATH overrides the model file")
    add_detector_args(p, ("weights", "model", "score_threshold", "nms_threshold", "input_size"),
                      defaults={"nms_threshold": None}, helps={
                          "weights": "our trained weights (adds FeatherFace as the first detector; default: only "
                                     "when trained weights ship for --model); 'none' (or 'random'): an untrained, "
                                     "randomly initialised network",
                          "model": "our model name",
                          "score_threshold": "one score threshold for every detector with probability scores (not haar)",
                          "nms_threshold": "NMS IoU for everyone (default: each one's own)",
                          "input_size": "resize the longer side to N for detectors that allow it (default: original size)",
                      })
    p.add_argument("--reference", default=None,
                   help="detector the others are compared with (default: yunet if present, else the first)")
    p.add_argument("--iou", type=open_unit_float, default=0.5, help="IoU for matching a face to the reference's")
    p.add_argument("--repeats", type=nonneg_int, default=3, help="timed runs per image and detector (after one warm-up)")
    add_detector_args(p, ("threads",), helps={"threads": "CPU threads for OpenCV, onnxruntime and torch alike "
                                                         "(default: library defaults)"})
    p.add_argument("--json", dest="json_out", type=output_path, default=None, help="write all numbers as JSON here")
    p.add_argument("--json-faces", action="store_true", help="include every detection in the JSON")
    p.add_argument("--markdown", type=output_path, default=None, help="also write the table(s) to this markdown file")
    p.add_argument("--grid", type=output_path, default=None, help="write a picture grid (rows: images, columns: detectors) here")
    p.add_argument("--grid-images", default="6",
                   help="number of images in the grid (evenly spaced), or a comma-separated list of file names")
    p.add_argument("--grid-cell-width", type=int_range(16, 4096, name="width"), default=300, help="width of one grid cell in pixels")
    p.add_argument("--wider-images", default=None, help="WIDER FACE val images folder (WIDER_val/images)")
    p.add_argument("--gt", default=None, help="WIDER FACE ground-truth folder (the four official .mat files)")
    p.add_argument("--wider-limit", type=positive_int, default=None, help="only the first N WIDER images (quick, not comparable)")
    p.add_argument("--wider-score-threshold", type=unit_float, default=0.02,
                   help="score threshold for the WIDER run (AP needs the low-score detections)")
    p.add_argument("--force", action="store_true",
                   help="let --json / --markdown / --grid replace an existing file of another kind")
    p.add_argument("--strict", action="store_true", help="fail instead of skipping an unavailable detector")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)
    return p


def _grid_choice(value: str) -> int | list[str]:
    v = value.strip()
    if v.isdigit():
        if int(v) < 1:
            raise ConfigError("--grid-images must be >= 1")
        return int(v)
    return [x.strip() for x in v.split(",") if x.strip()]


def _set_threads(n: int | None) -> None:
    if n is None:
        return
    if n < 1:
        raise ConfigError(f"--threads must be >= 1, got {n}")
    import cv2  # OpenCV and torch: imported on use, not for ``featherface --help``
    import torch

    cv2.setNumThreads(n)
    torch.set_num_threads(n)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``featherface compare``; returns the exit code."""
    # OpenCV and torch (readers, detectors, the grid): imported on use, not for ``featherface --help``
    from featherface.io.images import expand_inputs, load_image
    from featherface.io.video import is_video_path
    from featherface.peers.factory import build_lineup
    from featherface.tools.compare.grid import save_grid
    from featherface.tools.compare.run import compare_detectors
    from featherface.tools.compare.wider import evaluate_on_wider

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if not args.images and not args.wider_images:
        raise ConfigError("give IMAGES to compare on, and/or --wider-images DIR --gt DIR")
    if bool(args.wider_images) != bool(args.gt):
        raise ConfigError("--wider-images and --gt go together")
    if args.repeats < 0:
        raise ConfigError("--repeats must be >= 0")
    for opt in ("score_threshold", "wider_score_threshold"):
        v = getattr(args, opt)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"--{opt.replace('_', '-')} must be in [0, 1], got {v}")
    grid_choice = _grid_choice(args.grid_images)
    json_out, md_out, grid_out = _check_outputs(args)
    _set_threads(args.threads)
    specs = [s for s in args.peers.split(",") if s.strip()]
    common = dict(weights=args.weights, model=args.model, nms_threshold=args.nms_threshold,
                  input_size=args.input_size, threads=args.threads, strict=args.strict)

    report: dict[str, Any] = {}
    md_parts: list[str] = []
    if args.images:
        paths = [p for p in expand_inputs(args.images) if not is_video_path(p)]
        if not paths:
            raise ConfigError("no images found in the given paths")
        dets = build_lineup(specs, score_threshold=args.score_threshold, log=log, **common)
        if not dets:
            raise FeatherFaceError("no detector could be built (see the messages above)")
        names = [d.name for d in dets]
        reference = args.reference or ("yunet" if "yunet" in names else names[0])
        if reference not in names:
            raise ConfigError(f"--reference {reference!r} is not among the detectors run ({', '.join(names)})")
        arrays = [load_image(p) for p in paths]
        labels = _labels(paths)
        settings = {"score_threshold": args.score_threshold, "nms_threshold": args.nms_threshold,
                    "input_size": args.input_size, "threads": args.threads, "peers": specs,
                    "weights": args.weights}
        result = compare_detectors(dets, arrays, labels, reference, args.repeats, args.iou, log, settings)
        table = format_markdown(result)
        print(table)
        md_parts.append(table)
        report.update(result.to_dict(include_faces=args.json_faces))
        if grid_out is not None:
            out = save_grid(result, arrays, grid_out, grid_choice, args.grid_cell_width)
            log(f"grid written to {out} ({out.stat().st_size // 1024} KB)")
    if args.wider_images:
        wdets = build_lineup(specs, score_threshold=args.wider_score_threshold, log=log, **common)
        if not wdets:
            raise FeatherFaceError("no detector could be built for the WIDER run")
        step = max(1, (args.wider_limit or 3226) // 20)

        def progress(i: int, n: int) -> None:
            if i == n or i % step == 0:
                log(f"WIDER: {i}/{n} images")

        scores = evaluate_on_wider(wdets, args.wider_images, args.gt, args.wider_limit, 0.5, progress)
        table = format_wider_markdown(scores)
        if md_parts:
            print()
        print(table)
        md_parts.append(table)
        report["wider"] = {"score_threshold": args.wider_score_threshold, "limit": args.wider_limit, "results": scores}
    if json_out is not None:
        write_text(json_out, json.dumps(report, indent=2) + "\n")
        log(f"JSON written to {json_out}")
    if md_out is not None:
        write_text(md_out, "\n\n".join(md_parts) + "\n")
    return 0


def _check_outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None, Path | None]:
    """--json, --markdown, --grid checked before any detector is built (:mod:`featherface.io.outputs`):
    none may be an input image or the weights, a folder, or another one of them."""
    from featherface.io.images import expand_inputs  # OpenCV: on use, not for ``featherface --help``

    ins = InputSet(expand_inputs(args.images) if args.images else [])
    if args.weights is not None and not is_random_weights(args.weights):
        ins.add(args.weights)
    outs: list[Path | None] = []
    seen: dict[str, str] = {}
    for opt, value, sfx in (("--json", args.json_out, {".json"}), ("--markdown", args.markdown, {".md", ".markdown"}),
                            ("--grid", args.grid, {".jpg", ".jpeg"})):
        if not value:
            outs.append(None)
            continue
        # the grid is a JPEG: an existing .jpg may be a user's photo, replaced only with --force
        p = check_output_file(value, opt, inputs=ins, suffixes=sfx, force=args.force, replace_same_kind=opt != "--grid")
        key = str(p.resolve())
        if key in seen:
            raise ConfigError(f"{opt} {p} is also given to {seen[key]}; give each output its own file")
        seen[key] = opt
        outs.append(p)
    return outs[0], outs[1], outs[2]


def _labels(paths: list[Path]) -> list[str]:
    """File names, or relative paths where two files share a name."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]

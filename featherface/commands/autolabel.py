"""``featherface autolabel IMAGES... --teacher yunet --output label.txt``."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="label unlabelled photos with a teacher detector",
                       description="Run a teacher detector (YuNet via OpenCV, or a FeatherFace checkpoint) over "
                                   "images and folders and write a RetinaFace-format label.txt (boxes + 5 landmarks) "
                                   "for training or fine-tuning.")
    p.add_argument("paths", nargs="+", help="images or folders")
    p.add_argument("--teacher", default="yunet",
                   help="yunet | yunet:PATH.onnx | yunet-s | retinaface[:PATH] | featherface:WEIGHTS[:MODEL], "
                        "or several joined by '+' and fused, e.g. retinaface+yunet (default yunet)")
    p.add_argument("--output", "-o", required=True, help="label file to write")
    p.add_argument("--root", default=None, help="folder the label paths are relative to (default: common folder)")
    p.add_argument("--threshold", type=float, default=0.7, help="teacher score threshold (default 0.7)")
    p.add_argument("--min-size", type=float, default=8.0, help="drop faces whose shorter side is below N px (default 8)")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="also write a deterministic hold-out split (<stem>_train.txt, <stem>_val.txt)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the hold-out split")
    p.add_argument("--report", default=None, help="also write faces per image to this CSV file")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featherface.autolabel import autolabel, build_teacher
    from featherface.inference.image_io import expand_inputs, is_image_path

    teacher = build_teacher(args.teacher, args.threshold)
    images = [p for p in expand_inputs(args.paths) if is_image_path(p) or not p.exists()]
    rep = autolabel(images, teacher, args.output, root=args.root, min_size=args.min_size,
                    progress=not args.quiet, val_fraction=args.val_fraction, split_seed=args.split_seed)
    for path, err in rep.failures:
        print(f"featherface autolabel: skipped: {err}", file=sys.stderr)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write("image,faces\n")
            for k, v in rep.faces_per_image.items():
                f.write(f"{k},{v}\n")
    print(rep.summary())
    return 1 if rep.failures else 0

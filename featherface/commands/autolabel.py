"""``featherface autolabel IMAGES... --teacher yunet --output label.txt``."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any, Callable

from featherface.commands.argtypes import fraction_float, nonneg_float, nonneg_int, output_path
from featherface.commands.options import add_detector_args
from featherface.errors import ConfigError
from featherface.io.outputs import InputSet, check_output_file, write_text


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="label unlabelled photos with a teacher detector",
                       description="Run a teacher detector (YuNet via OpenCV, or a FeatherFace checkpoint) over "
                                   "images and folders and write a RetinaFace-format label.txt (boxes + 5 landmarks) "
                                   "for training or fine-tuning.")
    p.add_argument("paths", nargs="+", help="images or folders (with --boxes: the one folder its paths are under)")
    p.add_argument("--teacher", default="yunet",
                   help="yunet | yunet:PATH.onnx | yunet-s | retinaface[:PATH] | featherface:WEIGHTS[:MODEL], "
                        "or several joined by '+' and fused, e.g. retinaface+yunet (default yunet)")
    p.add_argument("--output", "-o", type=output_path, required=True, help="label file to write")
    p.add_argument("--root", default=None, help="folder the label paths are relative to (default: common folder)")
    add_detector_args(p, ("score_threshold",), defaults={"score_threshold": None},  # None: build_teacher's
                      helps={"score_threshold": "teacher score threshold in [0, 1] (default: 0.7)"})
    p.add_argument("--min-size", type=nonneg_float, default=None,
                   help="drop faces whose shorter side is below N px (default 8); with --hard-negatives: mine no "
                        "false face below N px (default 24: small ones in crowds are mostly unlabelled faces)")
    p.add_argument("--val-fraction", type=fraction_float, default=0.0,
                   help="also write a deterministic hold-out split (<stem>_train.txt, <stem>_val.txt)")
    p.add_argument("--split-seed", type=nonneg_int, default=0, help="seed of the hold-out split")
    p.add_argument("--boxes", metavar="LABELS", default=None,
                   help="keep the human boxes of this label file (e.g. WIDER FACE train) and add the teacher's "
                        "landmarks where one of its faces matches a box (IoU >= --match-iou)")
    p.add_argument("--match-iou", type=fraction_float, default=0.5,
                   help="with --boxes: IoU a teacher face needs with a box to lend it landmarks (default 0.5)")
    p.add_argument("--hard-negatives", metavar="CROPS_DIR", default=None,
                   help="with --boxes: instead of landmarks, mine the false faces of --miner over the labelled "
                        "images (no labelled box and no teacher face there) and write each as a crop in CROPS_DIR, "
                        "listed in --output with the labelled faces inside it (an extra training source)")
    p.add_argument("--miner", default="featherface",
                   help="with --hard-negatives: the detector whose false faces are mined, a --teacher spec "
                        "(default featherface: the shipped V2 Ultra weights; featherface-v1; featherface:WEIGHTS[:MODEL])")
    p.add_argument("--miner-score", type=fraction_float, default=None,
                   help="with --hard-negatives: score from which a detection of --miner counts (default 0.3)")
    p.add_argument("--report", type=output_path, default=None, help="also write faces per image to this CSV file")
    p.add_argument("--force", action="store_true",
                   help="let --output / --report replace an existing file of another kind")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # OpenCV and torch (the teachers, the image reader): imported on use, not for ``featherface --help``
    from featherface.autolabel import LABEL_MIN_SIZE, autolabel, check_autolabel_options
    from featherface.io.images import expand_inputs, is_image_path
    from featherface.peers.factory import build_teacher

    from featherface.negatives import NEGATIVE_MIN_SIZE

    if args.min_size is None:
        args.min_size = NEGATIVE_MIN_SIZE if args.hard_negatives is not None else LABEL_MIN_SIZE
    if args.hard_negatives is not None and args.boxes is None:
        raise ConfigError("--hard-negatives mines the images of a label file: give it with --boxes LABELS")
    check_autolabel_options(args.min_size, args.val_fraction)
    if args.boxes is not None:
        return _run_boxes(args, build_teacher)
    images = [p for p in expand_inputs(args.paths) if is_image_path(p) or not p.exists()]
    # every output is checked before the teacher is built or an image read
    ins = InputSet(images)
    out = check_output_file(args.output, "--output", inputs=ins, suffixes={".txt"}, force=args.force)
    outs = [out]
    if args.val_fraction > 0:
        for part in ("train", "val"):
            outs.append(check_output_file(out.with_name(f"{out.stem}_{part}{out.suffix}"), f"--output ({part} split)",
                                          inputs=ins, suffixes={".txt"}, force=args.force))
    report = None
    if args.report:
        report = check_output_file(args.report, "--report", inputs=ins, suffixes={".csv"}, force=args.force)
        if any(report.resolve() == o.resolve() for o in outs):
            raise ConfigError(f"--report {report} is also a label file of this run; give another name")
    teacher = build_teacher(args.teacher, **({} if args.score_threshold is None
                                             else {"score_threshold": args.score_threshold}))
    rep = autolabel(images, teacher, out, root=args.root, min_size=args.min_size,
                    progress=not args.quiet, val_fraction=args.val_fraction, split_seed=args.split_seed)
    for path, err in rep.failures:
        print(f"featherface autolabel: skipped: {err}", file=sys.stderr)
    if report is not None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["image", "faces"])
        for k, v in rep.faces_per_image.items():
            w.writerow([k, v])
        write_text(Path(report), buf.getvalue())
    print(rep.summary())
    return 1 if rep.failures else 0


def _run_negatives(args: argparse.Namespace, anns: Any, out: Path, teacher: Any,
                   build_teacher: Callable[..., Any]) -> int:
    """``--boxes --hard-negatives``: see :func:`featherface.negatives.mine_hard_negatives`."""
    from featherface.negatives import MINER_SCORE, mine_hard_negatives

    score = MINER_SCORE if args.miner_score is None else args.miner_score
    crops = Path(args.hard_negatives)
    if args.miner in ("featherface", "featherface-v2-ultra", "featherface-v1"):  # the shipped weights
        from featherface.peers.factory import our_detector

        model = "featherface-v2-ultra" if args.miner == "featherface" else args.miner
        miner = our_detector(model, None, score_threshold=score)
    else:
        miner = build_teacher(args.miner, score_threshold=score)
    rep = mine_hard_negatives(anns, args.paths[0], miner, crops, out, teacher=teacher, min_size=args.min_size,
                              progress=not args.quiet)
    for _, err in rep.failures:
        print(f"featherface autolabel: skipped: {err}", file=sys.stderr)
    print(rep.summary())
    return 1 if rep.failures else 0


def _run_boxes(args: argparse.Namespace, build_teacher: Callable[..., Any]) -> int:
    """``--boxes``: the human boxes stay, the teacher lends landmarks (see :func:`attach_landmarks`)."""
    from featherface.autolabel import attach_landmarks
    from featherface.data.labels import load_annotations

    if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
        raise ConfigError(f"--boxes: give the one image folder the label paths are under, got {' '.join(args.paths)}")
    if args.val_fraction > 0 or args.report:
        raise ConfigError("--boxes keeps a label file's own images: --val-fraction and --report do not apply")
    anns = load_annotations(args.boxes)
    out = check_output_file(args.output, "--output", inputs=InputSet([Path(args.boxes)]), suffixes={".txt"},
                            force=args.force)
    if args.hard_negatives is not None:  # checked before any model is built
        crops = Path(args.hard_negatives)
        if crops.exists() and not crops.is_dir():
            raise ConfigError(f"--hard-negatives {crops} exists and is not a folder")
        if crops.is_dir() and any(crops.iterdir()) and not args.force:
            raise ConfigError(f"--hard-negatives {crops} is not empty; give a new folder (or --force to add to it)")
    teacher = build_teacher(args.teacher, **({} if args.score_threshold is None
                                             else {"score_threshold": args.score_threshold}))
    if args.hard_negatives is not None:
        return _run_negatives(args, anns, out, teacher, build_teacher)
    rep = attach_landmarks(anns, args.paths[0], teacher, out, match_iou=args.match_iou, progress=not args.quiet)
    for _, err in rep.failures:
        print(f"featherface autolabel: skipped: {err}", file=sys.stderr)
    print(rep.summary())
    return 1 if rep.failures else 0

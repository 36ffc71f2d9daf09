"""``featherface eval``: WIDER FACE validation AP (easy / medium / hard), official protocol,
or accuracy against human labels (facemask boxes, Caltech points, CUHK landmarks).

Two sources of WIDER predictions:

* ``--predictions DIR``: an existing ``<event>/<image>.txt`` folder written by any detector;
* ``--images WIDER_val/images [--weights W ...]``: run our detector over the 3,226 validation
  images first (optionally with flip test and ``--save-predictions``), then evaluate.

Human-labelled sets (``--human-sets ../shared/data`` or ``--facemask/--caltech/--cuhk DIR``):
several ``--detectors`` side by side in one markdown table; the rules are in
:mod:`featherface.evaluation.human_boxes`, ``human_points`` and ``human_landmarks``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from featherface.commands.argtypes import (
    fraction_float,
    nonneg_float,
    nonneg_int,
    open_unit_float,
    output_path,
    positive_int,
)
from featherface.commands.options import add_detector_args, detector_options
from featherface.data.benchmarks import BenchmarkWarning
from featherface.errors import FeatherFaceError
from featherface.evaluation.plot import plot_box_pr, plot_pr_curves
from featherface.evaluation.predictions import EvaluationWarning, read_prediction_dir
from featherface.evaluation.runner import (
    WIDER_SCORE_THRESHOLD,
    WiderSubset,
    describe_subset,
    detect_wider,
    evaluate_detectors,
    restrict_to_present,
    wider_options,
)
from featherface.evaluation.wider_gt import SETTINGS, default_ground_truth_dir, load_wider_ground_truth
from featherface.evaluation.widerface import evaluate
from featherface.io.outputs import InputSet, atomic_output, check_output_dir, check_output_file, check_plot_output, write_text
_DETECTOR_ONLY = ("weights", "input_size", "save_predictions")
_HUMAN_SETS = ("human_sets", "facemask", "caltech", "cuhk")
_HUMAN_ONLY = ("min_face", "caltech_split", "val_fraction", "split_seed", "cuhk_rotation")
_WIDER_ONLY = ("predictions", "images", "save_predictions")


def add_parser(subparsers: Any, name: str = "eval") -> argparse.ArgumentParser:
    """Register the verb: its options and ``func=run``."""
    default_gt = default_ground_truth_dir()
    p = subparsers.add_parser(
        name,
        help="WIDER FACE val AP (easy/medium/hard), or accuracy on human-labelled sets, of detectors",
        description=(
            "Official WIDER FACE validation protocol: AP on the easy, medium and hard settings "
            "(IoU 0.5, scores min-max normalised over the set, 1000 thresholds, VOC-style AP). "
            "Evaluate an existing prediction folder (--predictions) or run our detector over the "
            "validation images (--images) and evaluate its output. "
            "Or, with --human-sets / --facemask / --caltech / --cuhk, compare --detectors against "
            "human labels: facemask AP and P/R (faces >= --min-face px), Caltech recall and "
            "unmatched detections, CUHK found rate and landmark NME, in one table."
        ),
    )
    p.add_argument(
        "--gt", type=Path, default=default_gt, metavar="DIR",
        help="WIDER: folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat"
        + (f" (default: {default_gt})" if default_gt else ""),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--predictions", type=Path, metavar="DIR",
                     help="existing prediction folder <event>/<image>.txt (any detector)")
    src.add_argument("--images", type=Path, metavar="DIR",
                     help="WIDER_val/images: run our detector (or --detectors) over the validation images, then "
                          "evaluate; a folder holding only some of them is scored against the ground truth of "
                          "those images, marked as a subset in every output")
    det = p.add_argument_group("detector options (with --images)")
    add_detector_args(det, ("model", "weights", "input_size", "score_threshold", "nms_threshold", "vote_iou",
                            "device", "threads"),
                      defaults={"score_threshold": None, "nms_threshold": None}, helps={
                          "input_size": "resize the longer image side to N (default: original size, the protocol's "
                                        "usual choice)",
                          "score_threshold": f"WIDER: score threshold of the detector (default: {WIDER_SCORE_THRESHOLD}, "
                                             "the usual WIDER setting); human sets: the operating score of P/R, recall "
                                             "and found rate (default: 0.5; detectors run at 0.02 so that AP sees the "
                                             "whole ranking)",
                          "nms_threshold": "NMS IoU (default: 0.4 for WIDER; each detector's own default on the human "
                                           "sets)",
                      })
    det.add_argument("--flip", action="store_true", help="flip test: also detect on the mirrored image and merge")
    det.add_argument("--save-predictions", type=output_path, metavar="DIR",
                     help="also write the detections as a standard prediction folder")
    hum = p.add_argument_group("human-labelled sets (instead of WIDER)")
    hum.add_argument("--human-sets", type=Path, metavar="DIR",
                     help="data root holding facemask-kaggle/, caltech-webfaces/ and cuhk-landmarks/ "
                     "(e.g. ../shared/data): evaluate on all three")
    hum.add_argument("--facemask", "--voc", dest="facemask", type=Path, metavar="DIR",
                     help="a PASCAL VOC box set (annotations/*.xml + images/), e.g. facemask-kaggle/")
    hum.add_argument("--caltech", type=Path, metavar="DIR",
                     help="Caltech WebFaces folder (WebFaces_GroundThruth.txt + images/)")
    hum.add_argument("--cuhk", type=Path, metavar="DIR", help="CUHK landmark folder (landmarks.txt + images/)")
    p.add_argument("--detectors", metavar="LIST",
                     help="comma-separated: model names with shipped weights (featherface-v2-ultra), "
                     "MODEL:WEIGHTS, featherface:WEIGHTS, retinaface[:PATH], peer specs (yunet, yunet-s, "
                     "ultraface-rfb320, haar, NAME:PATH); default: --model (its shipped weights), "
                     "or only --weights when given")
    hum.add_argument("--min-face", type=nonneg_float, default=None, metavar="PX",
                     help="box sets: labelled faces with sqrt(w*h) below PX are ignored (default: 16)")
    hum.add_argument("--caltech-split", choices=("val", "train", "all"), default=None,
                     help="Caltech images to use (default: val, the hold-out the training labels never saw)")
    hum.add_argument("--val-fraction", type=fraction_float, default=None, metavar="F",
                     help="fraction of the Caltech hold-out (default: 0.1, as autolabel --val-fraction)")
    hum.add_argument("--cuhk-rotation", type=nonneg_float, default=None, metavar="DEG",
                     help="also score CUHK on copies turned by +DEG and -DEG degrees: do the landmarks follow "
                          "head roll? (e.g. 20; default: off)")
    hum.add_argument("--split-seed", type=nonneg_int, default=None, metavar="SEED", help="seed of the Caltech hold-out (default: 0)")
    out = p.add_argument_group("evaluation and output")
    out.add_argument("--limit", type=positive_int, metavar="N",
                     help="WIDER: only N evenly spaced images; human sets: the first N images of each set "
                     "(quick check; numbers are not comparable)")
    out.add_argument("--iou", type=open_unit_float, default=0.5, help="IoU threshold (default: %(default)s, the protocol's)")
    out.add_argument("--json", type=output_path, metavar="FILE", help="write the APs and counts as JSON")
    out.add_argument("--plot", type=output_path, metavar="PNG",
                     help="draw the precision-recall curves (WIDER: the three settings; human sets: the box set)")
    out.add_argument("--force", action="store_true",
                     help="let --json / --plot replace an existing file of another kind")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def _check_outputs(args: argparse.Namespace) -> None:
    """--json, --plot and --save-predictions checked before any work (:mod:`featherface.io.outputs`):
    never a file of the inputs (ground truth, predictions, images, human sets, weights), a folder
    where a file is meant or the reverse; --plot must name a format matplotlib writes."""
    if args.json is None and args.plot is None and getattr(args, "save_predictions", None) is None:
        return
    ins = InputSet()
    for key in ("gt", "predictions", "images", "human_sets", "facemask", "caltech", "cuhk", "weights"):
        value = getattr(args, key, None)
        if value is not None:
            ins.add_tree(value)
    force = getattr(args, "force", False)
    if args.json is not None:
        args.json = check_output_file(args.json, "--json", inputs=ins, suffixes={".json"}, force=force)
    if args.plot is not None:
        args.plot = check_plot_output(args.plot, "--plot", inputs=ins, force=force)
        if args.json is not None and args.plot.resolve() == args.json.resolve():
            raise FeatherFaceError(f"--plot {args.plot} is the --json file too; give each its own name")
    if getattr(args, "save_predictions", None) is not None:
        args.save_predictions = check_output_dir(args.save_predictions, "--save-predictions", inputs=ins)


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def run(args: argparse.Namespace) -> int:
    """Evaluate; print the easy | medium | hard table (or the human-set table); return the exit code."""
    _check_outputs(args)
    if any(getattr(args, k, None) is not None for k in _HUMAN_SETS):
        return run_human(args)
    used = [_flag(k) for k in _HUMAN_ONLY if getattr(args, k, None) is not None]
    if used:
        raise FeatherFaceError(f"{', '.join(used)} only apply with the human-labelled sets "
                               "(--human-sets, --facemask, --caltech, --cuhk)")
    if args.predictions is None and args.images is None:
        raise FeatherFaceError("nothing to evaluate: give --predictions DIR or --images DIR (WIDER FACE), "
                               "or human-labelled sets (--human-sets DIR, --facemask/--caltech/--cuhk DIR)")
    if args.gt is None:
        raise FeatherFaceError("--gt DIR is required (no WIDER ground truth found at ../shared/data/widerface/"
                               "ground_truth)")
    opts = detector_options(args, base=wider_options()) if args.images is not None else None
    if args.detectors is not None and (args.predictions is not None or args.flip or args.save_predictions
                                       or args.plot is not None):
        raise FeatherFaceError("--detectors runs each detector over --images; --predictions, --flip, "
                               "--save-predictions and --plot take our one detector")
    if args.predictions is not None:
        used = [f"--{k.replace('_', '-')}" for k in _DETECTOR_ONLY if getattr(args, k, None) is not None]
        if getattr(args, "flip", False):
            used.append("--flip")
        if used:
            raise FeatherFaceError(f"{', '.join(used)} only apply with --images (running our detector)")
    if args.limit is not None and args.limit < 1:
        raise FeatherFaceError(f"--limit must be >= 1, got {args.limit}")
    progress = not args.quiet

    def show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
        prefix = "warning" if issubclass(category, EvaluationWarning) else category.__name__
        print(f"featherface eval: {prefix}: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", EvaluationWarning)
        warnings.showwarning = show
        gt = load_wider_ground_truth(args.gt)
        full_size = gt.num_images
        subset: WiderSubset | None = None
        if args.images is not None:
            gt, subset = restrict_to_present(gt, args.images)
            if subset is not None:
                print(f"note: {subset.note()}", file=sys.stderr)
        if args.limit is not None and args.limit < gt.num_images:
            idx = np.unique(np.linspace(0, gt.num_images - 1, args.limit).round().astype(int))
            gt = gt.subset(idx)
            subset = describe_subset(gt, full_size)
            print(f"note: evaluating {gt.num_images} of the images only (--limit); APs are not comparable "
                  "with full-set numbers", file=sys.stderr)
        if args.detectors is not None:
            assert opts is not None
            return _run_wider_detectors(args, opts, gt, subset, progress)
        if args.predictions is not None:
            preds = read_prediction_dir(args.predictions, gt, progress=progress)
            source: dict[str, Any] = {"predictions": str(args.predictions)}
        else:
            assert opts is not None
            preds = detect_wider(gt, args.images, opts, flip=args.flip, save_predictions=args.save_predictions,
                                 progress=progress)
            if args.save_predictions is not None:
                print(f"predictions written to {args.save_predictions}", file=sys.stderr)
            source = {
                "model": opts.model, "weights": args.weights, "input_size": opts.input_size,
                "flip": bool(args.flip), "score_threshold": opts.score_threshold, "nms_threshold": opts.nms_threshold,
            }
        result = evaluate(preds, gt, args.iou)

    settings = [s for s in SETTINGS if s in result]
    print(_table(result, settings, subset))
    if args.json is not None:
        payload = {s: round(float(result[s]), 6) for s in settings}
        payload.update(
            subset=subset.to_dict() if subset is not None else None,
            iou_threshold=result["iou_threshold"],
            num_images=result["num_images"],
            missing_images=result["missing_images"],
            num_predictions=result["num_predictions"],
            faces=result["faces"],
            source=source,
        )
        write_text(args.json, json.dumps(payload, indent=2) + "\n")
        print(f"APs written to {args.json}")
    if args.plot is not None:
        with atomic_output(args.plot) as tmp:
            plot_pr_curves(result, tmp)
        print(f"precision-recall curves drawn in {args.plot}")
    return 0


def run_human(args: argparse.Namespace) -> int:
    """``featherface eval --human-sets DIR`` (or ``--facemask/--caltech/--cuhk``): one table of detectors."""
    # torch and OpenCV (the detectors, the image reader) load here, not for ``featherface eval --help``
    from featherface.evaluation.human import HumanEvalOptions, evaluate_human, human_set_dirs
    from featherface.peers.factory import build_detectors

    used = [_flag(k) for k in _WIDER_ONLY if getattr(args, k, None) is not None]
    if getattr(args, "flip", False):
        used.append("--flip")
    if used:
        raise FeatherFaceError(f"{', '.join(used)} only apply to WIDER FACE; the human-labelled sets are a "
                               "separate run")
    dirs: dict[str, Path] = human_set_dirs(args.human_sets) if args.human_sets is not None else {}
    for key in ("facemask", "caltech", "cuhk"):
        if getattr(args, key, None) is not None:
            dirs[key] = Path(getattr(args, key))
    opts = HumanEvalOptions(
        threshold=HumanEvalOptions.threshold if args.score_threshold is None else args.score_threshold,
        min_face=16.0 if args.min_face is None else args.min_face,
        iou=args.iou,
        limit=args.limit,
        caltech_split=args.caltech_split or "val",
        val_fraction=0.1 if args.val_fraction is None else args.val_fraction,
        split_seed=0 if args.split_seed is None else args.split_seed,
        cuhk_rotation=0.0 if args.cuhk_rotation is None else args.cuhk_rotation,
        progress=not args.quiet,
    ).check()
    if args.detectors is not None:
        specs = _specs(args.detectors)
    else:
        specs = [] if args.weights is not None else [args.model]

    def note(m: str) -> None:
        print(f"featherface eval: {m}", file=sys.stderr)

    def show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
        prefix = "warning" if issubclass(category, BenchmarkWarning) else category.__name__
        print(f"featherface eval: {prefix}: {message}", file=sys.stderr)

    detectors, skipped = build_detectors(
        specs, weights=args.weights, model=args.model, device=args.device,
        score_threshold=min(WIDER_SCORE_THRESHOLD, opts.threshold), nms_threshold=args.nms_threshold,
        input_size=args.input_size, log=note, threads=args.threads, vote_iou=args.vote_iou,
    )
    if not detectors:
        raise FeatherFaceError("no detector could be built (" + "; ".join(skipped or ["none named"]) + ")")
    with warnings.catch_warnings():
        warnings.simplefilter("always", BenchmarkWarning)
        warnings.showwarning = show
        result = evaluate_human(detectors, options=opts, skipped=skipped, **{
            k: dirs.get(k) for k in ("facemask", "caltech", "cuhk")})
    print(result.markdown())
    if args.json is not None:
        write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.plot is not None:
        if "facemask" not in result.sets:
            raise FeatherFaceError("--plot draws the box set's precision-recall curves: add --facemask or --human-sets")
        with atomic_output(args.plot) as tmp:
            plot_box_pr(result, tmp)
        print(f"precision-recall curves drawn in {args.plot}")
    return 0


def _specs(text: str) -> list[str]:
    specs = [s.strip() for s in text.split(",") if s.strip()]
    if not specs:
        raise FeatherFaceError("--detectors is empty")
    return specs


def _run_wider_detectors(args: argparse.Namespace, opts: Any, gt: Any, subset: WiderSubset | None,
                         progress: bool) -> int:
    """``eval --images DIR --detectors LIST``: every detector over the same images, one table."""
    from featherface.peers.factory import build_detectors

    def note(m: str) -> None:
        print(f"featherface eval: {m}", file=sys.stderr)

    detectors, skipped = build_detectors(
        _specs(args.detectors), weights=args.weights, model=args.model, device=args.device,
        score_threshold=opts.score_threshold, nms_threshold=args.nms_threshold, input_size=args.input_size,
        log=note, threads=args.threads, vote_iou=args.vote_iou)
    if not detectors:
        raise FeatherFaceError("no detector could be built (" + "; ".join(skipped or ["none named"]) + ")")
    rows = evaluate_detectors(detectors, gt, args.images, args.iou, progress=progress)
    head = (f"WIDER FACE val AP (IoU {args.iou:g}, {gt.num_images} images, score >= {opts.score_threshold:g}, "
            f"{'original size' if args.input_size is None else f'longer side {args.input_size}'})")
    lines = [head + (f"; {subset.note()}" if subset is not None else ""), "",
             "| detector | easy | medium | hard | detections | seconds |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['easy']:.3f} | {r['medium']:.3f} | {r['hard']:.3f} | {r['predictions']} "
                     f"| {r['seconds']:.1f} |")
    sized = {n: r["recall_by_size"] for n, r in rows.items() if r.get("recall_by_size")}
    if sized:
        buckets = [d["bucket"] for d in next(iter(sized.values()))]
        counts = ", ".join(f"{d['bucket']}: {d['faces']}" for d in next(iter(sized.values())))
        lines += ["", f"Hard-set recall by face height, every detection / score >= 0.5 (faces: {counts}):", "",
                  "| detector | " + " | ".join(buckets) + " |", "|---|" + "---|" * len(buckets)]
        for n, r in sized.items():
            lines.append(f"| {n} | " + " | ".join("—" if d["recall"] is None else
                                                   f"{d['recall']:.2f} / {d['recall_at_0.5']:.2f}" for d in r) + " |")
    lines += [f"\nnot run: {s}" for s in skipped]
    print("\n".join(lines))
    if args.json is not None:
        payload = {"benchmark": "wider_face_val", "iou_threshold": args.iou, "num_images": gt.num_images,
                   "subset": subset.to_dict() if subset is not None else None,
                   "score_threshold": opts.score_threshold, "input_size": args.input_size,
                   "detectors": rows, "skipped": skipped}
        write_text(args.json, json.dumps(payload, indent=2) + "\n")
        print(f"APs written to {args.json}")
    return 0


def _table(result: dict[str, Any], settings: list[str], subset: WiderSubset | None = None) -> str:
    head = f"WIDER FACE val AP (IoU {result['iou_threshold']:g}, {result['num_images']} images"
    if result["missing_images"]:
        head += f", {result['missing_images']} without predictions"
    head += ")"
    if subset is not None:
        head += f"; {subset.note()}"
    cells = [f"{result[s]:.4f}" for s in settings]
    widths = [max(len(s), len(c)) for s, c in zip(settings, cells)]
    top = " | ".join(s.center(w) for s, w in zip(settings, widths))
    sep = "-+-".join("-" * w for w in widths)
    row = " | ".join(c.center(w) for c, w in zip(cells, widths))
    return "\n".join([head, top, sep, row])

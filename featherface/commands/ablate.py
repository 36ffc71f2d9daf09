"""``featherface ablate``: the five V2 techniques one by one, V2 vs V1, over seeds (see featherface.tools.ablate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from featherface.commands.argtypes import int_range, output_path, positive_int

# latency is measured on one SIDE x SIDE random image: past the detector's own input limit it only
# allocates (100000 asked for ~120 GB)
_latency_side = int_range(32, 4096, name="size")


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="ablation of the V2 techniques and V2 vs V1, with seed spread",
                       description="Train every variant (no technique, all five, all but one, only one, V1) with one "
                                   "short recipe and several seeds (resumable), score each on the human-labelled "
                                   "sets, and write the table (technique, the sheet's claim, measured delta +- seed "
                                   "spread, 'within noise' unless it exceeds the spread) and a JSON of every run.")
    p.add_argument("--config", "-c", required=True, help="the training recipe (YAML) every variant uses")
    p.add_argument("--variants", nargs="+", default=None,
                   help="base ultra ultra-<technique> base+<technique> v1, or NAME:key=value[,key=value] (a variant with "
                        "other architecture options, e.g. ultra+attention_residual:fpn_channels=64; default: all)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="seeds per variant (default: 0 1)")
    p.add_argument("--max-steps", type=positive_int, default=None, help="cap every run at N steps (short recipes)")
    p.add_argument("--output", "-o", type=output_path, default="runs/ablation", help="runs folder (default: runs/ablation)")
    p.add_argument("--human-sets", default=None, metavar="DIR",
                   help="data root with facemask-kaggle/, caltech-webfaces/, cuhk-landmarks/ (e.g. ../shared/data)")
    p.add_argument("--wider-images", default=None, metavar="DIR",
                   help="WIDER_val/images: also score every run's official WIDER FACE val AP (easy/medium/hard)")
    p.add_argument("--wider-gt", default=None, metavar="DIR",
                   help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat "
                        "(default: ../shared/data/widerface's, when present)")
    p.add_argument("--limit", type=positive_int, default=None, help="first N images of each set")
    p.add_argument("--caltech-split", choices=("val", "train", "all"), default="val",
                   help="which Caltech images score recall (default: val, the split no recipe trains on)")
    p.add_argument("--metric", default="facemask_ap",
                   choices=("facemask_ap", "caltech_recall", "cuhk_found", "cuhk_nme", "wider_easy", "wider_medium",
                            "wider_hard"),
                   help="the metric of the table (default: facemask_ap)")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: the table of the runs already finished (scored if not yet), the rest listed as pending")
    p.add_argument("--previous", default=None, metavar="JSON",
                   help="an earlier --json table: its finished runs whose folders are gone are carried, not retrained")
    p.add_argument("--latency-size", type=_latency_side, default=640, metavar="N",
                   help="input side of the per-variant latency, 32..4096 (PyTorch, 1 thread, random weights; "
                        "default 640)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--json", type=output_path, default=None,
                   help="every run's numbers (default: ablation.json in the --output folder); an existing file "
                        "is replaced only with --force")
    p.add_argument("--markdown", type=output_path, default=None,
                   help="also write the table here (an existing file is replaced only with --force)")
    p.add_argument("--force", action="store_true",
                   help="let --json / --markdown replace existing files (e.g. the tracked docs/ablation.json)")
    p.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE", help="recipe overrides, e.g. epochs=2")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (written into the JSON)."""
    parts = ["featherface ablate", "-c", str(args.config)]
    if args.variants:
        parts += ["--variants", *args.variants]
    parts += ["--seeds", *map(str, args.seeds)]
    if args.max_steps:
        parts += ["--max-steps", str(args.max_steps)]
    parts += ["-o", str(args.output)]
    if args.human_sets:
        parts += ["--human-sets", str(args.human_sets), "--caltech-split", args.caltech_split]
    if args.wider_images:
        parts += ["--wider-images", str(args.wider_images)]
        if args.wider_gt:
            parts += ["--wider-gt", str(args.wider_gt)]
    if args.metric != "facemask_ap":
        parts += ["--metric", args.metric]
    if args.limit:
        parts += ["--limit", str(args.limit)]
    if args.report_only:
        parts.append("--report-only")
    if args.previous:
        parts += ["--previous", str(args.previous)]
    if args.no_latency:
        parts.append("--no-latency")
    elif args.latency_size != 640:
        parts += ["--latency-size", str(args.latency_size)]
    if args.set:
        parts += ["--set", *args.set]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from featherface.errors import FeatherFaceError
    from featherface.evaluation.wider_gt import default_ground_truth_dir
    from featherface.io.outputs import check_output_file, write_text
    from featherface.tools.ablate import (format_table, format_variants, load_previous, measure_latency, recipe_digest,
                                          run_ablation, summarise, variants, write_json)
    from featherface.training.config import TrainConfig, parse_set_items

    # a table is only written where the user said, or into the run's own folder: a default inside the
    # repository rewrote the tracked docs/ablation.json (a --report-only table of pending runs over the
    # measured one); a file already there is replaced only with --force
    if args.json is None:
        json_out = check_output_file(Path(args.output) / "ablation.json", "--json", suffixes={".json"})
    else:
        json_out = check_output_file(args.json, "--json", suffixes={".json"}, force=args.force,
                                     replace_same_kind=False)
    md_out = (check_output_file(args.markdown, "--markdown", suffixes={".md"}, force=args.force,
                                replace_same_kind=False) if args.markdown else None)
    base = TrainConfig.from_yaml(args.config)
    extra = parse_set_items(args.set)
    if args.max_steps:
        extra["max_steps"] = args.max_steps
    if extra:
        base = TrainConfig.from_dict(extra, base)
    chosen = variants(args.variants)
    wider = None
    if args.wider_images:
        gt_dir = Path(args.wider_gt) if args.wider_gt else default_ground_truth_dir()
        if gt_dir is None or not gt_dir.is_dir():
            raise FeatherFaceError(f"--wider-gt {args.wider_gt or '(default)'}: no WIDER ground-truth folder "
                                   "(wider_face_val.mat and wider_{easy,medium,hard}_val.mat); give --wider-gt DIR")
        if not Path(args.wider_images).is_dir():
            raise FeatherFaceError(f"--wider-images {args.wider_images}: not a folder")
        wider = (gt_dir, Path(args.wider_images))
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    recipe = recipe_digest(base)
    previous = load_previous(Path(args.previous), recipe, log) if args.previous else None
    records = run_ablation(base, chosen, args.seeds, Path(args.output),
                           Path(args.human_sets) if args.human_sets else None, limit=args.limit,
                           caltech_split=args.caltech_split, report_only=args.report_only,
                           previous=previous, previous_source=str(args.previous or ""), wider=wider, log=log)
    latency = None if args.no_latency else measure_latency(chosen, size=args.latency_size)
    rows = summarise(records, args.metric, latency, custom=chosen)
    table = format_variants(records, args.metric) + "\n\n" + format_table(rows, args.metric)
    print(table)
    pending = [f"{r['variant']}-s{r['seed']}" for r in records if r.get("status") == "pending"]
    if pending:
        print(f"{len(pending)} of {len(records)} runs not finished yet (the table leaves them out): {', '.join(pending)}")
    write_json(json_out, records, rows, command_line(args), latency, recipe)
    if md_out is not None:
        write_text(md_out, table + "\n")
    return 0

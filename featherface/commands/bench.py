"""``featherface bench``: V1 vs V2 Ultra speed, size, FLOPs and memory side by side (+ a Haar peer row).

    featherface bench                      # full grid (several minutes on 2 cores)
    featherface bench --quick              # ~1 minute: 320x320, batch 1, 1 thread
    featherface bench --sizes 320 --batches 1 8 --threads 1 --backends torch onnx-fp32 --json out.json

Prints markdown tables (the ones in docs/deployment.md) and writes the raw numbers as JSON.
"""

from __future__ import annotations

import argparse

from featherface.commands.argtypes import int_range, nonneg_int, output_path, positive_int
from featherface.errors import ConfigError
from featherface.inference.options import is_random_weights
from featherface.io.outputs import InputSet, check_output_dir, check_output_file, write_text


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(
        name, help="benchmark V1 vs V2 Ultra: latency, size, FLOPs, memory",
        description="Latency (median/p90) of FeatherFace V1 and V2 Ultra with torch eager, onnxruntime fp32 and "
                    "onnxruntime INT8, plus OpenCV's Haar cascade as a peer, over sizes x batches x threads; "
                    "parameters, file sizes, GFLOPs and peak memory; V2/V1 ratios. Random weights unless "
                    "--weights is given (speed does not depend on weight values).")
    p.add_argument("--models", nargs="+", default=None, metavar="NAME",
                   help="models (default featherface-v1 featherface-v2-ultra)")
    p.add_argument("--sizes", nargs="+", type=int_range(32, 4096, name="size"), default=None, metavar="N", help="square input sizes (default 640 320)")
    p.add_argument("--batches", nargs="+", type=int_range(1, 1024, name="batch"), default=None, metavar="B", help="batch sizes (default 1 8)")
    p.add_argument("--threads", nargs="+", type=positive_int, default=None, metavar="T", help="thread counts (default 1 2)")
    p.add_argument("--backends", nargs="+", default=None, metavar="BACKEND",
                   help="torch onnx-fp32 onnx-int8 haar (default all)")
    p.add_argument("--repeats", type=positive_int, default=None, help="timed runs per cell (default 20; 5 with --quick)")
    p.add_argument("--warmup", type=nonneg_int, default=None, help="untimed runs per cell (default 3)")
    p.add_argument("--quick", action="store_true", help="preset: 320x320, batch 1, 1 thread, 5 repeats, no memory/profile")
    p.add_argument("--images", default=None, help="folder of photos for inputs and INT8 calibration "
                                                  "(default: shared/data/photos when present, else synthetic)")
    p.add_argument("--weights", nargs="*", default=[], metavar="MODEL=PATH",
                   help="trained weights per model (optional; MODEL=none or none: random, the default)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes (subprocesses)")
    p.add_argument("--no-profile", action="store_true", help="skip the per-block torch profile")
    p.add_argument("--profile", action="store_true",
                   help="instead of the grid: time each stage of a detection (read, preprocess, network, decode, "
                        "NMS, drawing) on real photos at score thresholds 0.5 and 0.02, for each model (shipped "
                        "weights) and backend given (default: V2 Ultra, torch and onnxruntime, 1 thread)")
    p.add_argument("--json", type=output_path, default="runs/bench/bench.json", help="write the raw results here (default runs/bench/bench.json)")
    p.add_argument("--markdown", type=output_path, default=None, help="also write the markdown tables to this file")
    p.add_argument("--keep-onnx", type=output_path, default=None, metavar="DIR", help="keep the exported ONNX files in DIR")
    p.add_argument("--force", action="store_true", help="let --json / --markdown replace an existing file of another kind")
    p.set_defaults(func=run)


def parse_weights(items: list[str]) -> dict[str, str]:
    """``--weights MODEL=PATH ...`` -> ``{model: path}``; ``none`` / ``MODEL=none`` (or ``random``): random
    weights, as ``--weights none`` means in every verb (and bench's default: speed does not depend on them)."""
    weights: dict[str, str] = {}
    for item in items:
        if "=" not in item and is_random_weights(item):
            weights.clear()
            continue
        if "=" not in item:
            raise ConfigError(f"--weights takes MODEL=PATH (or MODEL=none), got {item!r}")
        k, v = item.split("=", 1)
        if is_random_weights(v):
            weights.pop(k, None)
        else:
            weights[k] = v
    return weights


def run_profile(args: argparse.Namespace) -> int:
    """``bench --profile``: the per-stage table of each model x backend."""
    import json

    from featherface.inference.detector import FaceDetector
    from featherface.io.images import image_files
    from featherface.io.paths import find_shared
    from featherface.tools.bench.stages import format_stages, profile_stages

    folder = args.images
    if folder in (None, "synthetic"):
        shared = find_shared()
        folder = str(shared / "data" / "photos") if shared is not None and (shared / "data" / "photos").is_dir() \
            else "examples"
    paths = image_files([folder])[:12]
    if not paths:
        raise ConfigError(f"--images {folder}: no images to profile")
    json_out = check_output_file(args.json, "--json", inputs=InputSet(paths), suffixes={".json"}, force=args.force) \
        if args.json and args.json != "runs/bench/bench.json" else None
    weights = parse_weights(args.weights)
    backends = {"torch": "torch", "onnx-fp32": "onnxruntime", "onnxruntime": "onnxruntime"}
    chosen = [backends[b] for b in (args.backends or ["torch", "onnxruntime"]) if b in backends]
    threads = (args.threads or [1])[0]
    report = []
    for model in args.models or ["featherface-v2-ultra"]:
        for backend in chosen:
            det = FaceDetector(model, weights=weights.get(model, "default"), backend=backend, threads=threads)
            rows = profile_stages(det, paths, repeats=args.repeats or 3)
            print(format_stages(rows, f"{model}, {backend}, {threads} thread(s), {len(paths)} photos from {folder}"))
            print()
            report.append({"model": model, "backend": backend, "threads": threads, "images": [str(p) for p in paths],
                           "stages": rows})
    if json_out is not None:
        write_text(json_out, json.dumps(report, indent=1) + "\n")
        print(f"raw results: {json_out}")
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "profile", False):
        return run_profile(args)
    from featherface.tools.bench.report import format_markdown, save_result
    from featherface.tools.bench.run import run_benchmark
    from featherface.tools.bench.settings import BenchSettings

    kw: dict = {}
    for key in ("models", "sizes", "batches", "threads", "backends", "repeats", "warmup"):
        v = getattr(args, key)
        if v is not None:
            kw[key] = v
    weights = parse_weights(args.weights)
    # outputs checked before minutes of benchmarking (:mod:`featherface.io.outputs`)
    ins = InputSet(weights.values())
    ins.add_tree(args.images if args.images not in (None, "synthetic") else None)
    json_out = check_output_file(args.json, "--json", inputs=ins, suffixes={".json"}, force=args.force) \
        if args.json else None
    md_out = check_output_file(args.markdown, "--markdown", inputs=ins, suffixes={".md", ".markdown"},
                               force=args.force) if args.markdown else None
    if json_out is not None and md_out is not None and json_out.resolve() == md_out.resolve():
        raise ConfigError(f"--markdown {md_out} is the --json file too; give each its own name")
    if args.keep_onnx:
        check_output_dir(args.keep_onnx, "--keep-onnx", inputs=ins)
    kw.update(images=args.images, weights=weights, workdir=args.keep_onnx)
    if args.no_memory:
        kw["memory"] = False
    if args.no_profile:
        kw["profile"] = False
    settings = BenchSettings.quick(**kw) if args.quick else BenchSettings(**kw)
    result = run_benchmark(settings, log=lambda s: print(s, flush=True))
    md = format_markdown(result)
    print()
    print(md)
    if json_out is not None:
        print(f"raw results: {save_result(result, json_out)}")
    if md_out is not None:
        write_text(md_out, md + "\n")
        print(f"tables: {md_out}")
    return 0

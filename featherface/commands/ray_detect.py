"""``featherface detect PATH... --ray [ADDRESS]``: the images of a run detected by Ray actors.

Why a separate path and not more ``--workers``: an archive of millions of photos outgrows one
machine, and Ray already schedules actors over a cluster (:mod:`featherface.inference.ray_pipeline`).
The JSON / JSONL records are those of the plain ``detect``; there are no annotated pictures (the
records are the product at this scale), and videos are refused (run them without ``--ray``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from featherface.commands.media import expand_media, is_still, write_results_doc
from featherface.commands.options import detector_options
from featherface.errors import ConfigError
from featherface.io.outputs import LineWriter, check_output_file


def add_ray_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="detect the images with Ray actors (pip install 'featherface[ray]'): alone, a local Ray "
                        "instance; ADDRESS joins a cluster ('auto', ray://HOST:10001). JSON/JSONL only; put it "
                        "after the paths or write --ray=ADDRESS")
    p.add_argument("--ray-actors", type=int, default=None, metavar="N",
                   help="with --ray: detector actors, one CPU each (default: the cluster's CPUs)")


def run_ray(args: argparse.Namespace) -> int:
    """The ``--ray`` run of ``detect``: records in input order, the plain run's JSON document."""
    from tqdm import tqdm

    from featherface.inference.detector import FaceDetector
    from featherface.inference.ray_pipeline import detect_with_ray, import_ray

    inputs, avoid = expand_media(args.paths)
    if args.output:
        raise ConfigError("--ray writes the JSON / JSONL records only; drop --output (-o)")
    videos = [str(p) for p in inputs if not is_still(p)]
    if videos:
        raise ConfigError(f"--ray takes images; run videos and streams without it ({videos[0]})")
    if (getattr(args, "workers", None) or 1) > 1:
        raise ConfigError("--workers and --ray: give one (Ray runs one detector per actor)")
    if args.ray_actors is not None and args.ray_actors < 1:
        raise ConfigError(f"--ray-actors must be >= 1, got {args.ray_actors}")
    force = bool(getattr(args, "force", False))
    json_path = check_output_file(args.json, "--json", inputs=avoid, suffixes={".json"}, force=force) \
        if args.json and args.json != "-" else None
    jsonl_path = check_output_file(args.jsonl, "--jsonl", inputs=avoid, suffixes={".jsonl", ".ndjson"}, force=force) \
        if getattr(args, "jsonl", None) and args.jsonl != "-" else None
    import_ray()  # a missing extra is one line, before the model is built
    opts = detector_options(args)
    det = FaceDetector(**opts.kwargs())  # options checked (and weights found) before Ray starts
    stream = sys.stderr if "-" in (args.json, getattr(args, "jsonl", None)) else sys.stdout
    jsonl: Any = sys.stdout if getattr(args, "jsonl", None) == "-" else (
        LineWriter(jsonl_path) if jsonl_path is not None else None)
    results: list[dict[str, Any]] = []
    failed = n_faces = 0
    interrupted = False
    started = time.perf_counter()
    address = None if args.ray == "local" else args.ray
    bar = tqdm(total=len(inputs), desc="detect (ray)", unit="file", disable=args.quiet or len(inputs) < 2)
    try:
        for entry in detect_with_ray([str(p) for p in inputs], address=address, actors=args.ray_actors,
                                     **opts.kwargs()):
            results.append(entry)
            if "error" in entry:
                failed += 1
                tqdm.write(f"featherface detect: error: {entry['error']}", file=sys.stderr)
            else:
                n_faces += len(entry["faces"])
            if jsonl is not None:
                jsonl.write(json.dumps(entry) + "\n")
                jsonl.flush()
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        if jsonl is not None and jsonl is not sys.stdout:
            jsonl.close()
    write_results_doc(args.json, json_path, det, opts.score_threshold, results, interrupted)
    summary = f"{len(results) - failed}/{len(inputs)} inputs processed, {n_faces} faces found"
    summary += f", {failed} failed" if failed else ""
    print(summary + (f" (interrupted after {len(results)} inputs)" if interrupted else ""), file=stream)
    dt = max(time.perf_counter() - started, 1e-9)
    print(f"{len(results)} images in {dt:.1f} s: {len(results) / dt:.1f} images/s (detect, --ray)", file=stream)
    if interrupted:
        return 130
    return 1 if failed or not inputs else 0


__all__ = ["add_ray_arg", "run_ray"]

"""Which INT8 recipe (if any) makes FeatherFace V2 faster than fp32 on this CPU, and why.

Exports the shipped V2 Ultra weights to fp32 ONNX, builds INT8 variants with
:func:`featherface.export.quantize.quantize_onnx_int8` (QDQ vs QOperator, per-channel vs
per-tensor, Conv-only vs all ops, depthwise convs kept fp32, uint8 vs int8 activations,
reduce_range, MinMax/Entropy/Percentile calibration, with/without ``quant_pre_process``) plus two
session-side checks (graph optimisation level; LeakyRelu swapped for Relu in the graph, a
speed-only probe that changes the model), then times every variant in the same process,
1 intra-op thread, at 640x640 and 320x320 (interleaved rounds, median of ``--repeats`` runs
after ``--warmup``), and profiles fp32 vs the chosen INT8 at 640 by op type
(``SessionOptions.enable_profiling``). Optionally (``--ap N``) scores facemask AP for fp32 and the
listed variants through ``FaceDetector(backend="onnxruntime", onnx_path=...)``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/int8_variants.py --out runs/int8 \\
        --calibration /work/shared/data/photos --ap 300 --ap-variants default qoperator
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from featherface.export.quantize import quantize_onnx_int8  # noqa: E402

# name -> quantize_onnx_int8 keyword overrides (over the package defaults)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # the same recipe as "default", quantized and timed again: a control for run-to-run noise
    "qdq-legacy": {"quant_format": "qdq"},
    "qoperator": {"quant_format": "qoperator"},
    "qdq-all-ops": {"quant_format": "qdq", "op_types": None},
    "qoperator-all-ops": {"quant_format": "qoperator", "op_types": None},
    "qdq-per-tensor": {"quant_format": "qdq", "per_channel": False},
    "qdq-no-depthwise": {"quant_format": "qdq", "exclude": ("head_outputs", "depthwise")},
    "qoperator-no-depthwise": {"quant_format": "qoperator", "exclude": ("head_outputs", "depthwise")},
    "qdq-s8s8": {"quant_format": "qdq", "activation_type": "int8"},
    "qoperator-s8s8": {"quant_format": "qoperator", "activation_type": "int8"},
    "qdq-reduce-range": {"quant_format": "qdq", "reduce_range": True},
    "qdq-no-preprocess": {"quant_format": "qdq", "preprocess": False},
    "qdq-entropy": {"quant_format": "qdq", "calibrate_method": "entropy"},
    "qdq-percentile": {"quant_format": "qdq", "calibrate_method": "percentile"},
}


def relu_swapped(src: Path, dst: Path) -> Path:
    """Copy of ``src`` with every LeakyRelu replaced by Relu (speed probe only: a different model)."""
    import onnx

    m = onnx.load(str(src))
    for n in m.graph.node:
        if n.op_type == "LeakyRelu":
            n.op_type = "Relu"
            del n.attribute[:]
    onnx.save(m, str(dst))
    return dst


def session(path: Path, level: str = "all", profile: str | None = None) -> Any:
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                  "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    if profile:
        o.enable_profiling = True
        o.profile_file_prefix = profile
    return ort.InferenceSession(str(path), sess_options=o, providers=["CPUExecutionProvider"])


def time_all(cells: dict[str, tuple[Path, str]], sizes: list[int], warmup: int, repeats: int,
             rounds: int) -> dict[str, dict[int, float]]:
    """Median latency (ms) per variant and size; variants interleaved in ``rounds`` blocks."""
    rng = np.random.default_rng(0)
    out: dict[str, dict[int, float]] = {}
    for s in sizes:
        x = rng.normal(0, 50, (1, 3, s, s)).astype(np.float32)
        sess = {k: session(p, lvl) for k, (p, lvl) in cells.items()}
        times: dict[str, list[float]] = defaultdict(list)
        for k, se in sess.items():
            for _ in range(warmup):
                se.run(None, {"input": x})
        per = -(-repeats // rounds)
        for _ in range(rounds):
            for k, se in sess.items():
                for _ in range(per):
                    t = time.perf_counter()
                    se.run(None, {"input": x})
                    times[k].append((time.perf_counter() - t) * 1e3)
        for k in cells:
            out.setdefault(k, {})[s] = statistics.median(times[k])
        del sess
    return out


def profile_ops(path: Path, size: int, runs: int, prefix: str) -> dict[str, float]:
    """Mean ms per run by op type (node events of the ORT profile, warm-up run dropped)."""
    x = np.random.default_rng(0).normal(0, 50, (1, 3, size, size)).astype(np.float32)
    se = session(path, "all", profile=prefix)
    for _ in range(runs + 1):
        se.run(None, {"input": x})
    prof = se.end_profiling()
    import onnx

    # grouped (group > 1: depthwise and grouped) convs, by node name and by output name (ORT's
    # NCHWc transformer names its nodes after the output tensor: "<output>_nchwc")
    dw = {x for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "QLinearConv")
          and next((a.i for a in n.attribute if a.name == "group"), 1) > 1 for x in (n.name, n.output[0])}
    ev = json.loads(Path(prof).read_text())
    runs_seen = [e for e in ev if e.get("name") == "model_run"]
    first_end = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    by: dict[str, float] = defaultdict(float)
    for e in ev:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > first_end:
            op = e["args"]["op_name"]
            node = e["name"][: -len("_kernel_time")]
            if op in ("Conv", "QLinearConv", "FusedConv"):
                op += " grouped" if _base(node) in dw else " dense"
            by[op] += e["dur"] / 1e3 / runs
    Path(prof).unlink(missing_ok=True)
    return dict(sorted(by.items(), key=lambda kv: -kv[1]))


def _base(node: str) -> str:
    """Graph node name behind an ORT node name (fusions append suffixes such as ``_token_N``)."""
    for suffix in ("_token_", "_nchwc", "_quant"):
        if suffix in node:
            node = node.split(suffix)[0]
    return node


def facemask_ap(onnx_path: Path, limit: int | None, facemask: Path) -> float:
    from featherface import FaceDetector
    from featherface.evaluation.human import evaluate_human

    det = FaceDetector(model="featherface-v2-ultra", weights="default", backend="onnxruntime",
                       onnx_path=str(onnx_path), score_threshold=0.02)
    res = evaluate_human({"d": det}, facemask=facemask, limit=limit, progress=False)
    return float(res.report("d").sets["facemask"].ap)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "int8")
    ap.add_argument("--calibration", default="/work/shared/data/photos")
    ap.add_argument("--max-images", type=int, default=32)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--sizes", type=int, nargs="+", default=[640, 320])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--profile", nargs="*", default=["default"], help="INT8 variants profiled against fp32 at 640")
    ap.add_argument("--profile-runs", type=int, default=10)
    ap.add_argument("--ap", type=int, default=0, help="facemask images for AP (0: skip, -1: all)")
    ap.add_argument("--ap-variants", nargs="*", default=["default"])
    ap.add_argument("--facemask", type=Path, default=Path("/work/shared/data/facemask-kaggle"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from featherface import FaceDetector
    from featherface.export import export_onnx

    fp32 = args.out / "v2.onnx"
    det = FaceDetector(model="featherface-v2-ultra", weights="default")
    export_onnx(det.model, fp32, weights="default", trained=True)
    cells: dict[str, tuple[Path, str]] = {"fp32": (fp32, "all")}
    build_s: dict[str, float] = {}
    for name in args.variants:
        dst = args.out / f"v2.{name}.onnx"
        t = time.perf_counter()
        try:
            quantize_onnx_int8(fp32, dst, args.calibration, max_images=args.max_images, **VARIANTS[name])
        except Exception as exc:  # report and go on
            print(f"{name}: failed: {exc}", flush=True)
            continue
        build_s[name] = time.perf_counter() - t
        print(f"built {name} in {build_s[name]:.0f} s", flush=True)
        cells[name] = (dst, "all")
    if "default" in cells:
        cells["default@extended"] = (cells["default"][0], "extended")
        cells["default@basic"] = (cells["default"][0], "basic")
        cells["fp32-relu*"] = (relu_swapped(fp32, args.out / "v2.relu.onnx"), "all")
        cells["default-relu*"] = (relu_swapped(cells["default"][0], args.out / "v2.default.relu.onnx"), "all")

    lat = time_all(cells, args.sizes, args.warmup, args.repeats, args.rounds)
    print(json.dumps({k: {s: round(v, 2) for s, v in d.items()} for k, d in lat.items()}), flush=True)
    aps: dict[str, float] = {}
    if args.ap:
        limit = None if args.ap < 0 else args.ap
        for name in ["fp32", *args.ap_variants]:
            if name in cells:
                aps[name] = facemask_ap(cells[name][0], limit, args.facemask)
                print(f"AP {name}: {aps[name]:.4f}", flush=True)

    base = lat["fp32"]
    lines = ["| variant | " + " | ".join(f"{s} ms | x fp32" for s in args.sizes) + " | facemask AP |",
             "|---|" + "---:|---:|" * len(args.sizes) + "---:|"]
    for k, v in lat.items():
        cols = " | ".join(f"{v[s]:.1f} | {base[s] / v[s]:.2f}" for s in args.sizes)
        a = f"{aps[k]:.4f}" if k in aps else ""
        lines.append(f"| {k} | {cols} | {a} |")
    table = "\n".join(lines)
    print(table, flush=True)

    prof: dict[str, dict[str, float]] = {}
    names = ["fp32", *[v for v in args.profile if v in cells]]
    if len(names) > 1:
        for k in names:
            prof[k] = profile_ops(cells[k][0], 640, args.profile_runs, str(args.out / f"prof-{k}"))
        ops = sorted({o for d in prof.values() for o in d}, key=lambda o: -sum(d.get(o, 0) for d in prof.values()))
        pl = ["| op type (640, ms/run) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for o in ops:
            pl.append(f"| {o} | " + " | ".join(f"{prof[k].get(o, 0):.2f}" for k in names) + " |")
        pl.append("| total | " + " | ".join(f"{sum(prof[k].values()):.2f}" for k in names) + " |")
        print("\n".join(pl), flush=True)
    (args.out / "int8_variants.json").write_text(json.dumps(
        {"latency_ms": {k: {str(s): v for s, v in d.items()} for k, d in lat.items()}, "ap": aps,
         "ap_images": args.ap, "build_s": build_s, "profile_640": prof}, indent=1))
    (args.out / "int8_variants.md").write_text(table + "\n")


if __name__ == "__main__":
    main()

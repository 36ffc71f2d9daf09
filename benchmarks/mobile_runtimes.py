"""Issue 30, item 2: do runtimes built for mobile graphs run our network faster than onnxruntime,
relative to YuNet-n's network in the same runtime?

For each runtime installed (the others are skipped with the reason), V2 Ultra and V1 (shipped weights,
the ``--deploy`` folded graph with ``portable=True``: equal ops that the converters map, see
:mod:`featherface.export.deploy`) and YuNet-n's own ONNX file are fixed to 1x3x480x640, folded by
onnxruntime's basic (standard-op) optimisations, converted into ``--cache``, checked against onnxruntime
on one random input (max |diff| relative to each output's largest magnitude, at least 1), and timed
alone at 1 and 2 threads in rounds taking turns (as ``benchmarks/speed_vs_yunet.py``'s
``_time_networks``: a 0.2 s pause and one untimed call before each runtime's timed calls).

* onnxruntime: the baseline (the default ``--deploy`` graph, the one ``FaceDetector()`` caches).
* ncnn (``pip install ncnn pnnx``): ONNX -> pnnx -> ncnn, weights kept fp32 (``fp16=0``; pnnx's
  default fp16 weights move the outputs by up to 10%), ncnn's default runtime options.
* MNN (``pip install MNN``): ``mnnconvert -f ONNX``, the Module API, CPU, precision "normal".
* LiteRT (``pip install ai-edge-litert``, XNNPACK on the CPU) with a converter: ``litert-torch``
  (``pip install litert-torch``, ~2 GB with jax and transformers: a separate environment) converts
  our networks from PyTorch (the ``--deploy`` copy, not the portable one: LiteRT has no lowering of
  ``adaptive_max_pool2d``); ``onnx2tf``, when installed, converts the ONNX files, YuNet-n's too.
  Without ``onnx2tf`` YuNet-n has no LiteRT row, and the last column (ours in LiteRT over YuNet-n
  in onnxruntime) is the comparison.

    python benchmarks/mobile_runtimes.py                      # on an idle machine: the real table
    python benchmarks/mobile_runtimes.py --rounds 1 --runs 2  # a smoke run (numbers meaningless)

Prints a markdown table and writes runs/compare/mobile_runtimes.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHAPE = (1, 3, 480, 640)
OURS = {"V2 Ultra": "featherface-v2-ultra", "V1": "featherface-v1"}
YUNET = "YuNet-n"
Runner = Callable[[], list]


def _tool(name: str) -> str | None:
    """An executable of this environment (the venv's bin first), or None."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# -- the ONNX files --------------------------------------------------------------------------------
def fix_and_fold(src: Path, dst: Path) -> Path:
    """``src`` with its input fixed to :data:`SHAPE`, shape chains and constants folded by onnxruntime's
    basic optimisations (standard ONNX ops only), written to ``dst``."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(src))
    init = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name not in init:
            for d, v in zip(inp.type.tensor_type.shape.dim, SHAPE):
                d.Clear()
                d.dim_value = v
    for out in model.graph.output:
        for d in out.type.tensor_type.shape.dim:
            d.Clear()
    del model.graph.value_info[:]
    tmp = dst.with_suffix(".in.onnx")
    onnx.save(model, str(tmp))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    so.intra_op_num_threads = 1
    ort.InferenceSession(str(tmp), so, providers=["CPUExecutionProvider"])
    tmp.unlink()
    return dst


def prepare_onnx(cache: Path, yunet_onnx: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """(the default deploy graphs for the onnxruntime baseline, the fixed portable graphs to convert)."""
    from featherface.export.onnx_export import export_onnx
    from featherface.models.registry import create_model

    base, portable = {}, {}
    for label, name in OURS.items():
        model = create_model(name, pretrained=True).eval()
        base[label] = export_onnx(model, cache / f"{name}.onnx", input_size=SHAPE[2:], deploy=True)
        p = export_onnx(model, cache / f"{name}-portable.onnx", input_size=SHAPE[2:], deploy=True,
                        deploy_options={"portable": True})
        portable[label] = fix_and_fold(p, cache / f"{name}-portable-fixed.onnx")
    base[YUNET] = yunet_onnx
    portable[YUNET] = fix_and_fold(yunet_onnx, cache / "yunet-n-fixed.onnx")
    return base, portable


def ort_runner(path: Path, threads: int, x: np.ndarray) -> Runner:
    from featherface.inference.backends.onnxruntime_backend import make_session

    s = make_session(path, threads)
    feed = {s.get_inputs()[0].name: x}
    return lambda: s.run(None, feed)


# -- the runtimes ----------------------------------------------------------------------------------
def ncnn_build(onnx_path: Path, out_dir: Path) -> Callable[[int, np.ndarray], Runner]:
    import ncnn

    pnnx = _tool("pnnx")
    if pnnx is None:
        raise RuntimeError("the pnnx converter is not installed (pip install pnnx)")
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "model.onnx"  # pnnx renames outputs of names it cannot use as identifiers
    shutil.copyfile(onnx_path, src)
    shape = ",".join(map(str, SHAPE))
    proc = subprocess.run([pnnx, src.name, f"inputshape=[{shape}]", "fp16=0"], cwd=out_dir,
                          capture_output=True, text=True)
    stem = out_dir / src.stem
    param, weights = Path(f"{stem}.ncnn.param"), Path(f"{stem}.ncnn.bin")
    if proc.returncode or not param.exists():
        raise RuntimeError(f"pnnx failed (rc {proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}")
    log = proc.stdout + proc.stderr
    ignored = sorted({ln.split()[1] for ln in log.splitlines() if ln.startswith("ignore ") and len(ln.split()) > 1})
    if ignored:
        raise RuntimeError(f"pnnx left ops unconverted: {', '.join(ignored)}")
    n_out = len(__import__("onnx").load(str(onnx_path), load_external_data=False).graph.output)

    def make(threads: int, x: np.ndarray) -> Runner:
        net = ncnn.Net()
        net.opt.num_threads = threads
        net.load_param(str(param))
        net.load_model(str(weights))
        mat = ncnn.Mat(np.ascontiguousarray(x[0])).clone()

        def run() -> list:
            ex = net.create_extractor()
            ex.input("in0", mat)
            outs = []
            for i in range(n_out):
                rc, m = ex.extract(f"out{i}")
                if rc:
                    raise RuntimeError(f"ncnn extract out{i} failed: {rc}")
                outs.append(np.array(m))
            return outs
        return run
    return make


def mnn_build(onnx_path: Path, out_dir: Path) -> Callable[[int, np.ndarray], Runner]:
    import onnx
    import MNN.expr as F
    import MNN.nn as mnn_nn

    conv = _tool("mnnconvert") or _tool("MNNConvert")
    if conv is None:
        raise RuntimeError("mnnconvert is not installed (pip install MNN)")
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / (onnx_path.stem + ".mnn")
    proc = subprocess.run([conv, "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(dst),
                           "--bizCode", "featherface"], capture_output=True, text=True)
    if proc.returncode or not dst.exists() or "Converted Success" not in proc.stdout:
        raise RuntimeError(f"mnnconvert failed (rc {proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}")
    g = onnx.load(str(onnx_path), load_external_data=False).graph
    init = {i.name for i in g.initializer}
    inputs = [i.name for i in g.input if i.name not in init]
    outputs = [o.name for o in g.output]

    def make(threads: int, x: np.ndarray) -> Runner:
        rt = mnn_nn.create_runtime_manager(({"backend": "CPU", "numThread": threads, "precision": "normal"},))
        mod = mnn_nn.load_module_from_file(str(dst), inputs, outputs, runtime_manager=rt)

        def run() -> list:
            v = F.const(x, list(x.shape), F.NCHW)
            return [np.array(F.convert(o, F.NCHW).read(), copy=True) for o in mod.forward([v])]
        return run
    return make


def _litert_runner(path: Path) -> Callable[[int, np.ndarray], Runner]:
    from featherface.export.tflite import tflite_runner

    def make(threads: int, x: np.ndarray) -> Runner:
        run = tflite_runner(path, threads)
        return lambda: list(run(x).values())
    return make


def _litert_from_torch(net: str, out_dir: Path) -> Path:
    """Our network (shipped weights) as ``featherface export --format tflite`` writes it, at SHAPE."""
    from featherface.export.tflite import export_tflite
    from featherface.models.registry import create_model

    path = out_dir / "model.tflite"
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        export_tflite(create_model(OURS[net], pretrained=True).eval(), path, input_size=SHAPE[2:])
    return path


def _litert_from_onnx(onnx_path: Path, out_dir: Path) -> Path:
    conv = _tool("onnx2tf")
    if conv is None:
        raise RuntimeError("no ONNX -> TFLite converter installed (onnx2tf; it pins numpy 1.26.4, "
                           "onnxruntime 1.23.0 and tensorflow 2.19, so it is not in an extra)")
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([conv, "-i", str(onnx_path), "-o", str(out_dir), "-kat", "input"],
                          capture_output=True, text=True)
    found = sorted(out_dir.glob("*_float32.tflite"))
    if proc.returncode or not found:
        raise RuntimeError(f"onnx2tf failed (rc {proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}")
    return found[0]


def litert_build(net: str, onnx_path: Path, out_dir: Path) -> Callable[[int, np.ndarray], Runner]:
    """litert-torch for our networks when installed, else onnx2tf (the only way for YuNet-n)."""
    if net in OURS and importlib.util.find_spec("litert_torch") is not None:
        return _litert_runner(_litert_from_torch(net, out_dir))
    return _litert_runner(_litert_from_onnx(onnx_path, out_dir))


RUNTIMES = {
    # name: (module that must import, converters (an executable or a module; any one), builder,
    # pip packages, versions of)
    "ncnn": ("ncnn", ("pnnx",), lambda net, path, out: ncnn_build(path, out), "ncnn pnnx", ("ncnn", "pnnx")),
    "MNN": ("MNN", ("mnnconvert",), lambda net, path, out: mnn_build(path, out), "MNN", ("MNN",)),
    "LiteRT": ("ai_edge_litert", ("litert_torch", "onnx2tf"), litert_build, "ai-edge-litert litert-torch",
               ("ai-edge-litert", "litert-torch", "onnx2tf")),
}


def max_rel_diff(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Largest |difference| over the outputs (in order, reshaped to onnxruntime's shapes), relative to
    each output's largest magnitude (at least 1)."""
    if len(ref) != len(got):
        raise RuntimeError(f"{len(got)} outputs, onnxruntime gives {len(ref)}")
    worst = 0.0
    for r, g in zip(ref, got):
        g = np.asarray(g, dtype=np.float32)
        if g.size != r.size:
            raise RuntimeError(f"an output has {g.size} values, onnxruntime's {r.size}")
        g = g.reshape(r.shape)
        worst = max(worst, float(np.abs(g - r).max() / max(1.0, float(np.abs(r).max()))))
    return worst


# -- timing ----------------------------------------------------------------------------------------
def time_calls(calls: dict[tuple[str, str, int], Runner], rounds: int, runs: int) -> dict:
    """Median ms per key: rounds in which every call takes its turn (a 0.2 s pause so the previous
    runtime's worker threads go idle, one untimed call, then ``runs`` timed calls)."""
    times: dict[tuple[str, str, int], list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            time.sleep(0.2)
            call()
            for _ in range(runs):
                t0 = time.perf_counter()
                call()
                times[key].append((time.perf_counter() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds, the calls taking turns (default 5)")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per network and round (default 20)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=list(RUNTIMES))
    ap.add_argument("--cache", type=Path, default=REPO / "runs" / "compare" / "mobile_runtimes")
    ap.add_argument("--json", type=Path, default=REPO / "runs" / "compare" / "mobile_runtimes.json")
    ap.add_argument("--yunet", type=Path, default=None, help="YuNet-n's ONNX (default: shared/peers/yunet)")
    args = ap.parse_args(argv)
    from featherface.io.paths import shared_dir

    yunet_onnx = args.yunet or shared_dir() / "peers" / "yunet" / "yunet_n_dynamic.onnx"
    if not yunet_onnx.exists():
        print(f"{yunet_onnx} is not present", file=sys.stderr)
        return 1
    args.cache.mkdir(parents=True, exist_ok=True)
    base, portable = prepare_onnx(args.cache, yunet_onnx)
    x = (np.random.default_rng(0).random(SHAPE, dtype=np.float32) * 255 - 117).astype(np.float32)

    calls: dict[tuple[str, str, int], Runner] = {}
    diffs: dict[tuple[str, str], float] = {}
    notes: dict[str, str] = {}
    versions = {"onnxruntime": _version("onnxruntime")}
    for net in base:
        for t in args.threads:
            calls[("onnxruntime", net, t)] = ort_runner(base[net], t, x)
        diffs[("onnxruntime", net)] = 0.0
    for rt_name in args.runtimes:
        module, tools, build, pip_names, dists = RUNTIMES[rt_name]
        has_tool = any(_tool(t) is not None or importlib.util.find_spec(t) is not None for t in tools)
        if importlib.util.find_spec(module) is None or not has_tool:
            notes[rt_name] = f"not installed (pip install {pip_names})"
            print(f"{rt_name}: skipped, {notes[rt_name]}", file=sys.stderr)
            continue
        versions[rt_name] = ", ".join(f"{d} {_version(d)}" for d in dists if _version(d) != "?")
        for net, path in portable.items():
            try:
                make = build(net, path, args.cache / rt_name / net.replace(" ", "_"))
                ref = ort_runner(path, 1, x)()
                diffs[(rt_name, net)] = max_rel_diff(ref, make(1, x)())
                for t in args.threads:
                    calls[(rt_name, net, t)] = make(t, x)
            except Exception as e:  # a failed conversion is a result: reported, the rest goes on
                notes[f"{rt_name} {net}"] = f"{type(e).__name__}: {e}"
                print(f"{rt_name} {net}: {notes[f'{rt_name} {net}']}", file=sys.stderr)
    ms = time_calls(calls, args.rounds, args.runs)

    rows = []
    for (rt_name, net, t), v in ms.items():
        y = ms.get((rt_name, YUNET, t))
        y_ort = ms.get(("onnxruntime", YUNET, t))
        rows.append({"runtime": rt_name, "network": net, "threads": t, "ms": round(v, 2),
                     "vs_yunet_n": round(v / y, 2) if y else None,
                     "vs_yunet_n_onnxruntime": round(v / y_ort, 2) if y_ort else None,
                     "max_rel_diff": diffs.get((rt_name, net))})
    rows.sort(key=lambda r: (r["runtime"] != "onnxruntime", r["runtime"], r["threads"], r["network"]))
    print("\nNetworks alone, 1x3x480x640, median ms "
          f"({args.rounds} rounds x {args.runs} runs):\n")
    print("| runtime | network | threads | ms | / YuNet-n (same runtime) | / YuNet-n in onnxruntime | max rel diff |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "–" if r["vs_yunet_n"] is None else f"{r['vs_yunet_n']:.2f}"
        ratio_ort = "–" if r["vs_yunet_n_onnxruntime"] is None else f"{r['vs_yunet_n_onnxruntime']:.2f}"
        print(f"| {r['runtime']} | {r['network']} | {r['threads']} | {r['ms']:.1f} | {ratio} | {ratio_ort} | "
              f"{r['max_rel_diff']:.1e} |")
    for k, v in notes.items():
        print(f"- {k}: {v}")
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    doc = {"input": list(SHAPE), "rounds": args.rounds, "runs": args.runs, "versions": versions,
           "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "load_average": load,
           "rows": rows, "notes": notes}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run())

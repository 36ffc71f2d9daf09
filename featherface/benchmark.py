"""Side-by-side speed, size, FLOPs and memory of FeatherFace V1 and V2 Ultra (and a Haar-cascade peer).

What is measured, and how (so the numbers can be read without the code):

* **parameters**: ``sum(p.numel())``; fp32 weights MB = 4 bytes each.
* **FLOPs**: :class:`torch.utils.flop_counter.FlopCounterMode` on one image. It counts
  convolutions and matrix products only, as FLOPs = 2 x multiply-accumulates (MACs); element-wise
  work (activations, attention products, pooling, resizing, BatchNorm in eval) is not counted.
  Papers that say "FLOPs" for mobile detectors usually mean MACs: we report both.
* **file sizes**: the ONNX files written by :func:`featherface.export.export_onnx` (fp32) and
  :func:`featherface.export.quantize_onnx_int8` (INT8 QDQ, fp32 head output convs), on disk.
* **latency**: wall time of the network call only, on an input already in memory
  (preprocessing, decoding and NMS excluded), ``warmup`` untimed calls then ``repeats`` timed ones;
  median and 90th percentile. torch: eager, ``torch.inference_mode``, ``torch.set_num_threads(t)``;
  torch-opt: the same after :func:`featherface.inference.backends.optimize_for_inference`;
  onnxruntime: CPU provider, ``intra_op_num_threads=t``, ``inter_op_num_threads=1``, all graph
  optimisations. The Haar cascade row runs OpenCV's ``detectMultiScale`` (scale 1.1, 5 neighbours,
  ``cv2.setNumThreads(t)``) on the same images in the same process, grayscale conversion included:
  for it that *is* the whole detection.
* **peak memory**: each (model, runtime) is run in a fresh Python process; after the model or
  session is loaded the kernel's RSS high-water mark is reset (``/proc/self/clear_refs`` = 5), one
  image at the given size is run three times, and ``VmHWM - VmRSS(before)`` is reported: the extra
  resident memory inference needs on top of the loaded model (arenas, activations). Falls back to
  ``ru_maxrss`` deltas where ``clear_refs`` is not writable.

Weights are random (fixed seed) unless given: speed and size do not depend on weight values.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from featherface.errors import ConfigError
from featherface.inference.backends import make_session, optimize_for_inference
from featherface.io.images import letterbox, load_image
from featherface.io.outputs import write_text
from featherface.summary import count_flops

MODELS = ("featherface-v1", "featherface-v2-ultra")
SHORT = {"featherface-v1": "V1", "featherface-v2-ultra": "V2 Ultra", "featherface-v2-base": "V2 base",
         "opencv-haar": "OpenCV Haar"}
BACKENDS = ("torch", "torch-opt", "onnx-fp32", "onnx-int8", "haar")
RUNTIME_LABEL = {"torch": "torch", "torch-opt": "torch-opt", "onnx-fp32": "ORT fp32", "onnx-int8": "ORT INT8"}
RUNTIME_LEGEND = ("torch = PyTorch eager; torch-opt = PyTorch eager after optimize_for_inference (BatchNorm folded, "
                  "channels_last); ORT fp32 / ORT INT8 = onnxruntime CPU on the fp32 / INT8 (QDQ) ONNX file")
HAAR = "opencv-haar"


@dataclass
class BenchSettings:
    """The benchmark grid. Defaults are the full grid of ``docs/deployment.md``."""

    models: list[str] = field(default_factory=lambda: list(MODELS))
    sizes: list[int] = field(default_factory=lambda: [640, 320])
    batches: list[int] = field(default_factory=lambda: [1, 8])
    threads: list[int] = field(default_factory=lambda: [1, 2])
    backends: list[str] = field(default_factory=lambda: list(BACKENDS))
    repeats: int = 20
    warmup: int = 3
    images: str | None = None  # folder of photos for inputs/calibration; None: shared photos or synthetic
    calibration_images: int = 8
    calibration_size: int | None = None  # default: the largest benchmarked size
    weights: dict[str, str] = field(default_factory=dict)  # model name -> weights file (optional)
    memory: bool = True
    profile: bool = True
    workdir: str | None = None  # where ONNX files are written (default: a temporary folder)
    seed: int = 0

    @classmethod
    def quick(cls, **kw: Any) -> "BenchSettings":
        """A ~1-minute preset: 320x320, batch 1, one thread, 5 repeats, no memory probe or profile."""
        base = dict(sizes=[320], batches=[1], threads=[1], repeats=5, warmup=1, memory=False, profile=False,
                    calibration_images=4)
        base.update(kw)
        return cls(**base)

    def validate(self) -> None:
        bad = [b for b in self.backends if b not in BACKENDS]
        if bad:
            raise ConfigError(f"unknown backend(s) {bad}; choose from {', '.join(BACKENDS)}")
        if any(s % 32 or s < 32 for s in self.sizes):
            raise ConfigError(f"sizes must be multiples of 32, got {self.sizes}")
        if any(b < 1 for b in self.batches) or any(t < 1 for t in self.threads) or self.repeats < 1:
            raise ConfigError("batches, threads and repeats must be >= 1")
        from featherface.models import list_models

        unknown = [m for m in self.models if m not in list_models()]
        if unknown:
            raise ConfigError(f"unknown model(s) {unknown}")


# ----------------------------------------------------------------------------- helpers
def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median / p90 / min / mean wall time (ms) of ``fn()`` over ``repeats`` calls after ``warmup``.

    Also the median CPU time of the process per call (``cpu_median_ms``): with one thread it is the
    figure least disturbed by other processes on a shared machine (waiting for a core is not counted).
    """
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
        cs.append((time.process_time() - c0) * 1e3)
    a = np.asarray(ts)
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)),
            "min_ms": float(a.min()), "mean_ms": float(a.mean()), "runs": len(ts),
            "cpu_median_ms": float(np.median(cs))}


def bench_images(n: int, source: str | None = None, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """``n`` BGR pictures: from ``source`` (a folder or ``"synthetic"``), else the shared photos, else synthetic."""
    from featherface.export.quantize import default_calibration_dir, list_images, synthetic_calibration_images

    if source == "synthetic":
        return synthetic_calibration_images(n, size=640, seed=seed), "synthetic"
    folder = Path(source) if source else default_calibration_dir()
    if folder is not None and folder.is_dir():
        files = list_images(folder)
        return [load_image(files[i % len(files)]) for i in range(n)], str(folder)
    if source:
        raise ConfigError(f"{source}: image folder not found")
    return synthetic_calibration_images(n, size=640, seed=seed), "synthetic"


def to_batch(images: Sequence[np.ndarray], mean: Sequence[float]) -> np.ndarray:
    """Letterboxed uint8 BGR images -> float32 NCHW minus mean."""
    arr = np.stack([im.astype(np.float32) - np.asarray(mean, np.float32) for im in images])
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


def machine_info() -> dict[str, Any]:
    """CPU, core count, load and library versions (recorded with every result)."""
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "logical_cpus": os.cpu_count(), "python": platform.python_version(),
                            "torch": torch.__version__, "platform": platform.platform()}
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    for mod in ("onnxruntime", "onnx", "cv2"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            pass
    return info


def load_haar() -> Any:
    """OpenCV's frontal-face Haar cascade, or ``None`` where this OpenCV has none (OpenCV >= 5)."""
    import cv2

    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        return None
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    if not os.path.isfile(path):
        return None
    haar = cv2.CascadeClassifier(path)
    return None if haar.empty() else haar


# ----------------------------------------------------------------------------- memory probe
_MEM_PROBE = r"""
import json, re, resource, sys
import numpy as np
def status(key):
    return int(re.search(key + r":\s+(\d+)", open("/proc/self/status").read()).group(1))
args = json.loads(sys.argv[1])
import torch
torch.set_num_threads(1)
x = np.random.default_rng(0).normal(0, 50, (1, 3, args["size"], args["size"])).astype(np.float32)
if args["backend"] in ("torch", "torch-opt"):
    from featherface.models import create_model
    model = create_model(args["model"]).eval()
    if args["backend"] == "torch-opt":
        from featherface.inference.backends import optimize_for_inference
        model = optimize_for_inference(model)
    def run():
        with torch.inference_mode():
            model(torch.from_numpy(x))
else:
    from featherface.inference.backends import make_session
    sess = make_session(args["onnx"], threads=1)
    def run():
        sess.run(None, {"input": x})
import gc; gc.collect()
before = status("VmRSS")
method = "clear_refs"
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    method = "ru_maxrss"
    before = max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
for _ in range(3):
    run()
peak = status("VmHWM") if method == "clear_refs" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024,
                  "inference_peak_mb": max(0, peak - before) / 1024, "method": method}))
"""


def measure_memory(model: str, backend: str, size: int, onnx_path: str | None = None) -> dict[str, Any]:
    """Peak extra RSS of inference (fresh process, see module docstring)."""
    args = json.dumps({"model": model, "backend": backend, "size": size, "onnx": onnx_path})
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        out = subprocess.run([sys.executable, "-c", _MEM_PROBE, args], capture_output=True, text=True,
                             timeout=300, env=env, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:  # memory is best effort: never sink the benchmark
        return {"error": str(exc).splitlines()[0][:200]}


# ----------------------------------------------------------------------------- profile
def profile_blocks(model: torch.nn.Module, size: int = 640, threads: int = 1, repeats: int = 5,
                   channels_last: bool = False) -> list[dict[str, Any]]:
    """Time of each top-level block of a FeatherFace network with the torch profiler.

    Each direct child (and each SSH level) is wrapped in a ``record_function`` range via forward
    hooks; shared modules called from inside another block (the BiFPN CBAM inside the attention
    techniques) count towards the caller. Returns rows sorted by time: block, ms per image, share.
    """
    from torch.profiler import ProfilerActivity, profile, record_function

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.eval()
    handles = []
    ranges: dict[int, Any] = {}
    targets: list[tuple[str, torch.nn.Module]] = []
    for name, child in model.named_children():
        if name == "bifpn_cbam":
            continue
        if isinstance(child, torch.nn.ModuleList):
            targets += [(f"{name}.{i}", c) for i, c in enumerate(child)]
        else:
            targets.append((name, child))
    for name, mod in targets:
        def pre(m: Any, inp: Any, name: str = name) -> None:
            r = record_function(f"block::{name}")
            r.__enter__()
            ranges.setdefault(id(m), []).append(r)

        def post(m: Any, inp: Any, out: Any) -> None:
            ranges[id(m)].pop().__exit__(None, None, None)

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    x = torch.randn(1, 3, size, size) * 50
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            for _ in range(2):
                model(x)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(repeats):
                    model(x)
    finally:
        for h in handles:
            h.remove()
        torch.set_num_threads(prev)
    rows = {}
    for ev in prof.key_averages():
        if ev.key.startswith("block::"):
            rows[ev.key[7:]] = ev.cpu_time_total / 1e3 / repeats
    # merge the per-level SSH rows into one "ssh" block
    merged: dict[str, float] = {}
    for k, v in rows.items():
        merged[k.split(".")[0]] = merged.get(k.split(".")[0], 0.0) + v
    total = sum(merged.values()) or 1.0
    return sorted(({"block": k, "ms": v, "share": v / total} for k, v in merged.items()), key=lambda r: -r["ms"])


# ----------------------------------------------------------------------------- main runner
def _make_model(name: str, weights: str | None, seed: int) -> torch.nn.Module:
    from featherface.models import create_model

    torch.manual_seed(seed)
    model = create_model(name)
    if weights:
        from featherface.weights import load_weights

        load_weights(model, weights)
    return model.eval()


def run_benchmark(settings: BenchSettings, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the grid and return a JSON-serialisable result (see :func:`format_markdown`)."""
    settings.validate()
    import cv2

    t_start = time.time()
    result: dict[str, Any] = {"settings": asdict(settings), "machine": machine_info(), "models": {},
                              "latency": [], "memory": [], "profile": {}, "int8_vs_fp32": {}}
    need_onnx = any(b.startswith("onnx") for b in settings.backends) or settings.memory
    want_int8 = "onnx-int8" in settings.backends
    nmax = max(settings.batches)
    n_held = 4  # images kept out of calibration, for the INT8-vs-fp32 check
    pictures, source = bench_images(max(nmax, settings.calibration_images + n_held), settings.images, settings.seed)
    result["images"] = {"source": source, "count": len(pictures)}
    workdir_ctx = tempfile.TemporaryDirectory(prefix="featherface-bench-") if not settings.workdir else None
    workdir = Path(settings.workdir or workdir_ctx.name)  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    calib_size = settings.calibration_size or max(settings.sizes)
    models: dict[str, torch.nn.Module] = {}
    files: dict[str, dict[str, str]] = {}
    try:
        for name in settings.models:
            model = _make_model(name, settings.weights.get(name), settings.seed)
            models[name] = model
            n_params = sum(p.numel() for p in model.parameters())
            info: dict[str, Any] = {
                "params": n_params, "weights_fp32_mb": n_params * 4 / 1e6,
                "weights": settings.weights.get(name, "random (seed %d)" % settings.seed),
                "gflops": {}, "gmacs": {},
            }
            for s in sorted(set(settings.sizes) | {640}):
                f = count_flops(model, s, s)
                info["gflops"][str(s)] = f / 1e9
                info["gmacs"][str(s)] = f / 2e9
            files[name] = {}
            if need_onnx:
                from featherface.export.onnx_export import export_onnx

                p = export_onnx(model, workdir / f"{name}.onnx", input_size=64,
                                weights=settings.weights.get(name))
                files[name]["onnx-fp32"] = str(p)
                info["onnx_fp32_mb"] = p.stat().st_size / 1e6
                if want_int8:
                    from featherface.export.compare import compare_sessions, ort_runner
                    from featherface.export.quantize import ImageCalibrationReader, quantize_onnx_int8

                    calib = pictures[: settings.calibration_images]
                    t0 = time.time()
                    q = quantize_onnx_int8(p, workdir / f"{name}.int8.onnx", calib, input_size=calib_size,
                                           max_images=settings.calibration_images)
                    files[name]["onnx-int8"] = str(q)
                    info["onnx_int8_mb"] = q.stat().st_size / 1e6
                    log(f"[{name}] INT8 calibrated on {len(calib)} images at {calib_size}px in {time.time() - t0:.0f}s")
                    held_out = pictures[settings.calibration_images: settings.calibration_images + n_held]
                    held = ImageCalibrationReader(held_out, calib_size, model.config.bgr_mean).batches
                    rep = compare_sessions(ort_runner(p), ort_runner(q), held, model.config)
                    result["int8_vs_fp32"][name] = rep
            result["models"][name] = info
            log(f"[{name}] {n_params:,} params, {info['gflops'].get('640', 0):.2f} GFLOPs @640"
                + (f", ONNX {info['onnx_fp32_mb']:.2f} MB" if "onnx_fp32_mb" in info else "")
                + (f", INT8 {info['onnx_int8_mb']:.2f} MB" if "onnx_int8_mb" in info else ""))

        optimized: dict[str, torch.nn.Module] = {}
        if "torch-opt" in settings.backends:
            optimized = {n: optimize_for_inference(m) for n, m in models.items()}
        haar = load_haar() if "haar" in settings.backends else None
        if "haar" in settings.backends and haar is None:
            note = (f"OpenCV {cv2.__version__} has no Haar cascade (OpenCV 5 moved it out of the main package): "
                    "no Haar rows. Run with opencv-python-headless<5 first on PYTHONPATH to get them "
                    "(docs/deployment.md).")
            result.setdefault("notes", []).append(note)
            log(note)
        prev_threads, prev_cv = torch.get_num_threads(), cv2.getNumThreads()
        try:
            for size in settings.sizes:
                boxed = [letterbox(im, size)[0] for im in pictures[:nmax]]
                for batch in settings.batches:
                    imgs = [boxed[i % len(boxed)] for i in range(batch)]
                    for threads in settings.threads:
                        torch.set_num_threads(threads)
                        cv2.setNumThreads(threads)
                        for name, model in models.items():
                            x = to_batch(imgs, model.config.bgr_mean)
                            for backend in settings.backends:
                                if backend == "haar":
                                    continue
                                if backend in ("torch", "torch-opt"):
                                    xt = torch.from_numpy(x)
                                    net = model if backend == "torch" else optimized[name]

                                    def fn(m: torch.nn.Module = net, xt: torch.Tensor = xt) -> None:
                                        with torch.inference_mode():
                                            m(xt)
                                else:
                                    if backend not in files[name]:
                                        continue
                                    sess = make_session(files[name][backend], threads)

                                    def fn(s: Any = sess, x: np.ndarray = x) -> None:
                                        s.run(None, {"input": x})
                                stats = time_calls(fn, settings.repeats, settings.warmup)
                                row = {"model": name, "backend": backend, "size": size, "batch": batch,
                                       "threads": threads, **stats, "per_image_ms": stats["median_ms"] / batch}
                                result["latency"].append(row)
                                log(f"  {SHORT.get(name, name):9s} {backend:9s} {size}x{size} b{batch} t{threads}: "
                                    f"median {stats['median_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms")
                        if haar is not None:
                            def fn_haar(imgs: list[np.ndarray] = imgs) -> None:
                                for im in imgs:
                                    haar.detectMultiScale(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY),
                                                          scaleFactor=1.1, minNeighbors=5)

                            stats = time_calls(fn_haar, settings.repeats, settings.warmup)
                            result["latency"].append({"model": HAAR, "backend": "opencv", "size": size,
                                                      "batch": batch, "threads": threads, **stats,
                                                      "per_image_ms": stats["median_ms"] / batch})
                            log(f"  OpenCV Haar opencv    {size}x{size} b{batch} t{threads}: "
                                f"median {stats['median_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms")
        finally:
            torch.set_num_threads(prev_threads)
            cv2.setNumThreads(prev_cv)

        if settings.memory:
            msize = max(settings.sizes)
            for name in models:
                for backend in ("torch", "torch-opt", "onnx-fp32", "onnx-int8"):
                    if backend.startswith("onnx") and backend not in files[name]:
                        continue
                    r = measure_memory(name, backend, msize, files[name].get(backend))
                    result["memory"].append({"model": name, "backend": backend, "size": msize, "batch": 1, **r})
                    if "inference_peak_mb" in r:
                        log(f"  memory {SHORT.get(name, name)} {backend} @{msize}: +{r['inference_peak_mb']:.1f} MB "
                            f"(peak RSS {r['peak_rss_mb']:.0f} MB)")
        if settings.profile:
            for name, model in models.items():
                result["profile"][name] = {
                    "size": 640, "threads": 1,
                    "blocks": profile_blocks(model, 640, threads=1, repeats=3),
                    "blocks_optimized": profile_blocks(optimize_for_inference(model).net, 640, threads=1, repeats=3,
                                                       channels_last=True),
                }
    finally:
        if workdir_ctx is not None:
            workdir_ctx.cleanup()
    result["ratios"] = compute_ratios(result)
    result["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["elapsed_s"] = time.time() - t_start
    return result


def compute_ratios(result: dict[str, Any], num: str = "featherface-v2-ultra",
                   den: str = "featherface-v1") -> dict[str, Any]:
    """V2 / V1 for size, FLOPs, memory and each latency cell (below 1 means V2 is smaller/faster)."""
    out: dict[str, Any] = {"numerator": num, "denominator": den}
    mods = result.get("models", {})
    if num not in mods or den not in mods:
        return out
    a, b = mods[num], mods[den]
    out["params"] = a["params"] / b["params"]
    for key in ("onnx_fp32_mb", "onnx_int8_mb"):
        if key in a and key in b:
            out[key] = a[key] / b[key]
    out["gflops"] = {s: a["gflops"][s] / b["gflops"][s] for s in a["gflops"] if s in b["gflops"]}
    lat: list[dict[str, Any]] = []
    index = {(r["model"], r["backend"], r["size"], r["batch"], r["threads"]): r for r in result.get("latency", [])}
    for (m, be, s, bt, th), r in index.items():
        if m != num or (den, be, s, bt, th) not in index:
            continue
        d = index[(den, be, s, bt, th)]
        lat.append({"backend": be, "size": s, "batch": bt, "threads": th,
                    "median_ratio": r["median_ms"] / d["median_ms"],
                    "cpu_ratio": (r["cpu_median_ms"] / d["cpu_median_ms"]
                                  if r.get("cpu_median_ms") and d.get("cpu_median_ms") else None),
                    "speedup_pct": (d["median_ms"] / r["median_ms"] - 1) * 100})
    out["latency"] = lat
    if lat:
        gm = float(np.exp(np.mean([np.log(x["median_ratio"]) for x in lat])))
        out["latency_geomean_ratio"] = gm
        for be in sorted({x["backend"] for x in lat}):
            vals = [x["median_ratio"] for x in lat if x["backend"] == be]
            out[f"latency_geomean_ratio_{be}"] = float(np.exp(np.mean(np.log(vals))))
            cpu1 = [x["cpu_ratio"] for x in lat if x["backend"] == be and x["threads"] == 1 and x["cpu_ratio"]]
            if cpu1:
                out[f"cpu_1thread_geomean_ratio_{be}"] = float(np.exp(np.mean(np.log(cpu1))))
    mem = {(r["model"], r["backend"]): r for r in result.get("memory", []) if "inference_peak_mb" in r}
    out["memory"] = {be: mem[(num, be)]["inference_peak_mb"] / max(1e-9, mem[(den, be)]["inference_peak_mb"])
                     for (m, be) in mem if m == num and (den, be) in mem}
    return out


# ----------------------------------------------------------------------------- report
def _fmt(v: float, nd: int = 1) -> str:
    return f"{v:.{nd}f}"


def format_markdown(result: dict[str, Any]) -> str:
    """The result as markdown tables (models, latency, V2/V1 ratios, memory, INT8 change, profile)."""
    lines: list[str] = []
    mods = result["models"]
    names = list(mods)
    ratios = result.get("ratios", {})
    m = result["machine"]
    lines.append(f"Machine: {m.get('cpu', '?')}, {m.get('logical_cpus')} logical CPUs; torch {m.get('torch')}, "
                 f"onnxruntime {m.get('onnxruntime', '-')}, OpenCV {m.get('cv2', '-')}; load average at start "
                 f"{', '.join(f'{v:.1f}' for v in m.get('load_average', []))}. Inputs: {result['images']['source']}. "
                 "Weights: " + ", ".join(f"{SHORT.get(k, k)} {v['weights']}" for k, v in mods.items()) + ".")
    lines.append("")
    head = "| | " + " | ".join(SHORT.get(n, n) for n in names) + (" | V2/V1 |" if len(names) > 1 else " |")
    lines += [head, "|---" * (len(names) + 1 + (1 if len(names) > 1 else 0)) + "|"]

    def row(label: str, key: Callable[[dict[str, Any]], float | None], nd: int, ratio: float | None) -> None:
        vals = [key(mods[n]) for n in names]
        if all(v is None for v in vals):
            return
        cells = ["-" if v is None else (f"{v:,}" if isinstance(v, int) else _fmt(v, nd)) for v in vals]
        r = "" if len(names) < 2 else f" {ratio:.2f} |" if ratio is not None else " - |"
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + r)

    row("parameters", lambda d: d["params"], 0, ratios.get("params"))
    row("fp32 weights (MB)", lambda d: d["weights_fp32_mb"], 2, ratios.get("params"))
    row("ONNX fp32 file (MB)", lambda d: d.get("onnx_fp32_mb"), 2, ratios.get("onnx_fp32_mb"))
    row("ONNX INT8 file (MB)", lambda d: d.get("onnx_int8_mb"), 2, ratios.get("onnx_int8_mb"))
    for s in sorted({s for d in mods.values() for s in d["gmacs"]}, key=int, reverse=True):
        row(f"GMACs @{s}x{s}", lambda d, s=s: d["gmacs"].get(s), 3, ratios.get("gflops", {}).get(s))
        row(f"GFLOPs @{s}x{s} (= 2 x MACs)", lambda d, s=s: d["gflops"].get(s), 3, ratios.get("gflops", {}).get(s))
    mem = {(r["model"], r["backend"]): r for r in result.get("memory", []) if "inference_peak_mb" in r}
    for be in ("torch", "torch-opt", "onnx-fp32", "onnx-int8"):
        if any((n, be) in mem for n in names):
            size = next(r["size"] for (n2, b2), r in mem.items() if b2 == be)
            vals = [mem[(n, be)]["inference_peak_mb"] if (n, be) in mem else None for n in names]
            cells = ["-" if v is None else _fmt(v, 1) for v in vals]
            r = ratios.get("memory", {}).get(be)
            lines.append(f"| inference peak RSS, {be} @{size} batch 1 (MB) | " + " | ".join(cells) + " |"
                         + ("" if len(names) < 2 else f" {r:.2f} |" if r is not None else " - |"))
    lines.append("")

    if result["latency"]:
        lines.append("Latency of one network call, milliseconds, median / p90 (the Haar column is OpenCV's whole "
                     "detection; FeatherFace columns exclude pre/post-processing):")
        lines.append("")
        idx = {(r["model"], r["backend"], r["size"], r["batch"], r["threads"]): r for r in result["latency"]}
        backends = [b for b in BACKENDS if b != "haar" and any(r["backend"] == b for r in result["latency"])]
        has_haar = any(r["model"] == HAAR for r in result["latency"])
        cols = [(n, b) for b in backends for n in names]
        header = ["size", "batch", "threads"] + [f"{SHORT.get(n, n)} {RUNTIME_LABEL.get(b, b)}" for n, b in cols]
        if has_haar:
            header.append("OpenCV Haar (peer)")
        lines.append(RUNTIME_LEGEND + ".")
        lines.append("")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---" * len(header) + "|")
        keys = sorted({(r["size"], r["batch"], r["threads"]) for r in result["latency"]},
                      key=lambda k: (-k[0], k[1], k[2]))
        for s, b, t in keys:
            cells = [f"{s}x{s}", str(b), str(t)]
            for n, be in cols:
                r = idx.get((n, be, s, b, t))
                cells.append("-" if r is None else f"{r['median_ms']:.1f} / {r['p90_ms']:.1f}")
            if has_haar:
                r = idx.get((HAAR, "opencv", s, b, t))
                cells.append("-" if r is None else f"{r['median_ms']:.1f} / {r['p90_ms']:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if len(names) > 1 and ratios.get("latency"):
            lines.append("V2 Ultra / V1 median latency (below 1: V2 Ultra is faster):")
            lines.append("")
            lines.append("| size | batch | threads | " + " | ".join(RUNTIME_LABEL.get(b, b) for b in backends) + " |")
            lines.append("|---" * (3 + len(backends)) + "|")
            rat = {(r["backend"], r["size"], r["batch"], r["threads"]): r for r in ratios["latency"]}
            for s, b, t in keys:
                cells = [f"{s}x{s}", str(b), str(t)]
                for be in backends:
                    r = rat.get((be, s, b, t))
                    if r is None:
                        cells.append("-")
                    elif t == 1 and r.get("cpu_ratio"):
                        cells.append(f"{r['median_ratio']:.2f} (CPU {r['cpu_ratio']:.2f})")
                    else:
                        cells.append(f"{r['median_ratio']:.2f}")
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
            lines.append("Wall-clock ratio, and for one thread in brackets the ratio of process CPU time per call "
                         "(less disturbed by other jobs on a shared machine).")
            lines.append("")
            parts = [f"{RUNTIME_LABEL.get(be, be)} {ratios[f'latency_geomean_ratio_{be}']:.2f}" for be in backends
                     if f"latency_geomean_ratio_{be}" in ratios]
            cpu_parts = [f"{RUNTIME_LABEL.get(be, be)} {ratios[f'cpu_1thread_geomean_ratio_{be}']:.2f}"
                         for be in backends if f"cpu_1thread_geomean_ratio_{be}" in ratios]
            lines.append(f"Geometric mean of V2 Ultra / V1 over the grid: {ratios['latency_geomean_ratio']:.2f} "
                         f"({'; '.join(parts)})" + (f"; by CPU time, one thread: {'; '.join(cpu_parts)}." if cpu_parts
                                                    else "."))
            lines.append("")
    if result.get("int8_vs_fp32"):
        lines.append("INT8 vs fp32 ONNX on 4 images not used for calibration, at the calibration size "
                     "(with random weights these numbers overstate the damage: see the INT8 section):")
        lines.append("")
        lines.append("| model | max rel. RMS of raw outputs | max face-prob change | faces matched (IoU 0.5) |")
        lines.append("|---|---|---|---|")
        for n, rep in result["int8_vs_fp32"].items():
            lines.append(f"| {SHORT.get(n, n)} | {max(v['rel_rms'] for v in rep['raw'].values()):.3f} | "
                         f"{rep['max_score_change']:.3f} | {rep['faces_matched']}/{rep['faces_ref']} "
                         f"(+{rep['faces_extra']} extra) |")
        lines.append("")
    if result.get("profile"):
        lines.append("Torch eager time by block (640x640, 1 thread, torch profiler ranges per module):")
        lines.append("")
        for n, prof in result["profile"].items():
            for key, label in (("blocks", "eager"), ("blocks_optimized", "BN folded + channels_last")):
                if prof.get(key):
                    lines.append(f"- {SHORT.get(n, n)}, {label}: " + ", ".join(
                        f"{r['block']} {r['ms']:.1f} ms ({r['share'] * 100:.0f}%)" for r in prof[key]))
        lines.append("")
    for note in result.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def save_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the result JSON (creating folders)."""
    p = Path(path)
    write_text(p, json.dumps(result, indent=2, default=float))  # atomic
    return p


"""Running the benchmark grid: models, ONNX files, the INT8 check, latency, memory and profile.

:func:`run_benchmark` returns a JSON-serialisable dict (:func:`featherface.tools.bench.report.format_markdown`
turns it into the tables of ``docs/deployment.md``); what each number means is in
:mod:`featherface.tools.bench`.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch

from featherface.export.onnx_export import export_onnx
from featherface.export.quantize import ImageCalibrationReader, quantize_onnx_int8
from featherface.export.verify import compare_sessions, ort_runner
from featherface.inference.backends import make_session, optimize_for_inference
from featherface.io.images import letterbox
from featherface.models.registry import create_model
from featherface.models.weights import load_weights
from featherface.models.summary import count_flops
from featherface.tools.bench.inputs import bench_images, load_haar, to_batch
from featherface.tools.bench.memory import measure_memory
from featherface.tools.bench.profile import profile_blocks
from featherface.tools.bench.ratios import compute_ratios
from featherface.tools.bench.settings import (
    HAAR,
    HELD_OUT_IMAGES,
    MEMORY_BACKENDS,
    PROFILE_SIZE,
    SHORT,
    TORCH_BACKENDS,
    BenchSettings,
)
from featherface.tools.machine import machine_info
from featherface.tools.timing import time_calls

Log = Callable[[str], None]


# ----------------------------------------------------------------------------- models and files
def _make_model(name: str, weights: str | None, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(name)
    if weights:
        load_weights(model, weights)
    return model.eval()


def model_info(name: str, model: torch.nn.Module, settings: BenchSettings) -> dict[str, Any]:
    """Parameters, fp32 size, where the weights came from, and GFLOPs / GMACs at each size (and 640)."""
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
    return info


def _int8_file(name: str, model: torch.nn.Module, fp32: Path, settings: BenchSettings, workdir: Path,
               pictures: list[np.ndarray], calib_size: int, log: Log) -> tuple[Path, dict[str, Any]]:
    """The INT8 file, calibrated on the first pictures, and how far it is from fp32 on held-out ones."""
    calib = pictures[: settings.calibration_images]
    t0 = time.time()
    q = quantize_onnx_int8(fp32, workdir / f"{name}.int8.onnx", calib, input_size=calib_size,
                           max_images=settings.calibration_images)
    log(f"[{name}] INT8 calibrated on {len(calib)} images at {calib_size}px in {time.time() - t0:.0f}s")
    held_out = pictures[settings.calibration_images: settings.calibration_images + HELD_OUT_IMAGES]
    held = ImageCalibrationReader(held_out, calib_size, model.config.bgr_mean).batches
    return q, compare_sessions(ort_runner(fp32), ort_runner(q), held, model.config)


def export_files(name: str, model: torch.nn.Module, settings: BenchSettings, workdir: Path,
                 pictures: list[np.ndarray], info: dict[str, Any], log: Log) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The ONNX files of ``model`` (``{backend: path}``; sizes go into ``info``) and the INT8 check (or ``None``)."""
    files: dict[str, str] = {}
    if not settings.needs_onnx:
        return files, None
    p = export_onnx(model, workdir / f"{name}.onnx", input_size=64, weights=settings.weights.get(name))
    files["onnx-fp32"] = str(p)
    info["onnx_fp32_mb"] = p.stat().st_size / 1e6
    if "onnx-int8" not in settings.backends:
        return files, None
    calib_size = settings.calibration_size or max(settings.sizes)
    q, report = _int8_file(name, model, p, settings, workdir, pictures, calib_size, log)
    files["onnx-int8"] = str(q)
    info["onnx_int8_mb"] = q.stat().st_size / 1e6
    return files, report


def _log_model(name: str, info: dict[str, Any], log: Log) -> None:
    log(f"[{name}] {info['params']:,} params, {info['gflops'].get('640', 0):.2f} GFLOPs @640"
        + (f", ONNX {info['onnx_fp32_mb']:.2f} MB" if "onnx_fp32_mb" in info else "")
        + (f", INT8 {info['onnx_int8_mb']:.2f} MB" if "onnx_int8_mb" in info else ""))


# ----------------------------------------------------------------------------- latency
def _network_call(backend: str, model: torch.nn.Module, optimized: torch.nn.Module | None,
                  files: dict[str, str], x: np.ndarray, threads: int) -> Callable[[], None] | None:
    """One network call of ``backend`` on the batch ``x``; ``None`` where it does not run (haar, no file)."""
    if backend in TORCH_BACKENDS:
        net = model if backend == "torch" else optimized
        xt = torch.from_numpy(x)

        def call_torch() -> None:
            with torch.inference_mode():
                net(xt)  # type: ignore[misc]

        return call_torch
    if backend == "haar" or backend not in files:
        return None
    sess = make_session(files[backend], threads)

    def call_session() -> None:
        sess.run(None, {"input": x})

    return call_session


def _haar_call(haar: Any, imgs: list[np.ndarray]) -> Callable[[], None]:
    def call() -> None:
        for im in imgs:
            haar.detectMultiScale(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), scaleFactor=1.1, minNeighbors=5)

    return call


def _row(model: str, backend: str, size: int, batch: int, threads: int, stats: dict[str, float]) -> dict[str, Any]:
    return {"model": model, "backend": backend, "size": size, "batch": batch, "threads": threads, **stats,
            "per_image_ms": stats["median_ms"] / batch}


def _timings(row: dict[str, Any]) -> str:
    return (f"{row['size']}x{row['size']} b{row['batch']} t{row['threads']}: "
            f"median {row['median_ms']:.1f} ms, p90 {row['p90_ms']:.1f} ms")


def latency_cell(settings: BenchSettings, models: dict[str, torch.nn.Module], optimized: dict[str, torch.nn.Module],
                 files: dict[str, dict[str, str]], imgs: list[np.ndarray], haar: Any, size: int, threads: int,
                 log: Log) -> list[dict[str, Any]]:
    """Every (model, backend) row, and the Haar row, of one size x batch x threads cell."""
    rows: list[dict[str, Any]] = []
    batch = len(imgs)
    for name, model in models.items():
        x = to_batch(imgs, model.config.bgr_mean)
        for backend in settings.backends:
            fn = _network_call(backend, model, optimized.get(name), files[name], x, threads)
            if fn is None:
                continue
            rows.append(_row(name, backend, size, batch, threads, time_calls(fn, settings.repeats, settings.warmup)))
            log(f"  {SHORT.get(name, name):9s} {backend:9s} " + _timings(rows[-1]))
    if haar is not None:
        rows.append(_row(HAAR, "opencv", size, batch, threads,
                         time_calls(_haar_call(haar, imgs), settings.repeats, settings.warmup)))
        log("  OpenCV Haar opencv    " + _timings(rows[-1]))
    return rows


def latency_grid(settings: BenchSettings, models: dict[str, torch.nn.Module], optimized: dict[str, torch.nn.Module],
                 files: dict[str, dict[str, str]], pictures: list[np.ndarray], haar: Any, log: Log) -> list[dict[str, Any]]:
    """The latency rows of every size x batch x threads cell (torch's and OpenCV's thread counts restored after)."""
    nmax = max(settings.batches)
    boxed = {size: [letterbox(im, size)[0] for im in pictures[:nmax]] for size in settings.sizes}
    rows: list[dict[str, Any]] = []
    prev_threads, prev_cv = torch.get_num_threads(), cv2.getNumThreads()
    try:
        for size, batch, threads in itertools.product(settings.sizes, settings.batches, settings.threads):
            torch.set_num_threads(threads)
            cv2.setNumThreads(threads)
            imgs = [boxed[size][i % len(boxed[size])] for i in range(batch)]
            rows += latency_cell(settings, models, optimized, files, imgs, haar, size, threads, log)
    finally:
        torch.set_num_threads(prev_threads)
        cv2.setNumThreads(prev_cv)
    return rows


# ----------------------------------------------------------------------------- memory and profile
def memory_rows(models: dict[str, torch.nn.Module], files: dict[str, dict[str, str]], size: int,
                log: Log) -> list[dict[str, Any]]:
    """Peak extra memory of every (model, runtime) at ``size``, batch 1 (fresh processes)."""
    rows: list[dict[str, Any]] = []
    for name, backend in itertools.product(models, MEMORY_BACKENDS):
        if backend.startswith("onnx") and backend not in files[name]:
            continue
        r = measure_memory(name, backend, size, files[name].get(backend))
        rows.append({"model": name, "backend": backend, "size": size, "batch": 1, **r})
        if "inference_peak_mb" in r:
            log(f"  memory {SHORT.get(name, name)} {backend} @{size}: +{r['inference_peak_mb']:.1f} MB "
                f"(peak RSS {r['peak_rss_mb']:.0f} MB)")
    return rows


def profile_rows(models: dict[str, torch.nn.Module]) -> dict[str, Any]:
    """Time per block of every model, eager and after BatchNorm folding + channels_last (one thread)."""
    return {name: {"size": PROFILE_SIZE, "threads": 1,
                   "blocks": profile_blocks(model, PROFILE_SIZE, threads=1, repeats=3),
                   "blocks_optimized": profile_blocks(optimize_for_inference(model).net, PROFILE_SIZE, threads=1,
                                                      repeats=3, channels_last=True)}
            for name, model in models.items()}


def _haar_or_note(settings: BenchSettings, result: dict[str, Any], log: Log) -> Any:
    """The Haar cascade when its rows are asked for; a note in ``result`` where this OpenCV has none."""
    if "haar" not in settings.backends:
        return None
    haar = load_haar()
    if haar is None:
        note = (f"OpenCV {cv2.__version__} has no Haar cascade (OpenCV 5 moved it out of the main package): "
                "no Haar rows. Run with opencv-python-headless<5 first on PYTHONPATH to get them "
                "(docs/deployment.md).")
        result.setdefault("notes", []).append(note)
        log(note)
    return haar


@contextmanager
def _workdir(settings: BenchSettings) -> Iterator[Path]:
    """``settings.workdir`` (kept), else a temporary folder removed at the end."""
    if settings.workdir:
        p = Path(settings.workdir)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    with tempfile.TemporaryDirectory(prefix="featherface-bench-") as tmp:
        yield Path(tmp)


# ----------------------------------------------------------------------------- main runner
def run_benchmark(settings: BenchSettings, log: Log = print) -> dict[str, Any]:
    """Run the grid and return a JSON-serialisable result (see :func:`~featherface.tools.bench.report.format_markdown`)."""
    settings.validate()
    t_start = time.time()
    result: dict[str, Any] = {"settings": asdict(settings), "machine": machine_info(), "models": {},
                              "latency": [], "memory": [], "profile": {}, "int8_vs_fp32": {}}
    n_pictures = max(max(settings.batches), settings.calibration_images + HELD_OUT_IMAGES)
    pictures, source = bench_images(n_pictures, settings.images, settings.seed)
    result["images"] = {"source": source, "count": len(pictures)}
    with _workdir(settings) as workdir:
        models: dict[str, torch.nn.Module] = {}
        files: dict[str, dict[str, str]] = {}
        for name in settings.models:
            models[name] = model = _make_model(name, settings.weights.get(name), settings.seed)
            info = model_info(name, model, settings)
            files[name], int8_report = export_files(name, model, settings, workdir, pictures, info, log)
            if int8_report is not None:
                result["int8_vs_fp32"][name] = int8_report
            result["models"][name] = info
            _log_model(name, info, log)
        optimized = ({n: optimize_for_inference(m) for n, m in models.items()}
                     if "torch-opt" in settings.backends else {})
        haar = _haar_or_note(settings, result, log)
        result["latency"] = latency_grid(settings, models, optimized, files, pictures, haar, log)
        if settings.memory:
            result["memory"] = memory_rows(models, files, max(settings.sizes), log)
        if settings.profile:
            result["profile"] = profile_rows(models)
    result["ratios"] = compute_ratios(result)
    result["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["elapsed_s"] = time.time() - t_start
    return result

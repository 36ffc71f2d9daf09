"""V2 / V1 ratios of a benchmark result: size, FLOPs, memory and each latency cell (below 1: V2 is smaller/faster)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def latency_ratios(latency: list[dict[str, Any]], num: str, den: str) -> list[dict[str, Any]]:
    """One row per (backend, size, batch, threads) cell both models ran: median (and CPU-time) ratio, speed-up."""
    index = {(r["model"], r["backend"], r["size"], r["batch"], r["threads"]): r for r in latency}
    lat: list[dict[str, Any]] = []
    for (m, be, s, bt, th), r in index.items():
        if m != num or (den, be, s, bt, th) not in index:
            continue
        d = index[(den, be, s, bt, th)]
        lat.append({"backend": be, "size": s, "batch": bt, "threads": th,
                    "median_ratio": r["median_ms"] / d["median_ms"],
                    "cpu_ratio": (r["cpu_median_ms"] / d["cpu_median_ms"]
                                  if r.get("cpu_median_ms") and d.get("cpu_median_ms") else None),
                    "speedup_pct": (d["median_ms"] / r["median_ms"] - 1) * 100})
    return lat


def latency_summary(lat: list[dict[str, Any]]) -> dict[str, float]:
    """Geometric means of the latency ratios: over the grid, per backend, and by one-thread CPU time."""
    if not lat:
        return {}
    out = {"latency_geomean_ratio": _geomean([x["median_ratio"] for x in lat])}
    for be in sorted({x["backend"] for x in lat}):
        out[f"latency_geomean_ratio_{be}"] = _geomean([x["median_ratio"] for x in lat if x["backend"] == be])
        cpu1 = [x["cpu_ratio"] for x in lat if x["backend"] == be and x["threads"] == 1 and x["cpu_ratio"]]
        if cpu1:
            out[f"cpu_1thread_geomean_ratio_{be}"] = _geomean(cpu1)
    return out


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
    out["latency"] = latency_ratios(result.get("latency", []), num, den)
    out.update(latency_summary(out["latency"]))
    mem = {(r["model"], r["backend"]): r for r in result.get("memory", []) if "inference_peak_mb" in r}
    out["memory"] = {be: mem[(num, be)]["inference_peak_mb"] / max(1e-9, mem[(den, be)]["inference_peak_mb"])
                     for (m, be) in mem if m == num and (den, be) in mem}
    return out

"""A benchmark result as markdown tables (models, latency, V2/V1 ratios, memory, INT8 change, profile) and as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from featherface.format import cell
from featherface.io.outputs import write_text
from featherface.tools.bench.settings import BACKENDS, HAAR, MEMORY_BACKENDS, RUNTIME_LABEL, RUNTIME_LEGEND, SHORT

# a missing value in these tables (ASCII, as the published benchmark tables have it)
MISSING = "-"


def _short(name: str) -> str:
    return SHORT.get(name, name)


def _ratio_cell(names: list[str], ratio: float | None) -> str:
    """The trailing V2/V1 cell of a models-table row (nothing with one model)."""
    if len(names) < 2:
        return ""
    return f" {cell(ratio, '.2f', MISSING)} |"


def machine_line(result: dict[str, Any]) -> str:
    """Machine, library versions, load at start, inputs and weights, in one sentence."""
    m = result["machine"]
    mods = result["models"]
    return (f"Machine: {m.get('cpu', '?')}, {m.get('logical_cpus')} logical CPUs; torch {m.get('torch')}, "
            f"onnxruntime {m.get('onnxruntime', MISSING)}, OpenCV {m.get('cv2', MISSING)}; load average at start "
            f"{', '.join(f'{v:.1f}' for v in m.get('load_average', []))}. Inputs: {result['images']['source']}. "
            "Weights: " + ", ".join(f"{_short(k)} {v['weights']}" for k, v in mods.items()) + ".")


def _memory_index(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["backend"]): r for r in result.get("memory", []) if "inference_peak_mb" in r}


def models_table(result: dict[str, Any]) -> list[str]:
    """One column per model (and V2/V1): parameters, sizes, GMACs / GFLOPs per size, inference peak memory."""
    mods = result["models"]
    names = list(mods)
    ratios = result.get("ratios", {})
    head = "| | " + " | ".join(_short(n) for n in names) + (" | V2/V1 |" if len(names) > 1 else " |")
    lines = [head, "|---" * (len(names) + 1 + (1 if len(names) > 1 else 0)) + "|"]

    def row(label: str, key: Callable[[dict[str, Any]], float | None], nd: int, ratio: float | None) -> None:
        vals = [key(mods[n]) for n in names]
        if all(v is None for v in vals):
            return
        cells = [cell(v, "," if isinstance(v, int) else f".{nd}f", MISSING) for v in vals]
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + _ratio_cell(names, ratio))

    row("parameters", lambda d: d["params"], 0, ratios.get("params"))
    row("fp32 weights (MB)", lambda d: d["weights_fp32_mb"], 2, ratios.get("params"))
    row("ONNX fp32 file (MB)", lambda d: d.get("onnx_fp32_mb"), 2, ratios.get("onnx_fp32_mb"))
    row("ONNX INT8 file (MB)", lambda d: d.get("onnx_int8_mb"), 2, ratios.get("onnx_int8_mb"))
    for s in sorted({s for d in mods.values() for s in d["gmacs"]}, key=int, reverse=True):
        row(f"GMACs @{s}x{s}", lambda d, s=s: d["gmacs"].get(s), 3, ratios.get("gflops", {}).get(s))
        row(f"GFLOPs @{s}x{s} (= 2 x MACs)", lambda d, s=s: d["gflops"].get(s), 3, ratios.get("gflops", {}).get(s))
    mem = _memory_index(result)
    for be in MEMORY_BACKENDS:
        if not any((n, be) in mem for n in names):
            continue
        size = next(r["size"] for (_, b2), r in mem.items() if b2 == be)
        cells = [cell(mem[(n, be)]["inference_peak_mb"] if (n, be) in mem else None, ".1f", MISSING) for n in names]
        lines.append(f"| inference peak RSS, {be} @{size} batch 1 (MB) | " + " | ".join(cells) + " |"
                     + _ratio_cell(names, ratios.get("memory", {}).get(be)))
    lines.append("")
    return lines


def _grid_keys(latency: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(size, batch, threads) of the latency cells: largest size first."""
    return sorted({(r["size"], r["batch"], r["threads"]) for r in latency}, key=lambda k: (-k[0], k[1], k[2]))


def _latency_backends(latency: list[dict[str, Any]]) -> list[str]:
    return [b for b in BACKENDS if b != "haar" and any(r["backend"] == b for r in latency)]


def latency_table(result: dict[str, Any]) -> list[str]:
    """Median / p90 ms of every (model, runtime) per size x batch x threads, with the Haar peer column."""
    latency = result["latency"]
    names = list(result["models"])
    idx = {(r["model"], r["backend"], r["size"], r["batch"], r["threads"]): r for r in latency}
    backends = _latency_backends(latency)
    has_haar = any(r["model"] == HAAR for r in latency)
    cols = [(n, b) for b in backends for n in names]
    header = ["size", "batch", "threads"] + [f"{_short(n)} {RUNTIME_LABEL.get(b, b)}" for n, b in cols]
    if has_haar:
        header.append("OpenCV Haar (peer)")
    lines = ["Latency of one network call, milliseconds, median / p90 (the Haar column is OpenCV's whole "
             "detection; FeatherFace columns exclude pre/post-processing):", "", RUNTIME_LEGEND + ".", "",
             "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]

    def timing(r: dict[str, Any] | None) -> str:
        return MISSING if r is None else f"{r['median_ms']:.1f} / {r['p90_ms']:.1f}"

    for s, b, t in _grid_keys(latency):
        cells = [f"{s}x{s}", str(b), str(t)] + [timing(idx.get((n, be, s, b, t))) for n, be in cols]
        if has_haar:
            cells.append(timing(idx.get((HAAR, "opencv", s, b, t))))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def ratio_table(result: dict[str, Any]) -> list[str]:
    """V2 Ultra / V1 median latency per cell and runtime, and the geometric means."""
    ratios = result.get("ratios", {})
    latency = result["latency"]
    backends = _latency_backends(latency)
    lines = ["V2 Ultra / V1 median latency (below 1: V2 Ultra is faster):", "",
             "| size | batch | threads | " + " | ".join(RUNTIME_LABEL.get(b, b) for b in backends) + " |",
             "|---" * (3 + len(backends)) + "|"]
    rat = {(r["backend"], r["size"], r["batch"], r["threads"]): r for r in ratios["latency"]}

    def ratio(r: dict[str, Any] | None, threads: int) -> str:
        if r is None:
            return MISSING
        if threads == 1 and r.get("cpu_ratio"):
            return f"{r['median_ratio']:.2f} (CPU {r['cpu_ratio']:.2f})"
        return f"{r['median_ratio']:.2f}"

    for s, b, t in _grid_keys(latency):
        lines.append("| " + " | ".join([f"{s}x{s}", str(b), str(t)] + [ratio(rat.get((be, s, b, t)), t)
                                                                       for be in backends]) + " |")
    parts = [f"{RUNTIME_LABEL.get(be, be)} {ratios[f'latency_geomean_ratio_{be}']:.2f}" for be in backends
             if f"latency_geomean_ratio_{be}" in ratios]
    cpu_parts = [f"{RUNTIME_LABEL.get(be, be)} {ratios[f'cpu_1thread_geomean_ratio_{be}']:.2f}"
                 for be in backends if f"cpu_1thread_geomean_ratio_{be}" in ratios]
    lines += ["", "Wall-clock ratio, and for one thread in brackets the ratio of process CPU time per call "
                  "(less disturbed by other jobs on a shared machine).", "",
              f"Geometric mean of V2 Ultra / V1 over the grid: {ratios['latency_geomean_ratio']:.2f} "
              f"({'; '.join(parts)})" + (f"; by CPU time, one thread: {'; '.join(cpu_parts)}." if cpu_parts else "."),
              ""]
    return lines


def int8_table(result: dict[str, Any]) -> list[str]:
    """How far the INT8 file is from fp32 on held-out images, per model."""
    lines = ["INT8 vs fp32 ONNX on 4 images not used for calibration, at the calibration size "
             "(with random weights these numbers overstate the damage: see the INT8 section):", "",
             "| model | max rel. RMS of raw outputs | max face-prob change | faces matched (IoU 0.5) |",
             "|---|---|---|---|"]
    for n, rep in result["int8_vs_fp32"].items():
        lines.append(f"| {_short(n)} | {max(v['rel_rms'] for v in rep['raw'].values()):.3f} | "
                     f"{rep['max_score_change']:.3f} | {rep['faces_matched']}/{rep['faces_ref']} "
                     f"(+{rep['faces_extra']} extra) |")
    lines.append("")
    return lines


def profile_lines(result: dict[str, Any]) -> list[str]:
    """Torch eager time by block, one bullet per model and variant."""
    lines = ["Torch eager time by block (640x640, 1 thread, torch profiler ranges per module):", ""]
    for n, prof in result["profile"].items():
        for key, label in (("blocks", "eager"), ("blocks_optimized", "BN folded + channels_last")):
            if prof.get(key):
                lines.append(f"- {_short(n)}, {label}: " + ", ".join(
                    f"{r['block']} {r['ms']:.1f} ms ({r['share'] * 100:.0f}%)" for r in prof[key]))
    lines.append("")
    return lines


def format_markdown(result: dict[str, Any]) -> str:
    """The result as markdown tables (models, latency, V2/V1 ratios, memory, INT8 change, profile)."""
    lines = [machine_line(result), ""] + models_table(result)
    if result["latency"]:
        lines += latency_table(result)
        if len(result["models"]) > 1 and result.get("ratios", {}).get("latency"):
            lines += ratio_table(result)
    if result.get("int8_vs_fp32"):
        lines += int8_table(result)
    if result.get("profile"):
        lines += profile_lines(result)
    lines += [f"Note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def save_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the result JSON (creating folders)."""
    p = Path(path)
    write_text(p, json.dumps(result, indent=2, default=float))  # atomic
    return p

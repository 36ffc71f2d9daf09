"""The design sheet's claims, measured: each V2 technique on and off, V2 vs V1, over seeds.

``featherface ablate`` trains every variant with one short recipe (the same data, backbone start and
steps for all; resumable: each run is a training output folder with ``--resume auto``), scores each
on the human-labelled sets, and writes ``docs/ablation.json`` and a markdown table. A technique's
effect is the mean difference over seeds against the reference model; it is called real only when it
exceeds the spread between seeds of the two models compared, otherwise "within noise".

Variants (``--variants``): ``base`` (no technique), ``ultra`` (all five), ``ultra-<t>`` (all but t),
``base+<t>`` (only t), ``v1``, and ``NAME:key=value[,key=value]``: a named variant with architecture
options changed (e.g. ``ultra+attention_residual:fpn_channels=64``, a wider neck), compared with NAME. With a GPU and WIDER FACE: ``--config`` a WIDER recipe and
``--wider-images WIDER_val/images`` (official easy/medium/hard AP per run; see docs/training.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import yaml

from featherface.device import torch_threads
from featherface.errors import ConfigError
from featherface.evaluation.human import evaluate_human, human_set_dirs
from featherface.evaluation.runner import detect_wider, restrict_to_present
from featherface.evaluation.wider_gt import load_wider_ground_truth
from featherface.evaluation.widerface import evaluate as evaluate_wider
from featherface.inference.backends.optimize import optimize_for_inference
from featherface.inference.detector import FaceDetector
from featherface.io.outputs import write_text
from featherface.models.featherface import FeatherFaceConfig
from featherface.models.registry import create_model
from featherface.models.weights import file_sha256, model_from_weights
from featherface.models.techniques import TECHNIQUES
from featherface.training.config import TrainConfig
from featherface.training.trainer import train

__all__ = ["SHEET_CLAIMS", "Variant", "variants", "run_ablation", "load_previous", "recipe_digest", "measure_latency",
           "summarise", "format_table", "format_variants"]

# mAP gains the design sheet claims for each technique (hypotheses to test)
SHEET_CLAIMS = {"feature_reuse": 1.0, "attention_multiplication": 0.8, "progressive_enhancement": 0.7,
                "multiscale_weighting": 0.5, "dynamic_sharing": 0.5}
# the design sheet's attention, pinned in every V2 variant (the two fixes each switch one on)
SHEET_ATTENTION = {"spatial_norm": False, "attention_residual": False}
METRICS = ("facemask_ap", "caltech_recall", "cuhk_found", "cuhk_nme", "wider_easy", "wider_medium", "wider_hard")
# each run's scores, kept beside its weights: several `ablate` processes can share the work, and a last
# call that lists every variant assembles the table without evaluating anything twice
EVAL_CACHE = "ablation_eval.json"
# recipe keys the command sets per run: they do not make two recipes different
_PER_RUN_KEYS = ("model", "model_overrides", "seed", "output_dir", "resume", "progress")


@dataclass(frozen=True)
class Variant:
    name: str
    model: str
    overrides: dict[str, Any] = field(default_factory=dict)
    # the named variant a custom one (``NAME:key=value``) is compared with
    parent: str | None = None

    @property
    def slug(self) -> str:
        """The run folder's name part: the name with anything but letters, digits and ``_.+-`` as ``_``."""
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.name)


_ARCH_KEYS = frozenset(FeatherFaceConfig.__dataclass_fields__)


def _custom_variant(spec: str, by: dict[str, Variant]) -> Variant:
    """``NAME:key=value[,key=value]``: the variant NAME with these architecture options (YAML values)."""
    name, _, rest = spec.partition(":")
    if name not in by:
        raise ConfigError(f"ablation variant {spec!r}: unknown base variant {name!r}; known: {', '.join(by)}")
    overrides = dict(by[name].overrides)
    for item in rest.split(","):
        key, eq, raw = (part.strip() for part in item.partition("="))
        if not eq or not key or not raw:
            raise ConfigError(f"ablation variant {spec!r}: {item!r} is not KEY=VALUE")
        if key not in _ARCH_KEYS:
            raise ConfigError(f"ablation variant {spec!r}: {key!r} is not an architecture option; "
                              f"known: {', '.join(sorted(_ARCH_KEYS))}")
        try:
            overrides[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"ablation variant {spec!r}: cannot read the value of {key!r}: {raw!r}") from None
    try:  # a bad value fails here, not after the runs before it have trained
        create_model(by[name].model, **overrides)
    except (TypeError, ValueError, ConfigError) as e:
        raise ConfigError(f"ablation variant {spec!r}: {e}") from None
    return Variant(spec, by[name].model, overrides, parent=name)


def variants(names: Sequence[str] | None = None) -> list[Variant]:
    """The named variants (all when ``None``), in a stable order.

    Every V2 variant pins the sheet's attention (plain repeats, no normalisation) unless it is one
    of the fixes: the ablation measures the sheet's design whatever the registry's default is."""
    sheet = dict(SHEET_ATTENTION)
    off = {**sheet, **dict.fromkeys(TECHNIQUES, False)}
    allv = [Variant("base", "featherface-v2-ultra", off), Variant("ultra", "featherface-v2-ultra", sheet)]
    allv += [Variant(f"ultra-{t}", "featherface-v2-ultra", {**sheet, t: False}) for t in TECHNIQUES]
    allv += [Variant(f"base+{t}", "featherface-v2-ultra", {**off, t: True}) for t in TECHNIQUES]
    allv.append(Variant("v1", "featherface-v1"))
    allv.append(Variant("ultra+spatial_norm", "featherface-v2-ultra", {**sheet, "spatial_norm": True}))
    allv.append(Variant("ultra+attention_residual", "featherface-v2-ultra", {**sheet, "attention_residual": True}))
    if names is None:
        return allv
    by = {v.name: v for v in allv}
    unknown = [n for n in names if n not in by and ":" not in n]
    if unknown:
        raise ConfigError(f"unknown ablation variant(s) {', '.join(unknown)}; known: {', '.join(by)} "
                          "(or NAME:key=value for a variant with other architecture options)")
    return [by[n] if n in by else _custom_variant(n, by) for n in names]


def recipe_digest(cfg: TrainConfig) -> str:
    """A short fingerprint of the recipe every variant shares (the per-run keys left out) and of its
    label file's content, so that runs carried over from an earlier table are known to come from the
    same recipe and labels (labels regenerated on another machine can differ)."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in _PER_RUN_KEYS}
    label_file = d.get("label_file")
    if label_file and Path(label_file).is_file():
        d["label_file_sha256"] = file_sha256(Path(label_file))
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_previous(path: Path, recipe: str | None = None,
                  log: Callable[[str], None] = print) -> dict[tuple[str, int], dict[str, Any]]:
    """The finished, scored runs of an earlier ``--json`` file, by (variant, seed).

    Why: a run's folder can be lost (a new machine, a cleaned ``runs/``) while the table that scored
    it remains; carrying its record saves retraining it. A file that names another recipe (its
    ``recipe`` differs from ``recipe``) carries nothing; a file written before recipes were recorded
    is taken at the caller's word and each carried record says where it came from."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"--previous {path}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:
        raise ConfigError(f"--previous {path}: not JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise ConfigError(f"--previous {path}: not an ablation table (no 'runs' list)")
    if recipe is not None and doc.get("recipe") not in (None, recipe):
        log(f"ablate: {path} was made with another recipe ({doc.get('recipe')} vs {recipe}): nothing carried")
        return {}
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in doc["runs"]:
        if (isinstance(r, dict) and r.get("status") in ("finished", "max_steps") and isinstance(r.get("variant"), str)
                and isinstance(r.get("seed"), int) and any(isinstance(r.get(m), (int, float)) for m in METRICS)):
            out[(r["variant"], r["seed"])] = r
    return out


def _metrics(report: Any) -> dict[str, float | None]:
    sets = {k: v.to_dict() for k, v in report.sets.items()}
    return {"facemask_ap": sets.get("facemask", {}).get("ap"), "caltech_recall": sets.get("caltech", {}).get("recall"),
            "cuhk_found": sets.get("cuhk", {}).get("found_rate"), "cuhk_nme": sets.get("cuhk", {}).get("nme"),
            "ms_per_image": report.ms_per_image}


def run_ablation(base: TrainConfig, chosen: Sequence[Variant], seeds: Sequence[int], out_dir: Path,
                 human_sets: Path | None, limit: int | None = None, log: Callable[[str], None] = print,
                 progress: bool = False, report_only: bool = False,
                 previous: dict[tuple[str, int], dict[str, Any]] | None = None, previous_source: str = "",
                 wider: tuple[Path, Path] | None = None, **eval_overrides: Any) -> list[dict[str, Any]]:
    """Train (or resume) and score every variant x seed; one record per run. ``report_only``: train
    nothing, score the finished runs (their saved scores when there are), list the others as pending.
    ``previous`` (:func:`load_previous`): a run whose folder has no weights but which that table holds,
    finished and scored with the same model and options, is carried from it instead of trained.
    ``wider`` (ground-truth folder, ``WIDER_val/images``): each run also gets the official WIDER FACE
    val AP (easy / medium / hard), the benchmark the design sheet speaks of."""
    records = []
    sets = human_set_dirs(human_sets) if human_sets is not None else {}
    # read once, and before any training: a damaged ground truth fails now, not after the first run
    wider_gt, wider_subset = (restrict_to_present(load_wider_ground_truth(wider[0]), wider[1]) if wider is not None
                              else (None, None))
    if wider_subset is not None:
        log(f"ablate: WIDER {wider_subset.note()}")
    subset_key = wider_subset.key if wider_subset is not None else None
    for v in chosen:
        for seed in seeds:
            run_dir = out_dir / f"{v.slug}-s{seed}"
            rec: dict[str, Any] = {"variant": v.name, "model": v.model, "overrides": dict(v.overrides), "seed": seed}
            old = (previous or {}).get((v.name, seed))
            if (old is not None and wider is not None and any(k.startswith("wider_") and k != "wider_subset" for k in old)
                    and (old.get("wider_subset") or {}).get("key") != subset_key):
                # WIDER APs of another image set are not comparable: never one table of both
                log(f"ablate: {v.name} seed {seed}: the previous table scored other WIDER images; not carried")
                old = None
            if (old is not None and not (run_dir / "final.pt").is_file() and old.get("model") == v.model
                    and old.get("overrides") == rec["overrides"]):
                log(f"ablate: {v.name} seed {seed}: carried from {previous_source or 'the previous table'}")
                records.append({**old, "carried_from": previous_source})
                continue
            if report_only:
                if not (run_dir / "final.pt").is_file():
                    records.append({**rec, "status": "pending", "weights": None})
                    continue
                weights: Path | None = run_dir / "final.pt"
                rec.update(status="finished", weights=str(weights))
            else:
                cfg = TrainConfig.from_dict({"model": v.model, "model_overrides": dict(v.overrides), "seed": seed,
                                             "output_dir": str(run_dir), "resume": "auto", "progress": progress}, base)
                log(f"ablate: {v.name} seed {seed} -> {run_dir}")
                result = train(cfg)
                if result.status == "interrupted":
                    # Ctrl-C / SIGTERM stops the whole ablation, not just this run (its last.pt resumes it)
                    log(f"ablate: interrupted in {v.name} seed {seed}; the same command resumes it")
                    raise KeyboardInterrupt
                weights = result.final_weights or result.best_weights
                rec.update(steps=result.global_step, status=result.status, weights=str(weights) if weights else None)
            if weights is not None:
                key = {"weights_sha256": file_sha256(weights), "limit": limit,
                       "sets": {k: str(p) for k, p in sorted(sets.items())},
                       **({"wider": [str(wider[0]), str(wider[1]), subset_key]} if wider is not None else {}),
                       "options": {k: eval_overrides[k] for k in sorted(eval_overrides)}}
                cached = _cached_eval(run_dir / EVAL_CACHE, key)
                if cached is not None:
                    log(f"ablate: {v.name} seed {seed}: scores of these weights from {run_dir / EVAL_CACHE}")
                    rec.update(cached)
                else:
                    # the variant's own architecture comes with its weights file; box and landmark
                    # voting off: the ablation compares the networks' own outputs (and its first runs
                    # were scored before voting existed)
                    det = FaceDetector(model_from_weights(weights), score_threshold=0.02, backend="torch", threads=1,
                                       vote_iou=0.0)
                    scores: dict[str, Any] = {"params": int(sum(p.numel() for p in det.model.parameters()))}
                    if sets:
                        res = evaluate_human({v.name: det}, limit=limit, progress=progress, **sets, **eval_overrides)
                        scores.update(_metrics(res.report(v.name)))
                    if wider is not None and wider_gt is not None:
                        aps = evaluate_wider(detect_wider(wider_gt, wider[1], detector=det, progress=progress), wider_gt)
                        scores.update({f"wider_{k}": round(float(aps[k]), 4) for k in ("easy", "medium", "hard")})
                        scores["wider_subset"] = wider_subset.to_dict() if wider_subset is not None else None
                    write_text(run_dir / EVAL_CACHE, json.dumps({"key": key, "scores": scores}, indent=1) + "\n")
                    rec.update(scores)
            records.append(rec)
    return records


def _cached_eval(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The scores saved beside a run, if they are of the same weights and the same evaluation."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("scores"), dict):
        return None
    return doc["scores"]


def measure_latency(chosen: Sequence[Variant], size: int = 640, repeats: int = 15,
                    threads: int = 1) -> dict[str, dict[str, float]]:
    """Per variant, ms per ``size``² image of its network (random weights: speed does not depend on
    them; PyTorch, BatchNorm folded, ``threads`` threads), in one process, the variants' calls
    interleaved so that background load hits them alike. ``cpu_ms`` (process CPU time per call,
    median) is the figure a busy machine disturbs least; ``wall_ms`` is the median wall time."""
    nets = {v.name: optimize_for_inference(create_model(v.model, **v.overrides).eval()) for v in chosen}
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    wall: dict[str, list[float]] = {n: [] for n in nets}
    cpu: dict[str, list[float]] = {n: [] for n in nets}
    # interleaved calls, hence not tools.timing.time_calls (one function's repeats in a row)
    with torch_threads(threads), torch.inference_mode():
        for net in nets.values():  # warm-up
            net(x)
        for _ in range(repeats):
            for name, net in nets.items():
                c0, t0 = time.process_time(), time.perf_counter()
                net(x)
                wall[name].append((time.perf_counter() - t0) * 1e3)
                cpu[name].append((time.process_time() - c0) * 1e3)
    return {n: {"wall_ms": round(statistics.median(wall[n]), 3), "cpu_ms": round(statistics.median(cpu[n]), 3),
                "size": size, "threads": threads} for n in nets}


def _stats(values: list[float]) -> tuple[float, float]:
    """Mean and spread (max - min; 0 for one seed)."""
    return statistics.fmean(values), (max(values) - min(values)) if len(values) > 1 else 0.0


def _scores_by_variant(records: list[dict[str, Any]], metric: str) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each variant's finite ``metric`` values (x100, one per scored seed) and its parameter count."""
    by: dict[str, list[float]] = {}
    params: dict[str, int] = {}
    for r in records:
        if r.get(metric) is not None and math.isfinite(r[metric]):
            by.setdefault(r["variant"], []).append(100.0 * float(r[metric]))
            params[r["variant"]] = r.get("params", 0)
    return by, params


def summarise(records: list[dict[str, Any]], metric: str = "facemask_ap",
              latency: dict[str, dict[str, float]] | None = None,
              custom: Sequence[Variant] = ()) -> list[dict[str, Any]]:
    """Per technique: the sheet's claim, Δ(ultra - ultra-t) and Δ(base+t - base) in ``metric`` points
    (x100), with the seed spread, and the verdict; with ``latency`` (:func:`measure_latency`) the
    CPU-time difference too; a row per ``custom`` variant against the variant it changes."""
    by, params = _scores_by_variant(records, metric)

    def delta(a: str, b: str) -> dict[str, Any] | None:
        if a not in by or b not in by:
            return None
        (ma, sa), (mb, sb) = _stats(by[a]), _stats(by[b])
        d, noise = ma - mb, max(sa, sb)
        n = min(len(by[a]), len(by[b]))
        verdict = "one seed: noise unknown" if n < 2 else ("real" if abs(d) > noise else "within noise")
        out = {"delta": round(d, 2), "spread": round(noise, 2), "seeds": n, "verdict": verdict,
               "params_delta": params.get(a, 0) - params.get(b, 0)}
        if latency and a in latency and b in latency:
            out["latency_delta_ms"] = round(latency[a]["cpu_ms"] - latency[b]["cpu_ms"], 2)
        return out

    rows = []
    for t in TECHNIQUES:
        rows.append({"technique": t, "claim": SHEET_CLAIMS[t], "removed": delta("ultra", f"ultra-{t}"),
                     "added": delta(f"base+{t}", "base")})
    rows.append({"technique": "all five (ultra vs base)", "claim": sum(SHEET_CLAIMS.values()),
                 "removed": delta("ultra", "base"), "added": None})
    rows.append({"technique": "V2 Ultra vs V1", "claim": None, "removed": delta("ultra", "v1"), "added": None})
    rows.append({"technique": "V2 Ultra with the residual fix vs V1", "claim": None,
                 "removed": delta("ultra+attention_residual", "v1"), "added": None})
    rows.append({"technique": "spatial-attention normalisation (fix)", "claim": None,
                 "removed": delta("ultra+spatial_norm", "ultra"), "added": None})
    rows.append({"technique": "residual attention repeats (fix)", "claim": None,
                 "removed": delta("ultra+attention_residual", "ultra"), "added": None})
    for v in custom:
        if v.parent is not None:
            rows.append({"technique": f"{v.name} (vs {v.parent})", "claim": None, "removed": delta(v.name, v.parent),
                         "added": None})
    return rows


def format_variants(records: list[dict[str, Any]], metric: str = "facemask_ap") -> str:
    """Each variant's own ``metric`` (x100): mean over its scored seeds and their spread (max - min)."""
    by, params = _scores_by_variant(records, metric)
    lines = [f"| variant | params | {metric} ×100 (mean) | spread | seeds |", "|---|---|---|---|---|"]
    for name, vals in by.items():
        mean, spread = _stats(vals)
        lines.append(f"| {name} | {params[name]:,} | {mean:.2f} | {spread:.2f} | {len(vals)} |")
    return "\n".join(lines)


def format_table(rows: list[dict[str, Any]], metric: str = "facemask_ap") -> str:
    def cell(d: dict[str, Any] | None) -> str:
        if d is None:
            return "–"
        return f"{d['delta']:+.2f} ± {d['spread']:.2f} ({d['verdict']}, {d['seeds']} seed{'s' if d['seeds'] != 1 else ''})"

    lines = [f"| technique | sheet's claim (mAP) | measured Δ {metric} ×100: with it vs without (from Ultra) | "
             "from base | Δ params | Δ latency (ms) |", "|---|---|---|---|---|---|"]
    for r in rows:
        if r["removed"] is None and r["added"] is None:
            continue  # a comparison whose runs were not asked for (or not finished): no row of dashes
        claim = "–" if r["claim"] is None else f"+{r['claim']:.1f}"
        params = r["removed"]["params_delta"] if r["removed"] else "–"
        lat = r["removed"].get("latency_delta_ms") if r["removed"] else None
        lines.append(f"| {r['technique']} | {claim} | {cell(r['removed'])} | {cell(r['added'])} | {params} | "
                     f"{'–' if lat is None else f'{lat:+.2f}'} |")
    return "\n".join(lines)


def write_json(path: Path, records: list[dict[str, Any]], rows: list[dict[str, Any]], command: str,
               latency: dict[str, dict[str, float]] | None = None, recipe: str | None = None) -> None:
    doc = {"command": command, "recipe": recipe, "runs": records, "summary": rows, "latency": latency or {}}
    write_text(path, json.dumps(doc, indent=1) + "\n")

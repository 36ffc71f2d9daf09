"""The full reliability campaign: >1,000 bad inputs, broken label/prediction/weights files, kills.

    .venv/bin/python benchmarks/fuzz_inputs.py                      # everything (~10 min on 2 cores)
    .venv/bin/python benchmarks/fuzz_inputs.py --quick --kills 4    # a smaller run (~3 min)

Legs (every image case goes through each; ``tests/fuzz/campaign.py`` defines the cases):

1. ``FaceDetector.detect`` (planted-faces stub model) on each case as a file path, raw bytes or the
   object itself - in a child process with a per-case timeout, so a crash or a hang is recorded
   as such instead of ending the campaign;
2. the same with ``backend="onnxruntime"`` (random network), when the backend is importable;
3. ``featherface detect FOLDER`` in-process (``featherface.cli.main``, stub detector) over a folder
   of every file case plus odd entries, and 4. once as a subprocess (random network);
5. the 12000x12000 JPEG and a 20000x20000 decompression bomb in fresh processes: peak RSS;
6. label files (RetinaFace, WIDER gt) and prediction files/folders, incl. the identical-AP property;
7. weights files (broken, foreign, hostile pickles: the marker files must never appear);
8. a training run SIGKILLed ``--kills`` times (also mid checkpoint write) and stopped by
   SIGTERM/SIGINT, resumed each time, compared bit for bit with an uninterrupted run;
9. (second campaign) every output option of every verb aimed at an input, a folder, a path under
   a file, a read-only folder, a user's file and an empty path, plus bad argument values: each
   must be refused before any work with one line and exit 2, no file changed (in-process, and one
   case per verb as a subprocess).
10. (third campaign, issue 28: ``--only third``) bounded time on every source, a server no client
   can stall, no failure reported as success: the cases of ``tests/reliability`` (FIFO and stream
   sources, hostile HTTP requests, full disks and broken videos, late export failures, ablation
   tables, wrong words), each with its time bound, run as one pytest session and counted per area.

Prints the figures and writes them (with every contract failure) to ``--json``
(default ``runs/fuzz/report.json``). Exit code 1 if any contract failure was found.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from tests.fuzz import campaign as fuzz  # noqa: E402

STATUS_ORDER = ("faces", "error", "unexpected", "timeout", "crash")
LEGS = ("torch", "onnx", "cli", "huge", "labels", "weights", "kills", "outputs", "third")
# the third campaign's cases (issue 28): one home, the tests themselves; area -> test file
THIRD_CAMPAIGN = {
    "video/stream sources": "tests/reliability/test_sources.py",
    "HTTP service": "tests/reliability/test_serve_hostile.py",
    "failed writes": "tests/reliability/test_write_failures.py",
    "long jobs": "tests/reliability/test_long_jobs.py",
    "ablation tables": "tests/reliability/test_ablate_outputs.py",
    "wrong words": "tests/reliability/test_wrong_words.py",
}


# ============================================================================ image legs (child)


def _make_detector(backend: str, cache: str) -> Any:
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if backend == "stub":
        from featherface import FaceDetector
        from tests.inference.stub import PlantedFacesModel

        return FaceDetector(model=PlantedFacesModel(np.array([[4, 3, 30, 40]], np.float32),
                                                    np.full((1, 5, 2), 12, np.float32)))
    os.environ["FEATHERFACE_CACHE"] = cache
    os.environ["FEATHERFACE_ORT_THREADS"] = "1"
    from featherface import FaceDetector
    from featherface.models.registry import create_model

    torch.manual_seed(0)
    return FaceDetector(model=create_model("featherface-v2-ultra"), backend="onnxruntime")


def _image_worker(conn: Any, seed: int, rpf: int, big: bool, backend: str, folder: str, cache: str) -> None:
    """Child process: runs every leg of the case whose index the parent sends."""
    from featherface.io.images import load_image

    cases = fuzz.image_cases(seed=seed, random_per_format=rpf, big=big)
    files = {c.name: Path(folder) / p for c, p in _case_paths(cases)}
    det = _make_detector(backend, cache)
    model = det.model
    conn.send("ready")
    while True:
        i = conn.recv()
        if i is None:
            return
        case = cases[i]
        value = case.build()
        legs = [("path", files[case.name]), ("bytes", value)] if case.is_file else [("object", value)]
        out_legs = []
        for leg, inp in legs:
            n_calls = len(getattr(model, "calls", []))
            t0 = time.perf_counter()
            o = fuzz.run_case(det.detect, inp)
            dt = time.perf_counter() - t0
            why = fuzz.judge(case.expect, o, fuzz.must_name_for(case, inp, files[case.name] if leg == "path" else None))
            if why is None and o.status == "faces" and case.shape is not None and hasattr(model, "calls"):
                seen = model.calls[-1][2:] if len(model.calls) > n_calls else None
                if seen != fuzz.network_input_hw(*case.shape):
                    why = f"network input {seen}, expected {fuzz.network_input_hw(*case.shape)}"
            if why is None and o.status == "faces" and case.check is not None:
                why = case.check(load_image(inp if leg == "path" else case.build()))
            out_legs.append({"leg": leg, "status": o.status, "detail": o.detail[:300], "why": why, "seconds": dt})
        conn.send(out_legs)


def _case_paths(cases: list[fuzz.Case]) -> list[tuple[fuzz.Case, str]]:
    """File names :func:`fuzz.write_case_files` uses (relative), without writing anything."""
    out = []
    for i, c in enumerate(cases):
        if c.is_file:
            stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in c.name.rsplit(".", 1)[0])
            out.append((c, f"{i:04d}_{stem}{c.ext}"))
    return out


def run_image_leg(backend: str, cases: list[fuzz.Case], args: argparse.Namespace, folder: Path, cache: Path) -> dict:
    """All cases through one backend in a supervised child; timeouts and crashes are recorded."""
    ctx = mp.get_context("spawn")
    per_kind: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    slowest: list[tuple[float, str]] = []
    worker = conn = None

    def start() -> tuple[Any, Any]:
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_image_worker, args=(child, args.seed, args.rpf, not args.no_big, backend,
                                                    str(folder), str(cache)), daemon=True)
        p.start()
        if not parent.poll(300) or parent.recv() != "ready":
            raise RuntimeError(f"{backend} worker did not start")
        return p, parent

    t0 = time.monotonic()
    for i, case in enumerate(cases):
        if worker is None or not worker.is_alive():
            worker, conn = start()
        conn.send(i)
        limit = args.case_timeout * (4 if case.big else 1)
        legs: list[dict] | None = None
        if conn.poll(limit):
            try:
                legs = conn.recv()
            except EOFError:
                legs = None
        if legs is None:
            status = "timeout" if worker.is_alive() else "crash"
            detail = f"no answer in {limit:.0f}s" if status == "timeout" else f"worker died (exit {worker.exitcode})"
            worker.kill()
            worker.join()
            worker = None
            legs = [{"leg": "all", "status": status, "detail": detail, "why": f"{status}: {detail}", "seconds": limit}]
        for leg in legs:
            per_kind[case.kind][leg["status"]] += 1
            slowest.append((leg["seconds"], f"{case.name} [{leg['leg']}]"))
            if leg["why"]:
                failures.append(f"{backend}: {case.kind}/{case.name} [{leg['leg']}]: {leg['why']}")
        if (i + 1) % 200 == 0:
            print(f"  {backend}: {i + 1}/{len(cases)} cases ({time.monotonic() - t0:.0f}s)", flush=True)
    if worker is not None:
        conn.send(None)
        worker.join(10)
        if worker.is_alive():
            worker.kill()
    slowest.sort(reverse=True)
    return {"per_kind": {k: dict(v) for k, v in per_kind.items()}, "failures": failures,
            "seconds": round(time.monotonic() - t0, 1), "slowest": [(round(s, 2), n) for s, n in slowest[:5]]}


# ============================================================================ CLI legs


def _cli_in_process(folder: str, json_out: str, out_dir: str, q: Any) -> None:
    """Child: ``featherface.cli.main(["detect", folder, ...])`` with the stub detector."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    import featherface.inference.detector as dm
    from featherface.cli import main

    stub = _make_detector("stub", "")
    dm.FaceDetector = lambda **kw: stub  # type: ignore[assignment,misc]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["detect", folder, "--json", json_out, "--output", out_dir, "--quiet"])
    q.put((rc, out.getvalue(), err.getvalue()))


def _tiny_videos(folder: Path) -> dict[str, str]:
    """A valid 3-frame video (faces expected) and a truncated copy (either outcome)."""
    import cv2

    p = folder / "tiny.avi"
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for k in range(3):
        w.write(np.roll(fuzz.base_image(), 5 * k, axis=1))
    w.release()
    if not p.is_file() or p.stat().st_size == 0:
        return {}
    data = p.read_bytes()
    (folder / "tiny_truncated.avi").write_bytes(data[: len(data) // 2])
    return {"tiny.avi": fuzz.FACES, "tiny_truncated.avi": fuzz.EITHER}


def run_cli_legs(cases: list[fuzz.Case], work: Path, subprocess_leg: bool, timeout: float) -> dict:
    file_cases = [c for c in cases if c.is_file]
    folder = work / "detect-folder"
    files = fuzz.write_case_files(file_cases, folder)
    extras = fuzz.folder_extras(folder, files["valid.png"].read_bytes())
    extras |= _tiny_videos(folder)
    report: dict[str, Any] = {"inputs": len(files) + len(extras)}

    # in-process (stub), supervised
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.monotonic()
    p = ctx.Process(target=_cli_in_process, args=(str(folder), str(work / "inproc.json"), str(work / "inproc-out"), q))
    p.start()
    try:
        rc, out, err = q.get(timeout=timeout)
        doc = json.loads((work / "inproc.json").read_text())
        problems, stats = fuzz.check_detect_run(files, file_cases, extras, doc, rc, out, err, work / "inproc-out")
    except Exception as exc:  # noqa: BLE001 - a crash/hang of the whole run is itself the finding
        problems, stats, rc = [f"in-process run did not complete: {type(exc).__name__}: {exc}"], {}, None
    p.join(10)
    if p.is_alive():
        p.kill()
    report["in_process"] = {"exit_code": rc, "failures": problems, "per_kind": {k: dict(v) for k, v in stats.items()},
                            "seconds": round(time.monotonic() - t0, 1)}

    if subprocess_leg:
        t0 = time.monotonic()
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
        try:
            proc = subprocess.run([sys.executable, "-m", "featherface.cli", "detect", str(folder), "--weights", "none",
                                   "--json", str(work / "sub.json"), "--output", str(work / "sub-out"), "--quiet"],
                                  capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
            doc = json.loads((work / "sub.json").read_text())
            problems, stats = fuzz.check_detect_run(files, file_cases, extras, doc, proc.returncode, proc.stdout,
                                                    proc.stderr, work / "sub-out")
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            problems, stats, rc = [f"subprocess run did not finish in {timeout:.0f}s"], {}, None
        report["subprocess"] = {"exit_code": rc, "failures": problems,
                                "per_kind": {k: dict(v) for k, v in stats.items()},
                                "seconds": round(time.monotonic() - t0, 1)}
    return report


# ============================================================================ memory of huge inputs

_RSS_PROBE = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import torch; torch.set_num_threads(1)
from featherface import FaceDetector
from featherface.errors import FeatherFaceError
def hwm():
    for ln in open("/proc/self/status"):
        if ln.startswith(("VmHWM", "VmRSS")): yield ln.split(":")[0], int(ln.split()[1]) / 1024
det = FaceDetector(weights=None)
det.detect(__import__("numpy").zeros((64, 64, 3), "uint8"))
base = dict(hwm())
t = time.perf_counter()
try:
    n = len(det.detect(sys.argv[1])); outcome = f"{n} faces"
except FeatherFaceError as e:
    outcome = f"error: {e}"
print(json.dumps({"baseline_rss_mb": round(base["VmRSS"]), "peak_rss_mb": round(dict(hwm())["VmHWM"]),
                  "seconds": round(time.perf_counter() - t, 1), "outcome": outcome[:200]}))
"""


def measure_huge(work: Path, unguarded: bool, timeout: float) -> dict:
    """Peak RSS of a fresh process detecting on the 12000x12000 JPEG and on a 20000x20000 PNG bomb."""
    if not Path("/proc/self/status").exists():
        return {"skipped": "needs /proc (Linux)"}
    big = next(c for c in fuzz.image_cases(random_per_format=0, big=True) if c.big)
    files = {"12000x12000.jpg": work / "big.jpg", "bomb-20000x20000.png": work / "bomb.png"}
    files["12000x12000.jpg"].write_bytes(big.build())
    files["bomb-20000x20000.png"].write_bytes(fuzz.png_bomb(20000, 20000))  # complete and valid: ~1.1 MB
    runs = [(name, p, {}) for name, p in files.items()]
    if unguarded:
        runs.append(("bomb (guard disabled)", files["bomb-20000x20000.png"], {"FEATHERFACE_MAX_IMAGE_PIXELS": "1e12"}))
    out: dict[str, Any] = {}
    for name, path, extra in runs:
        env = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
        try:
            r = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(path)], capture_output=True, text=True,
                               timeout=timeout, cwd=REPO, env=env)
            out[name] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else \
                {"outcome": f"exit {r.returncode}: {r.stderr.strip()[-300:]}"}
        except subprocess.TimeoutExpired:
            out[name] = {"outcome": f"timeout after {timeout:.0f}s"}
        out[name]["file_mb"] = round(path.stat().st_size / 2**20, 2)
    return out


# ============================================================================ labels and predictions


def run_label_leg(seed: int, n_random: int, work: Path) -> dict:
    from featherface.data.labels import load_annotations
    from featherface.errors import LabelFormatError
    from featherface.evaluation.predictions import read_prediction_file

    report: dict[str, Any] = {}
    failures: list[str] = []

    def same_ann(a: list, b: list) -> bool:
        return len(a) == len(b) and all(x.path == y.path and np.array_equal(x.boxes, y.boxes)
                                        and np.array_equal(x.landmarks, y.landmarks) for x, y in zip(a, b))

    def same_pred(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and np.array_equal(np.sort(a, axis=0), np.sort(b, axis=0))

    jobs = [
        ("retinaface label.txt", fuzz.retinaface_label_cases(seed, n_random), fuzz.RETINA_TEXT, "base.txt",
         lambda p, c, lay="retinaface": load_annotations(p, layout=lay, strict=c.strict), same_ann),
        ("WIDER gt text", fuzz.wider_gt_cases(seed, n_random), fuzz.WIDER_TEXT, "base.txt",
         lambda p, c, lay="wider": load_annotations(p, layout=lay, strict=c.strict), same_ann),
        ("prediction file", fuzz.prediction_file_cases(seed, n_random), fuzz.PRED_TEXT,
         "0_Parade_marchingband_1_849.txt", lambda p, c: read_prediction_file(p).boxes, same_pred),
    ]
    for title, cases, base_text, fname, reader, same in jobs:
        d = work / title.replace(" ", "_")
        d.mkdir(parents=True, exist_ok=True)
        p = d / fname
        p.write_text(base_text)
        base = reader(p, fuzz.LabelCase("", "", b"", "same"))
        per_kind: dict[str, Counter] = defaultdict(Counter)
        for c in cases:
            p.write_bytes(c.data)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    got = reader(p, c)
                    status, msg = "parsed", ""
                except LabelFormatError as exc:
                    status, msg = "error", str(exc)
                except Exception as exc:  # noqa: BLE001
                    status, msg = "unexpected", f"{type(exc).__name__}: {exc}"
            if status == "parsed" and caught:
                status = "parsed+warning"
            per_kind[c.kind][status] += 1
            why = None
            if status == "unexpected":
                why = msg
            elif status == "error":
                if not msg.startswith(f"{p}:") or "\n" in msg.strip():
                    why = f"error does not start with the file name / is not one line: {msg!r}"
                elif c.expect == "error" and c.line and not msg.startswith(f"{p}:{c.line}:"):
                    why = f"error not at line {c.line}: {msg!r}"
                elif c.expect in ("same", "empty"):
                    why = f"harmless file refused: {msg}"
            elif c.expect == "error":
                why = "malformed file accepted"
            elif c.expect == "same" and not same(got, base):
                why = "parsed differently from the original"
            elif c.expect == "empty" and len(got):
                why = "empty file gave entries"
            if why:
                failures.append(f"{title}: {c.name}: {why}")
        report[title] = {"cases": len(cases), "per_kind": {k: dict(v) for k, v in per_kind.items()}}
    report["ap_property"] = _ap_property(work / "ap", seed)
    failures += report["ap_property"].pop("failures")
    report["failures"] = failures
    return report


def _ap_property(work: Path, seed: int) -> dict:
    """Identical AP after every harmless transformation of every prediction file of a folder."""
    from featherface.evaluation.predictions import EvaluationWarning, read_prediction_dir, write_predictions
    from featherface.evaluation.wider_gt import WiderGroundTruth
    from featherface.evaluation.widerface import evaluate

    rng = np.random.default_rng(seed)
    events, names, boxes = [], [], []
    for e in range(5):
        for i in range(8):
            events.append(f"{e}--Event")
            names.append(f"{e}_Event_img_{i}")
            n = int(rng.integers(1, 8))
            boxes.append(np.round(np.hstack([rng.uniform(0, 600, (n, 2)), rng.uniform(6, 150, (n, 2))])))
    keep = {s: [np.arange(1, len(b) + 1)[b[:, 2] >= t] for b in boxes] for s, t in (("easy", 60), ("medium", 25),
                                                                                      ("hard", 0))}
    gt = WiderGroundTruth(events=events, names=names, boxes=boxes, keep=keep)
    root = work / "pred"
    for i in range(gt.num_images):
        b = gt.boxes[i]
        det = np.vstack([b + rng.normal(0, 4, b.shape), rng.uniform(0, 600, (4, 4)) + [0, 0, 6, 6]])
        det[:, 2:] = np.abs(det[:, 2:])
        write_predictions(root, gt.events[i], gt.names[i], det, rng.uniform(0.01, 1, len(det)))
    originals = {f: f.read_text() for f in root.rglob("*.txt")}

    def aps() -> tuple[float, ...]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvaluationWarning)
            r = evaluate(read_prediction_dir(root, gt), gt)
        return r["easy"], r["medium"], r["hard"]

    base = aps()
    out: dict[str, Any] = {"base_ap": [round(a, 6) for a in base], "transforms": {}, "failures": []}
    for name, fn in fuzz.HARMLESS_TEXT.items():
        for f, text in originals.items():
            f.write_bytes(fn(text))
        got = aps()
        out["transforms"][name] = "identical" if got == base else f"DIFFERENT {got}"
        if got != base:
            out["failures"].append(f"AP changed after harmless transformation {name!r}: {base} -> {got}")
    for f, text in originals.items():
        f.write_text(text)
    return out


# ============================================================================ weights


def run_weights_leg(seed: int, n_random: int, work: Path) -> dict:
    import torch

    from featherface import FaceDetector
    from featherface.errors import FeatherFaceError, WeightsError
    from featherface.models.registry import create_model
    from featherface.training.checkpoint import read_checkpoint
    from featherface.models.weights import load_weights, read_weights

    torch.manual_seed(seed)
    markers = work / "markers"
    cases = fuzz.weights_cases(create_model("featherface-v2-ultra"), create_model("featherface-v1"), markers,
                               seed=seed, n_random=n_random)
    model = create_model("featherface-v2-ultra")
    per_kind: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    for c in cases:
        p = work / c.name
        p.write_bytes(c.data)
        legs = {"read_weights": lambda: read_weights(p), "load_weights": lambda: load_weights(model, p),
                "FaceDetector": lambda: FaceDetector(weights=p), "read_checkpoint": lambda: read_checkpoint(p)}
        for leg, fn in legs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fn()
                    status, msg = "ok", ""
                except WeightsError as exc:
                    status, msg = "error", str(exc)
                except FeatherFaceError as exc:
                    status, msg = "unexpected", f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # noqa: BLE001
                    status, msg = "unexpected", f"{type(exc).__name__}: {exc}"
            per_kind[c.kind][status] += 1
            if leg == "read_checkpoint":
                want = "error"  # none of these is a training checkpoint
            else:
                want = "ok" if c.expect == "ok" or (leg == "read_weights" and c.readable) else "error"
            if status != want:
                failures.append(f"{c.name} [{leg}]: expected {want}, got {status} {msg[:200]}")
            elif status == "error" and (str(p) not in msg or "\n" in msg.strip()):
                failures.append(f"{c.name} [{leg}]: error is not one line naming the file: {msg!r}")
    ran = sorted(x.name for x in markers.glob("pwned-*"))
    if ran:
        failures.append(f"CODE RAN while loading weights: {ran}")
    return {"cases": len(cases), "per_kind": {k: dict(v) for k, v in per_kind.items()},
            "hostile_payloads": sum(c.marker is not None for c in cases), "code_executed": ran, "failures": failures}


# ============================================================================ kills


def run_kill_leg(n_kills: int, work: Path, seed: int) -> dict:
    import torch

    from featherface.data.synthetic import make_synthetic_dataset
    from featherface.training.checkpoint import read_checkpoint
    from featherface.models.weights import read_weights

    labels = make_synthetic_dataset(work / "data", 10, img_size=96, seed=3, min_face=12, max_face=48, max_faces=3)
    modes = ["startup"] + [("in-write", "random")[k % 2] for k in range(max(1, n_kills - 1))]
    modes.insert(min(3, len(modes)), "SIGTERM")
    modes.insert(min(7, len(modes)), "SIGINT")
    epochs = max(3, -(-int(len(modes) * 1.6 + 3) // 3))
    deadline = time.monotonic() + 60 + 25 * len(modes)
    ref_out, out = work / "reference", work / "killed"
    t0 = time.monotonic()
    ref = subprocess.Popen(fuzz.train_command(labels, ref_out, epochs), cwd=REPO, env=fuzz.single_thread_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watcher = fuzz.CheckpointWatcher(out, work / "snaps")
    cmd = fuzz.train_command(labels, out, epochs)
    rng = random.Random(seed)
    rounds, failures, steps = [], [], []
    for mode in modes + ["finish"]:
        r = fuzz.interrupt_training(cmd, watcher, mode, rng, deadline, cwd=REPO)
        step = None
        if (out / "last.pt").exists():
            try:
                step = int(read_checkpoint(out / "last.pt")["global_step"])
                steps.append(step)
            except Exception as exc:  # noqa: BLE001
                failures.append(f"after {r.what}: last.pt does not load: {exc}")
        rounds.append({"mode": mode, "what": r.what, "exit": r.returncode, "checkpointed_step": step,
                       "seconds": round(r.seconds, 1), "inside_write": r.tmp_left})
        if r.what == "TIMEOUT":
            failures.append(f"round {mode} timed out")
            break
        if r.what in ("SIGTERM", "SIGINT") and (r.returncode != 130 or f"stopped by {r.what}" not in r.stderr_tail):
            failures.append(f"{r.what}: exit {r.returncode}, stderr {r.stderr_tail[-300:]!r}")
        if r.what.startswith("SIGKILL") and r.returncode != -9:
            failures.append(f"{r.what}: exit {r.returncode}")
        if mode == "finish" and r.returncode != 0:
            failures.append(f"final resume failed: exit {r.returncode}: {r.stderr_tail[-500:]}")
        if r.what == "finished" and mode != "finish":
            break
    if steps != sorted(steps):
        failures.append(f"checkpointed step went backwards: {steps}")
    bad_snaps = []
    for s in watcher.snapshots():
        try:
            read_checkpoint(s)
            read_weights(s)
        except Exception as exc:  # noqa: BLE001
            bad_snaps.append(f"{s.name}: {exc}")
    failures += [f"half-written checkpoint seen: {b}" for b in bad_snaps]
    ref_err = ref.communicate(timeout=max(30.0, deadline - time.monotonic()))[1]
    identical = None
    if ref.returncode != 0:
        failures.append(f"reference run failed: {ref_err[-500:]}")
    elif (out / "final.pt").exists():
        a, b = read_checkpoint(ref_out / "last.pt"), read_checkpoint(out / "last.pt")
        same = all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
        same &= all(torch.equal(a["ema"]["state_dict"][k], b["ema"]["state_dict"][k]) for k in a["ema"]["state_dict"])
        same &= all(torch.equal(x["momentum_buffer"], y["momentum_buffer"])
                    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()))
        fa, fb = read_weights(ref_out / "final.pt")["state_dict"], read_weights(out / "final.pt")["state_dict"]
        same &= all(torch.equal(fa[k], fb[k]) for k in fa)
        identical = bool(same)
        if not same:
            failures.append("resumed run differs from the uninterrupted run")
    stale = sorted(n for n in os.listdir(out) if n.endswith(".tmp")) if out.is_dir() else []
    return {"total_steps": 3 * epochs, "rounds": rounds,
            "sigkills": sum(r["what"].startswith("SIGKILL") for r in rounds),
            "sigkills_inside_write": sum(bool(r["inside_write"]) for r in rounds),
            "signals_clean": sum(r["what"] in ("SIGTERM", "SIGINT") and r["exit"] == 130 for r in rounds),
            "checkpoints_seen": len(watcher.snapshots()), "checkpoints_unloadable": len(bad_snaps),
            "bit_identical_to_uninterrupted": identical, "stale_tmp_files_left": len(stale),
            "seconds": round(time.monotonic() - t0, 1), "failures": failures}


# ============================================================================ report


def _table(title: str, per_kind: dict[str, dict[str, int]], statuses: tuple[str, ...] = STATUS_ORDER) -> str:
    cols = [s for s in statuses if any(s in v for v in per_kind.values())] + sorted(
        {s for v in per_kind.values() for s in v} - set(statuses))
    lines = [f"\n{title}", f"  {'kind':<22}" + "".join(f"{c:>16}" for c in cols) + f"{'total':>8}"]
    for k in sorted(per_kind):
        v = per_kind[k]
        lines.append(f"  {k:<22}" + "".join(f"{v.get(c, 0):>16}" for c in cols) + f"{sum(v.values()):>8}")
    tot = Counter()
    for v in per_kind.values():
        tot.update(v)
    lines.append(f"  {'TOTAL':<22}" + "".join(f"{tot.get(c, 0):>16}" for c in cols) + f"{sum(tot.values()):>8}")
    return "\n".join(lines)


# ============================================================================ outputs and values (second campaign)


def run_outputs_leg(work: Path, timeout: float = 60.0, subprocess_timeout: float = 300.0) -> dict:
    """Every :func:`tests.fuzz.campaign.cli_cases` case in-process (SIGALRM per case), then the first
    case of each verb as a real subprocess (its exit code and stderr as a user sees them)."""
    from featherface.cli import main as cli_main

    t0 = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    where = fuzz.cli_workspace(work)
    cases = fuzz.cli_cases()
    per_verb: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []

    def digest() -> dict[str, bytes]:
        return fuzz.tree_digest(work / "photos") | fuzz.tree_digest(work / "preds") | {
            "notes": fuzz.tree_digest(work).get("user-notes.docx", b"")}

    cwd = os.getcwd()
    os.chdir(work / "out")
    try:
        for case in cases:
            verb = case.argv[0]
            if case.needs_ro and not where["{ro}"]:
                per_verb[verb]["skipped"] += 1
                continue
            before = digest()
            out, err = io.StringIO(), io.StringIO()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                        fuzz.time_limit(timeout, case.name), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        rc: Any = cli_main(fuzz.fill(case.argv, where))
                    except SystemExit as exc:
                        rc = exc.code
            except fuzz.CaseTimeout:
                per_verb[verb]["timeout"] += 1
                failures.append(f"{case.name}: no refusal within {timeout:g} s (the work started?)")
                continue
            why = fuzz.judge_cli(case, rc, out.getvalue(), err.getvalue(), before, digest())
            per_verb[verb]["refused" if why is None else "contract failure"] += 1
            if why is not None:
                failures.append(f"{case.name}: {why}")
    finally:
        os.chdir(cwd)
    seen: set[str] = set()
    sub: list[dict] = []
    env = {**os.environ, **fuzz.single_thread_env(), "PYTHONWARNINGS": "ignore"}
    for case in cases:
        if case.argv[0] in seen or (case.needs_ro and not where["{ro}"]):
            continue
        seen.add(case.argv[0])
        before = digest()
        try:
            proc = subprocess.run([sys.executable, "-m", "featherface.cli", *fuzz.fill(case.argv, where)],
                                  capture_output=True, text=True, timeout=subprocess_timeout, cwd=work / "out", env=env)
            why = fuzz.judge_cli(case, proc.returncode, proc.stdout, proc.stderr, before, digest())
            sub.append({"case": case.name, "exit": proc.returncode, "stderr": proc.stderr.strip()[-300:], "why": why})
        except subprocess.TimeoutExpired:
            why = f"subprocess still running after {subprocess_timeout:g} s"
            sub.append({"case": case.name, "exit": None, "why": why})
        if why is not None:
            failures.append(f"{case.name} (subprocess): {why}")
    return {"cases": len(cases), "per_verb": {k: dict(v) for k, v in sorted(per_verb.items())},
            "subprocess": sub, "failures": failures, "seconds": round(time.monotonic() - t0, 1)}


def run_third_leg(work: Path, timeout: float = 1200.0) -> dict:
    """The issue-28 cases (:data:`THIRD_CAMPAIGN`) as one pytest session (``--junitxml``): each
    case that passes held its contract and its bound; each failure or error is a contract failure."""
    import xml.etree.ElementTree as ET

    t0 = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    report_xml = work / "third.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report_xml}",
           *THIRD_CAMPAIGN.values()]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failures": [f"third campaign still running after {timeout:g} s"], "per_area": {}, "cases": 0,
                "seconds": round(time.monotonic() - t0, 1)}
    area_of = {Path(f).stem: area for area, f in THIRD_CAMPAIGN.items()}
    per_area: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    slowest: list[tuple[float, str]] = []
    cases = 0
    for tc in ET.parse(report_xml).getroot().iter("testcase"):
        cases += 1
        area = area_of.get(tc.get("classname", "").rsplit(".", 1)[-1], "other")
        name = tc.get("name", "?")
        slowest.append((float(tc.get("time", 0) or 0), name))
        bad = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
        if bad is not None:
            per_area[area]["contract failure"] += 1
            failures.append(f"{area}: {name}: {(bad.get('message') or '').splitlines()[0][:200] if bad.get('message') else ''}")
        elif tc.find("skipped") is not None:
            per_area[area]["skipped"] += 1
        else:
            per_area[area]["held"] += 1
    if cases == 0:
        failures.append(f"no case ran: {proc.stdout[-300:]}{proc.stderr[-300:]}")
    return {"cases": cases, "per_area": {k: dict(v) for k, v in per_area.items()}, "failures": failures,
            "slowest": [f"{n}: {t:.1f} s" for t, n in sorted(slowest, reverse=True)[:5]],
            "seconds": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rpf", type=int, default=30, help="randomised cases per format (30 -> >1,000 image cases)")
    ap.add_argument("--quick", action="store_true", help="fewer random cases (--rpf 6), labels/weights smaller")
    ap.add_argument("--no-big", action="store_true", help="skip the 12000x12000 image")
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--no-subprocess", action="store_true", help="skip the featherface detect subprocess run")
    ap.add_argument("--kills", type=int, default=10, help="SIGKILLs of the training run (0: skip)")
    ap.add_argument("--measure-unguarded", action="store_true",
                    help="also decode the 20000x20000 bomb with the pixel guard off (~2.3 GB, ~20 s)")
    ap.add_argument("--case-timeout", type=float, default=60.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--only", default="", metavar="LEGS",
                    help=f"comma-separated subset of legs to run: {','.join(LEGS)} (default: all)")
    ap.add_argument("--json", default=str(REPO / "runs" / "fuzz" / "report.json"))
    args = ap.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if only - set(LEGS):
        ap.error(f"unknown leg(s) {sorted(only - set(LEGS))}; choose from {', '.join(LEGS)}")

    def want(leg: str) -> bool:
        return not only or leg in only

    if args.quick:
        args.rpf = min(args.rpf, 6)
    n_text = 40 if args.quick else 150
    n_weights = 6 if args.quick else 20

    t_all = time.monotonic()
    report: dict[str, Any] = {"seed": args.seed, "command": " ".join([".venv/bin/python", "benchmarks/fuzz_inputs.py",
                                                                       *(argv if argv is not None else sys.argv[1:])])}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="featherface-fuzz-") as tmp:
        work = Path(tmp)
        cases = fuzz.image_cases(seed=args.seed, random_per_format=args.rpf, big=not args.no_big)
        report["image_cases"] = {"total": len(cases), "by_kind": dict(sorted(Counter(c.kind for c in cases).items())),
                                 "expected": dict(Counter(c.expect for c in cases))}
        print(f"{len(cases)} image cases ({len(report['image_cases']['by_kind'])} kinds)", flush=True)
        folder = work / "case-files"
        fuzz.write_case_files(cases, folder)

        if want("torch"):
            print("[1/8] FaceDetector.detect, torch backend (stub model)", flush=True)
            report["detect_torch"] = run_image_leg("stub", cases, args, folder, work / "cache")
            failures += report["detect_torch"]["failures"]

        onnx_ok = False
        if not args.no_onnx and want("onnx"):
            try:
                import onnxruntime  # noqa: F401

                import featherface.inference.backends.onnxruntime_backend  # noqa: F401
                onnx_ok = True
            except ImportError as exc:
                report["detect_onnx"] = {"skipped": f"not importable: {exc}"}
        if onnx_ok:
            print("[2/8] FaceDetector.detect, onnxruntime backend (random network)", flush=True)
            report["detect_onnx"] = run_image_leg("onnx", cases, args, folder, work / "cache")
            failures += report["detect_onnx"]["failures"]

        if want("cli"):
            print("[3-4/8] featherface detect FOLDER (in-process with the stub; subprocess with a random network)",
                  flush=True)
            report["cli"] = run_cli_legs(cases, work / "cli", not args.no_subprocess, timeout=1800)
            failures += [f"cli in-process: {f}" for f in report["cli"]["in_process"]["failures"]]
            if "subprocess" in report["cli"]:
                failures += [f"cli subprocess: {f}" for f in report["cli"]["subprocess"]["failures"]]

        if not args.no_big and want("huge"):
            print("[5/8] peak memory of huge inputs (fresh processes, random network)", flush=True)
            report["huge_inputs"] = measure_huge(work, args.measure_unguarded, timeout=600)

        if want("labels"):
            print("[6/8] label files, WIDER gt, prediction files and folders", flush=True)
            report["labels"] = run_label_leg(args.seed, n_text, work / "labels")
            failures += report["labels"]["failures"]

        if want("weights"):
            print("[7/8] weights files", flush=True)
            (work / "weights").mkdir()
            report["weights"] = run_weights_leg(args.seed, n_weights, work / "weights")
            failures += report["weights"]["failures"]

        if want("outputs"):
            print("[9] output paths and argument values of every verb (second campaign)", flush=True)
            report["outputs"] = run_outputs_leg(work / "outputs")
            failures += [f"outputs: {f}" for f in report["outputs"]["failures"]]

        if want("third"):
            print("[10] third campaign: sources, HTTP service, failed writes, long jobs, words (issue 28)", flush=True)
            report["third"] = run_third_leg(work / "third")
            failures += [f"third: {f}" for f in report["third"]["failures"]]

        if args.kills > 0 and want("kills"):
            print(f"[8/8] training killed {args.kills} times", flush=True)
            (work / "kills").mkdir()
            report["kills"] = run_kill_leg(args.kills, work / "kills", args.seed)
            failures += [f"kills: {f}" for f in report["kills"]["failures"]]

    report["failures"] = failures
    report["seconds"] = round(time.monotonic() - t_all, 1)

    # ---------------------------------------------------------------- print the figures
    print(f"\n=== FeatherFace reliability campaign (seed {args.seed}, {report['seconds']:.0f} s) ===")
    print(f"image inputs: {len(cases)} cases; by kind: {report['image_cases']['by_kind']}")
    for leg in ("detect_torch", "detect_onnx"):
        if "per_kind" in report.get(leg, {}):
            print(_table(f"{leg} (outcomes per leg: path/bytes/object; {report[leg]['seconds']} s)",
                         report[leg]["per_kind"]))
    for leg in ("in_process", "subprocess"):
        if leg in report.get("cli", {}):
            r = report["cli"][leg]
            print(_table(f"featherface detect {leg}: {report['cli']['inputs']} inputs, exit {r['exit_code']}, "
                         f"{len(r['failures'])} contract failures ({r['seconds']} s)", r["per_kind"]))
    if "huge_inputs" in report:
        print("\nhuge inputs (fresh process, random network):")
        for k, v in report["huge_inputs"].items():
            print(f"  {k}: {v}")
    if "labels" in report:
        for title in ("retinaface label.txt", "WIDER gt text", "prediction file"):
            print(_table(f"{title}: {report['labels'][title]['cases']} cases", report["labels"][title]["per_kind"],
                         ("parsed", "parsed+warning", "error", "unexpected")))
        print(f"\nAP after harmless transformations: {report['labels']['ap_property']['transforms']}")
    if "weights" in report:
        w = report["weights"]
        print(_table(f"weights: {w['cases']} files x 4 loaders (read_weights, load_weights, FaceDetector, "
                     f"read_checkpoint - which refuses every one, none being a training checkpoint); hostile "
                     f"payloads {w['hostile_payloads']}, code executed: {w['code_executed'] or 'never'}",
                     w["per_kind"], ("ok", "error", "unexpected")))
    if "kills" in report:
        k = report["kills"]
        print(f"\ntraining: {k['sigkills']} SIGKILLs survived ({k['sigkills_inside_write']} inside a checkpoint "
              f"write), {k['signals_clean']} clean SIGTERM/SIGINT stops, {k['checkpoints_seen']} checkpoints seen, "
              f"{k['checkpoints_unloadable']} unloadable, bit-identical to the uninterrupted run: "
              f"{k['bit_identical_to_uninterrupted']}; {k['stale_tmp_files_left']} stale .tmp files left")
        for r in k["rounds"]:
            print(f"  {r}")
    if "outputs" in report:
        o = report["outputs"]
        print(_table(f"output paths and values: {o['cases']} cases, {len(o['subprocess'])} also as subprocesses "
                     f"({o['seconds']} s)", o["per_verb"], ("refused", "contract failure", "timeout", "skipped")))
        for r in o["subprocess"]:
            print(f"  subprocess {r['case']}: exit {r['exit']}, {r['stderr'] if r['why'] is None else r['why']}")
    if "third" in report:
        t = report["third"]
        print(_table(f"third campaign (issue 28): {t['cases']} cases ({t['seconds']} s)", t["per_area"],
                     ("held", "contract failure", "skipped")))
        print(f"  slowest: {'; '.join(t.get('slowest', []))}")
    print(f"\ncontract failures: {len(failures)}")
    for f in failures[:50]:
        print(f"  {f}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nreport written to {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

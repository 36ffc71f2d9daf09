"""Issue 13's yardstick: the default ``FaceDetector()`` against YuNet-n on the shared crowd photos,
at longer side 640 and at the original size, with 1 and 2 threads (``featherface compare`` each time,
so both run in the same process, on the same images, with the same timing code: rounds of one whole
pass per detector, see :func:`featherface.tools.timing.run_detectors`).

Then the networks alone in one runtime (onnxruntime, the default backend), on a 640x480 input (a 4:3
photo at 640): V2 Ultra and V1 (the plain export and the ``--deploy`` folded graph that ``FaceDetector()``
caches), RetinaFace-mnet0.25 (the same MobileNetV1-0.25 backbone) and YuNet-n's own ONNX file; and V2 Ultra through the other runtimes at hand, OpenCV's DNN module and the PyTorch
backend (the optimised eager copy), to see whether one runs it faster. It separates what the
pipelines add (OpenCV's YuNet wrapper, our pre- and post-processing) from what the architectures
cost. Random weights for ours: speed does not depend on them.

    python benchmarks/speed_vs_yunet.py      # prints both tables and writes runs/compare/vs_yunet.json
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from featherface.cli import main
from featherface.export.onnx_export import export_onnx
from featherface.inference.backends.onnxruntime_backend import make_session
from featherface.inference.backends.torch_backend import TorchBackend
from featherface.io.paths import shared_dir
from featherface.models.registry import create_model

REPO = Path(__file__).resolve().parents[1]
NETWORKS = ("featherface-v2-ultra", "featherface-v1", "retinaface-mnet025")


def pipelines(photos: Path, out_dir: Path, repeats: int) -> list[dict]:
    rows = []
    for size in (640, None):
        for threads in (1, 2):
            js = out_dir / f"vs_yunet_{size or 'orig'}_{threads}t.json"
            args = ["compare", str(photos), "--peers", "yunet", "--reference", "yunet", "--repeats", str(repeats),
                    "--threads", str(threads), "--json", str(js), "--force", "--quiet"]
            if size:
                args += ["--input-size", str(size)]
            rc = main(args)
            if rc:
                raise SystemExit(rc)
            doc = json.loads(js.read_text())
            ms = {d["name"]: d["latency_ms"]["median"] for d in doc["detectors"]}
            ours = next(k for k in ms if k.startswith("featherface"))
            rows.append({"input": size or "original", "threads": threads, "featherface_ms": ms[ours],
                         "yunet_ms": ms["yunet"], "ratio": round(ms[ours] / ms["yunet"], 3)})
    return rows


def networks(yunet_onnx: Path, rounds: int = 6, runs: int = 10) -> list[dict]:
    """Median ms of one 1x3x480x640 forward pass per network and thread count, in rounds of
    ``runs`` calls per session (a pause and one untimed call first), the sessions taking turns.
    Random weights, exported to a temporary folder (not the user's ONNX cache)."""
    with tempfile.TemporaryDirectory(prefix="featherface-speed-") as tmp:
        files = {name: export_onnx(create_model(name).eval(), Path(tmp) / f"{name}.onnx", check=False)
                 for name in NETWORKS}
        for name in NETWORKS[:2]:  # the folded graph FaceDetector() caches (export --deploy)
            files[f"{name} (--deploy)"] = export_onnx(create_model(name).eval(), Path(tmp) / f"{name}-deploy.onnx",
                                                      check=False, deploy=True)
        files["yunet-n"] = yunet_onnx
        return _time_networks(files, rounds, runs)


def _time_networks(files: dict[str, Path], rounds: int, runs: int) -> list[dict]:
    x = np.random.default_rng(0).random((1, 3, 480, 640), dtype=np.float32)
    calls = {}
    for name, path in files.items():
        for threads in (1, 2):
            s = make_session(path, threads)
            calls[(name, threads)] = (lambda s=s, feed={s.get_inputs()[0].name: x}: s.run(None, feed))
    v2 = files[NETWORKS[0]]
    dnn = cv2.dnn.readNetFromONNX(str(v2))
    out_names = dnn.getUnconnectedOutLayersNames()

    def opencv_dnn() -> None:
        dnn.setInput(x)
        dnn.forward(out_names)

    eager = TorchBackend(create_model(NETWORKS[0]).eval(), torch.device("cpu"))
    for threads in (1, 2):
        calls[(f"{NETWORKS[0]} (OpenCV DNN)", threads)] = opencv_dnn
        calls[(f"{NETWORKS[0]} (PyTorch)", threads)] = lambda: eager(x)
    times: dict[tuple[str, int], list[float]] = {k: [] for k in calls}
    cv_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    try:
        for _ in range(rounds):
            for key, call in calls.items():
                cv2.setNumThreads(key[1])
                torch.set_num_threads(key[1])
                time.sleep(0.2)  # the previous runtime's worker threads go idle
                call()
                for _ in range(runs):
                    t0 = time.perf_counter()
                    call()
                    times[key].append((time.perf_counter() - t0) * 1e3)
    finally:
        cv2.setNumThreads(cv_threads)
        torch.set_num_threads(torch_threads)
    rows = []
    for threads in (1, 2):
        yunet = statistics.median(times[("yunet-n", threads)])
        for name in dict.fromkeys(k[0] for k in calls):
            ms = statistics.median(times[(name, threads)])
            rows.append({"network": name, "threads": threads, "ms": round(ms, 2), "vs_yunet_n": round(ms / yunet, 2)})
    return rows


def run() -> int:
    photos = shared_dir() / "data" / "photos"
    yunet_onnx = shared_dir() / "peers" / "yunet" / "yunet_n_dynamic.onnx"
    for p in (photos, yunet_onnx):
        if not p.exists():
            print(f"{p} is not present", file=sys.stderr)
            return 1
    out_dir = REPO / "runs" / "compare"
    rows = pipelines(photos, out_dir, repeats=5)
    print("\n| input | threads | FaceDetector() ms | YuNet-n ms | ratio |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['input']} | {r['threads']} | {r['featherface_ms']:.1f} | {r['yunet_ms']:.1f} | {r['ratio']:.2f} |")
    nets = networks(yunet_onnx)
    print("\nNetworks alone, onnxruntime, 1x3x480x640:\n\n| network | threads | ms | / YuNet-n |\n|---|---|---|---|")
    for r in nets:
        print(f"| {r['network']} | {r['threads']} | {r['ms']:.1f} | {r['vs_yunet_n']:.2f} |")
    (out_dir / "vs_yunet.json").write_text(json.dumps({"pipelines": rows, "networks": nets}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())

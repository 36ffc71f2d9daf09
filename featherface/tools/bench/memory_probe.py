"""Peak extra memory of inference, measured in this (fresh) process; run by
:func:`featherface.tools.bench.memory.measure_memory` as::

    python -m featherface.tools.bench.memory_probe '{"model": ..., "backend": ..., "size": ..., "onnx": ...}'

Loads the model (torch, torch-opt) or the onnxruntime session (onnx-fp32, onnx-int8), resets the
kernel's RSS high-water mark (``/proc/self/clear_refs`` = 5; ``ru_maxrss`` where that is not
writable), runs one image three times and prints one JSON line: ``rss_before_mb``,
``peak_rss_mb``, ``inference_peak_mb`` (peak minus before) and ``method``.
"""

from __future__ import annotations

import gc
import json
import re
import resource
import sys
from typing import Any, Callable

import numpy as np
import torch

from featherface.inference.backends import make_session, optimize_for_inference
from featherface.models.registry import create_model


def status_kb(key: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` line of ``/proc/self/status``, in kB."""
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))  # type: ignore[union-attr]


def make_runner(args: dict[str, Any]) -> Callable[[], None]:
    """One inference call of the model or session named by ``args``, on a random image."""
    x = np.random.default_rng(0).normal(0, 50, (1, 3, args["size"], args["size"])).astype(np.float32)
    if args["backend"] in ("torch", "torch-opt"):
        model = create_model(args["model"]).eval()
        if args["backend"] == "torch-opt":
            model = optimize_for_inference(model)

        def run() -> None:
            with torch.inference_mode():
                model(torch.from_numpy(x))

        return run
    sess = make_session(args["onnx"], threads=1)

    def run_session() -> None:
        sess.run(None, {"input": x})

    return run_session


def measure(run: Callable[[], None], calls: int = 3) -> dict[str, Any]:
    """Reset the RSS high-water mark, call ``run`` ``calls`` times, report the peak over what was resident."""
    gc.collect()
    before = status_kb("VmRSS")
    method = "clear_refs"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        method = "ru_maxrss"
        before = max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    for _ in range(calls):
        run()
    peak = status_kb("VmHWM") if method == "clear_refs" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024,
            "inference_peak_mb": max(0, peak - before) / 1024, "method": method}


def main(argv: list[str] | None = None) -> int:
    args = json.loads((sys.argv[1:] if argv is None else argv)[0])
    torch.set_num_threads(1)
    print(json.dumps(measure(make_runner(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

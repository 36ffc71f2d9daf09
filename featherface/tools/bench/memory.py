"""Peak extra memory of inference, each (model, runtime) in a fresh Python process
(:mod:`featherface.tools.bench.memory_probe`; the method is in :mod:`featherface.tools.bench`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

PROBE_MODULE = "featherface.tools.bench.memory_probe"


def measure_memory(model: str, backend: str, size: int, onnx_path: str | None = None) -> dict[str, Any]:
    """Peak extra RSS of inference (fresh process, see :mod:`featherface.tools.bench`); ``{"error": ...}`` on failure."""
    args = json.dumps({"model": model, "backend": backend, "size": size, "onnx": onnx_path})
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        out = subprocess.run([sys.executable, "-m", PROBE_MODULE, args], capture_output=True, text=True,
                             timeout=300, env=env, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:  # memory is best effort: never sink the benchmark
        return {"error": str(exc).splitlines()[0][:200]}

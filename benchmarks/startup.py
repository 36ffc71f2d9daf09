"""Start-up time of ``FaceDetector()``: cold (the first use on a machine: the ONNX export is built
into the cache) and warm (the cache reused), against the torch backend.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

CODE = ("import time; t=time.perf_counter(); from featherface import FaceDetector; "
        "d=FaceDetector(backend='{b}', threads=1); print(round(time.perf_counter()-t, 2), d.backend.name)")


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FEATHERFACE_CACHE": cache, "OMP_NUM_THREADS": "1"}
        for label, backend in (("auto, cold cache", "auto"), ("auto, warm cache", "auto"), ("torch", "torch")):
            out = subprocess.run([sys.executable, "-c", CODE.format(b=backend)], env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
            print(f"{label}: {out[0]} s to a ready FaceDetector ({out[1]}), import included")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up time of ``FaceDetector()``: cold (the first use on a machine: the ONNX export is built
into the cache), warm (the cache reused, found through its pointer without importing torch) and
the torch backend; then a one-photo ``featherface detect`` run, warm, as a user's whole command.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = ("import sys, time; t=time.perf_counter(); from featherface import FaceDetector; "
        "d=FaceDetector(backend='{b}', threads=1); "
        "print(round(time.perf_counter()-t, 2), d.backend.name, 'torch' in sys.modules)")


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FEATHERFACE_CACHE": cache, "OMP_NUM_THREADS": "1"}
        for label, backend in (("auto, cold cache", "auto"), ("auto, warm cache", "auto"), ("torch", "torch")):
            out = subprocess.run([sys.executable, "-c", CODE.format(b=backend)], env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
            print(f"{label}: {out[0]} s to a ready FaceDetector ({out[1]}), import included; "
                  f"torch imported: {'yes' if out[2] == 'True' else 'no'}")
        photo = REPO / "examples" / "astronaut.jpg"
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "featherface", "detect", str(photo), "--json", os.devnull,
                            "--quiet"], env=env, capture_output=True, check=True)
            best = min(best, time.perf_counter() - t)
        print(f"featherface detect on one photo, warm cache: {best:.2f} s (whole command, best of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

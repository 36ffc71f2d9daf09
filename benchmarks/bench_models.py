"""Benchmark FeatherFace V1 vs V2 Ultra (torch eager, onnxruntime fp32 / INT8) and OpenCV Haar.

Same grid and options as ``featherface bench`` (this script only forwards to it), e.g.:

    python benchmarks/bench_models.py                                   # full grid
    python benchmarks/bench_models.py --quick
    python benchmarks/bench_models.py --sizes 640 320 --batches 1 8 --threads 1 2 --repeats 20 \
        --json runs/bench/bench.json --markdown runs/bench/bench.md
"""

from __future__ import annotations

import sys

from featherface.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

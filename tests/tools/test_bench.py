"""The benchmark tool (featherface.tools.bench, tiny grid): FLOPs (the ones ``featherface info`` prints), profile, memory probe, CLI.

The inference optimisation it measures is tested in tests/inference/backends/test_optimize.py."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from featherface.models import create_model  # noqa: E402
from featherface.models.summary import count_flops  # noqa: E402
from featherface.tools.bench.inputs import load_haar  # noqa: E402
from featherface.tools.bench.memory import measure_memory  # noqa: E402
from featherface.tools.bench.profile import profile_blocks  # noqa: E402
from featherface.tools.bench.report import format_markdown  # noqa: E402


def test_flops_and_profile_are_consistent():
    v1, v2 = create_model("featherface-v1"), create_model("featherface-v2-ultra")
    f1, f2 = count_flops(v1, 64, 64), count_flops(v2, 64, 64)
    assert 0 < f2 < f1
    assert count_flops(v2, 128, 128) == pytest.approx(4 * f2, rel=0.05)  # convolution work scales with area
    rows = profile_blocks(v2, size=64, threads=1, repeats=1)
    assert {"backbone", "bifpn", "ssh", "head"} <= {r["block"] for r in rows}
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_memory_probe_reports_growth():
    r = measure_memory("featherface-v2-ultra", "torch", 64)
    assert "error" not in r, r
    assert r["inference_peak_mb"] >= 0 and r["peak_rss_mb"] > 10


def test_bench_cli_tiny_grid(tmp_path, capsys):
    from featherface.cli import main

    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    rc = main(["bench", "--sizes", "64", "--batches", "1", "2", "--threads", "1", "--repeats", "2", "--warmup", "0",
               "--images", "synthetic", "--no-memory", "--no-profile", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res["models"]) == {"featherface-v1", "featherface-v2-ultra"}
    assert res["models"]["featherface-v2-ultra"]["params"] < res["models"]["featherface-v1"]["params"]
    assert res["models"]["featherface-v2-ultra"]["onnx_int8_mb"] < res["models"]["featherface-v2-ultra"]["onnx_fp32_mb"]
    backends = {r["backend"] for r in res["latency"]}
    assert {"torch", "torch-opt", "onnx-fp32", "onnx-int8"} <= backends
    cells = {(r["model"], r["backend"], r["batch"]) for r in res["latency"]}
    assert ("featherface-v2-ultra", "onnx-int8", 2) in cells
    assert all(r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] * 0.999 for r in res["latency"])
    assert 0 < res["ratios"]["params"] < 1 and res["ratios"]["latency"]
    text = md.read_text()
    assert "V2 Ultra / V1 median latency" in text and "| parameters |" in text
    assert format_markdown(res) == text.rstrip("\n")
    # Haar rows exist exactly when this OpenCV ships the cascade (OpenCV < 5)
    assert any(r["model"] == "opencv-haar" for r in res["latency"]) == (load_haar() is not None)

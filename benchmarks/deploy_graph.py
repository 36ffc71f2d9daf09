"""Graph size before and after deploy-time folding (``featherface export --deploy``), no timing.

For each model: ONNX graph nodes of the plain and the folded export (by op type), the nodes
onnxruntime keeps after its own graph optimisations, and the largest output difference of the
folded file against PyTorch (relative to each output's largest magnitude) on one random input.

    python benchmarks/deploy_graph.py                       # shipped V2 Ultra and V1
    python benchmarks/deploy_graph.py --models featherface-v2-ultra --size 480 640
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def ort_nodes(path: Path, out: Path) -> int:
    """Nodes of the graph onnxruntime runs (all optimisations, CPU), as it writes it back."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(out)
    so.intra_op_num_threads = 1
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return len(onnx.load(str(out)).graph.node)


def main(argv: list[str] | None = None) -> int:
    import onnx
    import onnxruntime as ort

    from featherface import create_model
    from featherface.export import export_onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["featherface-v2-ultra", "featherface-v1"])
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).normal(0, 50, size=(1, 3, *args.size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = create_model(name, pretrained=True).eval()
            with torch.no_grad():
                ref = {k: v.numpy() for k, v in model(torch.from_numpy(x)).items()}
            for deploy in (False, True):
                path = Path(tmp) / f"{name}-{deploy}.onnx"
                export_onnx(model, path, input_size=160, deploy=deploy)
                ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
                kept = ort_nodes(path, Path(tmp) / f"{name}-{deploy}.ort.onnx")
                sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
                err = max(float(np.abs(got[k] - ref[k]).max() / max(1.0, np.abs(ref[k]).max())) for k in ref)
                top = ", ".join(f"{op} {n}" for op, n in ops.most_common(8))
                print(f"{name} {'deploy' if deploy else 'plain '}: {sum(ops.values())} ONNX nodes, "
                      f"{kept} after onnxruntime's optimisations; max rel. diff vs PyTorch {err:.1e}; {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

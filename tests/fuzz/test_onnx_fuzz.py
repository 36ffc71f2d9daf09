"""Fast fuzz subset: the onnxruntime backend sees the same bad inputs (skipped when it is absent).

Decoding is shared with the torch backend, so the point is the network leg: odd sizes (1x1,
1x10000, 10000x1) must run through the exported graph's dynamic axes and give the same faces as
the torch backend.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from featherface import FaceDetector
from tests.fuzz.campaign import CaseTimeout, Outcome, image_cases, judge, must_name_for, run_case, time_limit

pytest.importorskip("onnxruntime")
try:
    import featherface.inference.backends.onnxruntime_backend  # noqa: F401
except ImportError as exc:  # pragma: no cover - the backend module is optional
    pytest.skip(f"onnx backend not importable: {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    import os

    from featherface.models.registry import create_model

    saved = {k: os.environ.get(k) for k in ("FEATHERFACE_CACHE", "FEATHERFACE_ORT_THREADS")}
    os.environ["FEATHERFACE_CACHE"] = str(tmp_path_factory.mktemp("onnx-cache"))
    os.environ["FEATHERFACE_ORT_THREADS"] = "1"  # a spinning thread pool crawls on a shared 2-core box
    try:
        torch.manual_seed(0)
        model = create_model("featherface-v2-ultra")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx_det = FaceDetector(model=model, backend="onnxruntime", score_threshold=0.6)
        torch_det = FaceDetector(model=model, score_threshold=0.6)
        yield onnx_det, torch_det
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_onnx_backend_never_crashes(detectors):
    onnx_det, torch_det = detectors
    cases = image_cases(seed=2, random_per_format=1)
    failures: list[str] = []
    compared = 0
    for case in cases:
        value = case.build()
        try:
            with time_limit(30, "onnx detect"):
                out = run_case(onnx_det.detect, value)
        except CaseTimeout as exc:
            out = Outcome("timeout", str(exc))
        why = judge(case.expect, out, must_name_for(case, value))
        if why is None and out.status == "faces" and case.kind in ("tiny-or-thin", "valid-format"):
            a = out.result
            b = torch_det.detect(case.build())
            compared += 1
            if len(a) != len(b) or any(not np.allclose(x.box, y.box, atol=0.05) for x, y in zip(a, b)):
                why = f"onnxruntime found {len(a)} faces, torch {len(b)} (or boxes differ)"
        if why:
            failures.append(f"{case.kind}/{case.name}: {why}")
    assert compared >= 10
    assert not failures, "\n".join(failures[:30])

"""ONNX export of FeatherFace networks (dynamic batch and image size, self-describing metadata).

Why the legacy (TorchScript-based) exporter by default: on this code base it exports in ~2 s,
handles ``dynamic_axes`` for batch, height and width, and supports the custom ``symbolic`` that
puts ONNX ``NonMaxSuppression`` in the graph for ``postprocess=True``. The dynamo exporter
(``exporter="dynamo"``) also works for raw outputs and gives numerically identical results, but
takes ~30 s and needs opset >= 18; it is kept as an option.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from featherface import __version__
from featherface.errors import ConfigError
from featherface.export.metadata import POSTPROCESS_OUTPUTS, build_metadata
from featherface.export.postprocess_graph import DetectorWithPostprocess
from featherface.inference.backends.metadata import RAW_OUTPUTS
from featherface.inference.options import DetectorOptions
from featherface.io.outputs import atomic_write_bytes

DEFAULT_OPSET = 17
MIN_OPSET = 17


def max_opset(exporter: str = "legacy") -> int:
    """The highest opset this torch can export with ``exporter`` (legacy: 20, dynamo: 23 on torch 2.x)."""
    try:  # torch's private module: guarded, a torch without it gets the documented limits
        from torch.onnx import _constants as c
    except ImportError:  # pragma: no cover - a torch without the private module
        return 20 if exporter == "legacy" else 23
    if exporter == "legacy":
        return int(getattr(c, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))
    return int(getattr(c, "ONNX_MAX_OPSET", 23))


def check_postprocess_settings(score_threshold: Any, nms_threshold: Any, max_detections: Any) -> None:
    """Refuse thresholds that would be baked into a graph silently wrong (NaN keeps nothing)."""
    def real(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not (real(score_threshold) and 0.0 <= score_threshold <= 1.0):
        raise ConfigError(f"score_threshold must be a number in [0, 1], got {score_threshold!r}")
    if not (real(nms_threshold) and 0.0 < nms_threshold <= 1.0):
        raise ConfigError(f"nms_threshold must be a number in (0, 1], got {nms_threshold!r}")
    if isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1:
        raise ConfigError(f"max_detections must be a positive whole number, got {max_detections!r}")


def export_size_hw(input_size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` of an export's example input: ``N`` or ``(H, W)``, multiples of 32 (>= 32)."""
    if isinstance(input_size, int):
        h = w = input_size
    else:
        if len(input_size) != 2:
            raise ConfigError("input_size is N or (H, W)")
        h, w = (int(v) for v in input_size)
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise ConfigError(f"export input size must be multiples of 32 (>= 32), got {h}x{w}")
    return h, w


def set_metadata(onnx_model: Any, props: dict[str, str]) -> None:
    """Replace the FeatherFace keys of ``onnx_model.metadata_props`` with ``props`` (in place)."""
    keep = [p for p in onnx_model.metadata_props if p.key not in props]
    del onnx_model.metadata_props[:]
    for p in keep:
        onnx_model.metadata_props.add(key=p.key, value=p.value)
    for k, v in props.items():
        onnx_model.metadata_props.add(key=k, value=v)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    input_size: int | Sequence[int] = 640,
    postprocess: bool = False,
    score_threshold: float = DetectorOptions.score_threshold,
    nms_threshold: float = DetectorOptions.nms_threshold,
    max_detections: int = DetectorOptions.max_detections,
    weights: str | os.PathLike | None = None,
    trained: bool | str | None = None,
    exporter: str = "legacy",
    check: bool = True,
    deploy: bool = False,
    deploy_options: Mapping[str, bool] | None = None,
) -> Path:
    """Export ``model`` to ONNX at ``path`` and return the path.

    Args:
        model: a FeatherFace network (``create_model(...)``), with weights already loaded.
        opset: ONNX opset, 17 to :func:`max_opset` of ``exporter``.
        input_size: size of the example input used for tracing (N or (H, W), multiples of 32);
            the file accepts any batch and any multiple-of-32 height/width.
        postprocess: also decode, threshold and NMS in the graph (outputs ``detections``
            (K, 15) and ``batch_index`` (K,)); default: raw ``bbox``/``cls``/``ldm``.
        score_threshold, nms_threshold, max_detections: baked into the graph when ``postprocess``.
        weights: the weights file the model came from (recorded; ``None`` records "random").
        trained: recorded as ``trained``; default: whether ``weights`` was given.
        exporter: ``"legacy"`` (TorchScript-based, default) or ``"dynamo"``.
        check: run ``onnx.checker.check_model(full_check=True)`` on the result.
        deploy: export the folded copy of :func:`featherface.export.deploy.deploy_model` (same
            outputs within float32 rounding, far fewer graph nodes; legacy exporter only); the
            file's metadata then says ``deploy``.
        deploy_options: with ``deploy``, keyword arguments of :func:`~featherface.export.deploy.deploy_model`
            (``mean_as_conv``, ``portable``: other, equal ops for other runtimes' converters); recorded
            in the ``deploy`` metadata key.
    """
    import onnx  # the onnx extra: imported on use (the rest of the package runs without it)

    if exporter not in ("legacy", "dynamo"):
        raise ConfigError(f"exporter must be 'legacy' or 'dynamo', got {exporter!r}")
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset(exporter):
        raise ConfigError(f"opset must be a whole number from {MIN_OPSET} to {max_opset(exporter)} "
                          f"(the {exporter} exporter's highest), got {opset!r}")
    if postprocess:
        check_postprocess_settings(score_threshold, nms_threshold, max_detections)
    if postprocess and exporter != "legacy":
        raise ConfigError("postprocess=True needs the legacy exporter (its NMS is a custom symbolic)")
    if deploy and exporter != "legacy":
        raise ConfigError("deploy=True needs the legacy exporter (its constant-shape Reshape is a custom symbolic)")
    if deploy_options and not deploy:
        raise ConfigError("deploy_options need deploy=True")
    h, w = export_size_hw(input_size)
    path = Path(path)
    net = copy.deepcopy(model).cpu().eval()
    post_settings: dict[str, Any] | None = None
    module: nn.Module = net
    if deploy:
        from featherface.export.deploy import deploy_model  # only the deploy export needs it

        module = deploy_model(net, **dict(deploy_options or {}))
    if postprocess:
        module = DetectorWithPostprocess(module, score_threshold, nms_threshold, max_detections).eval()
        post_settings = module.settings()  # type: ignore[operator]
        output_names = list(POSTPROCESS_OUTPUTS)
        dynamic_axes = {"input": {0: "batch", 2: "height", 3: "width"},
                        "detections": {0: "detections"}, "batch_index": {0: "detections"}}
    else:
        output_names = list(RAW_OUTPUTS)
        dynamic_axes = {"input": {0: "batch", 2: "height", 3: "width"},
                        **{k: {0: "batch", 1: "priors"} for k in RAW_OUTPUTS}}
    example = torch.zeros(2, 3, h, w)

    with tempfile.TemporaryDirectory(prefix="featherface-export-") as tmpdir:
        tmp_path = Path(tmpdir) / "model.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shape checks are expected
            if exporter == "legacy":
                torch.onnx.export(
                    module, (example,), str(tmp_path), dynamo=False, opset_version=opset,
                    input_names=["input"], output_names=output_names, dynamic_axes=dynamic_axes,
                    do_constant_folding=True,
                )
            else:
                batch = torch.export.Dim("batch", min=1, max=1024)
                hh = torch.export.Dim("h32", min=1, max=256)
                ww = torch.export.Dim("w32", min=1, max=256)
                torch.onnx.export(
                    module, (example,), str(tmp_path), dynamo=True, opset_version=max(opset, 18),
                    input_names=["input"], output_names=output_names,
                    dynamic_shapes={"x": {0: batch, 2: 32 * hh, 3: 32 * ww}}, verbose=False,
                )
        onnx_model = onnx.load(str(tmp_path))
    if deploy:
        from featherface.export.deploy import constants_to_initializers

        constants_to_initializers(onnx_model)
    onnx_model.producer_name = "featherface"
    onnx_model.producer_version = __version__
    onnx_model.doc_string = (
        f"{getattr(model, 'name', 'FeatherFace')} face detector (boxes + 5 landmarks), exported by FeatherFace. "
        f"Input: BGR minus mean "
        f"{list(model.config.bgr_mean)}, NCHW float32, H and W multiples of 32. See metadata_props."
    )
    props = build_metadata(net, postprocess=post_settings, weights=weights, trained=trained)
    if deploy:
        from featherface.export.deploy import DEPLOY_VERSION

        opts = "".join(f", {k}" for k, v in sorted((deploy_options or {}).items()) if v)
        props["deploy"] = f"folded v{DEPLOY_VERSION}{opts} (featherface.export.deploy)"
    set_metadata(onnx_model, props)
    if check:
        onnx.checker.check_model(onnx_model, full_check=True)
    atomic_write_bytes(onnx_model.SerializeToString(), path)
    return path


def onnx_io_names(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Input and output names of an ONNX file."""
    import onnx  # the onnx extra: imported on use

    m = onnx.load(str(path), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in init], [o.name for o in m.graph.output]

"""``featherface export``: ONNX (optionally INT8) or TorchScript files that need no Python to use.

    featherface export --format onnx --weights run/best.pt --output v2.onnx
    featherface export --format onnx --random --model featherface-v1 --int8 --calibration photos/
    featherface export --format torchscript --weights run/best.pt
    featherface export --format tflite --input-size 480 640 -o v2.tflite   # needs: pip install litert-torch
    featherface export --format onnx --weights ../shared/weights/retinaface_mnet025_Final.pth -o retinaface.onnx

``--weights`` takes a FeatherFace weights file, a training checkpoint, or the RetinaFace-mnet0.25
release file (a plain state dict, read as model ``retinaface-mnet025``); the model is rebuilt from
the architecture the file records unless ``--model`` names one. Without ``--weights`` (or with
``--weights default``) the weights shipped for ``--model`` are exported, as every verb defaults to them.

Without trained weights the export must be asked for explicitly with ``--random`` or ``--weights
none``, as in every verb (the file then says ``trained=false`` in its metadata): nothing may pass for a trained detector by accident.
After writing, the command checks the file against PyTorch (ONNX) or fp32 (INT8) and prints the
differences.

torch, the exporters and onnx / onnxruntime are imported where each step needs them: not for
``featherface --help``, and a TorchScript export needs neither onnx nor onnxruntime.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from featherface.commands.argtypes import int_range, nonneg_int, output_path, positive_int
from featherface.commands.options import add_detector_args
from featherface.inference.options import DEFAULT_WEIGHTS, DetectorOptions, is_random_weights
from featherface.errors import ConfigError
from featherface.io.outputs import atomic_output, check_output_file

_SIDE = int_range(32, 4096, name="size")


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(
        name, help="export a model to ONNX (fp32 / INT8) or TorchScript",
        description="Export a FeatherFace model to ONNX (opset >= 17, dynamic batch/height/width, metadata "
                    "describing normalisation, anchors and outputs) or TorchScript: the weights shipped with the "
                    "package unless --weights PATH, or --random for an untrained network (speed tests only).")
    p.add_argument("--format", choices=["onnx", "torchscript", "tflite"], default="onnx",
                   help="output format (default onnx); tflite: LiteRT for phones, one fixed --input-size, needs "
                        "pip install litert-torch")
    add_detector_args(p, ("model",), defaults={"model": None}, helps={
        "model": f"model name (default: the one recorded in --weights, else {DetectorOptions.model})"})
    w = p.add_mutually_exclusive_group()
    add_detector_args(w, ("weights",), helps={
        "weights": "weights file or training checkpoint to export ('none' or 'random': the same as --random)"})
    w.add_argument("--random", action="store_true", help="export an untrained, randomly initialised network")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of --random initialisation (default 0)")
    p.add_argument("--output", "-o", type=output_path, default=None, help="output file (default: MODEL.onnx / MODEL.torchscript.pt)")
    p.add_argument("--force", action="store_true",
                   help="let --output / --int8-output replace an existing file of another kind")
    p.add_argument("--opset", type=int_range(17, 99, name="opset"), default=17,
                   help="ONNX opset, 17 to the exporter's highest (legacy: 20) (default 17)")
    p.add_argument("--input-size", type=_SIDE, nargs="+", default=[640], metavar="N",
                   help="example input for tracing: N or H W, multiples of 32 (ONNX and TorchScript files accept "
                        "any size; a tflite file only this one)")
    p.add_argument("--postprocess", action="store_true",
                   help="ONNX: decode + score threshold + NMS inside the graph (outputs detections, batch_index)")
    add_detector_args(p, ("score_threshold", "nms_threshold"), helps={
        "score_threshold": "with --postprocess: score threshold in [0, 1]",
        "nms_threshold": "with --postprocess: NMS IoU threshold in (0, 1]"})
    p.add_argument("--max-detections", type=positive_int, default=DetectorOptions.max_detections,
                   help="with --postprocess, per image (default %(default)s)")
    p.add_argument("--exporter", choices=["legacy", "dynamo"], default="legacy",
                   help="torch ONNX exporter (default legacy: fast, supports --postprocess)")
    p.add_argument("--deploy", action="store_true",
                   help="ONNX: exact deploy-time folding (same outputs within 1e-5, ~60%% fewer graph nodes; "
                        "legacy exporter; docs/deployment.md)")
    q = p.add_argument_group("INT8 (ONNX)")
    q.add_argument("--int8", action="store_true", help="also write an INT8 (QDQ, static) model next to the fp32 one")
    q.add_argument("--calibration", default=None,
                   help="folder of calibration images, or 'synthetic' (default: $FEATHERFACE_CALIBRATION or "
                        "shared/data/photos when present)")
    q.add_argument("--calibration-size", type=_SIDE, default=640, help="calibration input size (default 640)")
    q.add_argument("--calibration-images", type=positive_int, default=32, help="use at most N images (default 32)")
    q.add_argument("--calibrate-method", choices=["minmax", "percentile", "entropy"], default="minmax")
    q.add_argument("--int8-output", type=output_path, default=None, help="INT8 file (default: OUTPUT with .int8.onnx)")
    q.add_argument("--fp32-groups", nargs="*", default=["head_outputs", "depthwise"], metavar="GROUP",
                   help="node groups kept fp32: head_outputs heads attention first_conv depthwise (default head_outputs "
                        "depthwise: onnxruntime's INT8 depthwise conv is ~4x slower than fp32 on x86, see docs/deployment.md)")
    p.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch after writing")
    p.set_defaults(func=run)


def load_model(name: str | None, weights: str | None, random: bool, seed: int = 0) -> Any:
    """Build the model to export: from ``weights`` (its recorded architecture) or, with ``random``, untrained."""
    import torch  # torch: on use (see the module docstring)

    from featherface.models import create_model

    if weights is None and not random:
        raise ConfigError("no weights: pass --weights PATH (a trained checkpoint), or --random to export an "
                          "untrained network explicitly (for speed tests; it finds no faces)")
    if random:
        torch.manual_seed(seed)
        return create_model(name or "featherface-v2-ultra")
    from featherface.models.weights import load_weights, model_from_weights  # torch: on use

    if name is None:
        return model_from_weights(weights)  # type: ignore[arg-type]
    model = create_model(name)
    load_weights(model, weights)  # type: ignore[arg-type]
    return model


def _size(values: list[int]) -> tuple[int, int]:
    if len(values) not in (1, 2):
        raise ConfigError("--input-size takes N or H W")
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


def _check_out(path: str | Path, args: argparse.Namespace, inputs: list[str], option: str = "--output") -> Path:
    """The output file, checked (see :mod:`featherface.io.outputs`): never an input (the weights, the
    calibration images), never a folder, an existing file of another kind only with --force."""
    calib = getattr(args, "calibration", None)
    ins = list(inputs)
    if calib and calib != "synthetic":
        from featherface.io.images import expand_inputs  # OpenCV: on use, not for ``featherface --help``

        ins += [str(p) for p in expand_inputs([calib])] if Path(calib).is_dir() else [calib]
    suffixes = {"torchscript": {".pt", ".pth", ".torchscript"}, "tflite": {".tflite"}}.get(args.format, {".onnx"})
    return check_output_file(path, option, inputs=ins, suffixes=suffixes, force=args.force)


def run(args: argparse.Namespace) -> int:
    import torch  # torch and the exporters: on use (see the module docstring)

    if args.weights is not None and is_random_weights(args.weights):  # --weights none: as in every verb
        args.weights, args.random = None, True
    elif not args.random and args.weights in (None, DEFAULT_WEIGHTS):  # the shipped weights, as in every verb
        from featherface.models.weights import resolve_weights  # torch: on use

        args.weights = str(resolve_weights(DEFAULT_WEIGHTS, model_name=args.model or DetectorOptions.model))
    hw = _size(args.input_size)
    if args.format == "onnx":
        from featherface.export.onnx_export import MIN_OPSET, max_opset  # the exporters: on use

        if args.deploy and args.exporter != "legacy":
            raise ConfigError("--deploy needs the legacy exporter (drop --exporter dynamo)")
        if not MIN_OPSET <= args.opset <= max_opset(args.exporter):
            raise ConfigError(f"--opset must be from {MIN_OPSET} to {max_opset(args.exporter)} with the "
                              f"{args.exporter} exporter, got {args.opset}")
    inputs = [p for p in (args.weights,) if p]
    if args.output:  # checked before the model is loaded; the default name needs the model's name
        _check_out(args.output, args, inputs)
    calib = _check_calibration(args) if args.int8 and args.format == "onnx" else None
    if args.format == "tflite":
        if args.postprocess or args.int8:
            raise ConfigError("--postprocess and --int8 apply to --format onnx only (a tflite file is always "
                              "deploy-folded)")
        from featherface.export.tflite import require_converter  # litert-torch missing: one line before the model loads

        require_converter()
    model = load_model(args.model, args.weights, args.random, args.seed).eval()
    trained = args.weights is not None
    if args.format == "tflite":
        return _export_tflite(args, model, inputs, hw, trained)
    if args.format == "torchscript":
        if args.postprocess or args.int8 or args.deploy:
            raise ConfigError("--postprocess, --int8 and --deploy apply to --format onnx only")
        from featherface.export.torchscript import export_torchscript, load_torchscript  # on use

        out = _check_out(args.output or f"{model.name}.torchscript.pt", args, inputs)
        export_torchscript(model, out, input_size=hw, weights=args.weights, trained=trained)
        print(f"wrote {out} ({_mb(out)}): TorchScript, outputs (bbox, cls, ldm), metadata in featherface.json"
              + ("" if trained else "  [untrained random weights]"))
        if not args.no_verify:
            mod, _ = load_torchscript(out)
            x = torch.randn(1, 3, *hw) * 50
            with torch.inference_mode(), torch.jit.optimized_execution(False):
                ref, got = model(x), mod(x)
            diff = max(float((ref[k] - g).abs().max()) for k, g in zip(("bbox", "cls", "ldm"), got))
            print(f"verify: TorchScript vs PyTorch at {hw[0]}x{hw[1]}: max |diff| {diff:.3g}")
        return 0

    if args.int8 and args.postprocess:
        raise ConfigError("--int8 quantizes the raw-output model: drop --postprocess (decode outside the graph)")
    out = _check_out(args.output or f"{model.name}.onnx", args, inputs)
    q_out: Path | None = None
    if args.int8:
        q_out = Path(args.int8_output or (str(out)[:-5] if str(out).endswith(".onnx") else str(out)) + ".int8.onnx")
        if q_out.resolve() == out.resolve():
            raise ConfigError(f"--int8-output {q_out} is the fp32 output too; give another name")
        q_out = _check_out(q_out, args, inputs, option="--int8-output")
    # every file is made under a temporary name and renamed only when all succeeded: a failed INT8
    # step must not leave an fp32 model where the user expects the export
    with atomic_output(out) as tmp_out, (atomic_output(q_out) if q_out is not None else
                                         contextlib.nullcontext(None)) as tmp_q:
        _export_onnx(args, model, out, tmp_out, q_out, tmp_q, calib, hw, trained)
    return 0


def _export_tflite(args: argparse.Namespace, model: Any, inputs: list[str], hw: tuple[int, int], trained: bool) -> int:
    """``--format tflite``: the folded network through litert-torch at the one size ``hw``, checked
    against PyTorch with ai-edge-litert's interpreter."""
    from featherface.export.tflite import export_tflite, tflite_runner  # torch and litert-torch: on use
    from featherface.export.verify import compare_sessions, summary_line, torch_runner

    out = _check_out(args.output or f"{model.name}.tflite", args, inputs)
    export_tflite(model, out, input_size=hw)
    print(f"wrote {out} ({_mb(out)}): LiteRT, input 1x3x{hw[0]}x{hw[1]} only, raw outputs bbox, cls, ldm, "
          "deploy-folded" + ("" if trained else "  [untrained random weights]"))
    if not args.no_verify:
        xs = [np.random.default_rng(0).normal(0, 50, size=(1, 3, *hw)).astype(np.float32)]
        rep = compare_sessions(torch_runner(model), tflite_runner(out), xs, model.config)
        print("verify: " + summary_line("LiteRT vs PyTorch", rep))
    return 0


def _check_calibration(args: argparse.Namespace) -> str | Path:
    """``--int8``'s calibration images, checked before any work: a folder holding images, or
    ``synthetic`` (a FIFO or a file used to fail after the ~14 s export, as "folder not found")."""
    from featherface.export.quantize import default_calibration_dir, list_images  # onnxruntime: on use

    calib = args.calibration or default_calibration_dir()
    if calib is None:
        raise ConfigError("--int8 needs calibration images: --calibration DIR (photos like those you will "
                          "run on), or --calibration synthetic")
    if str(calib) != "synthetic":
        d = Path(calib)
        if d.exists() and not d.is_dir():
            raise ConfigError(f"--calibration {d}: not a folder (give a folder of calibration images, or 'synthetic')")
        list_images(d)  # not found / no images: one line now
    return calib


def _export_onnx(args: argparse.Namespace, model: Any, out: Path, tmp_out: Path, q_out: Path | None,
                 tmp_q: Path | None, calib: str | Path | None, hw: tuple[int, int], trained: bool) -> None:
    """The ONNX export (+ verification, + INT8) into the temporary files ``tmp_out`` / ``tmp_q``
    (messages name the final ones)."""
    from featherface.export.onnx_export import export_onnx  # on use (see the module docstring)

    export_onnx(model, tmp_out, opset=args.opset, input_size=hw, postprocess=args.postprocess,
                score_threshold=args.score_threshold, nms_threshold=args.nms_threshold,
                max_detections=args.max_detections, weights=args.weights, trained=trained, exporter=args.exporter,
                deploy=args.deploy)
    what = "decode+NMS in graph: outputs detections (K,15), batch_index (K,)" if args.postprocess \
        else "raw outputs bbox, cls, ldm"
    what += ", deploy-folded" if args.deploy else ""
    print(f"wrote {out} ({_mb(tmp_out)}): ONNX opset {args.opset}, dynamic batch/H/W, {what}"
          + ("" if trained else "  [untrained random weights]"))
    # onnxruntime: on use (see the module docstring)
    from featherface.export.verify import compare_sessions, ort_runner, summary_line, torch_runner

    if not args.no_verify and not args.postprocess:
        rng = np.random.default_rng(0)
        xs = [rng.normal(0, 50, size=(1, 3, *hw)).astype(np.float32)]
        rep = compare_sessions(torch_runner(model), ort_runner(tmp_out), xs, model.config)
        print("verify: " + summary_line("onnxruntime vs PyTorch", rep))
    if args.int8:
        # onnxruntime.quantization: on use (see the module docstring)
        from featherface.export.quantize import ImageCalibrationReader, quantize_onnx_int8

        assert q_out is not None and tmp_q is not None and calib is not None
        quantize_onnx_int8(tmp_out, tmp_q, calib, input_size=args.calibration_size, exclude=args.fp32_groups,
                           calibrate_method=args.calibrate_method, max_images=args.calibration_images)
        print(f"wrote {q_out} ({_mb(tmp_q)}): INT8 QDQ, calibrated on {calib} at {args.calibration_size}px "
              f"(fp32: {_mb(tmp_out)})")
        if not args.no_verify:
            reader = ImageCalibrationReader(calib, args.calibration_size, model.config.bgr_mean,
                                            max_images=min(8, args.calibration_images))
            rep = compare_sessions(ort_runner(tmp_out), ort_runner(tmp_q), reader.batches, model.config)
            print("verify: " + summary_line("INT8 vs fp32", rep))
            if not trained:
                print("note: random weights amplify quantization noise far more than trained ones; judge INT8 "
                      "accuracy with trained weights")


__all__ = ["add_parser", "run", "load_model"]

"""INT8 static quantization of an exported FeatherFace ONNX file (onnxruntime, QDQ format).

Calibration images are preprocessed exactly like :class:`~featherface.inference.FaceDetector`
with ``input_size``: longer side scaled to ``input_size``, BGR minus mean, padded bottom/right to
a multiple of 32 (here to the full square, so every calibration tensor has one shape).

What stays fp32 by default, and why (see ``docs/deployment.md`` for the measurements): the final
``cls``/``bbox``/``ldm`` 1x1 convolutions (``exclude=("head_outputs",)``). Their outputs are
decoded through ``exp`` (box size) and a softmax (score), so an 8-bit grid on them is visible in
every face; they are ~2% of the FLOPs. The attention sigmoids can also be kept in fp32
(``"attention"``), which costs speed and helped little in our measurements. ``"depthwise"`` keeps
every grouped convolution (``group > 1``: the depthwise ones) fp32: onnxruntime's depthwise
``QLinearConv`` is several times slower than its fp32 NCHWc kernel on x86, so this is the fastest INT8
recipe for V2 (``benchmarks/int8_variants.py``), though still not faster than fp32 there.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from featherface.data.synthetic import render_synthetic_image
from featherface.errors import ConfigError, FeatherFaceError
from featherface.export.onnx_export import set_metadata
from featherface.inference.backends.metadata import FORMAT_TAG, parse_metadata
from featherface.io.images import IMAGE_EXTENSIONS, image_files, load_image, resize_longer_side
from featherface.io.outputs import atomic_write_bytes
from featherface.io.paths import find_shared

EXCLUDE_GROUPS = ("head_outputs", "heads", "attention", "first_conv", "depthwise")
CALIBRATION_ENV = "FEATHERFACE_CALIBRATION"
#: Operator types quantized by default: convolutions only (they hold ~all FLOPs and weights).
#: Quantizing the activations, adds, concats and the attention arithmetic too was no faster with
#: onnxruntime 1.2x/1.3x on x86 (LeakyRelu does not fuse into QLinearConv) and moved outputs more.
DEFAULT_OP_TYPES: tuple[str, ...] = ("Conv",)


def default_calibration_dir() -> Path | None:
    """``$FEATHERFACE_CALIBRATION``, else ``data/photos`` of the shared folder when present
    (:func:`featherface.io.paths.find_shared`), else ``None``."""
    env = os.environ.get(CALIBRATION_ENV)
    if env:
        return Path(env)
    d = find_shared("data", "photos")
    return d if d is not None and d.is_dir() else None


def preprocess_image(image: np.ndarray, input_size: int, mean: Sequence[float]) -> np.ndarray:
    """HxWx3 uint8 BGR -> (1, 3, S, S) float32 with S = ``input_size`` rounded up to 32 (detector rules:
    longer side scaled to ``input_size``, padded bottom/right with the mean colour)."""
    image, _ = resize_longer_side(image, input_size)
    nh, nw = image.shape[:2]
    side = -(-input_size // 32) * 32
    out = np.zeros((1, 3, side, side), dtype=np.float32)
    out[0, :, :nh, :nw] = (image.astype(np.float32) - np.asarray(mean, dtype=np.float32)).transpose(2, 0, 1)
    return out


def synthetic_calibration_images(n: int = 8, size: int = 320, seed: int = 0) -> list[np.ndarray]:
    """Synthetic face-like pictures (tests, or when no real photos are at hand)."""
    rng = np.random.default_rng(seed)
    return [render_synthetic_image(rng, size, max_faces=6)[0] for _ in range(n)]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (sorted) — raises if there are none."""
    d = Path(folder)
    if not d.is_dir():
        raise ConfigError(f"{d}: calibration folder not found")
    files = image_files([d], recursive=False)
    if not files:
        raise ConfigError(f"{d}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) for calibration")
    return files


def _load_all(images: str | os.PathLike | Iterable[Any]) -> list[np.ndarray]:
    if isinstance(images, (str, os.PathLike)):
        if str(images) == "synthetic":
            return synthetic_calibration_images()
        return [load_image(p) for p in list_images(images)]
    return [load_image(im) for im in images]


try:  # the base class only exists with onnxruntime installed
    from onnxruntime.quantization import CalibrationDataReader as _ReaderBase
except ImportError:  # pragma: no cover
    _ReaderBase = object  # type: ignore[misc,assignment]


class ImageCalibrationReader(_ReaderBase):  # type: ignore[misc,valid-type]
    """onnxruntime ``CalibrationDataReader`` over images, preprocessed like the detector.

    Args:
        images: a folder, ``"synthetic"``, or an iterable of paths / BGR arrays.
        input_size: square network size (the detector's ``input_size``).
        mean: BGR mean subtracted from pixels.
        max_images: use at most this many (evenly spread), ``None`` for all.
        input_name: name of the ONNX input.
    """

    def __init__(self, images: str | os.PathLike | Iterable[Any], input_size: int = 640,
                 mean: Sequence[float] = (104.0, 117.0, 123.0), max_images: int | None = None,
                 input_name: str = "input"):
        pics = _load_all(images)
        if max_images is not None and len(pics) > max_images:
            pick = np.linspace(0, len(pics) - 1, max_images).round().astype(int)
            pics = [pics[i] for i in pick]
        self.batches = [preprocess_image(p, input_size, mean) for p in pics]
        self.input_name = input_name
        self._it: Iterator[np.ndarray] = iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {self.input_name: x}

    def rewind(self) -> None:
        self._it = iter(self.batches)


def nodes_for_groups(onnx_model: Any, groups: Sequence[str]) -> list[str]:
    """Names of the graph nodes in the named exclusion ``groups`` (see :data:`EXCLUDE_GROUPS`)."""
    bad = [g for g in groups if g not in EXCLUDE_GROUPS]
    if bad:
        raise ConfigError(f"unknown exclusion group(s) {bad}; choose from {', '.join(EXCLUDE_GROUPS)}")
    names: list[str] = []
    convs = [n for n in onnx_model.graph.node if n.op_type == "Conv"]
    if "depthwise" in groups:
        for n in convs:
            g = next((a.i for a in n.attribute if a.name == "group"), 1)
            if g > 1:
                names.append(n.name)
    for n in onnx_model.graph.node:
        nm = n.name
        if "head_outputs" in groups and n.op_type == "Conv" and "/head/" in nm and nm.rsplit("/", 2)[-2] in ("cls", "bbox", "ldm"):
            names.append(nm)
        elif "heads" in groups and nm.startswith("/head/"):
            names.append(nm)
        elif "attention" in groups and n.op_type == "Sigmoid":
            names.append(nm)
    if "first_conv" in groups and convs:
        names.append(convs[0].name)
    return sorted(set(names))


def quantize_onnx_int8(
    fp32_path: str | os.PathLike,
    out_path: str | os.PathLike,
    calibration: str | os.PathLike | Iterable[Any] | None = None,
    *,
    input_size: int = 640,
    exclude: Sequence[str] = ("head_outputs", "depthwise"),
    per_channel: bool = True,
    calibrate_method: str = "minmax",
    max_images: int | None = 32,
    activation_type: str = "uint8",
    op_types: Sequence[str] | None = DEFAULT_OP_TYPES,
    compact: bool = True,
    quant_format: str = "qdq",
    reduce_range: bool = False,
    preprocess: bool = True,
) -> Path:
    """Quantize an fp32 FeatherFace ONNX file to INT8 (QDQ) with static calibration; returns ``out_path``.

    Args:
        fp32_path: an export with raw outputs (``export_onnx(..., postprocess=False)``).
        out_path: where to write the INT8 model.
        calibration: folder of images, ``"synthetic"``, iterable of paths/arrays, or ``None`` for
            :func:`default_calibration_dir`.
        input_size: square calibration size (use the size you deploy at).
        exclude: node groups kept in fp32 (:data:`EXCLUDE_GROUPS`); add ``"depthwise"`` for the
            fastest INT8 on x86 CPUs.
        per_channel: per-output-channel weight scales (helps the depthwise convs a lot).
        calibrate_method: ``"minmax"``, ``"percentile"`` (99.999) or ``"entropy"``.
        max_images: cap on calibration images (evenly spread over the folder).
        activation_type: ``"uint8"`` (U8S8, default: fastest QLinearConv kernels on x86 here) or ``"int8"`` (S8S8).
        op_types: operator types to quantize (default :data:`DEFAULT_OP_TYPES`); ``None`` for all
            that onnxruntime can quantize.
        compact: shorten node/tensor names and drop value_info (the QDQ graph's long names are
            ~40% of the file otherwise).
        quant_format: ``"qdq"`` (QuantizeLinear/DequantizeLinear pairs, fused by onnxruntime at load
            time) or ``"qoperator"`` (QLinearConv etc. written into the file).
        reduce_range: 7-bit weights (for CPUs without VNNI where U8S8 can saturate).
        preprocess: run ``quant_pre_process`` (shape inference + onnx graph optimisation) first.
    """
    # the onnx extra (onnx, onnxruntime.quantization): imported on use
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    fp32_path = Path(fp32_path)
    src = onnx.load(str(fp32_path))
    props = {p.key: p.value for p in src.metadata_props}
    meta = parse_metadata(props)
    if meta.get("featherface.format") != FORMAT_TAG:
        raise ConfigError(f"{fp32_path}: not a FeatherFace ONNX export")
    if meta.get("postprocess") not in (None, "none"):
        raise ConfigError(f"{fp32_path}: quantize the raw-output export (without --postprocess)")
    if calibration is None:
        calibration = default_calibration_dir()
        if calibration is None:
            raise ConfigError("no calibration images: pass --calibration DIR (a folder of photos like those you "
                              f"will run on), set ${CALIBRATION_ENV}, or use --calibration synthetic")
    mean = (meta.get("input") or {}).get("mean", [104.0, 117.0, 123.0])
    reader = ImageCalibrationReader(calibration, input_size, mean, max_images=max_images)
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if calibrate_method not in methods:
        raise ConfigError(f"calibrate_method must be one of {sorted(methods)}")
    act = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}[activation_type]
    formats = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
    if quant_format not in formats:
        raise ConfigError(f"quant_format must be one of {sorted(formats)}")
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="featherface-int8-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        model_in = str(fp32_path)
        if preprocess:
            try:  # shape inference + graph optimisation first, as onnxruntime recommends
                from onnxruntime.quantization.shape_inference import quant_pre_process

                quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
                model_in = str(pre)
            except Exception:  # pragma: no cover - fall back to the plain file
                model_in = str(fp32_path)
        to_exclude = nodes_for_groups(onnx.load(model_in), exclude)
        # merge ranges every k images to bound memory; k must not divide the image count (an
        # onnxruntime quirk: a final empty chunk raises "No data is collected")
        k = next(k for k in range(8, 64) if len(reader) % k)
        extra: dict[str, Any] = {"CalibMaxIntermediateOutputs": k}
        if calibrate_method == "percentile":
            extra["CalibPercentile"] = 99.999
        q_tmp = Path(tmp) / "int8.onnx"
        try:
            quantize_static(
                model_in, str(q_tmp), reader, quant_format=formats[quant_format], per_channel=per_channel,
                reduce_range=reduce_range,
                activation_type=act, weight_type=QuantType.QInt8, nodes_to_exclude=to_exclude,
                calibrate_method=methods[calibrate_method], extra_options=extra,
                op_types_to_quantize=list(op_types) if op_types else None,
            )
        except Exception as exc:
            raise FeatherFaceError(f"INT8 quantization failed: {exc}") from exc
        q = onnx.load(str(q_tmp))
    recipe = {
        "method": "onnxruntime quantize_static", "format": quant_format.upper(), "weights": "int8 symmetric",
        "activations": activation_type, "per_channel": per_channel, "calibrate_method": calibrate_method,
        "calibration_images": len(reader), "calibration_input_size": input_size,
        "fp32_groups": list(exclude), "fp32_nodes": len(to_exclude),
        "op_types": list(op_types) if op_types else "all",
        "reduce_range": reduce_range, "preprocess": preprocess,
    }
    if compact:
        compact_names(q)
    props["quantization"] = json.dumps(recipe, separators=(",", ":"))
    set_metadata(q, props)
    q.doc_string = (src.doc_string + f" INT8 ({quant_format.upper()}) quantized.").strip()
    onnx.checker.check_model(q)
    atomic_write_bytes(q.SerializeToString(), out_path)
    return out_path


def compact_names(onnx_model: Any) -> None:
    """Rename nodes and internal tensors to short ids, drop ``value_info`` (in place).

    Graph inputs and outputs keep their names; behaviour is unchanged. Used on INT8 files, whose
    thousands of Q/DQ nodes otherwise carry long generated names.
    """
    g = onnx_model.graph
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    mapping: dict[str, str] = {}

    def new(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in mapping:
            mapping[name] = f"t{len(mapping)}"
        return mapping[name]

    for init in g.initializer:
        init.name = new(init.name)
    for i, node in enumerate(g.node):
        node.name = f"n{i}"
        for j, x in enumerate(node.input):
            node.input[j] = new(x)
        for j, x in enumerate(node.output):
            node.output[j] = new(x)
    del g.value_info[:]

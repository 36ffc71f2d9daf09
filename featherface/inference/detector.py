"""High-level face detection API: :class:`FaceDetector`.

    >>> from featherface import FaceDetector
    >>> det = FaceDetector(weights="path/to/weights.pt")        # or FaceDetector() once weights ship
    >>> faces = det.detect("photo.jpg")                         # Results: a list of Face, image pixels

Pre-processing: the image is scaled (only when ``input_size`` is given, or when it is larger than
``max_size``), padded bottom/right with the mean colour to a multiple of 32 (so every pyramid level
tiles exactly), converted to BGR-minus-mean. Results are mapped back to original pixels and clipped.

Torch is imported only when a network is needed (:mod:`featherface.inference.network`): a detector
that runs the cached ONNX export of its weights file needs numpy, OpenCV and onnxruntime alone, so
a one-photo command or a ``--workers`` process starts in a fraction of a second instead of ~3 s.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError, FeatherFaceError, ImageError
from featherface.inference import onnx_pointer
from featherface.inference.backends.onnxruntime_backend import OnnxRuntimeBackend, onnxruntime_available
from featherface.inference.hooks import drop_cached_export
from featherface.inference.options import (
    DEFAULT_WEIGHTS,
    MAX_INPUT_SIDE,
    PAD_MULTIPLE,
    DetectorOptions,
    is_random_weights,
)
from featherface.inference.postprocess import PostprocessConfig, postprocess
from featherface.inference.results import Results
from featherface.inference.stream import FrameFaces, stream_faces
from featherface.inference.tiling import merge_tiled
from featherface.io.images import describe, load_image, resize_by
from featherface.models.shipped import resolve_weights
from featherface.ops.priors import PriorGrid
from featherface.types import Face

_DEFAULT = DEFAULT_WEIGHTS
_D = DetectorOptions()  # FaceDetector's keyword defaults


def _real(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite real number (not a string, not a bool, not NaN) in ``[lo, hi]`` (``(lo, hi]``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number in {'(' if lo_open else '['}{lo:g}, {hi:g}], "
                          f"got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
        raise ConfigError(f"{name} must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {value!r}")
    return v


def _whole(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """A whole number (int or numpy integer, not bool / float / string) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number, got {type(value).__name__} {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        raise ConfigError(f"{name} must be " + (f"from {lo} to {hi}" if hi is not None else f">= {lo}") + f", got {v}")
    return v


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _network() -> Any:
    """:mod:`featherface.inference.network`, the torch side, imported on first need: a detector
    that runs a cached ONNX export never loads torch (~2.5 s)."""
    import featherface.inference.network as network

    return network


def _cpu_only(device: Any) -> bool:
    """Whether ``device`` means the CPU without asking torch: ``"cpu"``, or ``None``/``"auto"`` on a
    machine with no NVIDIA driver (where ``auto`` resolves to the CPU)."""
    if isinstance(device, str) and device.strip().lower() == "cpu":
        return True
    auto = device is None or (isinstance(device, str) and device.strip().lower() == "auto")
    return auto and not any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl",
                                                        "C:\\Windows\\System32\\nvcuda.dll"))


_UNSET_SIZE: Any = object()  # "the detector's own input_size" (None already means "original size")


class FaceDetector:
    """Detects faces (box, score, 5 landmarks) in images.

    Args:
        model: a registered model name (see ``featherface.list_models()``) or a ready ``nn.Module``
            returning ``{"bbox", "cls", "ldm"}`` (its ``config`` attribute, if any, gives the anchors).
        weights: ``"default"`` — the trained weights shipped with the package (an error while none
            ship for ``model``); a path to a weights file or training checkpoint; or ``None`` for an
            untrained, randomly initialised network (explicit only — it finds no faces; the strings
            ``"none"`` and ``"random"`` mean the same). Ignored when ``model`` is a module and
            ``weights`` is left at ``"default"``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` picks CUDA when available.
        score_threshold: minimum face probability (0.5 for applications, 0.02 for WIDER evaluation).
        nms_threshold: IoU above which a lower-scoring overlapping box is dropped.
        input_size: ``None`` runs at the original resolution; an int resizes the longer side to it.
        max_size: images whose longer side exceeds this are scaled down first (memory safety).
        tile: also detect on overlapping native-resolution ``tile_size`` tiles (``tile_overlap``
            pixels shared) of every image the network would see scaled down, and merge: small faces
            in big photos survive (see :mod:`featherface.inference.tiling`); costs one network call
            per tile. Tiles larger than ``max_size`` are ``max_size``; ``tile_overlap`` is at most half a tile.
        pre_nms_top_k, max_detections: candidates kept before NMS, faces kept after it, per image.
        vote_iou: box and landmark voting: each face's box and 5 points become the score-weighted
            mean of those of the candidates (score >= 0.1) overlapping its box by at least this
            IoU; ``0`` keeps each face's own prior's. The faces found and their scores do not change.
        backend: ``"auto"`` (the default): onnxruntime — the faster one on CPUs — when it is installed,
            the device is the CPU and the model comes from a weights file (the shipped weights or a
            path; exported once to the user's cache, keyed by the weights' sha256, the architecture
            and the package version, and found again by later detectors without importing torch:
            :mod:`featherface.inference.onnx_pointer`); torch otherwise (a module passed in, random weights, CUDA), and
            torch too, with a warning, if the export or the session fails. ``"torch"`` or
            ``"onnxruntime"`` (needs ``onnx_path`` or exports on the fly) choose one.
        onnx_path: an exported ``.onnx`` file for the onnxruntime backend.
        threads: CPU threads for inference (``torch.set_num_threads`` / onnxruntime intra-op);
            ``None`` leaves the library defaults.
        optimize: run the torch backend on a BatchNorm-folded, channels-last copy (same outputs).

    The defaults are those of :class:`~featherface.inference.options.DetectorOptions` (the
    command-line verbs read theirs from it too); :meth:`from_options` builds from one.
    """

    def __init__(
        self,
        model: Any = _D.model,
        weights: str | os.PathLike | None = _D.weights,
        device: Any = _D.device,
        score_threshold: float = _D.score_threshold,
        nms_threshold: float = _D.nms_threshold,
        input_size: int | None = _D.input_size,
        max_size: int = _D.max_size,
        tile: bool = _D.tile,
        tile_size: int = _D.tile_size,
        tile_overlap: int = _D.tile_overlap,
        pre_nms_top_k: int = _D.pre_nms_top_k,
        max_detections: int = _D.max_detections,
        vote_iou: float = _D.vote_iou,
        backend: str = _D.backend,
        onnx_path: str | os.PathLike | None = _D.onnx_path,
        threads: int | None = _D.threads,
        optimize: bool = _D.optimize,
    ):
        score_threshold = _real("score_threshold", score_threshold, 0.0, 1.0)
        nms_threshold = _real("nms_threshold", nms_threshold, 0.0, 1.0, lo_open=True)
        if input_size is not None:
            input_size = _whole("input_size", input_size, PAD_MULTIPLE, MAX_INPUT_SIDE)
        max_size = _whole("max_size", max_size, PAD_MULTIPLE, MAX_INPUT_SIDE)
        tile_size = _whole("tile_size", tile_size, PAD_MULTIPLE, MAX_INPUT_SIDE)
        tile_overlap = _whole("tile_overlap", tile_overlap, 0, min(tile_size, max_size) // 2)
        pre_nms_top_k = _whole("pre_nms_top_k", pre_nms_top_k, 1)
        max_detections = _whole("max_detections", max_detections, 1)
        vote_iou = _real("vote_iou", vote_iou, 0.0, 1.0)
        if threads is not None:
            threads = _whole("threads", threads, 1)
        if not isinstance(backend, str):
            raise ConfigError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
        if is_random_weights(weights):
            weights = None  # "none" / "random": what --weights none means on the command line
        self.input_size = input_size
        self.max_size = max_size
        self.tile = _flag("tile", tile)
        self.tile_size = min(tile_size, max_size)  # a tile is never scaled down itself
        self.tile_overlap = tile_overlap
        self.post = PostprocessConfig(score_threshold, nms_threshold, pre_nms_top_k, max_detections,
                                      vote_iou=vote_iou)
        self.weights_path: Path | None = None
        self.weights_meta: dict[str, Any] = {}
        self._device: Any = None
        self._model: Any = None
        self._config: Any = None
        self._spec = (model, weights)  # what a network built later (``.model``) is built from
        if backend not in ("auto", "torch", "onnxruntime"):
            raise ConfigError(f"unknown backend {backend!r}; use 'auto', 'torch' or 'onnxruntime'")

        self.backend: Any = None
        if backend != "torch" and onnx_path is None and isinstance(model, str) and weights is not None \
                and _cpu_only(device) and onnxruntime_available():
            self.backend = self._recall_export(model, weights, threads)
        if self.backend is not None:  # a cached export of this weights file: no torch at all
            meta = self.backend.metadata
            anchors, inp = meta.get("anchors") or {}, meta.get("input") or {}
            self.name = str(meta.get("model_name", model))
            self._anchors = (anchors["min_sizes"], anchors["steps"], tuple(anchors["variances"]))
            bgr_mean = tuple(float(v) for v in inp["mean"])
        else:
            net = self._build_torch(model, weights, device, backend, onnx_path, threads, optimize)
            cfg = self._config
            self._anchors = (cfg.min_sizes, cfg.steps, tuple(cfg.variances))
            bgr_mean = tuple(float(m) for m in cfg.bgr_mean)
            self.name = getattr(net, "name", type(net).__name__)
        self.priors = PriorGrid(self._anchors[0], self._anchors[1])
        self.mean = np.asarray(bgr_mean, dtype=np.float32)
        whole = all(float(m).is_integer() and 0 <= m <= 255 for m in bgr_mean)
        self._mean_u8 = bgr_mean if whole else None

    def _recall_export(self, model: str, weights: Any, threads: int | None) -> Any:
        """The onnxruntime backend on the cached export of ``model`` with this weights file, found
        through its pointer (:mod:`featherface.inference.onnx_pointer`) without torch; ``None``
        when there is none yet or it does not open (the torch path then exports and points again)."""
        try:
            path = resolve_weights(str(weights), model_name=model)
            found = onnx_pointer.recall(model, path)  # None too when the weights are no regular file
            if found is None:
                return None
            backend = OnnxRuntimeBackend(found[0], intra_op_threads=threads)  # checks the file is ours, raw outputs
            meta = backend.metadata
            if meta.get("model_name") != model or not {"anchors", "input"} <= set(meta):
                return None
        except (FeatherFaceError, OSError, KeyError, TypeError, ValueError):
            return None
        self.weights_path, self.weights_meta = Path(path), found[1]
        return backend

    def _build_torch(self, model: Any, weights: Any, device: Any, backend: str, onnx_path: Any,
                     threads: int | None, optimize: bool) -> Any:
        """The torch path: the network, then its backend (onnxruntime on an export of it, or torch)."""
        nw = _network()
        self._device = nw.torch_device(device)
        net, self.weights_path, self.weights_meta = nw.build_network(model, weights, _DEFAULT, stacklevel=4)
        self._model = net
        cfg = getattr(net, "config", None)
        self._config = cfg if isinstance(cfg, nw.FeatherFaceConfig) else nw.FeatherFaceConfig()
        if threads is not None:
            nw.set_threads(threads)
        if backend == "torch":
            self.backend = nw.TorchBackend(net, self._device, optimize=optimize)
            return net
        from_file = not nw.is_module(model) and weights is not None
        if backend == "onnxruntime":
            self.backend = OnnxRuntimeBackend.for_model(net, onnx_path, intra_op_threads=threads)
        elif (onnx_path is not None or from_file) and self._device.type == "cpu" and onnxruntime_available():
            self.backend = self._auto_onnxruntime(net, onnx_path, threads)
        if self.backend is None:
            self.backend = nw.TorchBackend(net, self._device, optimize=optimize)
        elif onnx_path is None and from_file and self.weights_path is not None and isinstance(model, str):
            onnx_pointer.remember(model, self.weights_path, self.backend.path, self.weights_meta)
        return net

    @property
    def model(self) -> Any:
        """The torch network (built from the weights file on first use when the detector runs a cached export)."""
        if self._model is None:
            model, weights = self._spec
            self._model = _network().build_network(model, weights, _DEFAULT)[0].eval()
        return self._model

    @property
    def config(self) -> Any:
        """The network's :class:`~featherface.models.featherface.FeatherFaceConfig`."""
        if self._config is None:
            self._config = _network().FeatherFaceConfig.from_dict(self.backend.metadata["config"])
        return self._config

    @property
    def device(self) -> Any:
        """The ``torch.device`` the network runs on (the CPU for a cached ONNX export)."""
        if self._device is None:
            self._device = _network().torch_device("cpu")
        return self._device

    @staticmethod
    def _auto_onnxruntime(net: Any, onnx_path: Any, threads: int | None) -> Any:
        """The onnxruntime backend, or ``None`` (torch then) when it cannot be had. A cached export
        that onnxruntime refuses (a damaged cache file) is rebuilt once before giving up."""
        for attempt in (1, 2):
            try:
                return OnnxRuntimeBackend.for_model(net, onnx_path, intra_op_threads=threads)
            except FeatherFaceError as exc:
                cached = onnx_path is None and attempt == 1 and drop_cached_export(net)
                if not cached:
                    warnings.warn(f"FaceDetector: backend 'auto' falls back to torch ({str(exc).splitlines()[0]})",
                                  stacklevel=4)
                    return None
        return None

    @classmethod
    def from_options(cls, options: DetectorOptions, **overrides: Any) -> "FaceDetector":
        """``FaceDetector(**options.kwargs())``, with ``overrides`` (``model=`` a module, say) on top."""
        return cls(**{**options.kwargs(), **overrides})

    # ------------------------------------------------------------------ pre-processing
    def _scale_for(self, h: int, w: int, input_size: int | None = _UNSET_SIZE) -> float:  # type: ignore[assignment]
        longer = max(h, w)
        size = self.input_size if input_size is _UNSET_SIZE else input_size
        if size is not None:
            return size / longer
        if longer > self.max_size:
            return self.max_size / longer
        return 1.0

    def _prepare(self, image: np.ndarray, input_size: int | None = _UNSET_SIZE) -> tuple[np.ndarray, float]:  # type: ignore[assignment]
        h, w = image.shape[:2]
        s = self._scale_for(h, w, input_size)
        return resize_by(image, s), s

    def _to_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Pad (mean colour) to the smallest common multiple-of-32 canvas; BGR minus mean, NCHW float32.

        With ``input_size`` too the canvas fits the scaled image, not an ``input_size`` square: a 3:2
        photo at 640 runs on 640x448, not 640x640 (30 % fewer pixels, as YuNet sizes its input), and
        gives the faces the same photo scaled beforehand gives at its original size."""
        H = max(int(math.ceil(im.shape[0] / PAD_MULTIPLE) * PAD_MULTIPLE) for im in images)
        W = max(int(math.ceil(im.shape[1] / PAD_MULTIPLE) * PAD_MULTIPLE) for im in images)
        batch = np.zeros((len(images), 3, H, W), dtype=np.float32)  # zero == mean colour after subtraction
        # (OpenCV takes an array of 4 or fewer values for a scalar: those tiny images take numpy's path)
        if self._mean_u8 is not None and all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[0] * im.shape[1] > 4
                                             for im in images):
            # per colour plane, one OpenCV subtraction written straight into the batch (uint8 -> float32):
            # the same numbers as numpy, 5x faster, and 15x faster than cv2.dnn.blobFromImage
            for i, im in enumerate(images):
                h, w = im.shape[:2]
                for c, plane in enumerate(cv2.split(im)):
                    view = batch[i, c, :h, :w]
                    got = cv2.subtract(plane, self._mean_u8[c], dst=view, dtype=cv2.CV_32F)
                    if not np.shares_memory(got, view):  # OpenCV allocated instead of writing in place
                        view[...] = got
            return batch
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            batch[i, :, :h, :w] = (im.astype(np.float32) - self.mean).transpose(2, 0, 1)
        return batch

    # ------------------------------------------------------------------ detection
    def detect(self, image: Any, rgb: bool = False, *, score_threshold: float | None = None,
               nms_threshold: float | None = None, input_size: int | None = None,
               tile: bool | None = None) -> Results:
        """Faces in one image (path, bytes, numpy HxWx3 **BGR** unless ``rgb=True``, or PIL), best first,
        as :class:`~featherface.inference.results.Results`: a list of :class:`Face` that also writes
        them (``to_dict``/``to_json``/``to_csv``/``plot``/``save``), the record every verb writes.

        ``score_threshold``, ``nms_threshold``, ``input_size``, ``tile``: this call only (``None``:
        the detector's own), e.g. one HTTP request's options on a shared detector."""
        return self.detect_batch([image], rgb=rgb, score_threshold=score_threshold, nms_threshold=nms_threshold,
                                 input_size=input_size, tile=tile)[0]

    def _call_options(self, score_threshold: float | None, nms_threshold: float | None,
                      input_size: int | None) -> tuple[PostprocessConfig, int | None]:
        post = self.post
        if score_threshold is not None or nms_threshold is not None:
            post = dataclasses.replace(
                self.post,
                score_threshold=self.post.score_threshold if score_threshold is None
                else _real("score_threshold", score_threshold, 0.0, 1.0),
                nms_threshold=self.post.nms_threshold if nms_threshold is None
                else _real("nms_threshold", nms_threshold, 0.0, 1.0, lo_open=True))
        size = self.input_size if input_size is None else _whole("input_size", input_size, PAD_MULTIPLE, MAX_INPUT_SIDE)
        return post, size

    def detect_batch(self, images: Iterable[Any], rgb: bool = False, *, score_threshold: float | None = None,
                     nms_threshold: float | None = None, input_size: int | None = None,
                     tile: bool | None = None) -> list[Results]:
        """Faces in several images with one network call (images are padded to a common size), one
        :class:`Results` per image; the keyword options apply to this call only, as in :meth:`detect`."""
        post, size = self._call_options(score_threshold, nms_threshold, input_size)
        if images is None or isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)) \
                or not isinstance(images, Iterable):
            raise ImageError(f"detect_batch takes a list of images (paths, bytes, arrays or PIL images), got "
                             f"{describe(images) if images is not None else 'None'}; use detect() for one image")
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise ImageError(f"detect_batch takes a list of images or an NxHxWxC array, got {describe(images)}; "
                             "use detect() for one image")
        images = list(images)
        originals = [load_image(im, rgb=rgb) for im in images]
        if not originals:
            return []
        batch, scales = self.preprocess(originals, size)
        outputs = self.backend(batch)
        found = self.faces_from_outputs(outputs, batch.shape[2:], originals, scales, post)
        if self.tile if tile is None else _flag("tile", tile):
            found = [self._tiled(im, faces, post, s) if s < 1.0 else faces
                     for im, faces, s in zip(originals, found, scales)]
        return [Results(faces, source=str(im) if isinstance(im, (str, os.PathLike)) else None, image=orig)
                for im, orig, faces in zip(images, originals, found)]

    def _tiled(self, image: np.ndarray, faces: list[Face], post: PostprocessConfig, scale: float) -> list[Face]:
        def native(crops: list[np.ndarray]) -> list[list[Face]]:
            batch, scales = self.preprocess(crops, None)
            return self.faces_from_outputs(self.backend(batch), batch.shape[2:], crops, scales, post)
        return merge_tiled(image, faces, native, self.tile_size, self.tile_overlap, post.nms_threshold,
                           post.max_detections, full_scale=scale)

    # the stages of detect_batch, public so that `featherface bench --profile` times exactly this code
    def preprocess(self, originals: Sequence[np.ndarray], input_size: int | None = _UNSET_SIZE  # type: ignore[assignment]
                   ) -> tuple[np.ndarray, list[float]]:
        """BGR images -> the network's NCHW float32 batch and each image's scale."""
        prepared = [self._prepare(im, input_size) for im in originals]
        return self._to_batch([p[0] for p in prepared]), [p[1] for p in prepared]

    def faces_from_outputs(self, outputs: dict[str, Any], hw: Sequence[int], originals: Sequence[np.ndarray],
                           scales: Sequence[float], post: PostprocessConfig | None = None,
                           timings: dict[str, float] | None = None) -> list[list[Face]]:
        """Raw outputs (arrays or tensors) of a ``hw``-sized batch -> faces in each original image's
        pixels (``timings``: see :func:`~featherface.inference.postprocess.postprocess`)."""
        H, W = int(hw[0]), int(hw[1])
        results = postprocess(outputs, self.priors(H, W), post or self.post, self._anchors[2], timings)
        faces_per_image: list[list[Face]] = []
        for (b, sc, lm), orig, s in zip(results, originals, scales):
            oh, ow = orig.shape[:2]
            px = np.array([W, H], dtype=np.float32) / np.float32(s)
            b = (b.reshape(-1, 2, 2) * px).reshape(-1, 4)
            lm = lm.reshape(-1, 5, 2) * px
            b[:, 0::2] = b[:, 0::2].clip(0, ow)
            b[:, 1::2] = b[:, 1::2].clip(0, oh)
            valid = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
            # one conversion to Python floats per image, not per face (a crowd photo has hundreds)
            faces_per_image.append([
                Face(box=tuple(bb), score=ss, landmarks=tuple(map(tuple, ll)))  # type: ignore[arg-type]
                for bb, ss, ll in zip(b[valid].astype(np.float64).tolist(), sc[valid].astype(np.float64).tolist(),
                                      lm[valid].astype(np.float64).tolist())
            ])
        return faces_per_image

    def stream(self, source: str | os.PathLike | int, every: int = 1, keep_frames: bool = True) -> Iterator[FrameFaces]:
        """Faces frame by frame from a video file, webcam index, stream URL, image or folder, lazily:
        ``for r in det.stream(0): print(r.index, r.timestamp, r.faces)`` (see
        :func:`featherface.inference.stream.stream_faces`)."""
        return stream_faces(self, source, every=every, keep_frames=keep_frames)

    def __repr__(self) -> str:
        return (f"FaceDetector(model={self.name!r}, weights={str(self.weights_path) if self.weights_path else None!r}, "
                f"device={str(self._device or 'cpu')!r}, backend={self.backend.name!r}, score_threshold={self.post.score_threshold})")

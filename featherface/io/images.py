"""Turning whatever the user hands us into an HxWx3 uint8 BGR array, or a clear :class:`ImageError`.

Accepted: a path (``str``/``Path``; any format OpenCV decodes, EXIF orientation applied), raw
encoded bytes, a numpy array, or a PIL image. Numpy arrays are taken as **BGR** (OpenCV's order)
unless ``rgb=True``; PIL images are RGB by definition and converted. Grayscale (HxW, HxWx1) is
expanded to three channels, 4-channel arrays lose their alpha, uint16 is scaled to 8 bits, float
arrays are taken as 0..1 when their maximum is <= 1 and as 0..255 otherwise. Empty, non-finite,
and non-numeric inputs are refused rather than guessed at. Encoded files whose header declares more
than :data:`MAX_DECODE_PIXELS` pixels are refused before decoding (decompression bombs).

Also the one home of the other image jobs: :func:`encode_image`, :func:`quiet_opencv` (muting
OpenCV's log lines), :func:`resize_by` / :func:`resize_longer_side` / :func:`letterbox` (the one
resizing rule: INTER_AREA when shrinking, INTER_LINEAR otherwise), and :func:`expand_inputs`
(folders -> their image and video files).
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError, ImageError
from featherface.io.image_header import image_header_size
from featherface.io.video import is_video_path

__all__ = [
    "IMAGE_EXTENSIONS", "MAX_DECODE_PIXELS", "array_to_bgr", "decode_image", "describe", "encode_image", "expand_inputs",
    "image_files", "is_image_path", "letterbox", "load_image", "max_decode_pixels", "quiet_opencv", "read_image", "resize_by",
    "resize_longer_side",
]

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".pgm", ".ppm", ".pbm"}

# Refuse, before decoding, files whose header declares more pixels than this: decoding needs about
# 6 bytes per pixel at peak (a 12000x12000 JPEG: 0.9 GB), and a 1 MB PNG can declare 20000x20000
# (2.3 GB, 17 s). 200 Mpx covers 100 Mpx cameras and 12000x12000 scans. Override with the
# environment variable FEATHERFACE_MAX_IMAGE_PIXELS or by assigning this module attribute.
MAX_DECODE_PIXELS = 200_000_000


def max_decode_pixels() -> int:
    """The pixel limit in force (``$FEATHERFACE_MAX_IMAGE_PIXELS`` wins over the module constant)."""
    env = os.environ.get("FEATHERFACE_MAX_IMAGE_PIXELS", "").strip()
    if env:
        try:
            return max(1, int(float(env)))
        except ValueError:
            raise ConfigError(f"FEATHERFACE_MAX_IMAGE_PIXELS={env!r} is not a number") from None
    return MAX_DECODE_PIXELS


def _mpx(n: int) -> str:
    return f"{n / 1e6:,.0f} Mpx" if n >= 10**6 else f"{n:,} pixels"


def describe(src: Any) -> str:
    """Short name of an input for error messages."""
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, np.ndarray):
        return f"array{tuple(src.shape)}:{src.dtype}"
    return type(src).__name__


# FFmpeg (inside OpenCV's video backend) prints its own lines ("[mpeg4 @ 0x...] header damaged") for
# every damaged packet, past OpenCV's log level; OpenCV reads this variable when it first starts
# FFmpeg and then drops every FFmpeg message (-8 is AV_LOG_QUIET). A damaged video still ends in our
# one-line error. Set here because every video reader opens through quiet_opencv below, after this
# module is imported; a value the user set (e.g. 32 to debug a stream) is kept.
FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
os.environ.setdefault(FFMPEG_LOGLEVEL_ENV, "-8")

_quiet_lock = threading.Lock()
_quiet_levels: list[int] = []  # the level each running quiet_opencv() block asked for
_saved_level: int | None = None


@contextmanager
def quiet_opencv(keep_errors: bool = False) -> Iterator[None]:
    """Silence OpenCV's own log lines for a block.

    By default all of them (decoding, encoding: a damaged file otherwise prints several
    ``[ERROR:0@...]`` lines to stderr before we raise our one-line :class:`ImageError`); with
    ``keep_errors`` only the INFO/WARNING ones (a peer model's DNN-engine notices). Nesting- and
    thread-safe: while blocks overlap the quietest level asked for (or the caller's own, if
    quieter) is in force, and the caller's level is restored when the last block ends."""
    global _saved_level
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "setLogLevel"):  # pragma: no cover - very old OpenCV
        yield
        return
    level = log.LOG_LEVEL_ERROR if keep_errors else log.LOG_LEVEL_SILENT
    with _quiet_lock:
        if not _quiet_levels:
            _saved_level = log.getLogLevel()
        _quiet_levels.append(level)
        log.setLogLevel(min(min(_quiet_levels), _saved_level))  # lower is quieter
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_levels.remove(level)
            if _quiet_levels:
                log.setLogLevel(min(min(_quiet_levels), _saved_level))
            elif _saved_level is not None:
                log.setLogLevel(_saved_level)


def _decode(buf: np.ndarray, name: str) -> np.ndarray:
    if buf.size == 0:
        raise ImageError(f"{name}: empty file")
    size = image_header_size(buf)
    limit = max_decode_pixels()
    if size is not None and size[0] * size[1] > limit:
        raise ImageError(
            f"{name}: image declares {size[0]}x{size[1]} pixels ({_mpx(size[0] * size[1])}), above the "
            f"{_mpx(limit)} decoding limit (damaged header or decompression bomb?); downscale it first "
            "or raise FEATHERFACE_MAX_IMAGE_PIXELS"
        )
    try:
        with quiet_opencv():
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # applies EXIF orientation, 16-bit -> 8-bit, drops alpha
    except cv2.error as exc:
        raise ImageError(f"{name}: cannot decode image ({str(exc).strip().splitlines()[-1]})") from None
    if img is None:
        # float or 32-bit TIFFs (and some other high-depth files) decode only unchanged: read them as
        # they are and convert like an in-memory array (floats in [0, 1] scaled to 0-255)
        try:
            with quiet_opencv():
                raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            raw = None
        if raw is not None and raw.size and raw.dtype != np.uint8:
            return array_to_bgr(raw, name=name)
        raise ImageError(f"{name}: cannot decode image (corrupt, truncated or not an image)")
    if img.size == 0:
        raise ImageError(f"{name}: image has zero size")
    return img


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR (EXIF orientation applied)."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: file not found")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory")
    if not p.is_file():  # /dev/zero, a FIFO, a socket: reading would never end (or block forever)
        raise ImageError(f"{p}: not a regular file")
    # no encoded image within the pixel limit is this big (8 bytes/pixel: 16-bit RGBA, uncompressed);
    # refuse before reading a multi-GB file (a video or disk image renamed .jpg) into memory
    max_bytes = 8 * max_decode_pixels() + (1 << 20)
    size = p.stat().st_size
    if size > max_bytes:
        raise ImageError(f"{p}: file is {size / 2**20:,.0f} MB, larger than any image within the "
                         f"{_mpx(max_decode_pixels())} decoding limit could be")
    try:
        buf = np.fromfile(str(p), dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    return _decode(buf, str(p))


def decode_image(data: bytes | bytearray | memoryview, name: str = "image") -> np.ndarray:
    """Decode an encoded image held in memory (an upload, say) as HxWx3 uint8 BGR, with the same
    pixel-limit guard as :func:`read_image`; ``name`` is what error messages call it."""
    return _decode(np.frombuffer(data, dtype=np.uint8), name)


def array_to_bgr(arr: np.ndarray, rgb: bool = False, name: str | None = None) -> np.ndarray:
    """Normalise a numpy image to contiguous HxWx3 uint8 BGR."""
    name = name or describe(arr)
    if not isinstance(arr, np.ndarray):
        raise ImageError(f"{name}: expected a numpy array")
    if arr.dtype == object or arr.dtype.kind not in "uifb":
        raise ImageError(f"{name}: unsupported dtype {arr.dtype} (expected uint8, uint16 or float)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {tuple(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name}: image has zero size {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        img = arr
    elif arr.dtype.kind == "b":
        img = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        img = (arr >> 8).astype(np.uint8)
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: image contains NaN or infinite values")
        scale = 255.0 if arr.size and float(arr.max()) <= 1.0 else 1.0
        # clip in the input's own precision: float64 values beyond float32's range must not overflow
        img = np.clip(arr * scale, 0, 255).astype(np.float32).round().astype(np.uint8)
    else:  # other ints
        img = np.clip(arr, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = np.ascontiguousarray(img[:, :, :3])
        if rgb:
            img = img[:, :, ::-1]
    elif rgb:
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def load_image(src: Any, rgb: bool = False) -> np.ndarray:
    """Any supported input -> HxWx3 uint8 BGR. ``rgb`` describes numpy inputs only."""
    if isinstance(src, (str, os.PathLike)):
        return read_image(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _decode(np.frombuffer(bytes(src), dtype=np.uint8), "<bytes>")
    if isinstance(src, np.ndarray):
        return array_to_bgr(src, rgb=rgb)
    if type(src).__module__.startswith("PIL."):
        try:
            from PIL import ImageOps  # Pillow is optional: only a PIL image given here needs it

            im = ImageOps.exif_transpose(src)
            im = im.convert("RGB")
            return array_to_bgr(np.asarray(im), rgb=True, name="PIL image")
        except ImageError:
            raise
        except Exception as exc:  # PIL raises many things for broken images
            raise ImageError(f"PIL image: cannot convert ({exc})") from None
    raise ImageError(f"unsupported input type {type(src).__name__}: pass a path, bytes, numpy array or PIL image")


def encode_image(image: np.ndarray, suffix: str = ".jpg", params: Sequence[int] = ()) -> bytes:
    """``image`` encoded in the format ``suffix`` names (OpenCV's log lines muted); raises
    :class:`ImageError` with OpenCV's reason when it cannot be encoded."""
    try:
        with quiet_opencv():  # no "[ERROR:0@...] imencode" lines next to our one-line message
            ok, buf = cv2.imencode(suffix, image, list(params))
    except cv2.error as exc:
        raise ImageError(str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error") from None
    if not ok:
        raise ImageError(f"OpenCV cannot encode {suffix}")
    return buf.tobytes()


# ------------------------------------------------------------------ resizing


def resize_by(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled by ``scale``: sides ``max(1, round(side * scale))``, INTER_AREA when
    shrinking, INTER_LINEAR otherwise; ``image`` itself when the size does not change."""
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) == (w, h):
        return image
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def resize_longer_side(image: np.ndarray, input_size: int | None) -> tuple[np.ndarray, float]:
    """Scale so that the longer side is ``input_size`` (no-op for ``None``); returns (image, scale)."""
    if input_size is None:
        return image, 1.0
    h, w = image.shape[:2]
    s = input_size / max(h, w)
    if abs(s - 1.0) < 1e-9:
        return image, 1.0
    return resize_by(image, s), s


def letterbox(image: np.ndarray, width: int, height: int | None = None) -> tuple[np.ndarray, float]:
    """Fit ``image`` inside ``width x height`` (default square) keeping its aspect ratio, pad
    bottom/right with black: returns the uint8 canvas and the scale; a point ``p`` of the canvas
    is ``p / scale`` in the original."""
    height = width if height is None else height
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    resized = resize_by(image, s)[:height, :width]  # rounding never overshoots; kept as a guard
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas, s


# ------------------------------------------------------------------ sources


def is_image_path(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS


def expand_inputs(paths: list[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """Expand folders into their image/video files (sorted); files are kept as given, even odd ones,
    so that a bad file is reported rather than silently skipped. Inside a folder, a FIFO, socket,
    device or broken link with an image/video name is skipped with a warning naming it (opening a
    FIFO would block)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            it = p.rglob("*") if recursive else p.glob("*")
            found = []
            for f in it:
                if not (is_image_path(f) or is_video_path(f)):
                    continue
                if f.is_file():
                    found.append(f)
                elif not f.is_dir():  # a FIFO, socket or device (reading would block), or a broken link
                    what = "a broken link" if f.is_symlink() and not f.exists() else "not a regular file"
                    warnings.warn(f"{f}: skipped, {what}", stacklevel=2)
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def image_files(paths: list[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """:func:`expand_inputs` keeping images only: the photos of folders (videos left out), where a
    path that is neither a folder nor an image name (a folder that does not exist) gives nothing."""
    return [p for p in expand_inputs(paths, recursive=recursive) if is_image_path(p)]

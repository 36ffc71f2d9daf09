"""Generators of bad and odd inputs, and the judge of what FeatherFace did with them.

A test tool, not part of the installed package: the fast fuzz tests (``tests/fuzz``, part of
``make test``) and the full campaign (``benchmarks/fuzz_inputs.py``, ``make fuzz``) must agree on
what "a bad input" is and on what counts as a correct reaction, so both draw their cases from
here; the hostile pickles are in :mod:`tests.fuzz.payloads`. Everything is deterministic for a seed.

The contract being checked (see ``RELIABILITY.md``): for every input the detector either returns
faces or raises a one-line :class:`~featherface.errors.FeatherFaceError` subclass naming the input
and the cause; never another exception, a crash or a hang. Label, prediction and weights files
either load, or fail with our error naming ``file:line`` (labels/predictions) or the file
(weights), or are a documented skip with a warning. Loading weights never runs code.

Pillow (a dev dependency) is needed for some image kinds (CMYK, palette, EXIF); without it those
cases are simply not generated.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
import torch

from featherface.errors import FeatherFaceError
from featherface.io.images import load_image
from featherface.models.weights import weights_dict

from tests.fuzz.payloads import CodeOnLoad, SystemOnLoad

__all__ = [
    "FACES", "ERROR", "EITHER", "Case", "Outcome", "run_case", "judge", "time_limit", "CaseTimeout",
    "must_name_for", "write_case_files", "network_input_hw",
    "base_image", "image_cases", "exif_display_image", "check_exif_marker",
    "LabelCase", "retinaface_label_cases", "wider_gt_cases", "prediction_file_cases", "HARMLESS_TEXT",
    "WeightsCase", "weights_cases",
    "CliCase", "cli_cases", "cli_workspace", "judge_cli", "tree_digest", "read_only_folder",
]

FACES = "faces"  # the input is a valid image: it must be accepted
ERROR = "error"  # the input is unusable: it must be refused with our error
EITHER = "either"  # damaged data that may or may not still decode: either outcome is fine

# --------------------------------------------------------------------------------------------
# cases and outcomes


@dataclass
class Case:
    """One input to feed the detector.

    ``build()`` makes the value (bytes for encoded files, a numpy array, a PIL image or any
    object); ``ext`` is set for bytes that can also be written to a file of that extension;
    ``shape`` is the ``(H, W)`` the decoded image must have when accepted; ``check`` inspects
    the decoded BGR image and returns a failure text or ``None``.
    """

    kind: str
    name: str
    build: Callable[[], Any]
    expect: str = EITHER
    ext: str | None = None
    shape: tuple[int, int] | None = None
    check: Callable[[np.ndarray], str | None] | None = None
    big: bool = False

    @property
    def is_file(self) -> bool:
        return self.ext is not None


@dataclass
class Outcome:
    """What happened to one input: ``faces`` (returned), ``error`` (our exception), ``unexpected``
    (another exception), ``timeout`` or ``crash`` (process died), plus a short detail."""

    status: str
    detail: str = ""
    n_faces: int = 0
    error_type: str = ""
    result: Any = None  # what the call returned (the faces), for comparisons between backends


class CaseTimeout(BaseException):
    """Raised by :func:`time_limit` (a BaseException so the code under test cannot swallow it)."""


@contextmanager
def time_limit(seconds: float, what: str = "case") -> Iterator[None]:
    """Raise :class:`CaseTimeout` if the body runs longer than ``seconds`` (SIGALRM; main thread on
    Unix only, elsewhere a no-op). A hang inside one C call is only noticed when it returns, which
    is why the campaign also runs cases in a child process with a hard kill."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"{what} took more than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(fn: Callable[[Any], Any], value: Any) -> Outcome:
    """Call ``fn(value)`` and classify the result (never raises except KeyboardInterrupt/SystemExit)."""
    try:
        out = fn(value)
    except FeatherFaceError as exc:
        return Outcome("error", str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - the point is to catch everything else
        return Outcome("unexpected", f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
    n = len(out) if hasattr(out, "__len__") else 0
    return Outcome("faces", "", n_faces=n, result=out)


def judge(case_expect: str, outcome: Outcome, must_name: str | None = None) -> str | None:
    """Failure text when ``outcome`` breaks the contract for an input expected to ``case_expect``."""
    if outcome.status in ("unexpected", "timeout", "crash"):
        return f"{outcome.status}: {outcome.detail[:300]}"
    if outcome.status == "error":
        msg = outcome.detail
        if not msg.strip() or "\n" in msg.strip():
            return f"error message is not one non-empty line: {msg!r}"
        if must_name and must_name not in msg:
            return f"error message does not name the input {must_name!r}: {msg!r}"
        if case_expect == FACES:
            return f"valid input refused: {msg}"
    if outcome.status == "faces" and case_expect == ERROR:
        return "invalid input accepted"
    return None


# --------------------------------------------------------------------------------------------
# images


def base_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A small BGR picture with structure (gradients, blocks, noise) so codecs have real work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), ((x + y) * 3) % 256], axis=2)
    img = img.astype(np.int16) + rng.integers(-20, 20, (h, w, 3))
    img[h // 4:h // 2, w // 4:w // 2] = (30, 200, 90)
    return np.clip(img, 0, 255).astype(np.uint8)


def _cv2_encode(img: np.ndarray, ext: str, params: Sequence[int] = ()) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    if not ok:  # pragma: no cover - every listed codec is in opencv-python-headless
        raise RuntimeError(f"cannot encode {ext}")
    return buf.tobytes()


def _pil() -> Any | None:
    try:
        from PIL import Image

        return Image
    except ImportError:  # pragma: no cover - pillow is a dev dependency
        return None


def _pil_bytes(im: Any, fmt: str, **kw: Any) -> bytes:
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png_header(w: int, h: int) -> bytes:
    """A PNG whose header declares ``w`` x ``h`` pixels followed by a little real pixel data:
    what a decompression bomb looks like to a decoder before it allocates."""
    row = b"\x00" * (1 + 3 * min(w, 4096))
    idat = zlib.compress(row * 4, 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def png_bomb(w: int, h: int) -> bytes:
    """A *complete*, valid PNG of ``w`` x ``h`` black pixels: tiny on disk (about 1 MB for
    20000x20000), gigabytes once decoded. Generating it streams the rows (no big allocation)."""
    co = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * w)
    parts = [co.compress(row) for _ in range(h)]
    parts.append(co.flush())
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def huge_jpeg_header(w: int, h: int) -> bytes:
    """A small real JPEG whose frame header (SOF) is rewritten to declare ``w`` x ``h``."""
    data = bytearray(_cv2_encode(base_image(16, 16), ".jpg"))
    i = 2
    while i + 9 < len(data):
        if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, h, w)
            return bytes(data)
        i += 2 + struct.unpack_from(">H", data, i + 2)[0] if data[i] == 0xFF else 1
    raise RuntimeError("no SOF marker")  # pragma: no cover


def huge_bmp_header(w: int, h: int) -> bytes:
    data = bytearray(_cv2_encode(base_image(8, 8), ".bmp"))
    struct.pack_into("<ii", data, 18, w, h)
    return bytes(data)


def huge_gif_header(w: int, h: int) -> bytes:
    data = bytearray(_cv2_encode(base_image(8, 8), ".gif"))
    struct.pack_into("<HH", data, 6, w, h)
    return bytes(data)


def exif_display_image(h: int = 64, w: int = 128) -> np.ndarray:
    """The picture as it must *look* after EXIF orientation: grey with a pure red block top-left."""
    img = np.full((h, w, 3), 128, np.uint8)
    img[:h // 4, :h // 4] = (0, 0, 255)  # BGR red
    return img


def check_exif_marker(img: np.ndarray, h: int = 64, w: int = 128) -> str | None:
    """``None`` when ``img`` (BGR) has the display shape and the red marker top-left only."""
    if img.shape[:2] != (h, w):
        return f"shape {img.shape[:2]} after orientation, expected {(h, w)}"
    q = h // 4

    def red(block: np.ndarray) -> bool:
        m = block.reshape(-1, 3).mean(axis=0)
        return bool(m[2] > 170 and m[0] < 90 and m[1] < 90)

    corners = {
        "top-left": img[2:q - 2, 2:q - 2], "top-right": img[2:q - 2, w - q + 2:w - 2],
        "bottom-left": img[h - q + 2:h - 2, 2:q - 2], "bottom-right": img[h - q + 2:h - 2, w - q + 2:w - 2],
    }
    where = [k for k, v in corners.items() if red(v)]
    if where != ["top-left"]:
        return f"red marker found at {where or 'no corner'}, expected top-left (orientation not applied correctly)"
    return None


# EXIF orientation -> the PIL transpose that *undoes* exif_transpose (so stored = undo(display))
_EXIF_UNDO = {1: None, 2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM",
              5: "TRANSPOSE", 6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}


def exif_oriented_bytes(orientation: int, fmt: str = "JPEG") -> bytes:
    """An image stored rotated/flipped, with the EXIF orientation tag that makes it display as
    :func:`exif_display_image`."""
    Image = _pil()
    assert Image is not None
    disp = Image.fromarray(exif_display_image()[:, :, ::-1].copy())  # RGB
    op = _EXIF_UNDO[orientation]
    stored = disp if op is None else disp.transpose(getattr(Image.Transpose, op))
    exif = Image.Exif()
    exif[0x0112] = orientation
    kw: dict[str, Any] = {"exif": exif.tobytes()}
    if fmt == "JPEG":
        kw["quality"] = 95
    return _pil_bytes(stored, fmt, **kw)


def _truncations(data: bytes, rng: np.random.Generator, n: int) -> list[int]:
    fixed = [1, 2, 8, 16, len(data) // 4, len(data) // 2, len(data) - 16, len(data) - 2, len(data) - 1]
    extra = rng.integers(1, max(2, len(data)), size=n).tolist()
    return sorted({int(c) for c in fixed + extra if 0 < c < len(data)})


def _bitflip(data: bytes, rng: np.random.Generator, n_bits: int, head: bool) -> bytes:
    b = bytearray(data)
    hi = min(len(b), 256) if head else len(b)
    for pos in rng.integers(0, hi, size=n_bits):
        b[int(pos)] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def _formats() -> dict[str, Callable[[np.ndarray], bytes]]:
    """Encoders of the base image, keyed by file extension."""
    fm: dict[str, Callable[[np.ndarray], bytes]] = {
        ".jpg": lambda im: _cv2_encode(im, ".jpg", (1, 90)),  # IMWRITE_JPEG_QUALITY
        ".png": lambda im: _cv2_encode(im, ".png"),
        ".bmp": lambda im: _cv2_encode(im, ".bmp"),
        ".webp": lambda im: _cv2_encode(im, ".webp"),
        ".tiff": lambda im: _cv2_encode(im, ".tiff"),
        ".ppm": lambda im: _cv2_encode(im, ".ppm"),
        ".jp2": lambda im: _cv2_encode(im, ".jp2"),
        ".gif": lambda im: _cv2_encode(im, ".gif"),
    }
    return fm


def _const(v: Any) -> Callable[[], Any]:
    return lambda: v


def image_cases(seed: int = 0, random_per_format: int = 4, big: bool = False) -> list[Case]:
    """Every kind of bad or odd image input.

    ``random_per_format`` scales the randomised kinds (truncations, bit flips, random bytes):
    about 4 gives ~250 cases (the fast test subset), about 30 gives >1,000 (the campaign).
    ``big`` adds the 12000x12000 JPEG (slow: ~10 s and ~1 GB to detect).
    """
    rng = np.random.default_rng(seed)
    Image = _pil()
    cases: list[Case] = []
    add = cases.append
    base = base_image()
    encoded = {ext: enc(base) for ext, enc in _formats().items()}

    # --- valid files of every format (the control group)
    for ext, data in encoded.items():
        add(Case("valid-format", f"valid{ext}", _const(data), FACES, ext=ext, shape=base.shape[:2]))

    # --- truncated, bit-flipped, random bytes, magic + garbage
    for ext, data in encoded.items():
        for cut in _truncations(data, rng, random_per_format):
            add(Case("truncated", f"trunc{ext}@{cut}", _const(data[:cut]), EITHER, ext=ext))
        for k in range(random_per_format * 2):
            n_bits = int(rng.choice([1, 2, 4, 16, 64]))
            head = bool(k % 2 == 0)
            add(Case("bit-flipped", f"flip{ext}#{k}-{n_bits}{'h' if head else ''}",
                     _const(_bitflip(data, rng, n_bits, head)), EITHER, ext=ext))
        add(Case("magic+garbage", f"magic{ext}", _const(data[:16] + rng.bytes(512)), EITHER, ext=ext))
    exts = list(encoded) + [".jpeg", ".JPG", ".tif"]
    for k in range(random_per_format * 6):
        ext = exts[k % len(exts)]
        n = int(rng.choice([1, 3, 100, 4096]))
        add(Case("random-bytes", f"random{ext}#{k}-{n}", _const(rng.bytes(n)), ERROR, ext=ext))
    for ext in (".jpg", ".png"):
        add(Case("empty-file", f"empty{ext}", _const(b""), ERROR, ext=ext))
        add(Case("text-as-image", f"text{ext}", _const(b"hello, I am not a picture\n" * 20), ERROR, ext=ext))

    # --- sizes: tiny, extreme aspect ratios, decompression bombs
    for h, w in ((1, 1), (1, 2), (2, 1), (1, 10000), (10000, 1), (3, 5000)):
        tile = np.full((h, w, 3), 77, np.uint8)
        for ext in (".png", ".jpg"):
            add(Case("tiny-or-thin", f"{h}x{w}{ext}", (lambda t=tile, e=ext: _cv2_encode(t, e)), FACES, ext=ext,
                     shape=(h, w)))
    for maker, ext in ((huge_png_header, ".png"), (huge_bmp_header, ".bmp"), (huge_gif_header, ".gif"),
                       (huge_jpeg_header, ".jpg")):
        for w, h in ((0, 0), (0, 5), (5, 0)):
            add(Case("zero-size", f"{w}x{h}{ext}", (lambda m=maker, w=w, h=h: m(w, h)), ERROR, ext=ext))
    for w, h in ((20000, 20000), (65535, 65535), (100000, 3000), (2**31 - 1, 2)):
        add(Case("huge-header", f"bomb{w}x{h}.png", (lambda w=w, h=h: huge_png_header(w, h)), ERROR, ext=".png"))
    add(Case("huge-header", "bomb60000x60000.jpg", lambda: huge_jpeg_header(60000, 60000), ERROR, ext=".jpg"))
    add(Case("huge-header", "bomb50000x50000.bmp", lambda: huge_bmp_header(50000, 50000), EITHER, ext=".bmp"))
    add(Case("huge-header", "bomb65535x65535.gif", lambda: huge_gif_header(65535, 65535), EITHER, ext=".gif"))
    if big:
        def big_jpeg() -> bytes:
            img = np.zeros((12000, 12000, 3), np.uint8)
            img[::97] = 200
            img[:, ::89] = 100
            return _cv2_encode(img, ".jpg", (1, 70))

        add(Case("big-12000", "12000x12000.jpg", big_jpeg, FACES, ext=".jpg", shape=(12000, 12000), big=True))

    # --- bit depths and colour modes
    add(Case("bit-depth", "16bit-color.png", lambda: _cv2_encode((base.astype(np.uint16) * 257), ".png"), FACES,
             ext=".png", shape=base.shape[:2]))
    add(Case("bit-depth", "16bit-gray.png", lambda: _cv2_encode(base[:, :, 0].astype(np.uint16) * 257, ".png"),
             FACES, ext=".png", shape=base.shape[:2]))
    add(Case("bit-depth", "16bit-color.tiff", lambda: _cv2_encode(base.astype(np.uint16) * 257, ".tiff"), FACES,
             ext=".tiff", shape=base.shape[:2]))
    add(Case("color-mode", "gray.jpg", lambda: _cv2_encode(base[:, :, 1], ".jpg"), FACES, ext=".jpg",
             shape=base.shape[:2]))
    add(Case("color-mode", "gray.png", lambda: _cv2_encode(base[:, :, 1], ".png"), FACES, ext=".png",
             shape=base.shape[:2]))
    add(Case("color-mode", "bgra.png", lambda: _cv2_encode(np.dstack([base, np.full(base.shape[:2], 7, np.uint8)]),
                                                            ".png"), FACES, ext=".png", shape=base.shape[:2]))
    if Image is not None:
        rgb = Image.fromarray(base[:, :, ::-1].copy())
        modes: list[tuple[str, str, Callable[[], bytes]]] = [
            ("cmyk.jpg", ".jpg", lambda: _pil_bytes(rgb.convert("CMYK"), "JPEG")),
            ("palette.png", ".png", lambda: _pil_bytes(rgb.convert("P"), "PNG")),
            ("palette-transparent.png", ".png", lambda: _pil_bytes(rgb.convert("P"), "PNG", transparency=0)),
            ("palette.gif", ".gif", lambda: _pil_bytes(rgb.convert("P"), "GIF")),
            ("animated.gif", ".gif", lambda: _pil_bytes(rgb, "GIF", save_all=True, duration=50, loop=0,
                                                        append_images=[rgb.rotate(90), rgb.rotate(180)])),
            ("animated.webp", ".webp", lambda: _pil_bytes(rgb, "WEBP", save_all=True, duration=50,
                                                          append_images=[rgb.rotate(90)])),
            ("rgba.png", ".png", lambda: _pil_bytes(rgb.convert("RGBA"), "PNG")),
            ("rgba.webp", ".webp", lambda: _pil_bytes(rgb.convert("RGBA"), "WEBP")),
            ("la.png", ".png", lambda: _pil_bytes(rgb.convert("LA"), "PNG")),
            ("1bit.png", ".png", lambda: _pil_bytes(rgb.convert("1"), "PNG")),
            ("1bit.bmp", ".bmp", lambda: _pil_bytes(rgb.convert("1"), "BMP")),
            ("i16.png", ".png", lambda: _pil_bytes(rgb.convert("L").convert("I;16"), "PNG")),
            ("gray.tiff", ".tiff", lambda: _pil_bytes(rgb.convert("L"), "TIFF")),
            ("cmyk.tiff", ".tiff", lambda: _pil_bytes(rgb.convert("CMYK"), "TIFF")),
            ("progressive.jpg", ".jpg", lambda: _pil_bytes(rgb, "JPEG", progressive=True)),
            ("ycbcr-444.jpg", ".jpg", lambda: _pil_bytes(rgb, "JPEG", subsampling=0)),
        ]
        for name, ext, fn in modes:
            add(Case("color-mode", name, fn, FACES, ext=ext, shape=base.shape[:2]))
        # EXIF orientations 1-8 in JPEG (what cameras write), PNG and WebP
        for fmt, ext in (("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")):
            for o in range(1, 9):
                add(Case("exif-orientation", f"exif{o}{ext}", (lambda o=o, f=fmt: exif_oriented_bytes(o, f)), FACES,
                         ext=ext, shape=(64, 128), check=check_exif_marker))

    cases.extend(array_cases(rng, random_per_format))
    cases.extend(object_cases(encoded, Image))
    return cases


def array_cases(rng: np.random.Generator, random_per_format: int = 4) -> list[Case]:
    """numpy inputs: every dtype, non-finite values, odd shapes, views with odd strides."""
    base = base_image()
    h, w = base.shape[:2]
    cases: list[Case] = []
    add = cases.append
    f01 = base.astype(np.float64) / 255.0
    dtypes_ok: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("uint8", lambda: base.copy()),
        ("uint16", lambda: base.astype(np.uint16) * 257),
        ("int8", lambda: (base // 2).astype(np.int8)),
        ("int16-negative", lambda: base.astype(np.int16) - 128),
        ("int32", lambda: base.astype(np.int32)),
        ("int64-huge", lambda: base.astype(np.int64) * 10**12),
        ("uint32", lambda: base.astype(np.uint32) << 20),
        ("uint64", lambda: base.astype(np.uint64)),
        ("float16-01", lambda: f01.astype(np.float16)),
        ("float32-01", lambda: f01.astype(np.float32)),
        ("float64-01", lambda: f01),
        ("float32-0255", lambda: base.astype(np.float32)),
        ("float64-negative", lambda: f01 - 0.5),
        ("float64-1e300", lambda: np.full((h, w, 3), 1e300)),
        ("float64-tiny", lambda: np.full((h, w, 3), 1e-300)),
        ("float32-subnormal", lambda: np.full((h, w, 3), 1e-40, np.float32)),
        ("bool", lambda: base[:, :, 0] > 100),
        ("all-zero", lambda: np.zeros((h, w, 3), np.uint8)),
        ("all-255", lambda: np.full((h, w, 3), 255, np.uint8)),
    ]
    for name, fn in dtypes_ok:
        add(Case("array-dtype", name, fn, FACES, shape=(h, w)))
    dtypes_bad: list[tuple[str, Callable[[], Any]]] = [
        ("complex64", lambda: base.astype(np.complex64)),
        ("object", lambda: base.astype(object)),
        ("str", lambda: base.astype(str)),
        ("bytes", lambda: base.astype("S3")),
        ("datetime64", lambda: base.astype("datetime64[s]")),
        ("timedelta64", lambda: base.astype("timedelta64[s]")),
        ("structured", lambda: np.zeros((h, w), dtype=[("b", "u1"), ("g", "u1"), ("r", "u1")])),
        ("void", lambda: np.zeros((h, w, 3), dtype="V1")),
    ]
    for name, fn in dtypes_bad:
        add(Case("array-dtype", name, fn, ERROR))
    nonfinite: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("all-nan", lambda: np.full((h, w, 3), np.nan, np.float32)),
        ("one-nan", lambda: _poke(f01.copy(), np.nan)),
        ("one-inf", lambda: _poke(f01.copy(), np.inf)),
        ("one-neg-inf", lambda: _poke(f01.astype(np.float32), -np.inf)),
        ("float16-inf", lambda: _poke(f01.astype(np.float16), np.inf)),
        ("all-inf", lambda: np.full((h, w), np.inf)),
    ]
    for name, fn in nonfinite:
        add(Case("array-nonfinite", name, fn, ERROR))
    shapes_ok: list[tuple[str, Callable[[], np.ndarray], tuple[int, int]]] = [
        ("HxW", lambda: base[:, :, 0].copy(), (h, w)),
        ("HxWx1", lambda: base[:, :, :1].copy(), (h, w)),
        ("HxWx4", lambda: np.dstack([base, np.zeros((h, w), np.uint8)]), (h, w)),
        ("1x1x3", lambda: np.zeros((1, 1, 3), np.uint8), (1, 1)),
        ("1x1", lambda: np.zeros((1, 1), np.uint8), (1, 1)),
        ("1x10000x3", lambda: np.full((1, 10000, 3), 9, np.uint8), (1, 10000)),
        ("10000x1x3", lambda: np.full((10000, 1, 3), 9, np.uint8), (10000, 1)),
        ("2x3000", lambda: np.full((2, 3000), 200, np.uint8), (2, 3000)),
    ]
    for name, fn, shp in shapes_ok:
        add(Case("array-shape", name, fn, FACES, shape=shp))
    shapes_bad: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("0x0x3", lambda: np.zeros((0, 0, 3), np.uint8)),
        ("0x5x3", lambda: np.zeros((0, 5, 3), np.uint8)),
        ("5x0x3", lambda: np.zeros((5, 0, 3), np.uint8)),
        ("0x0", lambda: np.zeros((0, 0), np.float32)),
        ("HxWx0", lambda: np.zeros((h, w, 0), np.uint8)),
        ("HxWx2", lambda: base[:, :, :2].copy()),
        ("HxWx5", lambda: np.zeros((h, w, 5), np.uint8)),
        ("CHW-3x48x64", lambda: base.transpose(2, 0, 1).copy()),
        ("batch-1xHxWx3", lambda: base[None].copy()),
        ("1-D", lambda: base.reshape(-1).copy()),
        ("0-D", lambda: np.array(7, np.uint8)),
        ("empty-1-D", lambda: np.zeros(0, np.uint8)),
        ("5-D", lambda: np.zeros((1, 2, 3, 4, 5), np.uint8)),
    ]
    for name, fn in shapes_bad:
        add(Case("array-shape", name, fn, ERROR))
    big_src = base_image(96, 128, seed=1)
    views: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("step-2-3", lambda: big_src[::2, ::3]),
        ("negative-rows", lambda: big_src[::-1]),
        ("negative-cols", lambda: big_src[:, ::-1]),
        ("negative-channels", lambda: big_src[:, :, ::-1]),
        ("negative-all", lambda: big_src[::-3, ::-2, ::-1]),
        ("fortran-order", lambda: np.asfortranarray(big_src)),
        ("transposed", lambda: big_src.transpose(1, 0, 2)),
        ("channel-slice-of-4", lambda: np.dstack([big_src, big_src[:, :, :1]])[:, :, 1:4]),
        ("zero-stride-broadcast", lambda: np.broadcast_to(big_src[:1], big_src.shape)),
        ("read-only", lambda: _readonly(big_src.copy())),
        ("misaligned-uint16", lambda: _misaligned_u16(big_src)),
        ("big-endian-uint16", lambda: (big_src.astype(">u2") * 257)),
        ("big-endian-float32", lambda: (big_src / 255.0).astype(">f4")),
    ]
    for name, fn in views:
        add(Case("array-layout", name, fn, FACES, shape=fn().shape[:2], check=_same_as_contiguous(fn)))
    for k in range(random_per_format):
        shape = tuple(int(v) for v in rng.integers(1, 200, size=2)) + (3,)
        add(Case("array-random", f"random-uint8-{shape[0]}x{shape[1]}",
                 (lambda s=shape, sd=k: np.random.default_rng(sd).integers(0, 256, s, dtype=np.uint8)), FACES,
                 shape=shape[:2]))
    return cases


def _same_as_contiguous(fn: Callable[[], np.ndarray]) -> Callable[[np.ndarray], str | None]:
    """Check that a strided/foreign-layout view decodes exactly like its contiguous native copy."""

    def check(img: np.ndarray) -> str | None:
        v = fn()
        ref = load_image(np.ascontiguousarray(v).astype(v.dtype.newbyteorder("=")))
        if img.shape != ref.shape or not np.array_equal(img, ref):
            return "decoded differently from its contiguous copy (stride/byte-order handling)"
        return None

    return check


def _poke(a: np.ndarray, v: float) -> np.ndarray:
    a.reshape(-1)[a.size // 2] = v
    return a


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _misaligned_u16(src: np.ndarray) -> np.ndarray:
    raw = np.zeros(src.size * 2 + 1, np.uint8)
    view = np.frombuffer(raw.data, dtype=np.uint16, count=src.size, offset=1).reshape(src.shape)
    return view


def object_cases(encoded: dict[str, bytes], Image: Any | None) -> list[Case]:
    """Inputs that are not arrays or files: None, numbers, containers, bytes-likes, PIL images."""
    cases: list[Case] = []
    add = cases.append
    for name, v in (("None", None), ("int", 42), ("float", 3.5), ("list-of-lists", [[1, 2], [3, 4]]),
                    ("dict", {"image": 1}), ("set", {1}), ("object", object())):
        add(Case("object", name, _const(v), ERROR))
    add(Case("object", "bytearray-jpg", _const(bytearray(encoded[".jpg"])), FACES, shape=(48, 64)))
    add(Case("object", "memoryview-png", _const(memoryview(encoded[".png"])), FACES, shape=(48, 64)))
    add(Case("object", "empty-bytes", _const(b""), ERROR))
    add(Case("object", "torch-tensor", lambda: __import__("torch").zeros(3, 8, 8), ERROR))
    if Image is not None:
        rgb = Image.fromarray(base_image()[:, :, ::-1].copy())
        pil_modes: list[tuple[str, Callable[[], Any], str]] = [
            ("pil-RGB", lambda: rgb, FACES),
            ("pil-L", lambda: rgb.convert("L"), FACES),
            ("pil-P", lambda: rgb.convert("P"), FACES),
            ("pil-CMYK", lambda: rgb.convert("CMYK"), FACES),
            ("pil-RGBA", lambda: rgb.convert("RGBA"), FACES),
            ("pil-LA", lambda: rgb.convert("LA"), FACES),
            ("pil-1", lambda: rgb.convert("1"), FACES),
            ("pil-I", lambda: rgb.convert("I"), FACES),
            ("pil-I;16", lambda: rgb.convert("L").convert("I;16"), FACES),
            ("pil-F", lambda: rgb.convert("F"), FACES),
            ("pil-YCbCr", lambda: rgb.convert("YCbCr"), FACES),
            ("pil-HSV", lambda: rgb.convert("HSV"), FACES),
            ("pil-0x0", lambda: Image.new("RGB", (0, 0)), ERROR),
            ("pil-truncated-jpeg", lambda: Image.open(io.BytesIO(encoded[".jpg"][: len(encoded[".jpg"]) // 2])),
             EITHER),
            ("pil-lazy-png", lambda: Image.open(io.BytesIO(encoded[".png"])), FACES),
        ]
        for name, fn, exp in pil_modes:
            add(Case("pil", name, fn, exp, shape=(48, 64) if exp == FACES else None))
        for o in range(1, 9):
            add(Case("pil-exif", f"pil-exif{o}", (lambda o=o: Image.open(io.BytesIO(exif_oriented_bytes(o)))), FACES,
                     shape=(64, 128), check=check_exif_marker))
    return cases


def network_input_hw(h: int, w: int, max_size: int | None = None, pad: int = 32) -> tuple[int, int]:
    """The padded ``(H, W)`` the detector feeds its network for an ``h`` x ``w`` image (default
    settings), to check from the model side that orientation and resizing really happened."""
    if max_size is None:
        from featherface.inference.options import DetectorOptions

        max_size = DetectorOptions().max_size
    s = min(1.0, max_size / max(h, w))
    nh, nw = (max(1, round(h * s)), max(1, round(w * s))) if s != 1.0 else (h, w)
    return -(-nh // pad) * pad, -(-nw // pad) * pad


def must_name_for(case: Case, value: Any, path: Path | None = None) -> str | None:
    """The text an error message about this input must contain."""
    if path is not None:
        return str(path)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(value, np.ndarray):
        return "array("
    if type(value).__module__.startswith("PIL."):
        return "PIL"
    return None


def write_case_files(cases: Iterable[Case], folder: Path) -> dict[str, Path]:
    """Write the byte cases as files ``<folder>/<index>_<name><ext>``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for i, c in enumerate(cases):
        if not c.is_file:
            continue
        stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in c.name.rsplit(".", 1)[0])
        p = folder / f"{i:04d}_{stem}{c.ext}"
        p.write_bytes(c.build())
        out[c.name] = p
    return out


# --------------------------------------------------------------------------------------------
# label and prediction files

#: transformations that must not change what a text file means
HARMLESS_TEXT: dict[str, Callable[[str], bytes]] = {
    "bom": lambda t: b"\xef\xbb\xbf" + t.encode(),
    "crlf": lambda t: t.replace("\n", "\r\n").encode(),
    "cr": lambda t: t.replace("\n", "\r").encode(),
    "bom+crlf": lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode(),
    "no-final-newline": lambda t: t.rstrip("\n").encode(),
    "trailing-blank-lines": lambda t: (t + "\n\n  \n").encode(),
    "trailing-spaces": lambda t: "\n".join(ln + "  \t" for ln in t.split("\n")).encode(),
    "tabs": lambda t: "\n".join(ln if ln.startswith("#") else ln.replace(" ", "\t") for ln in t.split("\n")).encode(),
}


@dataclass
class LabelCase:
    """A mutated text file. ``expect``: ``"same"`` (parses to what the original parses to),
    ``"error"`` (LabelFormatError naming ``file:line``; ``line`` when known), ``"either"``
    (parses to something, or fails with our error), ``"empty"`` (no entries)."""

    kind: str
    name: str
    data: bytes
    expect: str
    line: int | None = None
    strict: bool = True
    notes: str = ""


def _lines(t: str) -> list[str]:
    return t.split("\n")


def _replace_line(text: str, idx: int, new: str | None) -> str:
    ls = _lines(text)
    if new is None:
        del ls[idx]
    else:
        ls[idx] = new
    return "\n".join(ls)


def _generic_mutations(text: str, rng: np.random.Generator, n_random: int, kind_prefix: str) -> list[LabelCase]:
    cases = [LabelCase("harmless", f"{kind_prefix}-{k}", fn(text), "same") for k, fn in HARMLESS_TEXT.items()]
    data = text.encode()
    cases.append(LabelCase("empty", f"{kind_prefix}-empty", b"", "empty"))
    cases.append(LabelCase("empty", f"{kind_prefix}-whitespace-only", b"  \n\n\t\n", "empty"))
    cases.append(LabelCase("binary", f"{kind_prefix}-binary-garbage", bytes(rng.integers(0, 256, 400, dtype=np.uint8)),
                           "error"))
    cases.append(LabelCase("binary", f"{kind_prefix}-nul-bytes", data[:20] + b"\x00\x00\x00" + data[20:], "either"))
    cases.append(LabelCase("binary", f"{kind_prefix}-latin1", text.replace("a", "\xe9", 1).encode("latin-1"), "error"))
    cases.append(LabelCase("binary", f"{kind_prefix}-utf16", text.encode("utf-16"), "error"))
    for k, cut in enumerate(sorted({int(c) for c in rng.integers(1, len(data), size=n_random)})):
        cases.append(LabelCase("truncated", f"{kind_prefix}-trunc@{cut}", data[:cut], "either"))
    tokens = ["nan", "NaN", "inf", "-inf", "1e999", "", "x", "0x10", "1_000", "１２", "--1", "1.2.3", "∞", "-0",
              "1e-320", "9" * 400]
    ls = _lines(text)
    numeric_rows = [i for i, ln in enumerate(ls) if ln.strip() and ln.split()[0].lstrip("-").replace(".", "").isdigit()]
    for k in range(n_random):
        i = int(rng.choice(numeric_rows))
        toks = ls[i].split()
        j = int(rng.integers(0, len(toks)))
        toks[j] = str(rng.choice(tokens))
        cases.append(LabelCase("token-mutation", f"{kind_prefix}-token#{k}:{i + 1}:{toks[j]!r}",
                               _replace_line(text, i, " ".join(toks)).encode(), "either", line=i + 1))
    for k in range(n_random):
        b = bytearray(data)
        for pos in rng.integers(0, len(b), size=int(rng.integers(1, 6))):
            b[int(pos)] = int(rng.integers(0, 256))
        cases.append(LabelCase("byte-mutation", f"{kind_prefix}-bytes#{k}", bytes(b), "either"))
    return cases


RETINA_TEXT = """# 0--Parade/0_Parade_marchingband_1_849.jpg
449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 515.031 412.83 0.0 485.174 425.893 0.0 538.357 431.491 0.0 0.82
# 0--Parade/0_Parade_Parade_0_904.jpg
361 98 263 339 424.143 251.656 0.0 547.134 232.571 0.0 494.121 325.875 0.0 453.83 368.286 0.0 561.978 342.839 0.0 0.89
10 20 30 40
# 0--Parade/0_Parade_marchingband_1_799.jpg
78 221 7 8 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0
78 238 14 17 84.188 244.607 1.0 89.527 244.491 1.0 86.973 247.857 1.0 85.116 250.643 1.0 88.482 250.643 1.0 0.36
# 1--Handshaking/no faces here.jpg
"""


def retinaface_label_cases(seed: int = 0, n_random: int = 8) -> list[LabelCase]:
    """Mutations of a RetinaFace ``label.txt`` (the generic ones plus format-specific breakage)."""
    rng = np.random.default_rng(seed)
    t = RETINA_TEXT
    cases = _generic_mutations(t, rng, n_random, "retina")
    add = cases.append
    add(LabelCase("wrong-columns", "retina-19-numbers",
                  _replace_line(t, 1, " ".join(_lines(t)[1].split()[:19])).encode(),
                  "error", line=2))
    add(LabelCase("wrong-columns", "retina-5-numbers", _replace_line(t, 4, "10 20 30 40 50").encode(), "error", line=5))
    add(LabelCase("wrong-columns", "retina-3-numbers", _replace_line(t, 4, "10 20 30").encode(), "error", line=5))
    add(LabelCase("wrong-columns", "retina-21-numbers", _replace_line(t, 3, _lines(t)[3] + " 7").encode(), "error",
                  line=4))
    add(LabelCase("negative-size", "retina-negative-w", _replace_line(t, 4, "10 20 -30 40").encode(), "error", line=5))
    add(LabelCase("negative-size", "retina-negative-w-lenient", _replace_line(t, 4, "10 20 -30 40").encode(), "either",
                  line=5, strict=False, notes="strict=False: skipped with one warning"))
    add(LabelCase("nan", "retina-nan-box", _replace_line(t, 4, "10 nan 30 40").encode(), "error", line=5))
    add(LabelCase("nan", "retina-inf-landmark", _replace_line(t, 1, _lines(t)[1].replace("488.906", "inf")).encode(),
                  "error", line=2))
    add(LabelCase("missing-header", "retina-face-before-header", ("10 20 30 40\n" + t).encode(), "error", line=1))
    add(LabelCase("missing-header", "retina-empty-header", _replace_line(t, 2, "#").encode(), "error", line=3))
    add(LabelCase("duplicate", "retina-duplicate-image", (t + _lines(t)[0] + "\n1 2 30 40\n").encode(), "either",
                  notes="duplicate image entries are returned as separate entries"))
    add(LabelCase("missing-path", "retina-text-line", _replace_line(t, 4, "hello world").encode(), "error", line=5))
    return cases


WIDER_TEXT = """0--Parade/0_Parade_marchingband_1_849.jpg
1
449 330 122 149 0 0 0 0 0 0
0--Parade/0_Parade_Parade_0_904.jpg
2
361 98 263 339 0 0 0 0 0 0
10 20 30 40 2 0 0 0 1 0
0--Parade/0_Parade_marchingband_1_799.jpg
0
0 0 0 0 0 0 0 0 0 0
0--Parade/0_Parade_marchingband_1_117.jpg
1
69 359 50 36 1 0 0 1 0 0
"""


def wider_gt_cases(seed: int = 0, n_random: int = 8) -> list[LabelCase]:
    """Mutations of a WIDER ``wider_face_*_bbx_gt.txt``."""
    rng = np.random.default_rng(seed + 1)
    t = WIDER_TEXT
    cases = _generic_mutations(t, rng, n_random, "wider")
    add = cases.append
    add(LabelCase("missing-count", "wider-missing-count", _replace_line(t, 1, None).encode(), "error", line=2))
    add(LabelCase("missing-count", "wider-count-too-high", _replace_line(t, 4, "3").encode(), "error"))
    add(LabelCase("missing-count", "wider-count-too-low", _replace_line(t, 4, "1").encode(), "error", line=7))
    add(LabelCase("missing-count", "wider-count-not-int", _replace_line(t, 1, "1.5").encode(), "error", line=2))
    add(LabelCase("missing-count", "wider-count-negative", _replace_line(t, 1, "-1").encode(), "error", line=2))
    add(LabelCase("wrong-columns", "wider-9-columns", _replace_line(t, 2, "449 330 122 149 0 0 0 0 0").encode(),
                  "error",
                  line=3))
    add(LabelCase("wrong-columns", "wider-4-columns", _replace_line(t, 2, "449 330 122 149").encode(), "error", line=3))
    add(LabelCase("negative-size", "wider-negative-h", _replace_line(t, 2, "449 330 122 -149 0 0 0 0 0 0").encode(),
                  "error", line=3))
    add(LabelCase("negative-size", "wider-negative-h-lenient",
                  _replace_line(t, 2, "449 330 122 -149 0 0 0 0 0 0").encode(), "either", line=3, strict=False))
    add(LabelCase("nan", "wider-nan", _replace_line(t, 2, "449 nan 122 149 0 0 0 0 0 0").encode(), "error", line=3))
    add(LabelCase("truncated", "wider-ends-after-count", "\n".join(_lines(t)[:5]).encode(), "error"))
    add(LabelCase("duplicate", "wider-duplicate-image", (t + "\n".join(_lines(t)[:3]) + "\n").encode(), "either",
                  notes="duplicate image entries are returned as separate entries"))
    add(LabelCase("missing-path", "wider-missing-path", _replace_line(t, 3, None).encode(), "error"))
    return cases


PRED_TEXT = """0_Parade_marchingband_1_849
3
449.000 330.000 122.000 149.000 0.99
10.500 20.000 30.000 40.000 0.5
300.000 300.000 12.000 12.000 0.02
"""


def prediction_file_cases(seed: int = 0, n_random: int = 8) -> list[LabelCase]:
    """Mutations of one WIDER prediction file ``<event>/<image>.txt`` (image name on line 1)."""
    rng = np.random.default_rng(seed + 2)
    t = PRED_TEXT
    cases = _generic_mutations(t, rng, n_random, "pred")
    add = cases.append
    add(LabelCase("missing-count", "pred-missing-count", _replace_line(t, 1, None).encode(), "error", line=2))
    add(LabelCase("missing-count", "pred-count-too-high", _replace_line(t, 1, "4").encode(), "error", line=2))
    add(LabelCase("missing-count", "pred-count-too-low", _replace_line(t, 1, "2").encode(), "error", line=2))
    add(LabelCase("missing-count", "pred-count-float", _replace_line(t, 1, "3.0").encode(), "error", line=2))
    add(LabelCase("missing-count", "pred-name-only", b"0_Parade_marchingband_1_849\n", "error", line=2))
    add(LabelCase("wrong-columns", "pred-4-columns", _replace_line(t, 2, "449 330 122 149").encode(), "error", line=3))
    add(LabelCase("wrong-columns", "pred-6-columns", _replace_line(t, 3, "1 2 3 4 0.5 9").encode(), "error", line=4))
    add(LabelCase("negative-size", "pred-negative-w", _replace_line(t, 3, "10 20 -30 40 0.5").encode(), "error",
                  line=4))
    add(LabelCase("nan", "pred-nan-score", _replace_line(t, 4, "300 300 12 12 nan").encode(), "error", line=5))
    add(LabelCase("nan", "pred-inf-x", _replace_line(t, 2, "inf 330 122 149 0.99").encode(), "error", line=3))
    add(LabelCase("wrong-name", "pred-other-image-name", _replace_line(t, 0, "0_Parade_Parade_0_904").encode(), "error",
                  line=1))
    add(LabelCase("wrong-name", "pred-name-with-ext-and-folder",
                  _replace_line(t, 0, "0--Parade/0_Parade_marchingband_1_849.jpg").encode(), "same"))
    add(LabelCase("harmless", "pred-blank-lines-between-boxes", t.replace("0.99\n", "0.99\n\n   \n").encode(), "same"))
    add(LabelCase("harmless", "pred-reordered-boxes",
                  "\n".join(_lines(t)[:2] + _lines(t)[2:5][::-1]).encode() + b"\n", "same"))
    return cases


# --------------------------------------------------------------------------------------------
# weights files


@dataclass
class WeightsCase:
    """A weights file to write; ``expect`` is ``"error"`` (WeightsError when loaded into the model)
    or ``"ok"``; ``marker`` is a file that must NOT exist after any attempt to load it."""

    kind: str
    name: str
    data: bytes
    expect: str = "error"
    marker: str | None = None
    notes: str = field(default="")
    readable: bool = False  # read_weights() accepts it (valid file of another architecture)


def _torch_bytes(obj: Any, **kw: Any) -> bytes:
    bio = io.BytesIO()
    torch.save(obj, bio, **kw)
    return bio.getvalue()


def weights_cases(model: Any, other_arch_model: Any, marker_dir: Path, seed: int = 0,
                  n_random: int = 6) -> list[WeightsCase]:
    """Broken, foreign and hostile weights files for ``model`` (a FeatherFace).

    ``other_arch_model`` is a model of another architecture (V1 weights into V2).
    """
    rng = np.random.default_rng(seed)
    good_obj = weights_dict(model)
    good = _torch_bytes(good_obj)
    cases: list[WeightsCase] = [WeightsCase("valid", "valid.pt", good, "ok")]
    add = cases.append
    add(WeightsCase("zero-byte", "empty.pt", b""))
    for cut in sorted({1, 10, 100, len(good) // 2, len(good) - 22, len(good) - 1}
                      | {int(c) for c in rng.integers(1, len(good), size=n_random)}):
        add(WeightsCase("truncated", f"trunc@{cut}.pt", good[:cut]))
    for k in range(n_random):
        add(WeightsCase("random-bytes", f"random#{k}.pt", rng.bytes(int(rng.choice([1, 64, 4096, 100000])))))
    add(WeightsCase("random-bytes", "zip-header+garbage.pt", b"PK\x03\x04" + rng.bytes(2000)))
    add(WeightsCase("wrong-arch", "v1-weights.pt", _torch_bytes(weights_dict(other_arch_model)), readable=True))
    add(WeightsCase("plain-state-dict", "state_dict.pt", _torch_bytes(model.state_dict())))
    add(WeightsCase("plain-state-dict", "state_dict-nested.pt", _torch_bytes({"state_dict": model.state_dict()})))
    add(WeightsCase("not-weights", "json.pt", b'{"format": "featherface-weights"}'))
    add(WeightsCase("not-weights", "list.pt", _torch_bytes([1, 2, 3])))
    add(WeightsCase("not-weights", "tensor.pt", _torch_bytes(torch.zeros(3))))
    # the FeatherFace header with broken content
    for key in ("model", "config", "state_dict", "sha256"):
        d = dict(good_obj)
        del d[key]
        add(WeightsCase("broken-header", f"no-{key}.pt", _torch_bytes(d)))
    for label, patch in (
        ("state_dict-is-list", {"state_dict": [1, 2]}),
        ("state_dict-has-str", {"state_dict": {**good_obj["state_dict"], "extra": "text"}}),
        ("state_dict-int-keys", {"state_dict": {1: torch.zeros(1)}}),
        ("config-is-str", {"config": "nope"}),
        ("config-is-list", {"config": [1, 2]}),
        ("model-is-int", {"model": 5}),
        ("sha-is-int", {"sha256": 5}),
        ("meta-is-list", {"meta": [1]}),
        ("meta-is-str", {"meta": "text"}),
        ("nested-checkpoint-weights-not-dict", {"weights": 3}),
    ):
        add(WeightsCase("broken-header", f"{label}.pt", _torch_bytes({**good_obj, **patch}),
                        "ok" if label == "nested-checkpoint-weights-not-dict" else "error"))
    # tensors edited after the checksum was taken (a damaged or tampered file)
    edited = {k: v.clone() for k, v in good_obj["state_dict"].items()}
    first_float = next(k for k, v in edited.items() if v.is_floating_point() and v.numel())
    edited[first_float].view(-1)[0] += 1.0
    add(WeightsCase("checksum", "edited-tensor.pt", _torch_bytes({**good_obj, "state_dict": edited})))
    nan_sd = {k: v.clone() for k, v in good_obj["state_dict"].items()}
    nan_sd[first_float].view(-1)[0] = float("nan")
    add(WeightsCase("checksum", "nan-tensor.pt", _torch_bytes({**good_obj, "state_dict": nan_sd})))
    # bit flips inside the stored tensor bytes (zip entries stored uncompressed: data/<n>)
    data_start = good.find(b"data/0") + 64
    for k in range(n_random):
        b = bytearray(good)
        pos = int(rng.integers(data_start, len(good) - 4096))
        b[pos] ^= 1 << int(rng.integers(0, 8))
        add(WeightsCase("bit-flipped", f"flip#{k}@{pos}.pt", bytes(b)))
    # hostile pickles: code that would run on load
    marker_dir.mkdir(parents=True, exist_ok=True)
    for k, (label, maker) in enumerate((("open", CodeOnLoad), ("os.system", SystemOnLoad))):
        m1 = str(marker_dir / f"pwned-zip-{label}")
        add(WeightsCase("pickle-code", f"code-{label}-torchsave.pt", _torch_bytes({**good_obj, "meta": maker(m1)}),
                        marker=m1))
        m2 = str(marker_dir / f"pwned-legacy-{label}")
        add(WeightsCase("pickle-code", f"code-{label}-legacy.pt",
                        _torch_bytes(maker(m2), _use_new_zipfile_serialization=False), marker=m2))
        m3 = str(marker_dir / f"pwned-rawpickle-{label}")
        add(WeightsCase("pickle-code", f"code-{label}-rawpickle.pt", pickle.dumps(maker(m3)), marker=m3))
        m4 = str(marker_dir / f"pwned-checkpoint-{label}")
        add(WeightsCase("pickle-code", f"code-{label}-checkpoint.pt",
                        _torch_bytes({"format": "featherface-checkpoint", "weights": good_obj, "model": maker(m4)}),
                        marker=m4))
    return cases


# --------------------------------------------------------------------------------------------
# interrupting training (shared by tests/reliability and the campaign)


def train_command(labels: Path, out: Path, epochs: int = 3, python: str | None = None) -> list[str]:
    """``featherface train`` for a tiny, fully deterministic CPU run that checkpoints every step
    (10 pictures, batch 4 -> 3 steps per epoch) and resumes from ``out/last.pt`` when present."""
    return [python or sys.executable, "-m", "featherface.cli", "train", "--labels", str(labels), "--img-size", "64",
            "--batch-size", "4", "--workers", "0", "--epochs", str(epochs), "--lr", "5e-3", "--warmup-epochs", "1",
            "--schedule", "step", "--milestones", "0.5", "--save-every", "1", "--seed", "7", "--device", "cpu",
            "--ema", "--ema-decay", "0.9", "--deterministic", "--no-progress", "--no-tensorboard", "--log-every", "1",
            "--model", "featherface-v2-ultra", "-o", str(out), "--resume", "auto"]


def single_thread_env() -> dict[str, str]:
    """Environment of a training child: one thread, so every process computes bit-identical floats
    (and no spinning thread pools on a busy machine)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


class CheckpointWatcher:
    """Polls a training output folder: hard-links every new ``last.pt`` (by inode) into ``snaps``
    - so a later rename cannot hide a bad one - and notices temporary checkpoint files."""

    def __init__(self, out: Path, snaps: Path) -> None:
        self.out, self.snaps = out, snaps
        self.last_ino: int | None = None
        self.n_snaps = 0
        self.stale: set[str] = set()  # temporary files orphaned by earlier kills: not a write in progress
        snaps.mkdir(parents=True, exist_ok=True)

    def tmp_files(self) -> set[str]:
        try:
            return {n for n in os.listdir(self.out) if n.startswith(".last.pt.") and n.endswith(".tmp")}
        except FileNotFoundError:
            return set()

    def poll(self) -> tuple[bool, bool]:
        """(a new last.pt appeared, a temporary checkpoint file exists now)."""
        new = False
        try:
            st: os.stat_result | None = os.stat(self.out / "last.pt")
        except FileNotFoundError:
            st = None
        if st is not None and st.st_ino != self.last_ino:
            try:
                os.link(self.out / "last.pt", self.snaps / f"{self.n_snaps + 1:03d}.pt")
                self.n_snaps += 1
                self.last_ino = st.st_ino
                new = True
            except FileNotFoundError:  # replaced between stat and link: the next poll gets it
                pass
        return new, bool(self.tmp_files() - self.stale)

    def snapshots(self) -> list[Path]:
        return sorted(self.snaps.glob("*.pt"))


@dataclass
class RoundResult:
    """How one training round ended; ``tmp_left``: the kill left a new half-written temporary
    checkpoint behind (proof that it landed inside a write)."""

    mode: str
    what: str
    returncode: int
    seconds: float
    stderr_tail: str
    tmp_left: bool = False


def interrupt_training(cmd: Sequence[str], watcher: CheckpointWatcher, mode: str, rng: Any, deadline: float,
                       cwd: Path | None = None) -> RoundResult:
    """Start the trainer and end it as ``mode`` says.

    ``startup``: SIGKILL 0.3-0.55 s after start; ``in-write``: SIGKILL right while a checkpoint
    is being written (its temporary file exists), after this round wrote one; ``random``:
    SIGKILL a random 0-0.25 s after this round's first checkpoint; ``SIGTERM``/``SIGINT``: that
    signal after the first checkpoint; ``finish``: let it run to the end. A round whose run ends
    before its interruption point reports ``finished``.
    """
    watcher.stale = watcher.tmp_files()  # left by earlier kills: not evidence about this round
    t0 = time.monotonic()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=single_thread_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    what, new_ckpts, delay = "finished", 0, rng.uniform(0.0, 0.25)
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                what = "TIMEOUT"
                break
            new, tmp = watcher.poll()
            new_ckpts += int(new)
            if mode == "startup" and time.monotonic() - t0 > delay + 0.3:
                proc.send_signal(signal.SIGKILL)
                what = "SIGKILL during start-up"
                break
            if mode == "in-write" and tmp and new_ckpts >= 1:
                time.sleep(rng.uniform(0.0, 0.002))  # somewhere in serialisation / write / fsync
                proc.send_signal(signal.SIGKILL)
                what = "SIGKILL while a checkpoint was being written"
                break
            if mode == "random" and new_ckpts >= 1:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                what = f"SIGKILL {delay:.2f}s after a checkpoint"
                break
            if mode in ("SIGTERM", "SIGINT") and new_ckpts >= 1:
                proc.send_signal(getattr(signal, mode))
                what = mode
                break
            time.sleep(0.0005 if mode == "in-write" else 0.002)
        _, err = proc.communicate(timeout=max(5.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    tmp_left = what.startswith("SIGKILL") and bool(watcher.tmp_files() - watcher.stale)
    watcher.poll()
    return RoundResult(mode, what, int(proc.returncode), time.monotonic() - t0, (err or "")[-1500:], tmp_left)


# --------------------------------------------------------------------------------------------
# judging a `featherface detect` folder run


def folder_extras(folder: Path, valid_png: bytes, videos: bool = True) -> dict[str, str]:
    """Add odd entries to a folder of case files -> ``{file name: expected outcome}``.

    A directory and a FIFO named like images and a ``.txt`` file must be skipped (not counted as
    inputs); the others are inputs.
    """
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "looks_like.jpg").mkdir(exist_ok=True)
    (folder / "notes.txt").write_text("not an image")
    if hasattr(os, "mkfifo") and not (folder / "pipe.jpg").exists():
        os.mkfifo(folder / "pipe.jpg")  # opening it would block forever: must be skipped
    (folder / "spaces and ünïcode.PNG").write_bytes(valid_png)
    (folder / "sub" / "0000_valid.jpg").write_bytes(valid_png)  # same stem as a generated case
    out = {"spaces and ünïcode.PNG": FACES, "0000_valid.jpg": FACES}
    if videos:
        (folder / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(2000))
        (folder / "empty.avi").write_bytes(b"")
        out |= {"garbage.mp4": ERROR, "empty.avi": ERROR}
    return out


def check_detect_run(files: dict[str, Path], cases: Sequence[Case], extras: dict[str, str], doc: dict[str, Any],
                     rc: int, stdout: str, stderr: str, out_dir: Path | None) -> tuple[list[str], dict[str, Counter]]:
    """Judge a ``featherface detect FOLDER --json`` run over :func:`write_case_files` output.

    Returns (contract failures, ``{kind: Counter(status)}``). Checks: one JSON entry per input,
    each either faces or an error that names the file (and matches the case's expectation, and
    the reported size for cases with a known shape); the summary line; the exit code; one stderr
    line per failure and no traceback; one annotated picture per processed image.
    """
    problems: list[str] = []
    stats: dict[str, Counter] = {}
    by_name = {c.name: c for c in cases}
    by_path = {str(p): by_name[name] for name, p in files.items()}
    results = doc.get("results", [])
    n_inputs = len(files) + len(extras)
    if len(results) != n_inputs:
        problems.append(f"{len(results)} JSON entries for {n_inputs} inputs")
    failed = 0
    for r in results:
        name = Path(r["file"]).name
        case = by_path.get(r["file"])
        kind = case.kind if case is not None else "folder-extra"
        if "error" in r:
            failed += 1
            out = Outcome("error", r["error"])
        elif "faces" in r or "frames" in r:
            out = Outcome("faces")
            failed += "picture_error" in r  # faces found, the annotated picture could not be written
        else:
            problems.append(f"{name}: entry without faces or error: {r}")
            continue
        stats.setdefault(kind, Counter())[out.status] += 1
        expect = case.expect if case is not None else extras.get(name, "?")
        why = judge(expect, out, r["file"])
        if why is None and case is not None and case.shape and "faces" in r:
            if (r["height"], r["width"]) != case.shape:
                why = f"reported size {(r['height'], r['width'])}, expected {case.shape}"
        if why:
            problems.append(f"{name}: {why}")
    summary = f"{n_inputs - failed}/{n_inputs} inputs processed"
    if summary not in stdout or (failed and f"{failed} failed" not in stdout):
        problems.append(f"summary {summary!r} / '{failed} failed' missing from stdout: {stdout[-300:]!r}")
    if rc != (1 if failed else 0):
        problems.append(f"exit code {rc} with {failed} failures")
    err_lines = [ln for ln in stderr.splitlines() if ln.startswith("featherface detect: error:")]
    if len(err_lines) != failed:
        problems.append(f"{len(err_lines)} error lines on stderr for {failed} failures")
    if "Traceback" in stderr:
        problems.append("a traceback on stderr")
    if out_dir is not None:
        n_pictures = len(list(out_dir.glob("*_faces*.jpg"))) + len(list(out_dir.glob("*_faces*.png")))
        n_images_ok = sum(1 for r in results if "faces" in r and "picture_error" not in r)
        if n_pictures != n_images_ok:
            problems.append(f"{n_pictures} annotated pictures for {n_images_ok} processed images (overwritten?)")
    return problems, stats


# --------------------------------------------------------------------------------------------
# the command line: hostile output paths and argument values (second campaign, issue 14)


@dataclass
class CliCase:
    """One ``featherface`` invocation that must be refused before any work: exit 2, one stderr
    line ``featherface VERB: error: ...`` containing ``needle``, no traceback, no input changed.

    ``argv`` holds placeholders filled by :func:`cli_workspace`: ``{photo}`` (an input image),
    ``{photos}`` (the input folder), ``{weights}``, ``{preds}`` (a prediction folder), ``{file}``
    (an unrelated existing file of the user's), ``{dir}`` (an existing folder), ``{ro}`` (a folder
    that cannot be written), ``{out}`` (a fresh output folder)."""

    name: str
    argv: list[str]
    needle: str = ""
    needs_ro: bool = False


# verb -> (argv of a run that would otherwise start working, its output options: (flag, "file"|"dir", suffix))
CLI_OUTPUTS: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {
    "detect": (["detect", "{photo}", "--weights", "none", "--quiet"],
               [("--json", "file", ".json"), ("--output", "dir", "")]),
    "export": (["export", "--random", "--input-size", "64", "--no-verify"], [("--output", "file", ".onnx")]),
    "export-int8": (["export", "--random", "--input-size", "64", "--no-verify", "--int8", "--calibration", "{photos}",
                     "--output", "{out}/m.onnx"], [("--int8-output", "file", ".onnx")]),
    "export-ts": (["export", "--random", "--format", "torchscript", "--input-size", "64", "--no-verify"],
                  [("--output", "file", ".pt")]),
    "autolabel": (["autolabel", "{photos}", "--teacher", "yunet", "--quiet"], [("--output", "file", ".txt")]),
    "autolabel-report": (["autolabel", "{photos}", "--teacher", "yunet", "--quiet", "--output", "{out}/l.txt"],
                         [("--report", "file", ".csv")]),
    "compare": (["compare", "{photos}", "--peers", "haar", "-q"],
                [("--json", "file", ".json"), ("--markdown", "file", ".md"), ("--grid", "file", ".jpg")]),
    "eval": (["eval", "--predictions", "{preds}", "--quiet"], [("--json", "file", ".json"), ("--plot", "file", ".png")]),
    "eval-save": (["eval", "--images", "{photos}", "--quiet"], [("--save-predictions", "dir", "")]),
    "bench": (["bench", "--quick", "--no-memory", "--no-profile", "--images", "{photos}"],
              [("--json", "file", ".json"), ("--markdown", "file", ".md"), ("--keep-onnx", "dir", "")]),
    "train": (["train", "--synthetic", "4", "--max-steps", "1", "--img-size", "64", "--no-progress"],
              [("--output", "dir", "")]),
}

# each bad target for an option writing a file / a folder: (what, placeholder path, needle); {sfx} is
# the option's own suffix, so that only the kind of target decides the refusal
_BAD_FILE_TARGETS = [
    ("photo", "{photo}", ""), ("folder", "{dir}", "is a folder"),
    ("under-a-file", "{file}/x{sfx}", "is a file, not a folder"), ("read-only", "{ro}/x{sfx}", "not writable"),
    ("users-other-file", "{file}", ""), ("empty", "", "empty path"),
]
_BAD_DIR_TARGETS = [
    ("photo", "{photo}", "is a"), ("a-file", "{file}", "is a file"),
    ("under-a-file", "{file}/sub", "is a file, not a folder"), ("read-only", "{ro}/sub", "not writable"),
    ("empty", "", "empty path"),
]

# argument values refused by the parser or at the edge (item 5 of issue 14 and neighbours)
CLI_VALUE_CASES: list[tuple[str, list[str], str]] = [
    ("info-size-0", ["info", "--size", "0"], "--size"),
    ("info-size-huge", ["info", "--size", "100000"], "--size"),
    ("info-set-fpn33", ["info", "--set", "fpn_channels=33"], "fpn_channels=33"),
    ("info-set-unknown", ["info", "--set", "nope=1"], "nope"),
    ("train-seed-neg", ["train", "--synthetic", "4", "--seed", "-1"], "--seed"),
    ("train-warmup-inf", ["train", "--synthetic", "4", "--warmup-epochs", "inf"], "--warmup-epochs"),
    ("train-set-warmup-inf", ["train", "--synthetic", "4", "--set", "warmup_epochs=inf"], "warmup_epochs"),
    ("train-set-seed-neg", ["train", "--synthetic", "4", "--set", "seed=-1"], "seed"),
    ("train-batch-0", ["train", "--synthetic", "4", "-b", "0"], "--batch-size"),
    ("train-device-bogus", ["train", "--synthetic", "4", "--device", "bogus"], "bogus"),
    ("export-opset-99", ["export", "--random", "--opset", "99"], "--opset"),
    ("export-calib-0", ["export", "--random", "--calibration-images", "0"], "--calibration-images"),
    ("export-pp-nan", ["export", "--random", "--postprocess", "--score-threshold", "nan"], "--score-threshold"),
    ("export-pp-maxdet-neg", ["export", "--random", "--postprocess", "--max-detections", "-1"], "--max-detections"),
    ("compare-cell-0", ["compare", "{photo}", "--grid-cell-width", "0"], "--grid-cell-width"),
    ("compare-threads-0", ["compare", "{photo}", "--threads", "0"], "--threads"),
    ("eval-plot-xyz", ["eval", "--predictions", "{preds}", "--plot", "{out}/pr.xyz"], "unsupported format"),
    ("eval-plot-nosuffix", ["eval", "--predictions", "{preds}", "--plot", "{out}/pr"], "unsupported format"),
    ("eval-limit-0", ["eval", "--predictions", "{preds}", "--limit", "0"], "--limit"),
    ("detect-device-bogus", ["detect", "{photo}", "--weights", "none", "--device", "bogus"], "bogus"),
    ("detect-input-size-huge", ["detect", "{photo}", "--input-size", "100000"], "--input-size"),
    ("detect-threshold-nan", ["detect", "{photo}", "--threshold", "nan"], "--threshold"),
    ("detect-threshold-str", ["detect", "{photo}", "--threshold", "half"], "--threshold"),
    ("detect-threads-frac", ["detect", "{photo}", "--threads", "1.5"], "--threads"),
    ("detect-underscore", ["detect", "{photo}", "--max-size", "1_000"], "--max-size"),
    ("autolabel-valfrac-nan", ["autolabel", "{photo}", "-o", "{out}/l.txt", "--val-fraction", "nan"], "--val-fraction"),
    ("autolabel-minsize-nan", ["autolabel", "{photo}", "-o", "{out}/l.txt", "--min-size", "nan"], "--min-size"),
    ("bench-sizes-0", ["bench", "--sizes", "0"], "--sizes"),
    ("bench-repeats-0", ["bench", "--repeats", "0"], "--repeats"),
]


def cli_cases() -> list[CliCase]:
    """Every output option of every verb aimed at every kind of bad target, and the bad values."""
    cases: list[CliCase] = []
    for verb, (base, options) in CLI_OUTPUTS.items():
        for flag, kind, sfx in options:
            for what, target, needle in (_BAD_FILE_TARGETS if kind == "file" else _BAD_DIR_TARGETS):
                cases.append(CliCase(f"{verb} {flag} {what}", [*base, flag, target.replace("{sfx}", sfx)], needle,
                                     needs_ro=what == "read-only"))
    cases += [CliCase(name, argv, needle) for name, argv, needle in CLI_VALUE_CASES]
    return cases


def read_only_folder(base: Path) -> Path | None:
    """A folder this process cannot create files in: a 0555 folder (not for root, who writes
    anywhere but on read-only mounts), else ``/sys`` when it refuses us; ``None`` when neither."""
    def refuses(d: Path) -> bool:
        try:
            fd, p = tempfile.mkstemp(dir=d)
        except OSError:
            return True
        os.close(fd)
        os.unlink(p)
        return False

    ro = base / "read-only"
    ro.mkdir(exist_ok=True)
    os.chmod(ro, 0o555)
    if refuses(ro):
        return ro
    os.chmod(ro, 0o755)
    sys_dir = Path("/sys")
    return sys_dir if sys_dir.is_dir() and refuses(sys_dir) else None


def cli_workspace(base: Path) -> dict[str, str]:
    """Create the files the :class:`CliCase` placeholders name; return placeholder -> path."""
    photos = base / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        cv2.imwrite(str(photos / f"p{i}.jpg"), base_image(seed=i))
    preds = base / "preds" / "0--Parade"
    preds.mkdir(parents=True, exist_ok=True)
    (preds / "0_Parade_1.txt").write_text("0_Parade_1\n1\n1 2 30 40 0.9\n")
    (base / "dir").mkdir(exist_ok=True)
    (base / "user-notes.docx").write_bytes(b"PK\x03\x04 the user's own document")
    (base / "weights.pt").write_bytes(b"not really weights")
    (base / "out").mkdir(exist_ok=True)
    ro = read_only_folder(base)
    return {"{photo}": str(photos / "p0.jpg"), "{photos}": str(photos), "{preds}": str(base / "preds"),
            "{dir}": str(base / "dir"), "{file}": str(base / "user-notes.docx"), "{weights}": str(base / "weights.pt"),
            "{out}": str(base / "out"), "{ro}": str(ro) if ro is not None else ""}


def fill(argv: Sequence[str], where: dict[str, str]) -> list[str]:
    out = []
    for a in argv:
        for k, v in where.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def tree_digest(root: Path) -> dict[str, bytes]:
    """Path -> content of every regular file under ``root`` (to prove nothing was changed)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).digest()
    return out


def judge_cli(case: CliCase, rc: Any, stdout: str, stderr: str, before: dict[str, bytes],
              after: dict[str, bytes]) -> str | None:
    """``None`` when the refusal kept the contract, else what went wrong."""
    verb = case.argv[0]
    lines = [ln for ln in stderr.splitlines() if ln.strip() and ": warning: " not in ln]
    if "Traceback" in stderr:
        return f"traceback: {stderr[-400:]!r}"
    if rc != 2:
        return f"exit code {rc}, expected 2; stderr {stderr[-300:]!r}"
    if len(lines) != 1 or not lines[0].startswith(f"featherface {verb}: error: "):
        return f"expected one line 'featherface {verb}: error: ...', got {lines!r}"
    if case.needle and case.needle not in lines[0]:
        return f"{case.needle!r} not in {lines[0]!r}"
    if len(stdout) > 2000:
        return f"{len(stdout)} characters on stdout"
    changed = sorted(k for k in before if after.get(k) != before[k])
    if changed:
        return f"input files changed or removed: {changed}"
    return None

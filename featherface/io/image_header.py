"""Image size from the first bytes of an encoded file, without decoding it.

Why: a 1 MB PNG can declare 20000x20000 pixels and make OpenCV allocate and fill gigabytes
(measured: 2.3 GB peak RSS and 17 s for such a file). Reading the width and height from the header
lets :mod:`featherface.io.images` refuse a decompression bomb (or a header damaged into
claiming a huge size) with a clear error *before* any pixel memory is allocated.

Covers JPEG, PNG, GIF, BMP, WebP, TIFF (classic), PNM and JPEG 2000 (JP2 boxes and raw J2K
codestreams). Anything else (or a header too damaged to parse) returns ``None``; OpenCV's own
limit (2**30 pixels) then still applies. Every parser only indexes inside the buffer and every
loop advances, so a hostile header can neither raise nor hang.
"""

from __future__ import annotations

import struct
from typing import Callable

__all__ = ["image_header_size"]

Size = tuple[int, int]  # (width, height)
HEADER_WINDOW = 4 << 20


def _u16(b: bytes, off: int, big: bool) -> int:
    return struct.unpack_from(">H" if big else "<H", b, off)[0]


def _u32(b: bytes, off: int, big: bool) -> int:
    return struct.unpack_from(">I" if big else "<I", b, off)[0]


def _png(b: bytes) -> Size | None:
    if len(b) >= 24 and b[12:16] == b"IHDR":
        return _u32(b, 16, True), _u32(b, 20, True)
    return None


def _gif(b: bytes) -> Size | None:
    if len(b) >= 10:
        return _u16(b, 6, False), _u16(b, 8, False)
    return None


def _bmp(b: bytes) -> Size | None:
    if len(b) < 26:
        return None
    dib = _u32(b, 14, False)
    if dib == 12:  # BITMAPCOREHEADER: unsigned 16-bit sizes
        return _u16(b, 18, False), _u16(b, 20, False)
    w, h = struct.unpack_from("<ii", b, 18)
    return abs(w), abs(h)  # negative height = top-down rows


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(b: bytes) -> Size | None:
    i, n = 2, len(b)
    while i + 3 < n:
        if b[i] != 0xFF:
            i = b.find(b"\xff", i)  # not at a marker (damaged file): resynchronise on the next 0xFF
            if i < 0:
                return None
            continue
        m = b[i + 1]
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m in (0x01, 0xD8) or 0xD0 <= m <= 0xD7:  # markers without a length
            i += 2
            continue
        if m in (0xD9, 0xDA):  # end of image / start of scan: no frame header before the data
            return None
        seg = _u16(b, i + 2, True)
        if m in _SOF and i + 9 <= n:
            h, w = _u16(b, i + 5, True), _u16(b, i + 7, True)
            return (w, h) if h else None  # height 0: defined later by a DNL marker
        i += 2 + max(seg, 2)
    return None


def _webp(b: bytes) -> Size | None:
    if len(b) < 30:
        return None
    kind = b[12:16]
    if kind == b"VP8 " and b[23:26] == b"\x9d\x01\x2a":
        return _u16(b, 26, False) & 0x3FFF, _u16(b, 28, False) & 0x3FFF
    if kind == b"VP8L" and b[20] == 0x2F:
        bits = _u32(b, 21, False)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        w = b[24] | (b[25] << 8) | (b[26] << 16)
        h = b[27] | (b[28] << 8) | (b[29] << 16)
        return w + 1, h + 1
    return None


def _tiff(b: bytes) -> Size | None:
    big = b[:2] == b"MM"
    if len(b) < 8:
        return None
    ifd = _u32(b, 4, big)
    if ifd + 2 > len(b):
        return None
    count = _u16(b, ifd, big)
    vals: dict[int, int] = {}
    for k in range(min(count, 4096)):
        e = ifd + 2 + 12 * k
        if e + 12 > len(b):
            break
        tag, typ = _u16(b, e, big), _u16(b, e + 2, big)
        if tag in (256, 257):
            vals[tag] = _u16(b, e + 8, big) if typ == 3 else _u32(b, e + 8, big)
    if 256 in vals and 257 in vals:
        return vals[256], vals[257]
    return None


def _pnm(b: bytes) -> Size | None:
    nums: list[int] = []
    i, n = 2, min(len(b), 1024)
    while i < n and len(nums) < 2:
        c = b[i]
        if c == 0x23:  # '#' comment to end of line
            while i < n and b[i] not in (0x0A, 0x0D):
                i += 1
        elif 0x30 <= c <= 0x39:
            j = i
            while j < n and 0x30 <= b[j] <= 0x39:
                j += 1
            if j >= n:
                return None  # number cut by the end of what we read
            nums.append(int(b[i:j]))
            i = j
            continue
        elif c not in b" \t\r\n":
            return None
        i += 1
    return (nums[0], nums[1]) if len(nums) == 2 else None


def _j2k_siz(b: bytes, off: int) -> Size | None:
    # SOC FF4F, SIZ FF51: Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4)
    if off + 24 <= len(b) and b[off:off + 4] == b"\xff\x4f\xff\x51":
        x, y, xo, yo = struct.unpack_from(">IIII", b, off + 8)
        return max(0, x - xo), max(0, y - yo)
    return None


def _jp2(b: bytes) -> Size | None:
    i, n = 0, len(b)
    for _ in range(256):  # boxes: LBox(4) TBox(4) [XLBox(8)] payload
        if i + 8 > n:
            return None
        length, typ = _u32(b, i, True), b[i + 4:i + 8]
        if typ == b"jp2h":
            j = i + 8
            if j + 22 <= n and b[j + 4:j + 8] == b"ihdr":
                h, w = _u32(b, j + 8, True), _u32(b, j + 12, True)
                return w, h
            return None
        if typ == b"jp2c":
            return _j2k_siz(b, i + 8)
        if length == 1 and i + 16 <= n:
            length = struct.unpack_from(">Q", b, i + 8)[0]
        if length < 8:
            return None  # 0 = "to end of file"; anything below 8 is corrupt
        i += length
    return None


_MAGIC: list[tuple[Callable[[bytes], bool], Callable[[bytes], Size | None]]] = [
    (lambda b: b[:8] == b"\x89PNG\r\n\x1a\n", _png),
    (lambda b: b[:2] == b"\xff\xd8", _jpeg),
    (lambda b: b[:6] in (b"GIF87a", b"GIF89a"), _gif),
    (lambda b: b[:2] == b"BM", _bmp),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", _webp),
    (lambda b: b[:4] in (b"II*\x00", b"MM\x00*"), _tiff),
    (lambda b: len(b) > 2 and b[:1] == b"P" and b[1:2] in b"123456" and b[2:3] in b" \t\r\n#", _pnm),
    (lambda b: b[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n", _jp2),
    (lambda b: b[:4] == b"\xff\x4f\xff\x51", lambda b: _j2k_siz(b, 0)),
]


def is_known_image(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` starts like an image format this package decodes (PNG, JPEG, GIF, BMP,
    WebP, TIFF, PNM, JPEG 2000): tells "not an image" (HTTP 415) from "a damaged image" (400)."""
    b = bytes(data[:16])
    return any(matches(b) for matches, _ in _MAGIC)


def image_header_size(data: bytes | bytearray | memoryview) -> Size | None:
    """``(width, height)`` declared by an encoded image's header, or ``None`` when unknown.

    Only the first 4 MiB are looked at (JPEG EXIF/ICC/thumbnail segments come before the frame
    header); the result is what the file *claims*, which is exactly what a decoder would allocate.
    """
    b = bytes(data[:HEADER_WINDOW])
    for matches, parse in _MAGIC:
        if matches(b):
            try:
                return parse(b)
            except (struct.error, IndexError, ValueError):
                return None
    return None

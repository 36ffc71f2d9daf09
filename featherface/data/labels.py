"""Readers and a writer for face label files (RetinaFace ``label.txt``, YuNet ``labelv2``, WIDER gt).

Every reader returns a list of :class:`ImageAnnotation` in one canonical form - boxes as
``x1 y1 x2 y2`` pixels, five landmarks per face with ``-1`` where absent - so the dataset and
the augmentations never need to know which file format a face came from.

Supported layouts (``layout=`` argument of :func:`load_annotations`):

``"retinaface"``
    ``# relative/path.jpg [extra tokens ignored]`` then one line per face: ``x y w h`` followed
    either by nothing (boxes only) or by five ``lx ly flag`` triples and a confidence (20 numbers
    in all). A landmark written as ``-1 -1 -1`` is absent.
``"labelv2"``
    YuNet's layout: ``# relative/path.jpg W H`` then ``x1 y1 x2 y2`` optionally followed by five
    ``lx ly`` pairs (14 numbers in all).
``"wider"``
    The official ``wider_face_{train,val}_bbx_gt.txt``: a path line, a face-count line, then per
    face ``x y w h blur expression illumination invalid occlusion pose``; an image with no face
    still carries one line of ten zeros. These faces never have landmarks.
``"auto"``
    Decide from the content (see :func:`detect_layout`).

Malformed input raises :class:`featherface.errors.LabelFormatError` whose message starts with
``file:line:`` so the user can jump straight to the culprit.

One cohesive thing, kept in one module: the parsers of the three layouts share one canonical form,
one number rule (plain decimals, bounded coordinates), one builder of faces, one merge of repeated
image entries and the layout detection that chooses among them; the writer is their inverse.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from featherface.errors import LabelFormatError
from featherface.io.outputs import write_text

__all__ = [
    "ImageAnnotation",
    "LAYOUTS",
    "LAYOUT_NAMES",
    "detect_layout",
    "load_annotations",
    "parse_retinaface_labels",
    "parse_labelv2_labels",
    "parse_wider_gt",
    "write_retinaface_labels",
]

LAYOUTS = ("auto", "retinaface", "labelv2", "wider")
_LAYOUT_ALIASES = {"yunet": "labelv2", "wider_gt": "wider", "retina": "retinaface"}
# every accepted spelling of a layout (the names and their aliases): what a config may say
LAYOUT_NAMES = LAYOUTS + tuple(_LAYOUT_ALIASES)

# A landmark coordinate pair equal to this marks the point as absent.
_ABSENT = -1.0


@dataclass
class ImageAnnotation:
    """Faces of one image, in the canonical form the rest of the package consumes.

    ``boxes`` is ``(N, 4)`` float32 ``x1 y1 x2 y2`` pixels; ``landmarks`` is ``(N, 5, 2)`` float32
    (left eye, right eye, nose, left mouth corner, right mouth corner as seen in the image) with
    ``-1`` for absent points; ``has_landmarks`` is ``(N,)`` bool, True only when all five points
    are present - the flag the landmark loss uses as its mask.
    """

    path: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.full((0, 5, 2), -1.0, np.float32))
    has_landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0,), bool))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        n = self.boxes.shape[0]
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(n, 5, 2)
        self.has_landmarks = np.asarray(self.has_landmarks, dtype=bool).reshape(n)

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def num_faces(self) -> int:
        return len(self)


# --------------------------------------------------------------------------------------------
# helpers


def read_text_lines(path: str | os.PathLike[str], what: str = "label file") -> list[str]:
    """Read a text file tolerating a UTF-8 BOM and any line ending (\\n, \\r\\n, \\r).

    Shared by the label and prediction readers: unreadable files and non-UTF-8 bytes raise
    :class:`LabelFormatError` naming the file (and the line of the bad byte).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise LabelFormatError(f"{p}: cannot read {what} ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_no = raw[: exc.start].count(b"\n") + 1
        raise LabelFormatError(f"{p}:{line_no}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    return text.splitlines()




# A label number as label files write it: Python's float() also takes "1_000", "0x..." (no) and
# "infinity"; a label file that holds those is damaged or not a label file, so they are refused.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# No image the guarded reader accepts is this large (MAX_DECODE_PIXELS bounds the area, sides
# stay far below); a coordinate beyond it is a corrupt row (1e12 boxes would train on as NaN loss).
MAX_COORDINATE = 1.0e6


def _numbers(tokens: Sequence[str], where: str) -> list[float]:
    """Parse tokens as plain decimal numbers within +-MAX_COORDINATE, or raise a LabelFormatError naming ``where``."""
    out: list[float] = []
    for tok in tokens:
        if not _NUMBER.fullmatch(tok):
            low = tok.lower().lstrip("+-")
            if low in ("nan",):
                raise LabelFormatError(f"{where}: NaN value")
            if low in ("inf", "infinity"):
                raise LabelFormatError(f"{where}: infinite value")
            raise LabelFormatError(f"{where}: non-numeric value {tok!r}")
        v = float(tok)
        if not math.isfinite(v):  # e.g. 1e999
            raise LabelFormatError(f"{where}: infinite value")
        if abs(v) > MAX_COORDINATE:
            raise LabelFormatError(f"{where}: value {tok} is out of range (|v| > {MAX_COORDINATE:g}; "
                                   "no image is that large)")
        out.append(v)
    return out


def _is_numeric_line(tokens: Sequence[str]) -> bool:
    return bool(tokens) and all(_NUMBER.fullmatch(t) for t in tokens)


def _merge_duplicates(annotations: list[ImageAnnotation], name: str) -> list[ImageAnnotation]:
    """One entry per image: a path listed twice gets the faces of both entries, with one warning
    (a label file that lists an image twice is usually two label files concatenated; keeping both
    entries would train on that image twice per epoch and count its faces twice in evaluation)."""
    first: dict[str, int] = {}
    merged: list[ImageAnnotation] = []
    dups, example = 0, ""
    for ann in annotations:
        key = os.path.normpath(ann.path)
        j = first.get(key)
        if j is None:
            first[key] = len(merged)
            merged.append(ann)
            continue
        dups += 1
        example = example or ann.path
        m = merged[j]
        merged[j] = ImageAnnotation(m.path, np.concatenate([m.boxes, ann.boxes]),
                                    np.concatenate([m.landmarks, ann.landmarks]),
                                    np.concatenate([m.has_landmarks, ann.has_landmarks]))
    if dups:
        warnings.warn(f"{name}: {dups} repeated image entr{'y' if dups == 1 else 'ies'} (first: {example}); "
                      "each image's faces were merged into one entry",
                      stacklevel=3)
    return merged


class _Builder:
    """Accumulates the faces of one image and turns them into an ImageAnnotation."""

    __slots__ = ("path", "boxes", "lms")

    def __init__(self, path: str) -> None:
        self.path = path
        self.boxes: list[tuple[float, float, float, float]] = []
        self.lms: list[list[float]] = []

    def add(self, box: tuple[float, float, float, float], lms: list[float] | None, min_size: float) -> None:
        w = box[2] - box[0]
        h = box[3] - box[1]
        if w <= 0 or h <= 0 or w < min_size or h < min_size:
            return  # degenerate or too small to learn from: skipped by design
        self.boxes.append(box)
        self.lms.append(lms if lms is not None else [_ABSENT] * 10)

    def build(self) -> ImageAnnotation:
        n = len(self.boxes)
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(n, 4)
        lms = np.asarray(self.lms, dtype=np.float32).reshape(n, 5, 2)
        absent = np.all(np.abs(lms - _ABSENT) < 1e-6, axis=2)  # (N,5)
        lms[absent] = _ABSENT
        has = ~absent.any(axis=1)
        return ImageAnnotation(self.path, boxes, lms, has)


class _BadBoxes:
    """Raise on a negative-size box (strict) or count them and warn once at the end."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name, self.strict, self.first, self.count = name, strict, "", 0

    def hit(self, where: str, cause: str) -> None:
        if self.strict:
            raise LabelFormatError(f"{where}: {cause}")
        if not self.count:
            self.first = where
        self.count += 1

    def report(self) -> None:
        if self.count:
            warnings.warn(
                f"{self.name}: skipped {self.count} box(es) of negative width/height (first at {self.first})",
                stacklevel=4,
            )


def _header_path(line: str, where: str) -> tuple[str, int]:
    """Return (path, number of extra tokens) of a ``# path [W H ...]`` header line.

    Trailing numeric tokens are the extras; whatever precedes them is the path, internal
    spaces included (user photo folders often have them).
    """
    body = line[1:].strip()
    tokens = body.split()
    if not tokens:
        raise LabelFormatError(f"{where}: header line has no image path")
    extras = 0
    while extras < len(tokens) - 1 and _is_numeric_line(tokens[len(tokens) - 1 - extras : len(tokens) - extras]):
        extras += 1
    path = body.rsplit(None, extras)[0] if extras else body
    return path, extras


def _normalise_layout(layout: str) -> str:
    lay = _LAYOUT_ALIASES.get(layout.lower(), layout.lower())
    if lay not in LAYOUTS:
        raise ValueError(f"unknown label layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    return lay


# --------------------------------------------------------------------------------------------
# layout detection


def _detect_from_lines(lines: Sequence[str], name: str) -> str:
    first = next((ln.strip() for ln in lines if ln.strip()), None)
    if first is None:
        return "retinaface"  # empty file: any layout yields no images
    if not first.startswith("#"):
        return "wider"
    counts: set[int] = set()
    reversed_box = False  # some 4-number line where "x2 < x1": must be x y w h
    header_extras: list[int] = []
    for ln in lines:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("#"):
            header_extras.append(_header_path(s, name)[1] if len(s) > 1 else 0)
            continue
        tokens = s.split()
        counts.add(len(tokens))
        if len(tokens) == 4 and not reversed_box and _is_numeric_line(tokens):
            a, b, c, d = (float(t) for t in tokens)
            if c < a or d < b:
                reversed_box = True
    if 20 in counts and 14 in counts:
        raise LabelFormatError(f"{name}: mixes 20-number (RetinaFace) and 14-number (labelv2) face lines")
    if 20 in counts:
        return "retinaface"
    if 14 in counts:
        return "labelv2"
    if reversed_box:
        return "retinaface"
    # Only 4-number lines that all look like corner pairs: labelv2 headers always carry W H.
    if header_extras and all(e >= 2 for e in header_extras):
        return "labelv2"
    return "retinaface"


def detect_layout(path: str | os.PathLike[str]) -> str:
    """Guess a label file's layout so users need not say which dialect they downloaded.

    No ``#`` header -> ``"wider"``; any 20-number face line -> ``"retinaface"``; any 14-number
    line -> ``"labelv2"``. Files with only 4-number lines are ambiguous (``x y w h`` vs corners):
    any line whose third/fourth value is below the first/second cannot be corners, so it is
    ``"retinaface"``; otherwise ``"labelv2"`` when every header carries ``W H``, else
    ``"retinaface"``. Pass ``layout=`` explicitly for tiny files where this could guess wrong.
    """
    return _detect_from_lines(read_text_lines(path), str(path))


# --------------------------------------------------------------------------------------------
# readers


def _parse_hash_layout(
    lines: Sequence[str], name: str, layout: str, min_size: float, strict: bool = True
) -> list[ImageAnnotation]:
    """Shared reader of the two ``# path`` layouts (RetinaFace and YuNet labelv2)."""
    out: list[ImageAnnotation] = []
    bad = _BadBoxes(name, strict)
    cur: _Builder | None = None
    allowed = (4, 20) if layout == "retinaface" else (4, 14)
    for i, raw in enumerate(lines, start=1):
        s = raw.strip()
        if not s:
            continue
        where = f"{name}:{i}"
        if s.startswith("#"):
            if cur is not None:
                out.append(cur.build())
            path, _ = _header_path(s, where)
            cur = _Builder(path)
            continue
        if cur is None:
            raise LabelFormatError(f"{where}: face line before any '# image/path' header (missing path header)")
        tokens = s.split()
        if len(tokens) not in allowed:
            raise LabelFormatError(
                f"{where}: wrong column count {len(tokens)} for {layout} layout (expected "
                f"{' or '.join(str(a) for a in allowed)})"
            )
        v = _numbers(tokens, where)
        if layout == "retinaface":
            x, y, w, h = v[:4]
            if w < 0 or h < 0:
                bad.hit(where, f"negative box width/height ({w:g} x {h:g})")
                continue
            box = (x, y, x + w, y + h)
            lms = None
            if len(v) == 20:
                # five (x, y, flag) triples, then a confidence we do not need
                lms = [c for k in range(5) for c in (v[4 + 3 * k], v[5 + 3 * k])]
        else:
            x1, y1, x2, y2 = v[:4]
            if x2 < x1 or y2 < y1:
                bad.hit(where, "negative box width/height (x2 < x1 or y2 < y1)")
                continue
            box = (x1, y1, x2, y2)
            lms = v[4:14] if len(v) == 14 else None
        cur.add(box, lms, min_size)
    if cur is not None:
        out.append(cur.build())
    bad.report()
    return _merge_duplicates(out, name)


def parse_retinaface_labels(
    path: str | os.PathLike[str], min_size: float = 0.0, strict: bool = True
) -> list[ImageAnnotation]:
    """Read a RetinaFace ``label.txt`` (20-number lines with landmarks, or 4-number boxes only)."""
    return _parse_hash_layout(read_text_lines(path), str(path), "retinaface", min_size, strict)


def parse_labelv2_labels(
    path: str | os.PathLike[str], min_size: float = 0.0, strict: bool = True
) -> list[ImageAnnotation]:
    """Read a YuNet ``labelv2`` file (``# path W H`` then ``x1 y1 x2 y2 [10 landmark coords]``)."""
    return _parse_hash_layout(read_text_lines(path), str(path), "labelv2", min_size, strict)


def _parse_wider_lines(
    lines: Sequence[str], name: str, min_size: float, skip_invalid: bool, strict: bool = True
) -> list[ImageAnnotation]:
    out: list[ImageAnnotation] = []
    bad = _BadBoxes(name, strict)
    i = 0
    n_lines = len(lines)

    def next_nonblank(j: int) -> int:
        while j < n_lines and not lines[j].strip():
            j += 1
        return j

    i = next_nonblank(0)
    while i < n_lines:
        path_line = lines[i].strip()
        where = f"{name}:{i + 1}"
        tokens = path_line.split()
        if path_line.startswith("#") or _is_numeric_line(tokens):
            raise LabelFormatError(
                f"{where}: expected an image path line, got {path_line[:40]!r} "
                "(missing path header, or a face-count mismatch above)"
            )
        b = _Builder(path_line)
        i = next_nonblank(i + 1)
        if i >= n_lines:
            raise LabelFormatError(f"{name}:{n_lines}: image {path_line!r} has no face-count line (count mismatch)")
        where = f"{name}:{i + 1}"
        count_tokens = lines[i].split()
        if len(count_tokens) != 1:
            raise LabelFormatError(f"{where}: expected a face-count line with one integer, got {len(count_tokens)} values")
        try:
            count = int(count_tokens[0])
        except ValueError:
            raise LabelFormatError(f"{where}: non-numeric face count {count_tokens[0]!r}") from None
        if count < 0:
            raise LabelFormatError(f"{where}: negative face count {count}")
        i = next_nonblank(i + 1)
        if count == 0:
            # the official files put one all-zero face line after a zero count; consume it if there
            if i < n_lines:
                toks = lines[i].split()
                if len(toks) == 10 and _is_numeric_line(toks):
                    _numbers(toks, f"{name}:{i + 1}")
                    i = next_nonblank(i + 1)
            out.append(b.build())
            continue
        for k in range(count):
            if i >= n_lines:
                raise LabelFormatError(
                    f"{name}:{n_lines}: count mismatch: {path_line!r} declares {count} faces, file ends after {k}"
                )
            where = f"{name}:{i + 1}"
            toks = lines[i].split()
            if len(toks) == 1 and not _is_numeric_line(toks):
                raise LabelFormatError(
                    f"{where}: count mismatch: {path_line!r} declares {count} faces, found {k} before the next path"
                )
            if len(toks) != 10:
                raise LabelFormatError(f"{where}: wrong column count {len(toks)} for WIDER gt layout (expected 10)")
            v = _numbers(toks, where)
            x, y, w, h = v[:4]
            invalid = v[7]
            if w < 0 or h < 0:
                bad.hit(where, f"negative box width/height ({w:g} x {h:g})")
                i = next_nonblank(i + 1)
                continue
            if not (skip_invalid and invalid >= 0.5):
                b.add((x, y, x + w, y + h), None, min_size)
            i = next_nonblank(i + 1)
        out.append(b.build())
    bad.report()
    return _merge_duplicates(out, name)


def parse_wider_gt(
    path: str | os.PathLike[str], min_size: float = 0.0, skip_invalid: bool = True, strict: bool = True
) -> list[ImageAnnotation]:
    """Read the official ``wider_face_*_bbx_gt.txt`` (boxes only; faces flagged invalid dropped)."""
    return _parse_wider_lines(read_text_lines(path), str(path), min_size, skip_invalid, strict)


def load_annotations(
    path: str | os.PathLike[str],
    layout: str = "auto",
    min_size: float = 0.0,
    skip_invalid: bool = True,
    strict: bool = True,
) -> list[ImageAnnotation]:
    """Read any supported label file into canonical annotations.

    ``min_size`` (pixels) drops faces whose width or height is below it; zero-area boxes are
    always dropped. ``skip_invalid`` applies to the WIDER gt layout's ``invalid`` flag.
    ``strict=False`` skips (with one warning per file) boxes of negative width/height instead
    of raising - the distributed WIDER val labels contain one such box.
    """
    lay = _normalise_layout(layout)
    lines = read_text_lines(path)
    name = str(path)
    if lay == "auto":
        lay = _detect_from_lines(lines, name)
    if lay == "wider":
        return _parse_wider_lines(lines, name, min_size, skip_invalid, strict)
    return _parse_hash_layout(lines, name, lay, min_size, strict)


# --------------------------------------------------------------------------------------------
# writer


def _fmt(v: float) -> str:
    """Two decimals without trailing zeros: compact and exact to 0.01 on reading back."""
    s = f"{float(v):.2f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def write_retinaface_labels(path: str | os.PathLike[str], annotations: Iterable[ImageAnnotation]) -> Path:
    """Write annotations as a RetinaFace ``label.txt`` (e.g. from an auto-labeller).

    A face with landmarks gets the 20-number line (``x y w h`` + five ``lx ly 0.0`` triples +
    confidence 1.0; an absent point inside such a face is written ``-1 -1 -1``); a face without
    any landmark gets the 4-number line. Values are written to 2 decimals.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    parts: list[str] = []
    for ann in annotations:
        if not ann.path.strip() or any(c in ann.path for c in "\r\n") or ann.path != ann.path.strip():
            raise ValueError(f"cannot write an annotation with image path {ann.path!r}")
        parts.append(f"# {ann.path}")
        boxes = np.asarray(ann.boxes, dtype=np.float64).reshape(-1, 4)
        lms = np.asarray(ann.landmarks, dtype=np.float64).reshape(-1, 5, 2)
        for b, lm in zip(boxes, lms):
            # round the corners first so x + w reads back as round(x2) exactly
            x1, y1, x2, y2 = (round(float(t), 2) for t in b)
            vals = [_fmt(x1), _fmt(y1), _fmt(x2 - x1), _fmt(y2 - y1)]
            absent = np.all(np.abs(lm - _ABSENT) < 1e-6, axis=1)
            if not absent.all():
                for (lx, ly), gone in zip(lm, absent):
                    vals += ["-1", "-1", "-1"] if gone else [_fmt(lx), _fmt(ly), "0.0"]
                vals.append("1.0")
            parts.append(" ".join(vals))
    write_text(p, "\n".join(parts) + ("\n" if parts else ""))  # atomic: never a half-written label file
    return p

"""Readers of human-labelled face benchmarks: PASCAL VOC box sets, Caltech WebFaces points, CUHK landmarks.

Three layouts, one per kind of human label (see ``docs/evaluation.md``, "Human-labelled sets"):

* **VOC xml box sets** (:func:`load_voc_dir`), e.g. ``facemask-kaggle/``: one PASCAL VOC
  ``<annotation>`` xml per image; every ``<object>`` is a face whatever its ``<name>`` (the mask
  set's ``with_mask`` / ``without_mask`` / ``mask_weared_incorrect`` are all faces). ``<filename>``
  names the image, looked up in ``images/``, ``JPEGImages/``, beside the xml or in the folder
  itself (the same stem with another image extension is accepted). Coordinates are read as
  continuous ``x1 y1 x2 y2`` pixels, as written (no VOC ``-1``). Text that is not inside a known
  element (one mask-set file holds a stray path line inside its first ``<object>``) is ignored.
* **Caltech WebFaces points** (:func:`load_caltech`): ``WebFaces_GroundThruth.txt``, one face per
  line ``file leye_x leye_y reye_x reye_y nose_x nose_y mouth_x mouth_y`` (four points, no box).
  ``split="val"`` keeps the hold-out the auto-labelled training labels were made with
  (:func:`featherface.data.splits.holdout_fraction` of ``"caltech-webfaces/images/" + file`` below
  ``val_fraction``), ``"train"`` the rest, ``"all"`` everything.
* **CUHK landmarks** (:func:`load_cuhk`): ``landmarks.txt``, one face per line ``images/NAME.jpg
  left right top bottom x1 y1 ... x5 y5`` (the human box as x_left x_right y_top y_bottom, then
  left eye, right eye, nose, left mouth corner, right mouth corner).

Malformed files raise :class:`~featherface.errors.LabelFormatError` with a one-line ``file:line:
cause`` message; a missing folder or a folder without labels raises
:class:`~featherface.errors.FeatherFaceError` naming it. Labelled images whose file is absent are
left out with a :class:`BenchmarkWarning` (a partial copy of a set stays usable). ``limit`` keeps
the first N images in a fixed order (natural file-name order; the label file's order for CUHK).

One cohesive thing, kept in one module: three readers with one set of rules (annotation types,
folder and number checks, missing-image warnings, ``limit``), as :mod:`featherface.data.labels` is
for the training label files; what is *measured* on each set lives in ``featherface.evaluation``
(``human_boxes``, ``human_points``, ``human_landmarks``).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence
from xml.parsers import expat

import numpy as np

from featherface.data.labels import read_text_lines
from featherface.data.splits import holdout_fraction
from featherface.errors import FeatherFaceError, ImageError, LabelFormatError

__all__ = [
    "BenchmarkWarning",
    "BoxAnnotation",
    "LandmarkAnnotation",
    "PointAnnotation",
    "CALTECH_LABEL_FILE",
    "CALTECH_SPLIT_PREFIX",
    "CUHK_LABEL_FILE",
    "STANDARD_SETS",
    "load_caltech",
    "load_cuhk",
    "load_voc_dir",
    "natural_key",
    "read_caltech_points",
    "read_cuhk_landmarks",
    "read_voc_xml",
]

CALTECH_LABEL_FILE = "WebFaces_GroundThruth.txt"
CALTECH_SPLIT_PREFIX = "caltech-webfaces/images/"  # the training labels' path prefix (root ../shared/data)
CUHK_LABEL_FILE = "landmarks.txt"
# standard folder names under a data root (``featherface eval --human-sets ../shared/data``)
STANDARD_SETS = {"facemask": "facemask-kaggle", "caltech": "caltech-webfaces", "cuhk": "cuhk-landmarks"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".JPG", ".JPEG", ".PNG")


class BenchmarkWarning(UserWarning):
    """A labelled image is missing or a label was left out; the run goes on without it."""


@dataclass(frozen=True)
class BoxAnnotation:
    """The human boxes of one image of a VOC set."""

    image: Path
    source: Path  # the xml file
    boxes: np.ndarray  # (N, 4) float64, x1 y1 x2 y2
    labels: tuple[str, ...]
    difficult: np.ndarray  # (N,) bool: VOC ``<difficult>1`` (ignored by the metrics)
    size: tuple[int, int] | None = None  # (width, height) from ``<size>``, when given

    @property
    def key(self) -> str:
        return self.image.name


@dataclass(frozen=True)
class PointAnnotation:
    """The labelled faces (four points each) of one Caltech WebFaces image."""

    image: Path
    key: str  # the file name as in the label file
    points: np.ndarray  # (N, 4, 2) float64: left eye, right eye, nose, mouth centre


@dataclass(frozen=True)
class LandmarkAnnotation:
    """The one labelled face of a CUHK image: human box and five landmarks."""

    image: Path
    key: str  # the path as in the label file (``images/NAME.jpg``)
    box: np.ndarray  # (4,) float64, x1 y1 x2 y2
    landmarks: np.ndarray  # (5, 2) float64


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``img2`` before ``img10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


def _limit(items: list[Any], limit: int | None) -> list[Any]:
    if limit is None:
        return items
    if int(limit) < 1:
        raise FeatherFaceError(f"limit must be >= 1, got {limit}")
    return items[: int(limit)]


def _folder(root: str | os.PathLike[str], what: str) -> Path:
    p = Path(root).expanduser()
    if not p.exists():
        raise FeatherFaceError(f"{p}: {what} folder not found")
    if not p.is_dir():
        raise FeatherFaceError(f"{p}: {what} is not a folder")
    return p


def _number(text: str, where: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise LabelFormatError(f"{where}: {what} is not a number: {text.strip()[:40]!r}") from None
    if not math.isfinite(v):
        raise LabelFormatError(f"{where}: {what} is not finite: {text.strip()!r}")
    return v


def _numeric_rows(p: Path, what: str, layout: str, shown: str | None = None) -> Iterator[tuple[int, str, list[float]]]:
    """``(line number, file name with '/' separators, the numbers)`` of each non-blank line of a
    ``name n1 n2 ...`` label file whose fields are ``layout``; one-line errors naming ``file:line``."""
    if not p.is_file():
        raise FeatherFaceError(f"{p}: {what} not found")
    n_fields = len(layout.split())
    for n, line in enumerate(read_text_lines(p, what), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != n_fields:
            raise LabelFormatError(f"{p}:{n}: expected {n_fields} fields '{shown or layout}', got {len(parts)}")
        yield n, parts[0].replace("\\", "/"), [_number(t, f"{p}:{n}", f"field {k + 2}") for k, t in enumerate(parts[1:])]


# --------------------------------------------------------------------------- VOC xml


class _Node:
    __slots__ = ("tag", "line", "children", "parts")

    def __init__(self, tag: str, line: int):
        self.tag = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()  # namespaces/prefixes dropped
        self.line = line
        self.children: list[_Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def find(self, tag: str) -> "_Node | None":
        return next((c for c in self.children if c.tag == tag), None)


def _parse_xml(path: Path) -> _Node:
    """Parse with expat, keeping each element's line number for error messages."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LabelFormatError(f"{path}: cannot read annotation ({exc.strerror or exc})") from exc
    parser = expat.ParserCreate()
    parser.buffer_text = True
    stack: list[_Node] = []
    roots: list[_Node] = []

    def start(tag: str, _attrs: Any) -> None:
        node = _Node(tag, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if stack:
            stack[-1].parts.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise LabelFormatError(f"{path}:{exc.lineno}: not well-formed XML ({expat.ErrorString(exc.code)}, "
                               f"column {exc.offset + 1})") from None
    return roots[0]


def read_voc_xml(path: str | os.PathLike[str]) -> tuple[str | None, tuple[int, int] | None, np.ndarray,
                                                        tuple[str, ...], np.ndarray]:
    """One VOC xml -> ``(filename or None, (width, height) or None, boxes (N, 4), names, difficult (N,))``."""
    p = Path(path)
    root = _parse_xml(p)
    if root.tag != "annotation":
        raise LabelFormatError(f"{p}:{root.line}: not a PASCAL VOC annotation (root element <{root.tag}>, "
                               "expected <annotation>)")
    fn = root.find("filename")
    filename = fn.text if fn is not None and fn.text else None
    size = None
    sz = root.find("size")
    if sz is not None:
        w, h = sz.find("width"), sz.find("height")
        if w is not None and h is not None and w.text and h.text:
            size = (int(_number(w.text, f"{p}:{w.line}", "<width>")), int(_number(h.text, f"{p}:{h.line}", "<height>")))
    boxes: list[list[float]] = []
    names: list[str] = []
    difficult: list[bool] = []
    for obj in (c for c in root.children if c.tag == "object"):
        bb = obj.find("bndbox")
        if bb is None:
            raise LabelFormatError(f"{p}:{obj.line}: <object> has no <bndbox>")
        v = []
        for k in ("xmin", "ymin", "xmax", "ymax"):
            el = bb.find(k)
            if el is None or not el.text:
                raise LabelFormatError(f"{p}:{bb.line}: <bndbox> lacks <{k}>")
            v.append(_number(el.text, f"{p}:{el.line}", f"<{k}>"))
        if v[2] < v[0] or v[3] < v[1]:
            bad = "xmax < xmin" if v[2] < v[0] else "ymax < ymin"
            raise LabelFormatError(f"{p}:{bb.line}: box has {bad} ({v[0]:g} {v[1]:g} {v[2]:g} {v[3]:g})")
        d = obj.find("difficult")
        flag = False
        if d is not None and d.text:
            flag = _number(d.text, f"{p}:{d.line}", "<difficult>") != 0
        name = obj.find("name")
        boxes.append(v)
        names.append(name.text if name is not None else "")
        difficult.append(flag)
    return (filename, size, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), tuple(names),
            np.asarray(difficult, dtype=bool))


def _find_image(dirs: Sequence[Path], filename: str) -> Path | None:
    name = Path(filename.replace("\\", "/")).name
    for d in dirs:
        if (d / name).is_file():
            return d / name
    stem = Path(name).stem
    for d in dirs:
        for ext in IMAGE_EXTS:
            if (d / f"{stem}{ext}").is_file():
                return d / f"{stem}{ext}"
    return None


def load_voc_dir(root: str | os.PathLike[str], limit: int | None = None,
                 classes: Sequence[str] | None = None) -> list[BoxAnnotation]:
    """All images of a VOC box set (``root/annotations/*.xml`` + images), natural file-name order.

    ``classes`` keeps only objects of those names (default: every object is a face). With
    ``limit`` only the first N xml files are read.
    """
    base = _folder(root, "VOC box set")
    xml_dir = next((base / d for d in ("annotations", "Annotations") if (base / d).is_dir()), base)
    files = sorted((f for f in xml_dir.iterdir() if f.suffix.lower() == ".xml" and f.is_file()),
                   key=lambda f: natural_key(f.name))
    if not files:
        raise FeatherFaceError(f"{base}: no VOC .xml annotation files (looked in annotations/, "
                               "Annotations/ and the folder itself)")
    dirs = [d for d in (base / "images", base / "JPEGImages", xml_dir, base) if d.is_dir()]
    keep = None if classes is None else set(classes)
    out: list[BoxAnnotation] = []
    for f in _limit(files, limit):
        filename, size, boxes, names, difficult = read_voc_xml(f)
        image = _find_image(dirs, filename or f.stem)
        if image is None:
            raise ImageError(f"{f}: image {filename or f.stem} not found (looked in "
                             f"{', '.join(str(d) for d in dirs)})")
        if keep is not None:
            m = np.array([n in keep for n in names], dtype=bool)
            boxes, difficult = boxes[m], difficult[m]
            names = tuple(n for n, k in zip(names, m) if k)
        out.append(BoxAnnotation(image=image, source=f, boxes=boxes, labels=names, difficult=difficult, size=size))
    return out


# --------------------------------------------------------------------------- Caltech WebFaces


def read_caltech_points(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``WebFaces_GroundThruth.txt`` -> ``{file: (N, 4, 2) points}`` (file order kept)."""
    p = Path(path)
    out: dict[str, list[np.ndarray]] = {}
    layout = "file leye_x leye_y reye_x reye_y nose_x nose_y mouth_x mouth_y"
    for _, name, v in _numeric_rows(p, "Caltech label file", layout):
        out.setdefault(name, []).append(np.asarray(v, dtype=np.float64).reshape(4, 2))
    if not out:
        raise LabelFormatError(f"{p}: no labelled face in the file")
    return {k: np.stack(v) for k, v in out.items()}


def load_caltech(
    root: str | os.PathLike[str],
    split: str = "val",
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    key_prefix: str = CALTECH_SPLIT_PREFIX,
    label_file: str | os.PathLike[str] | None = None,
) -> list[PointAnnotation]:
    """The Caltech WebFaces images of ``split`` (``"val"``, ``"train"`` or ``"all"``), natural order.

    An image is in ``val`` when ``holdout_fraction(key_prefix + file, seed) < val_fraction``:
    with the defaults, the hold-out of ``featherface autolabel ... --root ../shared/data
    --val-fraction 0.1`` (the training labels never saw these images).
    """
    base = _folder(root, "Caltech WebFaces")
    if split not in ("val", "train", "all"):
        raise FeatherFaceError(f"Caltech split must be val, train or all, got {split!r}")
    if split != "all" and not 0.0 < val_fraction < 1.0:
        raise FeatherFaceError(f"Caltech val_fraction must be in (0, 1), got {val_fraction}")
    if limit is not None and int(limit) < 1:
        raise FeatherFaceError(f"limit must be >= 1, got {limit}")
    labels = read_caltech_points(Path(label_file) if label_file else base / CALTECH_LABEL_FILE)
    image_dir = base / "images" if (base / "images").is_dir() else base
    names = sorted(labels, key=natural_key)
    if split != "all":
        val = split == "val"
        names = [k for k in names if (holdout_fraction(key_prefix + Path(k).name, seed) < val_fraction) == val]
    out: list[PointAnnotation] = []
    missing: list[str] = []
    for k in names:
        img = image_dir / Path(k).name
        if not img.is_file():
            missing.append(k)
            continue
        out.append(PointAnnotation(image=img, key=k, points=labels[k]))
        if limit is not None and len(out) >= limit:
            break
    if missing:
        warnings.warn(f"Caltech: {len(missing)} labelled image(s) not found under {image_dir} (e.g. {missing[0]}); "
                      "left out", BenchmarkWarning, stacklevel=2)
    if not out:
        raise FeatherFaceError(f"{base}: no labelled Caltech image of split {split!r} found under {image_dir}")
    return out


# --------------------------------------------------------------------------- CUHK landmarks


def read_cuhk_landmarks(path: str | os.PathLike[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``landmarks.txt`` -> ``[(image path, box x1 y1 x2 y2, (5, 2) landmarks)]`` in file order."""
    p = Path(path)
    out: list[tuple[str, np.ndarray, np.ndarray]] = []
    layout = "image left right top bottom x1 y1 x2 y2 x3 y3 x4 y4 x5 y5"
    for n, name, v in _numeric_rows(p, "CUHK landmark file", layout, shown="image left right top bottom x1 y1 ... x5 y5"):
        left, right, top, bottom = v[:4]
        if right <= left or bottom <= top:
            raise LabelFormatError(f"{p}:{n}: empty face box (left {left:g} right {right:g} top {top:g} "
                                   f"bottom {bottom:g})")
        out.append((name, np.array([left, top, right, bottom], dtype=np.float64),
                    np.asarray(v[4:], dtype=np.float64).reshape(5, 2)))
    if not out:
        raise LabelFormatError(f"{p}: no labelled face in the file")
    return out


def load_cuhk(root: str | os.PathLike[str], limit: int | None = None,
              label_file: str | os.PathLike[str] | None = None) -> list[LandmarkAnnotation]:
    """The CUHK images with their human box and landmarks, in the label file's order."""
    base = _folder(root, "CUHK landmark set")
    if limit is not None and int(limit) < 1:
        raise FeatherFaceError(f"limit must be >= 1, got {limit}")
    rows = read_cuhk_landmarks(Path(label_file) if label_file else base / CUHK_LABEL_FILE)
    out: list[LandmarkAnnotation] = []
    missing: list[str] = []
    for key, box, lms in rows:
        img = base / key
        if not img.is_file():
            missing.append(key)
            continue
        out.append(LandmarkAnnotation(image=img, key=key, box=box, landmarks=lms))
        if limit is not None and len(out) >= limit:
            break
    if missing:
        warnings.warn(f"CUHK: {len(missing)} labelled image(s) not found under {base} (e.g. {missing[0]}); left out",
                      BenchmarkWarning, stacklevel=2)
    if not out:
        raise FeatherFaceError(f"{base}: none of the images listed in {CUHK_LABEL_FILE} was found")
    return out

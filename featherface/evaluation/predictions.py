"""Reading and writing WIDER FACE prediction files (the layout every WIDER evaluator consumes).

One text file per image, ``<out_dir>/<event>/<image>.txt``::

    0_Parade_marchingband_1_465          <- line 1: image name (extension and folders optional)
    2                                    <- line 2: number of detections
    345.0 211.0 4.0 4.0 0.98             <- then one ``x y w h score`` line per detection
    331.5 126.0 3.0 3.0 0.51

The reader is deliberately stricter than the official toolkit, which skips a file it cannot
parse with a message that is easy to miss (MATLAB) or crashes / mis-parses (the python port).
Here every problem either raises :class:`~featherface.errors.LabelFormatError` whose message
starts with ``file:line:`` or is a documented, counted skip:

* a UTF-8 byte-order mark and Windows (``\\r\\n``) or old-Mac (``\\r``) line endings are accepted;
* blank (whitespace-only) lines after the count line are ignored, wherever they are;
* a file that is empty (or whitespace only) is read as "no detections"; the caller warns and
  says how many such files there were (:func:`read_prediction_file` returns ``name=None``);
* a missing or non-integer count line, a count that disagrees with the number of box lines
  (a truncated or concatenated file), a box line without exactly five numbers, a NaN or
  infinite value, a negative width or height, or a first line that names another image than
  the file name are errors: any of them means the AP would be computed on something else than
  what the detector produced.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from featherface.data.labels import read_text_lines
from featherface.errors import FeatherFaceError, LabelFormatError
from featherface.io.outputs import write_text

if TYPE_CHECKING:
    from featherface.evaluation.wider_gt import WiderGroundTruth

__all__ = [
    "IMAGE_EXTENSIONS",
    "EvaluationWarning",
    "PredictionFile",
    "faces_to_prediction",
    "image_stem",
    "read_prediction_dir",
    "read_prediction_file",
    "validate_prediction_array",
    "write_predictions",
]

#: Extensions stripped from image names so ``img.jpg``, ``img`` and ``event/img.jpg`` agree.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class EvaluationWarning(UserWarning):
    """Something was skipped or assumed while evaluating (missing images, empty files, ...)."""


def warn_evaluation(msg: str) -> None:
    """An :class:`EvaluationWarning` pointing at the caller of the function that warns."""
    warnings.warn(msg, EvaluationWarning, stacklevel=3)


def image_stem(name: str) -> str:
    """The bare image name: folders and a known image extension removed (``a/b.jpg`` -> ``b``).

    Why: detectors write the first line of a prediction file in every flavour (``b``, ``b.jpg``,
    ``event/b.jpg``); the official python port even uses ``rstrip('.jpg')``, which eats trailing
    ``j``/``p``/``g`` letters of the name itself. We compare names only after this normalisation.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    low = base.lower()
    for ext in IMAGE_EXTENSIONS:
        if low.endswith(ext) and len(base) > len(ext):
            return base[: -len(ext)]
    return base


@dataclass(frozen=True)
class PredictionFile:
    """Content of one prediction file.

    ``name`` is the image name of line 1 (``None`` for an empty file); ``boxes`` is ``(N, 5)``
    float64 ``x y w h score`` in file order.
    """

    path: str
    name: str | None
    boxes: np.ndarray

    @property
    def empty(self) -> bool:
        return self.name is None


# Bounds of one image's prediction file. No detector gives 100,000 faces per image (ours stop at
# max_detections=750); without them a 57 MB file of junk rows took 3.7 GB to parse.
MAX_PREDICTIONS_PER_IMAGE = 100_000
MAX_PREDICTION_FILE_BYTES = 16 * 1024 * 1024


def _fail(path: str | os.PathLike[str], line: int, msg: str) -> LabelFormatError:
    return LabelFormatError(f"{path}:{line}: {msg}")


def read_prediction_file(path: str | os.PathLike[str], *, check_name: bool = True) -> PredictionFile:
    """Parse one ``<image>.txt`` prediction file strictly (see the module docstring for the rules).

    ``check_name``: require line 1 to name the same image as the file name (after
    :func:`image_stem` on both), because the official MATLAB toolkit finds a file by its name
    while the python port keys it by line 1: when they disagree the two tools score different
    images, so we refuse rather than guess.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        size = 0  # read_text_lines names the problem
    if size > MAX_PREDICTION_FILE_BYTES:
        raise LabelFormatError(f"{p}: {size / 2**20:.0f} MB is too large for one image's prediction file "
                               f"(at most {MAX_PREDICTION_FILE_BYTES // 2**20} MB, about "
                               f"{MAX_PREDICTIONS_PER_IMAGE:,} detections; keep the best-scoring ones)")
    lines = read_text_lines(p, "prediction file")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return PredictionFile(str(p), None, np.zeros((0, 5), np.float64))

    name = lines[0].strip()
    if not name:
        raise _fail(p, 1, "line 1 must be the image name, found an empty line")
    stem = image_stem(p.name[:-4] if p.name.lower().endswith(".txt") else p.name)
    if check_name and image_stem(name) != stem:
        raise _fail(
            p, 1, f"line 1 names image {name!r} but the file is for image {stem!r} "
            "(line 1 must be the image name, line 2 the number of detections)"
        )
    if len(lines) < 2:
        raise _fail(p, 2, "missing the number-of-detections line (write 0 for an image without faces)")
    count_tok = lines[1].strip()
    try:
        count = int(count_tok)
    except ValueError:
        raise _fail(p, 2, f"line 2 must be the number of detections (an integer), found {count_tok!r}") from None
    if count < 0:
        raise _fail(p, 2, f"negative number of detections {count}")
    if count > MAX_PREDICTIONS_PER_IMAGE:
        raise _fail(p, 2, f"{count:,} detections for one image; at most {MAX_PREDICTIONS_PER_IMAGE:,} are read "
                          "(keep the best-scoring ones)")
    box_lines = sum(1 for line in lines[2:] if line.strip())
    if box_lines != count:  # counted before any row is split: a junk file must not cost gigabytes
        raise _fail(
            p, 2, f"line 2 announces {count} detection(s) but the file has {box_lines} box line(s) "
            "(truncated or concatenated file?)"
        )

    rows: list[list[str]] = []
    linenos: list[int] = []
    for i, line in enumerate(lines[2:], start=3):
        toks = line.split()
        if toks:
            rows.append(toks)
            linenos.append(i)
    if not rows:
        return PredictionFile(str(p), name, np.zeros((0, 5), np.float64))
    for toks, ln in zip(rows, linenos):
        if len(toks) != 5:
            raise _fail(p, ln, f"expected 5 values 'x y w h score', found {len(toks)}: {' '.join(toks)!r}")
    try:
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        for toks, ln in zip(rows, linenos):
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise _fail(p, ln, f"{t!r} is not a number") from None
        raise LabelFormatError(f"{p}: unparsable numbers") from None  # pragma: no cover
    bad = _first_bad_row(arr)
    if bad is not None:
        row, why = bad
        raise _fail(p, linenos[row], why)
    return PredictionFile(str(p), name, arr)


def _first_bad_row(arr: np.ndarray) -> tuple[int, str] | None:
    """Index and reason of the first invalid ``x y w h score`` row, or ``None``."""
    finite = np.isfinite(arr)
    if not finite.all():
        r = int(np.argmin(finite.all(axis=1)))
        col = int(np.argmin(finite[r]))
        what = ("x", "y", "w", "h", "score")[col]
        return r, f"{what} is {float(arr[r, col])}; every value must be a finite number"
    neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if neg.any():
        r = int(np.argmax(neg))
        return r, (
            f"negative box size w={arr[r, 2]:g} h={arr[r, 3]:g}; the columns are 'x y w h score' "
            "(width and height, not x2 y2)"
        )
    return None


def validate_prediction_array(value: Any, where: str) -> np.ndarray:
    """Turn one image's in-memory predictions into a checked ``(N, 5)`` ``x y w h score`` array.

    Accepts an array-like ``(N, 5)`` (``(0,)``/``None`` for nothing) or a sequence of
    :class:`~featherface.types.Face`-like objects (``.box`` = ``x1 y1 x2 y2``, ``.score``), so
    any detector's output can be evaluated without files. Same validity rules as the file reader.
    """
    if value is None:
        return np.zeros((0, 5), np.float64)
    if isinstance(value, (list, tuple)) and value and hasattr(value[0], "box") and hasattr(value[0], "score"):
        arr = faces_to_prediction(value)
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise FeatherFaceError(f"predictions for {where}: not a numeric (N, 5) array ({exc})") from None
        if arr.size == 0:
            return np.zeros((0, 5), np.float64)
        if arr.ndim != 2 or arr.shape[1] != 5:
            raise FeatherFaceError(
                f"predictions for {where}: expected shape (N, 5) 'x y w h score', got {arr.shape}"
            )
    bad = _first_bad_row(arr)
    if bad is not None:
        row, why = bad
        raise FeatherFaceError(f"predictions for {where}, row {row}: {why}")
    return arr


def faces_to_prediction(faces: Sequence[Any]) -> np.ndarray:
    """Convert detector output (``Face`` objects, boxes ``x1 y1 x2 y2``) to ``(N, 5)`` ``x y w h score``."""
    arr = np.zeros((len(faces), 5), np.float64)
    for i, f in enumerate(faces):
        x1, y1, x2, y2 = (float(v) for v in f.box)
        arr[i] = (x1, y1, x2 - x1, y2 - y1, float(f.score))
    return arr


def write_predictions(
    out_dir: str | os.PathLike[str],
    event: str,
    image_name: str,
    boxes_xywh: np.ndarray | Sequence[Sequence[float]],
    scores: np.ndarray | Sequence[float],
) -> Path:
    """Write one image's detections as ``<out_dir>/<event>/<image>.txt`` in the standard layout.

    Boxes are ``x y w h`` in original-image pixels. Rows are written best score first (the
    python port of the official toolkit assumes that order), coordinates with 3 decimals and
    scores with 8 significant digits so a re-read gives the same AP. Invalid values raise
    :class:`FeatherFaceError` here instead of producing a file the evaluator would reject later.
    Returns the path written.
    """
    stem = image_stem(image_name)
    if not stem or not event or "/" in event or "\\" in event:
        raise FeatherFaceError(f"invalid event {event!r} / image name {image_name!r} for a prediction file")
    b = np.asarray(boxes_xywh, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if b.size == 0:
        b = np.zeros((0, 4), np.float64)
    if b.ndim != 2 or b.shape[1] != 4 or b.shape[0] != s.shape[0]:
        raise FeatherFaceError(
            f"write_predictions({event}/{stem}): need boxes (N, 4) and scores (N,), got {b.shape} and {s.shape}"
        )
    arr = validate_prediction_array(np.concatenate([b, s[:, None]], axis=1), f"{event}/{stem}")
    order = np.argsort(-arr[:, 4], kind="stable")
    arr = arr[order]
    folder = Path(out_dir) / event
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.txt"
    parts = [stem, str(arr.shape[0])]
    parts.extend(f"{x:.3f} {y:.3f} {w:.3f} {h:.3f} {sc:.8g}" for x, y, w, h, sc in arr.tolist())
    # the one output layer: a full disk or short write is an OutputError naming this file
    return write_text(path, "\n".join(parts) + "\n")


def read_prediction_dir(
    pred_dir: str | os.PathLike[str],
    gt: "WiderGroundTruth | None" = None,
    *,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Read a prediction folder (``<event>/<image>.txt``, any depth) into ``{key: (N, 5) array}``.

    With ``gt`` the keys are ``gt.key(i)`` (``"event/image"``); files that match no
    ground-truth image are not parsed (so a stray ``README.txt`` is harmless) and reported in one
    :class:`EvaluationWarning`; two files for one image raise :class:`LabelFormatError`.
    Without ``gt`` keys are the relative paths without ``.txt``. Empty files count as "no
    detections" and are reported in one warning. Malformed files raise ``LabelFormatError``
    naming ``file:line``.
    """
    root = Path(pred_dir)
    if not root.is_dir():
        raise FeatherFaceError(f"prediction folder {root} does not exist")
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise FeatherFaceError(f"no .txt prediction files under {root} (expected <event>/<image>.txt)")
    jobs: list[tuple[str, Path]] = []
    unknown: list[str] = []
    owner: dict[int, Path] = {}
    for f in files:
        rel = f.relative_to(root).as_posix()[:-4]
        if gt is None:
            jobs.append((rel, f))
            continue
        i = gt.find(rel)
        if i is None:
            unknown.append(rel + ".txt")
            continue
        if i in owner:
            raise LabelFormatError(f"{f}: second prediction file for image {gt.key(i)} (the first is {owner[i]})")
        owner[i] = f
        jobs.append((gt.key(i), f))
    if gt is not None and unknown:
        warn_evaluation(
            f"{len(unknown)} file(s) under {root} match no ground-truth image and were ignored "
            f"(e.g. {', '.join(unknown[:3])})"
        )
    if gt is not None and not jobs:
        raise FeatherFaceError(
            f"none of the {len(files)} .txt files under {root} matches a ground-truth image; "
            "is this a WIDER FACE val prediction folder (<event>/<image>.txt)?"
        )
    it: Iterable[tuple[str, Path]] = jobs
    if progress:
        it = tqdm(jobs, desc="reading predictions", unit="img", leave=False)
    out: dict[str, np.ndarray] = {}
    empty: list[str] = []
    for key, f in it:
        pf = read_prediction_file(f)
        if pf.empty:
            empty.append(str(f))
        out[key] = pf.boxes
    if empty:
        warn_evaluation(
            f"{len(empty)} prediction file(s) were empty and count as images with no detections "
            f"(e.g. {', '.join(empty[:3])})"
        )
    return out

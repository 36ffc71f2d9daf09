"""Side-by-side comparison of face detectors: speed, agreement, pictures, and WIDER AP.

Used by ``featherface compare``; also a library:

    >>> from featherface.compare import compare_detectors, format_markdown
    >>> from featherface.peers import build_peer
    >>> dets = [build_peer("yunet"), build_peer("ultraface-rfb320")]
    >>> result = compare_detectors(dets, ["a.jpg", "b.jpg"], reference="yunet")
    >>> print(format_markdown(result))

Why these measures. Unlabelled photos have no ground truth, so detectors are compared with one
chosen *reference* detector: precision = share of a detector's faces that the reference also
found, recall = share of the reference's faces it found (both at IoU >= 0.5, one-to-one greedy
matching by IoU), and, where both give landmarks, the mean landmark distance normalised by the
size of the reference box (``sqrt(w*h)``). This is agreement, not accuracy: the reference has
misses and false alarms of its own. Accuracy comes from :func:`evaluate_on_wider` (the official
WIDER FACE protocol) when the WIDER val images are at hand.

Latency: all detectors run in the same process on the same decoded images. One untimed pass
(warm-up; its detections are the ones reported) is followed by ``repeats`` timed passes,
interleaved per image and rotating the detector order so that background load hits all of them
alike. An image's latency is the median of its repeats; the table gives the median and the 90th
percentile of those over the images. Decoding the file is not timed; each detector's own
resizing/pre-processing, inference and post-processing are.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError, FeatherFaceError, ImageError
from featherface.io.images import encode_image, load_image, resize_by
from featherface.io.outputs import write_bytes
from featherface.types import Detector, Face

# --------------------------------------------------------------------------- matching & agreement


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), ``x1 y1 x2 y2``, continuous pixels."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_match(boxes: np.ndarray, ref_boxes: np.ndarray, iou_threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one matching: repeatedly take the highest-IoU unused pair while IoU >= threshold.

    Returns ``(index in boxes, index in ref_boxes, iou)`` triples. Ties are broken by index
    (stable), so results are deterministic.
    """
    iou = iou_matrix(boxes, ref_boxes)
    if iou.size == 0:
        return []
    ii, jj = np.nonzero(iou >= iou_threshold)
    if ii.size == 0:
        return []
    vals = iou[ii, jj]
    order = np.lexsort((jj, ii, -vals))
    used_a: set[int] = set()
    used_b: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for k in order:
        i, j = int(ii[k]), int(jj[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, float(vals[k])))
    return out


def landmark_error(face: Face, ref: Face) -> float | None:
    """Mean distance of the five landmarks over ``sqrt(w*h)`` of the reference box; ``None`` if either lacks them."""
    if face.landmarks is None or ref.landmarks is None:
        return None
    a = np.asarray(face.landmarks, dtype=np.float64).reshape(5, 2)
    b = np.asarray(ref.landmarks, dtype=np.float64).reshape(5, 2)
    size = math.sqrt(max(ref.width, 0.0) * max(ref.height, 0.0))
    if size <= 0:
        return None
    return float(np.linalg.norm(a - b, axis=1).mean() / size)


@dataclass
class Agreement:
    """How far one detector agrees with the reference detector over a set of images."""

    matched: int
    found: int
    reference: int
    mean_iou: float | None
    landmark_nme: float | None
    landmark_pairs: int
    landmark_nme_median: float | None = None

    @property
    def precision(self) -> float | None:
        return self.matched / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.reference if self.reference else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "found": self.found,
            "reference_faces": self.reference,
            "precision": _r(self.precision),
            "recall": _r(self.recall),
            "mean_iou": _r(self.mean_iou),
            "landmark_nme": _r(self.landmark_nme),
            "landmark_nme_median": _r(self.landmark_nme_median),
            "landmark_pairs": self.landmark_pairs,
        }


def agreement(
    faces_per_image: Sequence[Sequence[Face]],
    ref_per_image: Sequence[Sequence[Face]],
    iou_threshold: float = 0.5,
) -> Agreement:
    """Pooled agreement of ``faces_per_image`` with ``ref_per_image`` (same image order)."""
    if len(faces_per_image) != len(ref_per_image):
        raise ConfigError(f"agreement: {len(faces_per_image)} images vs {len(ref_per_image)} reference images")
    matched = found = ref_n = pairs = 0
    ious: list[float] = []
    errs: list[float] = []
    for faces, refs in zip(faces_per_image, ref_per_image):
        found += len(faces)
        ref_n += len(refs)
        if not faces or not refs:
            continue
        a = np.asarray([f.box for f in faces], dtype=np.float64)
        b = np.asarray([f.box for f in refs], dtype=np.float64)
        for i, j, v in greedy_match(a, b, iou_threshold):
            matched += 1
            ious.append(v)
            e = landmark_error(faces[i], refs[j])
            if e is not None:
                errs.append(e)
                pairs += 1
    return Agreement(
        matched=matched,
        found=found,
        reference=ref_n,
        mean_iou=float(np.mean(ious)) if ious else None,
        landmark_nme=float(np.mean(errs)) if errs else None,
        landmark_pairs=pairs,
        landmark_nme_median=float(np.median(errs)) if errs else None,
    )


# --------------------------------------------------------------------------- running & timing


@dataclass
class DetectorRun:
    """What one detector produced on the image set: faces and per-image latency (ms)."""

    name: str
    faces: list[list[Face]]
    latencies_ms: list[float]
    input: str = ""
    landmarks: bool = False
    description: str = ""

    @property
    def faces_found(self) -> int:
        return sum(len(f) for f in self.faces)

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None


@dataclass
class ComparisonResult:
    """Everything :func:`compare_detectors` measured; ``to_dict`` for JSON, :func:`format_markdown` for people."""

    images: list[str]
    runs: list[DetectorRun]
    reference: str | None
    iou_threshold: float
    repeats: int
    agreements: dict[str, Agreement] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def run(self, name: str) -> DetectorRun:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self, include_faces: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "images": self.images,
            "reference": self.reference,
            "iou_threshold": self.iou_threshold,
            "repeats": self.repeats,
            "settings": self.settings,
            "environment": environment(),
            "detectors": [],
        }
        for r in self.runs:
            d: dict[str, Any] = {
                "name": r.name,
                "description": r.description,
                "input": r.input,
                "landmarks": r.landmarks,
                "faces_found": r.faces_found,
                "latency_ms": {
                    "median": _r(r.latency(50), 2),
                    "p90": _r(r.latency(90), 2),
                    "mean": _r(float(np.mean(r.latencies_ms)) if r.latencies_ms else None, 2),
                },
                "agreement": self.agreements[r.name].to_dict() if r.name in self.agreements else None,
                "per_image": [
                    {"image": img, "faces": len(f), "latency_ms": _r(t, 2)}
                    | ({"detections": [x.to_dict() for x in f]} if include_faces else {})
                    for img, f, t in zip(self.images, r.faces, r.latencies_ms or [None] * len(self.images))
                ],
            }
            out["detectors"].append(d)
        return out


def describe_detector(det: Detector) -> tuple[str, bool, str]:
    """``(input description, gives landmarks?, one-line description)`` of any detector.

    Peer adapters say it themselves (``describe_input()``, ``gives_landmarks``); for others
    (our :class:`~featherface.FaceDetector`) it is read from ``input_size``.
    """
    describe = getattr(det, "describe_input", None)
    if callable(describe):
        inp = str(describe())
    else:
        size = getattr(det, "input_size", None)
        inp = "original" if size is None else f"longer side {size}"
    lm = getattr(det, "gives_landmarks", None)
    if lm is None:
        lm = type(det).__name__ == "FaceDetector"
    return inp, bool(lm), repr(det)


def run_detectors(
    detectors: Sequence[Detector],
    images: Sequence[np.ndarray],
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[list[list[Face]]], list[list[float]]]:
    """Warm-up pass (whose detections are returned) then ``repeats`` timed, interleaved passes.

    Returns ``faces[d][i]`` and ``latencies_ms[d][i]`` (median over repeats; empty lists when
    ``repeats == 0``).
    """
    if repeats < 0:
        raise ConfigError(f"repeats must be >= 0, got {repeats}")
    nd, ni = len(detectors), len(images)
    faces: list[list[list[Face]]] = [[[] for _ in range(ni)] for _ in range(nd)]
    for d, det in enumerate(detectors):
        if progress:
            progress(f"{det.name}: detecting ({ni} images)")
        for i, img in enumerate(images):
            faces[d][i] = list(det.detect(img))
    times = np.zeros((nd, ni, repeats), dtype=np.float64)
    for r in range(repeats):
        if progress:
            progress(f"timing pass {r + 1}/{repeats}")
        for i, img in enumerate(images):
            for k in range(nd):
                d = (k + i + r) % nd  # rotate who goes first
                t0 = time.perf_counter()
                detectors[d].detect(img)
                times[d, i, r] = (time.perf_counter() - t0) * 1000.0
    lat = [list(np.median(times[d], axis=1)) if repeats else [] for d in range(nd)]
    return faces, [[float(x) for x in row] for row in lat]


def compare_detectors(
    detectors: Sequence[Detector],
    images: Sequence[Any],
    names: Sequence[str] | None = None,
    reference: str | None = None,
    repeats: int = 3,
    iou_threshold: float = 0.5,
    progress: Callable[[str], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ComparisonResult:
    """Run every detector on every image, time them, and score agreement with ``reference``.

    ``images`` are paths or BGR arrays (decoded once, up front); ``names`` label them (default:
    file names). ``reference`` is a detector name (``None``: the first detector); every
    detector, the reference included, gets an :class:`Agreement` with it.
    """
    if not detectors:
        raise ConfigError("compare: no detector to run")
    seen: set[str] = set()
    for det in detectors:
        if det.name in seen:
            raise ConfigError(f"compare: two detectors are named {det.name!r}")
        seen.add(det.name)
    if not 0.0 < iou_threshold <= 1.0:
        raise ConfigError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if not images:
        raise ConfigError("compare: no images")
    arrays = [load_image(im) for im in images]
    if names is None:
        names = [Path(im).name if isinstance(im, (str, os.PathLike)) else f"image{i}" for i, im in enumerate(images)]
    ref_name = reference if reference is not None else detectors[0].name
    if ref_name not in seen:
        raise ConfigError(f"reference detector {ref_name!r} is not among the detectors run ({', '.join(seen)})")
    faces, lat = run_detectors(detectors, arrays, repeats, progress)
    runs: list[DetectorRun] = []
    for det, f, t in zip(detectors, faces, lat):
        inp, lm, desc = describe_detector(det)
        has_lm = any(x.landmarks is not None for per in f for x in per) or lm
        runs.append(DetectorRun(det.name, f, t, inp, has_lm, desc))
    result = ComparisonResult(list(names), runs, ref_name, float(iou_threshold), int(repeats), settings=dict(settings or {}))
    ref_faces = result.run(ref_name).faces
    for r in runs:
        result.agreements[r.name] = agreement(r.faces, ref_faces, iou_threshold)
    return result


# --------------------------------------------------------------------------- reporting


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), nd)


def _fmt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def format_markdown(result: ComparisonResult) -> str:
    """The comparison as a GitHub-markdown table (one row per detector) plus a legend line."""
    head = ("| detector | input | landmarks | faces | ms/img median | ms/img p90 | "
            f"precision vs {result.reference} | recall vs {result.reference} | landmark NME vs {result.reference} |")
    lines = [head, "|" + "---|" * 9]
    for r in result.runs:
        a = result.agreements.get(r.name)
        if r.name == result.reference:
            prec = rec = "(reference)"
            nme = "(reference)"
        else:
            prec = _fmt(a.precision if a else None, ".3f")
            rec = _fmt(a.recall if a else None, ".3f")
            nme = _fmt(a.landmark_nme if a else None, ".3f")
        lines.append(
            f"| {r.name} | {r.input} | {'yes' if r.landmarks else 'no'} | {r.faces_found} | "
            f"{_fmt(r.latency(50), '.1f')} | {_fmt(r.latency(90), '.1f')} | {prec} | {rec} | {nme} |"
        )
    lines.append("")
    lines.append(
        f"{len(result.images)} images; latency = per-image median of {result.repeats} timed runs after a warm-up, "
        f"then median / 90th percentile over images. Agreement: one-to-one greedy matching at IoU >= "
        f"{result.iou_threshold:g}; landmark NME = mean point distance / sqrt(reference box area)."
    )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Versions and machine facts that numbers depend on (recorded in the JSON output)."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "numpy": np.__version__,
    }
    try:
        env["load_average_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews latency
    except (AttributeError, OSError):  # pragma: no cover - not on every OS
        env["load_average_1m"] = None
    try:
        import onnxruntime

        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        env["onnxruntime"] = None
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        env["torch"] = None
    return env


# --------------------------------------------------------------------------- grid picture

_LANDMARK_COLOURS = ((0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0))  # BGR
_BOX_COLOUR = (0, 220, 0)


def _label(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5, bg: tuple[int, int, int] = (0, 0, 0)) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    x, y = org
    cv2.rectangle(img, (x, y - th - 4), (x + tw + 6, y + base), bg, -1)
    cv2.putText(img, text, (x + 3, y - 2), font, scale, (255, 255, 255), 1, cv2.LINE_AA)


def draw_cell(image: np.ndarray, faces: Sequence[Face], width: int) -> np.ndarray:
    """``image`` scaled to ``width`` pixels wide with its faces' boxes and landmarks drawn on it."""
    s = width / image.shape[1]
    cell = resize_by(image, s)
    if cell is image:  # drawn on below: never on the caller's picture
        cell = image.copy()
    for f in faces:
        x1, y1, x2, y2 = (int(round(v * s)) for v in f.box)
        cv2.rectangle(cell, (x1, y1), (x2, y2), _BOX_COLOUR, 1, cv2.LINE_AA)
        if f.landmarks is not None:
            r = 1 if (x2 - x1) < 40 else 2
            for (px, py), c in zip(f.landmarks, _LANDMARK_COLOURS):
                cv2.circle(cell, (int(round(px * s)), int(round(py * s))), r, c, -1, cv2.LINE_AA)
    return cell


MIN_CELL_WIDTH, MAX_CELL_WIDTH = 16, 4096


def draw_grid(
    images: Sequence[np.ndarray],
    image_names: Sequence[str],
    columns: Sequence[tuple[str, Sequence[Sequence[Face]]]],
    cell_width: int = 300,
    gap: int = 4,
) -> np.ndarray:
    """One row per image, one labelled column per detector; returns the BGR picture.

    ``columns`` is ``[(detector name, faces per image), ...]`` aligned with ``images``.
    """
    if not images or not columns:
        raise ConfigError("draw_grid: need at least one image and one detector")
    if isinstance(cell_width, bool) or not isinstance(cell_width, int) or not MIN_CELL_WIDTH <= cell_width <= MAX_CELL_WIDTH:
        raise ConfigError(f"grid cell width must be a whole number of pixels from {MIN_CELL_WIDTH} to "
                          f"{MAX_CELL_WIDTH}, got {cell_width!r}")
    header = 28
    rows: list[np.ndarray] = []
    for i, (img, nm) in enumerate(zip(images, image_names)):
        cells = []
        for c, (det_name, per_image) in enumerate(columns):
            cell = draw_cell(img, per_image[i], cell_width)
            _label(cell, f"{len(per_image[i])} faces", (0, cell.shape[0] - 4), 0.45)
            if c == 0:
                _label(cell, nm, (0, 16), 0.45, bg=(90, 60, 0))
            cells.append(cell)
        hmax = max(c.shape[0] for c in cells)
        row = np.full((hmax, len(cells) * cell_width + (len(cells) - 1) * gap, 3), 255, np.uint8)
        for c, cell in enumerate(cells):
            x = c * (cell_width + gap)
            row[: cell.shape[0], x : x + cell_width] = cell
        rows.append(row)
    width = rows[0].shape[1]
    top = np.full((header, width, 3), 40, np.uint8)
    for c, (det_name, _) in enumerate(columns):
        x = c * (cell_width + gap)
        cv2.putText(top, det_name, (x + 6, header - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    parts = [top]
    for row in rows:
        parts.append(np.full((gap, width, 3), 255, np.uint8))
        parts.append(row)
    return np.concatenate(parts, axis=0)


def write_jpeg(path: str | os.PathLike[str], image: np.ndarray, max_kb: int | None = 400, quality: int = 88) -> Path:
    """Write a JPEG, lowering the quality step by step until it fits ``max_kb`` (if given)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    q = quality
    while True:
        try:
            data = encode_image(image, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, q])
        except ImageError as exc:
            raise FeatherFaceError(f"{p}: cannot encode JPEG ({exc})") from None
        if max_kb is None or len(data) <= max_kb * 1024 or q <= 40:
            break
        q -= 6
    write_bytes(p, data)  # atomic: a reader never sees half a grid
    return p


def pick_grid_images(names: Sequence[str], choice: int | Sequence[str]) -> list[int]:
    """Indices of the images to draw: ``n`` evenly spaced ones, or the listed names (in that order)."""
    if isinstance(choice, int):
        n = max(1, min(choice, len(names)))
        return sorted({int(round(x)) for x in np.linspace(0, len(names) - 1, n)})
    idx = []
    for want in choice:
        hits = [i for i, nm in enumerate(names) if nm == want or Path(nm).stem == Path(want).stem]
        if not hits:
            raise ConfigError(f"grid image {want!r} is not among the compared images")
        idx.append(hits[0])
    return idx


def save_grid(
    result: ComparisonResult,
    images: Sequence[np.ndarray],
    path: str | os.PathLike[str],
    choice: int | Sequence[str] = 6,
    cell_width: int = 300,
    max_kb: int | None = 400,
) -> Path:
    """Draw the grid of a :class:`ComparisonResult` for some of its images and write it as JPEG."""
    idx = pick_grid_images(result.images, choice)
    cols = [(r.name, [r.faces[i] for i in idx]) for r in result.runs]
    grid = draw_grid([images[i] for i in idx], [result.images[i] for i in idx], cols, cell_width)
    return write_jpeg(path, grid, max_kb)


# --------------------------------------------------------------------------- WIDER FACE


def wider_image_paths(images_dir: str | os.PathLike[str], gt: Any) -> list[Path]:
    """The image file of every ground-truth entry (``<dir>/<event>/<name>.jpg``; ``<dir>/images/...`` also works).

    Every image must exist: scoring with missing images would silently lower AP.
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise FeatherFaceError(f"WIDER images folder {root} does not exist")
    if gt.num_images and not (root / gt.events[0]).is_dir() and (root / "images").is_dir():
        root = root / "images"
    paths: list[Path] = []
    missing: list[str] = []
    for e, n in zip(gt.events, gt.names):
        p = root / e / f"{n}.jpg"
        if not p.is_file():
            alt = [q for q in (root / e).glob(f"{n}.*")] if (root / e).is_dir() else []
            if alt:
                p = alt[0]
            else:
                missing.append(f"{e}/{n}.jpg")
        paths.append(p)
    if missing:
        raise FeatherFaceError(
            f"{len(missing)} of {gt.num_images} WIDER images are missing under {root} (e.g. {', '.join(missing[:3])}); "
            "pass the WIDER_val/images folder (or a limit / --wider-limit N for a partial run)"
        )
    return paths


def evaluate_on_wider(
    detectors: Sequence[Detector],
    images_dir: str | os.PathLike[str],
    gt: Any,
    limit: int | None = None,
    iou_threshold: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every detector over the WIDER val images and score it with the official protocol.

    ``gt`` is a :class:`~featherface.evaluation.widerface.WiderGroundTruth` or its folder.
    Detectors should be built with a low score threshold (0.02 is the convention) since AP is
    computed over the whole score range. ``limit`` keeps the first N images (quick checks;
    such APs are not comparable with published numbers). Returns ``{name: {easy, medium, hard,
    images, seconds, partial}}``.
    """
    from featherface.evaluation.widerface import WiderGroundTruth, evaluate, load_wider_ground_truth

    g = gt if isinstance(gt, WiderGroundTruth) else load_wider_ground_truth(gt)
    partial = limit is not None and limit < g.num_images
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"limit must be >= 1, got {limit}")
        g = g.subset(range(min(limit, g.num_images)))
    paths = wider_image_paths(images_dir, g)
    preds: dict[str, dict[str, list[Face]]] = {det.name: {} for det in detectors}
    seconds = {det.name: 0.0 for det in detectors}
    for i, p in enumerate(paths):
        img = load_image(p)
        for det in detectors:
            t0 = time.perf_counter()
            preds[det.name][g.key(i)] = list(det.detect(img))
            seconds[det.name] += time.perf_counter() - t0
        if progress:
            progress(i + 1, len(paths))
    out: dict[str, dict[str, Any]] = {}
    for det in detectors:
        res = evaluate(preds[det.name], g, iou_threshold)
        out[det.name] = {s: float(res[s]) for s in g.settings}
        out[det.name].update(images=g.num_images, seconds=round(seconds[det.name], 2), partial=partial,
                             predictions=int(res["num_predictions"]))
    return out


def format_wider_markdown(scores: Mapping[str, Mapping[str, Any]]) -> str:
    """WIDER AP table, one row per detector."""
    lines = ["| detector | easy AP | medium AP | hard AP | images | s/img |", "|---|---|---|---|---|---|"]
    partial = False
    for name, s in scores.items():
        partial = partial or bool(s.get("partial"))
        n = int(s.get("images", 0)) or 1
        lines.append(
            f"| {name} | {_fmt(s.get('easy'), '.4f')} | {_fmt(s.get('medium'), '.4f')} | {_fmt(s.get('hard'), '.4f')} | "
            f"{s.get('images', '–')} | {_fmt(s.get('seconds', 0.0) / n, '.3f')} |"
        )
    if partial:
        lines.append("")
        lines.append("Partial run (a subset of WIDER val): not comparable with published numbers.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- building the line-up

OURS = ("featherface", "ours")


def _our_detector(model: str, weights: str | None, score_threshold: float, nms_threshold: float | None,
                  input_size: int | None) -> Detector:
    from featherface.inference.detector import FaceDetector

    kw: dict[str, Any] = {"score_threshold": score_threshold, "input_size": input_size, "device": "cpu"}
    if nms_threshold is not None:
        kw["nms_threshold"] = nms_threshold
    return FaceDetector(model=model, weights=weights if weights else "default", **kw)


def default_weights_available(model: str) -> bool:
    """Whether trained weights for ``model`` ship with the package (only then is it compared without --weights)."""
    from featherface.weights import BUILTIN_WEIGHTS

    return model in BUILTIN_WEIGHTS


def build_detectors(
    specs: Sequence[str],
    *,
    weights: str | None = None,
    model: str = "featherface-v2-ultra",
    score_threshold: float = 0.5,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    threads: int | None = None,
    strict: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[Detector]:
    """Build the line-up named by ``specs`` (peer specs, plus ``featherface[:WEIGHTS]`` for ours).

    Our detector joins (first) when ``weights`` is given or trained weights ship with the package;
    it is never run with random weights. A peer that cannot be built here (file or library
    missing) is skipped with a message through ``log``, or raises with ``strict`` or when its
    spec names an explicit path. ``input_size`` goes to detectors whose input can be resized;
    fixed-input models keep their size (logged).
    """
    from featherface.peers import PeerUnavailableError, build_peer, parse_spec

    say = log or (lambda _m: None)
    specs = [s.strip() for s in specs if s and s.strip()]
    ours = [s for s in specs if s.split(":", 1)[0].lower() in OURS]
    peers = [s for s in specs if s not in ours]
    for s in peers:  # unknown names fail before anything is loaded
        parse_spec(s)
    dets: list[Detector] = []
    our_weights = weights
    for s in ours:
        _, sep, path = s.partition(":")
        if sep and path:
            our_weights = path
    if our_weights or default_weights_available(model):
        dets.append(_our_detector(model, our_weights, score_threshold, nms_threshold, input_size))
    elif ours:
        msg = (f"featherface: no trained weights ship for '{model}' yet; pass --weights PATH to include it "
               "(it is never compared with random weights)")
        if strict:
            raise ConfigError(msg)
        say(f"skipped {msg}")
    else:
        say(f"note: {model} is not compared: no trained weights ship yet (pass --weights PATH)")
    for s in peers:
        info, path = parse_spec(s)
        try:
            try:
                det = build_peer(s, score_threshold=score_threshold, nms_threshold=nms_threshold,
                                 input_size=input_size, threads=threads)
            except ConfigError as exc:
                if input_size is None or "fixed" not in str(exc):
                    raise
                det = build_peer(s, score_threshold=score_threshold, nms_threshold=nms_threshold, threads=threads)
                say(f"note: {det.name} has a fixed input size; --input-size does not apply to it")
        except PeerUnavailableError as exc:
            if strict or path is not None:
                raise
            say(f"skipped {exc}")
            continue
        if any(d.name == det.name for d in dets):
            raise ConfigError(f"detector {det.name!r} is listed twice")
        dets.append(det)
    return dets

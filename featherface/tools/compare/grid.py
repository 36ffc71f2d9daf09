"""The comparison as a picture: one row per image, one labelled column per detector, as a JPEG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from featherface.errors import ConfigError, FeatherFaceError, ImageError
from featherface.io.images import encode_image, resize_by
from featherface.io.outputs import write_bytes
from featherface.types import Face

if TYPE_CHECKING:
    from featherface.tools.compare.run import ComparisonResult

LANDMARK_COLOURS = ((0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0))  # BGR
BOX_COLOUR = (0, 220, 0)
MIN_CELL_WIDTH, MAX_CELL_WIDTH = 16, 4096
HEADER_HEIGHT = 28


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
        cv2.rectangle(cell, (x1, y1), (x2, y2), BOX_COLOUR, 1, cv2.LINE_AA)
        if f.landmarks is not None:
            r = 1 if (x2 - x1) < 40 else 2
            for (px, py), c in zip(f.landmarks, LANDMARK_COLOURS):
                cv2.circle(cell, (int(round(px * s)), int(round(py * s))), r, c, -1, cv2.LINE_AA)
    return cell


def _check_cell_width(cell_width: object) -> None:
    if isinstance(cell_width, bool) or not isinstance(cell_width, int) or not MIN_CELL_WIDTH <= cell_width <= MAX_CELL_WIDTH:
        raise ConfigError(f"grid cell width must be a whole number of pixels from {MIN_CELL_WIDTH} to "
                          f"{MAX_CELL_WIDTH}, got {cell_width!r}")


def _grid_row(image: np.ndarray, name: str, faces: Sequence[Sequence[Face]], cell_width: int, gap: int) -> np.ndarray:
    """One image's row: a cell per detector (``faces[c]``), the face count on each, the image name on the first."""
    cells = []
    for c, per_image in enumerate(faces):
        cell = draw_cell(image, per_image, cell_width)
        _label(cell, f"{len(per_image)} faces", (0, cell.shape[0] - 4), 0.45)
        if c == 0:
            _label(cell, name, (0, 16), 0.45, bg=(90, 60, 0))
        cells.append(cell)
    hmax = max(c.shape[0] for c in cells)
    row = np.full((hmax, len(cells) * cell_width + (len(cells) - 1) * gap, 3), 255, np.uint8)
    for c, cell in enumerate(cells):
        x = c * (cell_width + gap)
        row[: cell.shape[0], x : x + cell_width] = cell
    return row


def _header(names: Sequence[str], width: int, cell_width: int, gap: int) -> np.ndarray:
    top = np.full((HEADER_HEIGHT, width, 3), 40, np.uint8)
    for c, det_name in enumerate(names):
        x = c * (cell_width + gap)
        cv2.putText(top, det_name, (x + 6, HEADER_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return top


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
    _check_cell_width(cell_width)
    rows = [_grid_row(img, nm, [per_image[i] for _, per_image in columns], cell_width, gap)
            for i, (img, nm) in enumerate(zip(images, image_names))]
    width = rows[0].shape[1]
    parts = [_header([name for name, _ in columns], width, cell_width, gap)]
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
    result: "ComparisonResult",
    images: Sequence[np.ndarray],
    path: str | os.PathLike[str],
    choice: int | Sequence[str] = 6,
    cell_width: int = 300,
    max_kb: int | None = 400,
) -> Path:
    """Draw the grid of a :class:`~featherface.tools.compare.run.ComparisonResult` for some of its images and write it as JPEG."""
    idx = pick_grid_images(result.images, choice)
    cols = [(r.name, [r.faces[i] for i in idx]) for r in result.runs]
    grid = draw_grid([images[i] for i in idx], [result.images[i] for i in idx], cols, cell_width)
    return write_jpeg(path, grid, max_kb)

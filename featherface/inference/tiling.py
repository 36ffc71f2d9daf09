"""Tiled detection: small faces in big photos.

Why: a 4000x3000 phone photo is scaled down to ``max_size`` (or ``input_size``) before the
network sees it, so a 24 px face in a crowd becomes 12 px and is lost. Tiling runs the image a
second time as overlapping native-resolution tiles and merges both passes: the scaled-down pass
finds the big faces (which tiles would cut), the tiles find the small ones.

The merge rule: a tile's face that touches an edge the tile shares with a neighbour is dropped
(it may be a cut-off part of a face; the overlap guarantees that a face no larger than the overlap
lies whole in some tile, and a bigger one is the scaled-down pass's job); the rest are pooled and
NMS-ed, and a tile's face lying mostly (60 %) inside a bigger face that was kept is dropped too —
the lower half of a face cut a few pixels below its eyes is not a second face. Tiles only add faces
that the scaled-down pass sees below 40 px (where it misses them); bigger ones are its own. An image that already runs at native resolution gains nothing from tiles, so it is detected
once, as without tiling.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from featherface.ops.nms import nms_numpy
from featherface.types import Face

__all__ = ["tile_grid", "merge_tiled"]

# a face whose box comes this close (pixels) to a shared tile edge counts as touching it
_EDGE_PX = 2.0
# a tile's face with this share of its area inside a bigger kept face is a fragment of it
_INSIDE = 0.6
# a face at least this big (sqrt(w*h)) in the scaled-down pass is that pass's to find: a tile's face
# of that size is dropped (at native resolution a big face can break into several smaller boxes)
_FULL_PASS_PX = 40.0


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)  # the last tile ends at the image edge (no ragged strip)
    return sorted(set(starts))


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` of overlapping ``tile``x``tile`` windows covering the image (the last
    row and column are shifted in to end at the image edge; a side shorter than ``tile`` is one
    window)."""
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    step = tile - overlap
    return [(x, y, min(x + tile, width), min(y + tile, height))
            for y in _starts(height, tile, step) for x in _starts(width, tile, step)]


def _inner_edges_clear(box: Sequence[float], window: tuple[int, int, int, int], width: int, height: int) -> bool:
    x0, y0, x1, y1 = window
    bx1, by1, bx2, by2 = box
    if x0 > 0 and bx1 <= x0 + _EDGE_PX:
        return False
    if y0 > 0 and by1 <= y0 + _EDGE_PX:
        return False
    if x1 < width and bx2 >= x1 - _EDGE_PX:
        return False
    if y1 < height and by2 >= y1 - _EDGE_PX:
        return False
    return True


def _shift(face: Face, dx: float, dy: float) -> Face:
    b = face.box
    lm = None if face.landmarks is None else tuple((x + dx, y + dy) for x, y in face.landmarks)
    return Face((b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), face.score, lm)


def merge_tiled(
    image: np.ndarray,
    full_faces: list[Face],
    detect_native: Callable[[list[np.ndarray]], list[list[Face]]],
    tile: int,
    overlap: int,
    nms_threshold: float,
    max_detections: int,
    batch: int = 4,
    full_scale: float = 1.0,
) -> list[Face]:
    """Pool ``full_faces`` (the scaled-down pass over ``image``) with the faces ``detect_native``
    finds in native-resolution tiles (called with up to ``batch`` equal-sized tiles at a time, so
    memory stays that of ``batch`` tiles); returns the merged faces, best first. ``full_scale``: the
    scaled-down pass's scale, so that tiles only add faces too small for it (see ``_FULL_PASS_PX``)."""
    h, w = image.shape[:2]
    windows = tile_grid(h, w, tile, overlap)
    pooled = list(full_faces)
    n_full = len(pooled)
    for i in range(0, len(windows), batch):
        group = windows[i:i + batch]
        crops = [image[y0:y1, x0:x1] for x0, y0, x1, y1 in group]
        for window, faces in zip(group, detect_native(crops)):
            for f in faces:
                shifted = _shift(f, window[0], window[1])
                small = (f.width * f.height) ** 0.5 * full_scale < _FULL_PASS_PX
                if small and _inner_edges_clear(shifted.box, window, w, h):
                    pooled.append(shifted)
    if not pooled:
        return []
    boxes = np.array([f.box for f in pooled], np.float64)
    scores = np.array([f.score for f in pooled], np.float64)
    keep = nms_numpy(boxes, scores, nms_threshold)
    kb = boxes[keep]
    area = (kb[:, 2] - kb[:, 0]) * (kb[:, 3] - kb[:, 1])
    iw = np.clip(np.minimum(kb[:, None, 2], kb[None, :, 2]) - np.maximum(kb[:, None, 0], kb[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(kb[:, None, 3], kb[None, :, 3]) - np.maximum(kb[:, None, 1], kb[None, :, 1]), 0, None)
    inside = iw * ih / np.maximum(area[:, None], 1e-9)  # [i, j]: the share of face i inside face j
    fragment = ((inside >= _INSIDE) & (area[None, :] > area[:, None])).any(axis=1) & (keep >= n_full)
    return [pooled[int(k)] for k in keep[~fragment][:max_detections]]

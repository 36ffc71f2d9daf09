"""The WIDER FACE validation ground truth: the four official ``.mat`` files, and which faces count where.

``wider_face_val.mat`` (``event_list``, ``file_list``, ``face_bbx_list``: ``x y w h`` per face, all
39,708 faces of the 3,226 images) and ``wider_{easy,medium,hard}_val.mat`` (``gt_list``: per image
the 1-based indices of the faces that *count* in that setting; a face not in a setting's list is
ignored there), read into a :class:`WiderGroundTruth` that the protocol
(:mod:`featherface.evaluation.widerface`) scores against.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from featherface.errors import FeatherFaceError
from featherface.evaluation.predictions import image_stem
from featherface.io.paths import find_shared

__all__ = ["GT_FILES", "SETTINGS", "WiderGroundTruth", "default_ground_truth_dir", "load_wider_ground_truth"]

SETTINGS: tuple[str, ...] = ("easy", "medium", "hard")
#: file of each part of the official ground truth
GT_FILES: dict[str, str] = {
    "all": "wider_face_val.mat",
    "easy": "wider_easy_val.mat",
    "medium": "wider_medium_val.mat",
    "hard": "wider_hard_val.mat",
}


@dataclass(eq=False, repr=False)
class WiderGroundTruth:
    """Faces of every validation image and, per setting, which of them count.

    ``events[i]``/``names[i]`` identify image ``i`` (``names`` without extension); ``boxes[i]``
    is ``(n_i, 4)`` float64 ``x y w h``; ``keep[setting][i]`` is an ``(n_i,)`` bool mask of the
    faces that count in that setting (the others are ignored). ``keep`` values may also be given
    as the official 1-based index lists; they are converted to masks.
    """

    events: list[str]
    names: list[str]
    boxes: list[np.ndarray]
    keep: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.events) != n or len(self.boxes) != n:
            raise FeatherFaceError(
                f"ground truth: {len(self.events)} events, {n} names and {len(self.boxes)} box lists "
                "(need one of each per image)"
            )
        self.events = [str(e) for e in self.events]
        self.names = [image_stem(str(x)) for x in self.names]
        self.boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in self.boxes]
        keep: dict[str, list[np.ndarray]] = {}
        for setting, masks in self.keep.items():
            masks = list(masks)
            if len(masks) != n:
                raise FeatherFaceError(f"ground truth: setting {setting!r} lists {len(masks)} images, expected {n}")
            keep[setting] = [
                self._as_mask(m, self.boxes[i].shape[0], setting, i) for i, m in enumerate(masks)
            ]
        self.keep = keep
        self._sizes = np.array([b.shape[0] for b in self.boxes], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(np.int64)
        self._by_key: dict[tuple[str, str], int] = {}
        self._by_name: dict[str, list[int]] = {}
        for i, (e, nm) in enumerate(zip(self.events, self.names)):
            if (e, nm) in self._by_key:
                raise FeatherFaceError(f"ground truth lists image {e}/{nm} twice")
            self._by_key[(e, nm)] = i
            self._by_name.setdefault(nm, []).append(i)

    def __repr__(self) -> str:
        counted = ", ".join(f"{s}={self.num_counted(s)}" for s in self.settings)
        return f"WiderGroundTruth({self.num_images} images, {self.num_faces} faces; counted: {counted})"

    def _as_mask(self, m: Any, n_faces: int, setting: str, i: int) -> np.ndarray:
        arr = np.asarray(m)
        if arr.dtype == bool:
            if arr.size != n_faces:
                raise FeatherFaceError(
                    f"ground truth {setting!r}, image {self.events[i]}/{self.names[i]}: mask of {arr.size} "
                    f"for {n_faces} faces"
                )
            return arr.reshape(n_faces).copy()
        idx = arr.reshape(-1).astype(np.int64)
        if idx.size and (idx.min() < 1 or idx.max() > n_faces):
            raise FeatherFaceError(
                f"ground truth {setting!r}, image {self.events[i]}/{self.names[i]}: face index "
                f"{int(idx.min()) if idx.min() < 1 else int(idx.max())} outside 1..{n_faces} (indices are 1-based)"
            )
        mask = np.zeros(n_faces, dtype=bool)
        mask[idx - 1] = True
        return mask

    @property
    def num_images(self) -> int:
        return len(self.names)

    @property
    def num_faces(self) -> int:
        return int(self._offsets[-1])

    @property
    def offsets(self) -> np.ndarray:
        """Index of each image's first face in the faces of all images (``num_images + 1`` values)."""
        return self._offsets

    @property
    def settings(self) -> tuple[str, ...]:
        """Settings present, in the official order first (easy, medium, hard)."""
        known = [s for s in SETTINGS if s in self.keep]
        return tuple(known + [s for s in self.keep if s not in SETTINGS])

    def num_counted(self, setting: str) -> int:
        """Number of faces that count in ``setting`` (the recall denominator)."""
        return int(sum(int(m.sum()) for m in self.keep[setting]))

    def key(self, i: int) -> str:
        """``"event/image"`` of image ``i``: the relative path of its prediction file, minus ``.txt``."""
        return f"{self.events[i]}/{self.names[i]}"

    def find(self, key: Any) -> int | None:
        """Index of the image a prediction key names, or ``None``.

        Accepts ``"event/image"``, ``"image"``, either with an image extension or ``.txt``, and
        ``(event, image)`` tuples. WIDER image names are unique, so a name alone suffices; an
        entry filed under another event folder still finds its image by name.
        """
        if isinstance(key, tuple) and len(key) == 2:
            event, raw = str(key[0]), str(key[1])
        else:
            s = str(key).replace("\\", "/").strip()
            if s.lower().endswith(".txt"):
                s = s[:-4]
            parts = [p for p in s.split("/") if p and p != "."]
            if not parts:
                return None
            raw = parts[-1]
            event = parts[-2] if len(parts) >= 2 else ""
        name = image_stem(raw)
        hit = self._by_key.get((event, name))
        if hit is not None:
            return hit
        cands = self._by_name.get(name, [])
        return cands[0] if len(cands) == 1 else None

    def subset(self, indices: Iterable[int]) -> "WiderGroundTruth":
        """A ground truth restricted to some images (for quick partial runs; APs are then not comparable)."""
        idx = [int(i) for i in indices]
        return WiderGroundTruth(
            events=[self.events[i] for i in idx],
            names=[self.names[i] for i in idx],
            boxes=[self.boxes[i] for i in idx],
            keep={s: [m[i] for i in idx] for s, m in self.keep.items()},
        )

    def flat_keep(self, setting: str) -> np.ndarray:
        """All faces' keep flags of ``setting`` concatenated in image order."""
        masks = self.keep[setting]
        return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _cells(x: Any) -> list[Any]:
    """The elements of a MATLAB cell array as loaded by scipy (any shape) as a flat list."""
    return list(np.asarray(x, dtype=object).reshape(-1))


def _mat_string(x: Any) -> str:
    arr = np.asarray(x)
    while arr.dtype == object and arr.size == 1:
        arr = np.asarray(arr.reshape(-1)[0])
    if arr.size == 0:
        return ""
    return str(arr.reshape(-1)[0]) if arr.dtype.kind in "UO" else str(arr)


def _loadmat(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    # imported on use: scipy.io takes ~0.2 s, and ``featherface --help`` reaches this module
    # (commands/evaluate -> evaluation); tests/commands/test_options.py keeps --help scipy-free
    try:
        from scipy.io import loadmat
    except ImportError as exc:  # pragma: no cover - scipy is a dependency
        raise FeatherFaceError("reading the WIDER ground truth needs scipy (pip install scipy)") from exc
    try:
        mat = loadmat(str(path))
    except Exception as exc:  # scipy raises many types for corrupt files
        raise FeatherFaceError(f"{path}: cannot read MATLAB file ({exc})") from exc
    missing = [k for k in keys if k not in mat]
    if missing:
        raise FeatherFaceError(f"{path}: missing variable(s) {', '.join(missing)}; is this a WIDER FACE ground-truth file?")
    return mat


def default_ground_truth_dir() -> Path | None:
    """``data/widerface/ground_truth`` in the shared folder (:func:`featherface.io.paths.find_shared`),
    where every verb that scores WIDER FACE looks when no folder is given."""
    cand = find_shared("data", "widerface", "ground_truth")
    return cand if cand is not None and cand.is_dir() else None


def load_wider_ground_truth(gt_dir: str | os.PathLike[str]) -> WiderGroundTruth:
    """Read the four official ``.mat`` files of ``gt_dir`` (the toolkit's ``ground_truth`` folder).

    Checks that the three setting files describe the same events and image counts as
    ``wider_face_val.mat`` and that every index is a valid 1-based face index, because a
    mismatched file would silently shift which faces count.
    """
    d = Path(gt_dir)
    if not d.is_dir():
        raise FeatherFaceError(f"ground-truth folder {d} does not exist")
    missing = [f for f in GT_FILES.values() if not (d / f).is_file()]
    if missing:
        raise FeatherFaceError(
            f"ground-truth folder {d} lacks {', '.join(missing)} (the four files of the official "
            "WIDER FACE eval toolkit's ground_truth folder are needed)"
        )
    main = _loadmat(d / GT_FILES["all"], ("event_list", "file_list", "face_bbx_list"))
    event_cells = _cells(main["event_list"])
    file_cells = _cells(main["file_list"])
    box_cells = _cells(main["face_bbx_list"])
    if not (len(event_cells) == len(file_cells) == len(box_cells)):
        raise FeatherFaceError(f"{d / GT_FILES['all']}: event_list, file_list and face_bbx_list differ in length")
    events: list[str] = []
    names: list[str] = []
    boxes: list[np.ndarray] = []
    per_event: list[int] = []
    for ev, files, bbs in zip(event_cells, file_cells, box_cells):
        ev_name = _mat_string(ev)
        f_list = _cells(files)
        b_list = _cells(bbs)
        if len(f_list) != len(b_list):
            raise FeatherFaceError(f"{d / GT_FILES['all']}: event {ev_name} has {len(f_list)} files but {len(b_list)} box lists")
        per_event.append(len(f_list))
        for f, b in zip(f_list, b_list):
            events.append(ev_name)
            names.append(_mat_string(f))
            arr = np.asarray(b, dtype=np.float64)
            boxes.append(arr.reshape(-1, 4) if arr.size else np.zeros((0, 4), np.float64))
    keep: dict[str, list[np.ndarray]] = {}
    for setting in SETTINGS:
        path = d / GT_FILES[setting]
        mat = _loadmat(path, ("gt_list",))
        gl = _cells(mat["gt_list"])
        if len(gl) != len(per_event):
            raise FeatherFaceError(f"{path}: {len(gl)} events, but {GT_FILES['all']} has {len(per_event)}")
        if "event_list" in mat:
            evs = [_mat_string(e) for e in _cells(mat["event_list"])]
            if evs != [_mat_string(e) for e in event_cells]:
                raise FeatherFaceError(f"{path}: its event list differs from {GT_FILES['all']}")
        masks: list[np.ndarray] = []
        for e_i, (cell, n_img) in enumerate(zip(gl, per_event)):
            imgs = _cells(cell)
            if len(imgs) != n_img:
                raise FeatherFaceError(f"{path}: event {e_i + 1} lists {len(imgs)} images, expected {n_img}")
            for c in imgs:
                a = np.asarray(c)
                masks.append(a.reshape(-1).astype(np.int64) if a.size else np.zeros(0, np.int64))
        keep[setting] = masks
    try:
        return WiderGroundTruth(events=events, names=names, boxes=boxes, keep=keep)
    except FeatherFaceError as exc:
        raise FeatherFaceError(f"{d}: {exc}") from exc

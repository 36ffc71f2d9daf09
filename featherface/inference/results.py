"""One results object for every output: the faces of one image or frame, and how to write them.

:class:`Results` is what ``FaceDetector.detect`` returns (``detect_batch``: one per image; streams:
:class:`~featherface.inference.stream.FrameFaces`, a subclass, per frame). It *is* a list of
:class:`~featherface.types.Face` (iterating, ``len``, indexing, ``==`` with a list: code written for
the plain list that ``detect`` used to return keeps working) that also knows what it was found in.
The verbs (detect, blur, crop) and the HTTP service serialise through :meth:`Results.to_dict`, so a
field added here appears in every output.

    res = FaceDetector().detect("photo.jpg")
    res.to_json(); res.to_csv(); res.save("photo_faces.jpg"); annotated = res.plot()
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from featherface.types import Face

if TYPE_CHECKING:
    from featherface.inference.track import TrackedFace

__all__ = ["Results", "CSV_COLUMNS"]

_LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
CSV_COLUMNS = ("file", "frame", "time", "track_id", "missed", "score", "x1", "y1", "x2", "y2",
               *(f"{n}_{c}" for n in _LANDMARK_NAMES for c in "xy"))


class Results(list):  # list[Face]: the plain list detect() returned before, plus what it was found in
    """The faces of one image or frame (best first) and their context.

    ``source``: the file, camera or URL (``None`` for an array or bytes); ``width`` / ``height``:
    the image's size; ``index`` / ``timestamp``: the frame's number and time in seconds in a video
    or stream (``None`` for a still image); ``tracks``: the :class:`TrackedFace` of each active track
    when tracking; ``image``: the BGR image itself, kept for :meth:`plot` / :meth:`save`."""

    def __init__(self, faces: Iterable[Face] = (), *, source: str | None = None, width: int | None = None,
                 height: int | None = None, index: int | None = None, timestamp: float | None = None,
                 tracks: Sequence[TrackedFace] | None = None, image: np.ndarray | None = None) -> None:
        super().__init__(faces)
        self.source = None if source is None else str(source)
        if image is not None and (width is None or height is None):
            height, width = int(image.shape[0]), int(image.shape[1])
        self.width, self.height = width, height
        self.index, self.timestamp = index, timestamp
        self.tracks = None if tracks is None else list(tracks)
        self.image = image

    @property
    def faces(self) -> list[Face]:
        """The faces as a plain list (the detections of this image or frame, best first)."""
        return list(self)

    @property
    def seen(self) -> list[tuple[Face, int | None]]:
        """``(face, track_id)`` of what is *seen* in this image: with tracking, the tracks the detector
        matched here (a track kept through missed frames is in :meth:`to_dict`, flagged ``missed``,
        but not drawn or cropped: after a scene cut it is the previous shot's face); else every face."""
        if self.tracks is None:
            return [(f, None) for f in self]
        return [(t.face, t.track_id) for t in self.tracks if not t.missed]

    def __repr__(self) -> str:
        where = f" {self.source!r}" if self.source else ""
        at = f" frame {self.index}" if self.index is not None else ""
        return f"<Results{where}{at}: {len(self)} faces {list.__repr__(self)}>"

    def to_dict(self, landmarks: bool = True) -> dict[str, Any]:
        """The record every output writes: ``file`` (when known), ``frame`` and ``time`` (video and
        stream frames), ``width``, ``height`` and ``faces`` (box, score, landmarks; ``track_id`` and
        ``missed`` when tracking). ``landmarks=False`` leaves the points out."""
        d: dict[str, Any] = {}
        if self.source is not None:
            d["file"] = self.source
        if self.index is not None:
            d["frame"] = self.index
        if self.timestamp is not None:
            d["time"] = round(float(self.timestamp), 3)
        if self.width is not None and self.height is not None:
            d["width"], d["height"] = int(self.width), int(self.height)
        faces = [t.to_dict() for t in self.tracks] if self.tracks is not None else [f.to_dict() for f in self]
        if not landmarks:
            for f in faces:
                f.pop("landmarks", None)
        d["faces"] = faces
        return d

    def to_json(self, indent: int | None = None, landmarks: bool = True) -> str:
        """:meth:`to_dict` as JSON text (one line unless ``indent``: a ``--jsonl`` line)."""
        return json.dumps(self.to_dict(landmarks=landmarks), indent=indent)

    def to_csv(self, header: bool = True) -> str:
        """One CSV row per face (:data:`CSV_COLUMNS`: file, frame, time, track, score, box, the 5
        points), for spreadsheets; empty cells where a value does not apply."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if header:
            writer.writerow(CSV_COLUMNS)
        rec = self.to_dict()
        for f in rec["faces"]:
            points = [v for p in (f.get("landmarks") or [[None, None]] * 5) for v in p]
            writer.writerow([rec.get("file"), rec.get("frame"), rec.get("time"), f.get("track_id"), f.get("missed"),
                             f["score"], *f["box"], *points])
        return buf.getvalue()

    def plot(self, image: np.ndarray | None = None, scores: bool = True) -> np.ndarray:
        """A copy of the image with the faces seen drawn (boxes, 5 points, scores, track IDs; see
        :attr:`seen`). ``image``: draw on this one instead of the image kept (``image=None`` when the
        results were made without keeping it, e.g. ``stream(keep_frames=False)``). Results of a still
        image file that keep no image (``detect_files`` on several processes) read it again from ``source``."""
        from featherface.visualize import draw_faces  # OpenCV: on use

        base = self.image if image is None else image
        if base is None and self.source is not None and self.index is None and Path(self.source).is_file():
            from featherface.io.images import read_image  # OpenCV: on use

            base = read_image(self.source)
        if base is None:
            raise ValueError("these results keep no image to draw on: pass plot(image=...)")
        seen = self.seen
        labels = [f"#{tid}" for _, tid in seen] if self.tracks is not None else None
        return draw_faces(base, [f for f, _ in seen], show_scores=scores, labels=labels)

    def save(self, path: str | Path) -> Path:
        """Write the results by the file's kind: ``.json`` (:meth:`to_json`), ``.csv`` (:meth:`to_csv`),
        else the annotated picture (:meth:`plot`, encoded as the suffix says). Written atomically."""
        from featherface.io.outputs import write_bytes, write_text  # on use: no OpenCV for JSON

        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".json":
            write_text(p, self.to_json(indent=1))
        elif suffix == ".csv":
            write_text(p, self.to_csv())
        else:
            from featherface.io.images import encode_image  # OpenCV: on use

            write_bytes(p, encode_image(self.plot(), suffix or ".jpg"))
        return p

"""Face tracks across frames: a stable ID per face, optional smoothing, memory of missed frames.

The association and motion model are `motpy <https://github.com/wmuron/motpy>`_'s (MIT; a Kalman
filter per track, IoU matching): an optional extra, ``pip install featherface[track]``. It was
chosen over norfair (pins numpy < 2) and the ByteTrack of ``trackers``/``supervision`` (they pull
``opencv-python``, which breaks the ``opencv-python-headless`` this package uses).

What this module adds is face-specific: integer IDs in order of appearance, the detection's own
landmarks carried on the track (smoothed in box-relative coordinates when ``smooth`` is set, so they
follow the box instead of lagging), and tracks kept for ``max_missed`` frames without a detection —
so an anonymiser keeps a face covered through a frame or two the detector misses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from featherface.ops.iou import iou_matrix
from featherface.types import Face

__all__ = ["TrackedFace", "FaceTracker"]


@dataclass(frozen=True)
class TrackedFace:
    """A face with its track ID; ``missed`` counts the frames since the track's last detection
    (0: detected in this frame; otherwise ``face`` is the track's predicted position)."""

    track_id: int
    face: Face
    missed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = self.face.to_dict()
        d["track_id"] = self.track_id
        if self.missed:
            d["missed"] = self.missed
        return d


class FaceTracker:
    """Give each face a stable integer ID across the frames of one video or stream.

    Args:
        fps: the source's frame rate (the motion model's time step).
        max_missed: frames a track survives without a detection (reported with ``missed > 0``).
        min_iou: overlap a detection needs with a track's prediction to continue it.
        smooth: report the filtered box and smoothed landmarks instead of the raw detection.
    """

    def __init__(self, fps: float = 25.0, max_missed: int = 5, min_iou: float = 0.2, smooth: bool = False) -> None:
        try:  # motpy is the optional [track] extra: imported when a tracker is built
            from motpy import Detection, MultiObjectTracker
        except ImportError as exc:  # pragma: no cover - exercised where motpy is absent
            raise ImportError("face tracking needs motpy: pip install 'featherface[track]'", name="motpy") from exc
        if not (0 < float(fps) < 1000):
            raise ValueError(f"fps must be in (0, 1000), got {fps}")
        if not isinstance(max_missed, int) or max_missed < 0:
            raise ValueError(f"max_missed must be an integer >= 0, got {max_missed!r}")
        if not (0.0 < float(min_iou) <= 1.0):
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        self._Detection = Detection
        self._mot = MultiObjectTracker(
            dt=1.0 / float(fps),
            # a track ends after max_missed missed frames: motpy counts staleness 1 per miss
            tracker_kwargs={"max_staleness": max_missed + 1, "smooth_feature_gamma": 0.6},
            matching_fn_kwargs={"min_iou": float(min_iou)},
            active_tracks_kwargs={"max_staleness": max_missed + 0.5, "max_staleness_to_positive_ratio": 1e9,
                                  "min_steps_alive": 1},
        )
        self.smooth = bool(smooth)
        self.max_missed = max_missed
        self._ids: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._last_face: dict[str, Face] = {}
        self.frame = -1

    def _id(self, uid: str) -> int:
        if uid not in self._ids:
            self._ids[uid] = len(self._ids) + 1
        return self._ids[uid]

    @property
    def tracks_started(self) -> int:
        """How many distinct tracks (IDs) have been started so far."""
        return len(self._ids)

    def update(self, faces: Sequence[Face]) -> list[TrackedFace]:
        """Advance one frame with its detections; returns the active tracks, detected ones first."""
        self.frame += 1
        dets = []
        for f in faces:
            box = np.asarray(f.box, dtype=np.float64)
            feat = None
            if f.landmarks is not None:
                wh = np.maximum(box[2:] - box[:2], 1e-6)
                feat = ((np.asarray(f.landmarks, dtype=np.float64) - box[:2]) / wh).ravel()
            dets.append(self._Detection(box=box, score=float(f.score), feature=feat))
        positives = {t.id: t.steps_positive for t in self._mot.trackers}
        tracks = self._mot.step(dets)
        det_boxes = np.asarray([f.box for f in faces], dtype=np.float64).reshape(-1, 4)
        out: list[TrackedFace] = []
        live = [t for t in self._mot.trackers if t.id in {tr.id for tr in tracks}]
        # updated this frame: new (motpy marks even those stale once) or one more positive step
        updated = [t for t in live if t.steps_positive > positives.get(t.id, 0)]
        # which detection each updated track took: best IoU, one-to-one
        taken: dict[str, int] = {}
        if updated and len(faces):
            iou = iou_matrix(np.asarray([t.box() for t in updated]), det_boxes)
            for flat in np.argsort(-iou, axis=None):
                ti, di = np.unravel_index(flat, iou.shape)
                if iou[ti, di] <= 0:
                    break
                uid = updated[ti].id
                if uid in taken or di in taken.values():
                    continue
                taken[uid] = int(di)
        for t in live:
            uid = t.id
            if uid in taken:
                src = faces[taken[uid]]
                self._last_seen[uid] = self.frame
                face = self._smoothed(t, src) if self.smooth else src
                self._last_face[uid] = src
                out.append(TrackedFace(self._id(uid), face, 0))
            elif uid in self._last_seen:
                missed = self.frame - self._last_seen[uid]
                if 0 < missed <= self.max_missed:
                    prev = self._last_face[uid]
                    out.append(TrackedFace(self._id(uid), self._moved(prev, t.box()), missed))
        out.sort(key=lambda tf: (tf.missed, tf.track_id))
        return out

    @staticmethod
    def _moved(face: Face, box: Sequence[float]) -> Face:
        """``face`` carried onto ``box`` (landmarks keep their place relative to the box)."""
        b = np.asarray(box, dtype=np.float64)
        lms = None
        if face.landmarks is not None:
            ob = np.asarray(face.box, dtype=np.float64)
            rel = (np.asarray(face.landmarks) - ob[:2]) / np.maximum(ob[2:] - ob[:2], 1e-6)
            lms = rel * (b[2:] - b[:2]) + b[:2]
        return Face.from_arrays(b.tolist(), face.score, lms)

    @classmethod
    def _smoothed(cls, track: Any, face: Face) -> Face:
        """The filtered box, with the smoothed box-relative landmarks on it (a new track: the detection's)."""
        if track.feature is None:
            return cls._moved(face, track.box())
        b = np.asarray(track.box(), dtype=np.float64)
        lms = np.asarray(track.feature, dtype=np.float64).reshape(5, 2) * (b[2:] - b[:2]) + b[:2]
        return Face.from_arrays(b.tolist(), face.score, lms if face.landmarks is not None else None)

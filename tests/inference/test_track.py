"""Face tracks: stable IDs through motion and missed frames, counted ID switches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("motpy")

from featherface import FaceDetector  # noqa: E402
from featherface.inference.track import FaceTracker  # noqa: E402
from featherface.io.images import read_image  # noqa: E402
from featherface.types import Face  # noqa: E402


def _face(x: float, y: float, s: float = 40.0) -> Face:
    lms = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]) * s + [x, y]
    return Face.from_arrays([x, y, x + s, y + s], 0.9, lms)


def id_switches(frames: list[list[tuple[int, int]]]) -> int:
    """Given per frame ``(true object, track id)`` pairs, count the times an object's ID changes."""
    last: dict[int, int] = {}
    switches = 0
    for pairs in frames:
        for obj, tid in pairs:
            if obj in last and last[obj] != tid:
                switches += 1
            last[obj] = tid
    return switches


def test_two_moving_faces_keep_their_ids_through_missed_frames() -> None:
    tr = FaceTracker(fps=25, max_missed=3)
    history = []
    for i in range(40):
        a, b = _face(20 + 4 * i, 50), _face(300 - 3 * i, 60 + i)
        dets = [a, b]
        if i in (15, 16):  # the detector misses face B for two frames
            dets = [a]
        out = tr.update(dets)
        pairs = []
        for t in out:
            obj = 0 if abs(t.face.box[0] - (20 + 4 * i)) < abs(t.face.box[0] - (300 - 3 * i)) else 1
            pairs.append((obj, t.track_id))
            if i in (15, 16) and obj == 1:
                assert t.missed == i - 14  # carried on its predicted position, flagged as missed
                assert abs(t.face.box[0] - (300 - 3 * i)) < 8
        assert len(out) == 2, f"frame {i}: {out}"
        history.append(pairs)
    assert id_switches(history) == 0
    assert tr.tracks_started == 2


def test_a_track_ends_after_max_missed_and_smoothing_follows_the_box() -> None:
    tr = FaceTracker(fps=25, max_missed=2, smooth=True)
    for i in range(10):
        out = tr.update([_face(10 + 2 * i, 10)])
        (t,) = out
        lm = np.asarray(t.face.landmarks)
        box = np.asarray(t.face.box)
        assert (lm[:, 0] > box[0]).all() and (lm[:, 0] < box[2]).all()  # landmarks ride on the filtered box
    assert [len(tr.update([])) for _ in range(4)] == [1, 1, 0, 0]
    assert tr.update([_face(200, 200)])[0].track_id == 2  # a new face gets a new ID
    d = tr.update([_face(201, 200)])[0].to_dict()
    assert d["track_id"] == 2 and "missed" not in d


def test_real_detections_on_a_pan_zoom_clip_keep_one_id(example_image) -> None:
    """The demo face through a generated clip with known motion: one track, no switch."""
    import tempfile

    from featherface.inference.stream import stream_faces
    from tests.inference.test_stream import make_pan_zoom_clip  # the clip maker of the stream tests

    det = FaceDetector(threads=1)
    with tempfile.TemporaryDirectory() as d:
        clip = make_pan_zoom_clip(read_image(example_image), Path(d) / "pan.mp4", frames=30)
        tr = FaceTracker(fps=12)
        # the astronaut's face is each frame's best-scoring track (score ~1); a false positive of the
        # detector (the suit's badge at the frame's edge) gets a track of its own and is left out
        ids = []
        for r in stream_faces(det, clip):
            live = [t for t in tr.update(r.faces) if not t.missed and t.face.score >= 0.9]
            ids.append([max(live, key=lambda t: t.face.score).track_id] if live else [])
    assert sum(len(f) == 1 for f in ids) >= 25
    assert id_switches([[(0, i) for i in f] for f in ids]) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fps"):
        FaceTracker(fps=0)
    with pytest.raises(ValueError, match="max_missed"):
        FaceTracker(max_missed=-1)

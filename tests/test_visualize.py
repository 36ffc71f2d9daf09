"""Annotated pictures stay readable in crowds: labels fit their face and never cover a neighbour (issue 29)."""

from __future__ import annotations

import numpy as np

from featherface.types import Face
from featherface.visualize import draw_faces, layout_labels


def _face(x1: float, y1: float, size: float, score: float) -> Face:
    return Face(box=(x1, y1, x1 + size, y1 + size), score=score)


def _overlap(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_a_lone_face_gets_its_label_scaled_to_its_box() -> None:
    big, small = _face(100, 100, 200, 0.9), _face(400, 300, 30, 0.8)
    labels = layout_labels([big, small], ["0.90", "0.80"], (600, 600, 3))
    assert {lab.index for lab in labels} == {0, 1}
    for lab in labels:
        face = (big, small)[lab.index]
        assert lab.rect[2] - lab.rect[0] <= face.width + 4  # never wider than the face
    assert labels[1].scale < labels[0].scale


def test_crowd_labels_skip_rather_than_cover_a_neighbour() -> None:
    # a tight grid of 40 px faces, rows 44 px apart: a label above a face would sit on the one above
    faces = [_face(10 + 44 * c, 10 + 44 * r, 40, 0.5 + 0.01 * (r * 6 + c)) for r in range(6) for c in range(6)]
    labels = layout_labels(faces, [f"{f.score:.2f}" for f in faces], (300, 300, 3))
    assert labels
    boxes = [tuple(round(v) for v in f.box) for f in faces]
    for lab in labels:
        area = (lab.rect[2] - lab.rect[0]) * (lab.rect[3] - lab.rect[1])
        assert all(_overlap(lab.rect, b) <= 0.1 * area for j, b in enumerate(boxes) if j != lab.index)
        assert all(_overlap(lab.rect, o.rect) == 0 for o in labels if o is not lab)
    # the most confident face is labelled first
    assert max(range(len(faces)), key=lambda i: faces[i].score) in {lab.index for lab in labels}


def test_a_tiny_face_gets_no_unreadable_label_but_its_box() -> None:
    tiny = _face(50, 50, 8, 0.9)
    assert layout_labels([tiny], ["0.90"], (200, 200, 3)) == []
    out = draw_faces(np.zeros((200, 200, 3), np.uint8), [tiny])
    assert out[50, 50:59, 2].max() == 255  # the box is drawn


def test_draw_faces_labels_with_track_ids_and_leaves_the_input_alone() -> None:
    img = np.zeros((240, 320, 3), np.uint8)
    out = draw_faces(img, [_face(100, 80, 120, 0.95)], labels=["#3"])
    assert img.max() == 0 and out[60:80, 100:220].any()


def test_of_two_overlapping_faces_only_the_more_confident_is_labelled() -> None:
    front, behind = _face(100, 100, 60, 0.9), _face(80, 90, 60, 0.6)
    labels = layout_labels([front, behind], ["0.90", "0.60"], (400, 400, 3))
    assert [lab.index for lab in labels] == [0]

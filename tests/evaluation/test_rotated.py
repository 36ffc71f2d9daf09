"""Rotated CUHK copies: points and box move with the pixels; the landmark score under head roll."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.data.benchmarks import LandmarkAnnotation
from featherface.evaluation.human import evaluate_human
from featherface.evaluation.rotated import rotate_face, rotated_set
from featherface.types import Face

LM = np.array([[30, 40], [70, 40], [50, 60], [35, 75], [65, 75]], float)
BOX = np.array([10, 20, 90, 100], float)


def _dots(h=120, w=100):
    img = np.zeros((h, w, 3), np.uint8)
    for x, y in LM:
        cv2.circle(img, (int(x), int(y)), 2, (255, 255, 255), -1)
    return img


@pytest.mark.parametrize("deg", [0.0, 20.0, -20.0, 90.0])
def test_points_follow_the_pixels(deg):
    img, box, lms = rotate_face(_dots(), BOX, LM, deg)
    assert img.shape[0] >= 100 and img.shape[1] >= 100
    for x, y in lms:  # each moved point still sits on its white dot
        assert img[int(round(y)), int(round(x))].max() > 200
    np.testing.assert_allclose(box[2:] - box[:2], BOX[2:] - BOX[:2])  # the box keeps its size
    if deg == 0:
        np.testing.assert_allclose(lms, LM) and np.testing.assert_allclose(box, BOX)
    if deg == 20.0:  # counter-clockwise as shown: the image-right eye moves up
        assert lms[1, 1] < lms[0, 1]


def test_rotated_set_doubles_and_loads(tmp_path):
    p = tmp_path / "f.jpg"
    cv2.imwrite(str(p), _dots())
    ann = LandmarkAnnotation(image=p, key="images/f.jpg", box=BOX, landmarks=LM)
    rot = rotated_set([ann], 20.0)
    assert [r.degrees for r in rot] == [20.0, -20.0]
    img = rot[0].load()
    assert img.shape[:2] == rotate_face(_dots(), BOX, LM, 20.0)[0].shape[:2]


class Upright:
    """Finds the face with level points (as if it ignored the roll) or, if ``follow``, with the true points."""

    def __init__(self, truth, follow):
        self.truth, self.follow = truth, follow
        self.calls = 0

    def detect(self, image):
        box, lms = self.truth[self.calls % len(self.truth)]
        self.calls += 1
        pts = lms if self.follow else np.column_stack([lms[:, 0], np.full(5, lms[:, 1].mean())])
        return [Face.from_arrays(box, 0.9, pts)]


def test_rotation_row_scores_the_roll(tmp_path):
    p = tmp_path / "f.jpg"
    cv2.imwrite(str(p), _dots())
    ann = [LandmarkAnnotation(image=p, key="images/f.jpg", box=BOX, landmarks=LM)]
    # calls in order: the untimed warm-up and the upright image, then the +20 and -20 degree copies
    truth = [(BOX, LM), (BOX, LM)] + [(r.box, r.landmarks) for r in rotated_set(ann, 20.0)]
    res = evaluate_human({"follows": Upright(truth, True), "level": Upright(truth, False)}, cuhk=ann,
                         cuhk_rotation=20.0, progress=False)
    follows, level = res.report("follows").sets["cuhk_rot"], res.report("level").sets["cuhk_rot"]
    assert follows.images == 2 and follows.found == 2 and follows.nme == pytest.approx(0.0, abs=1e-9)
    assert level.nme > 0.05
    md = res.markdown()
    assert "cuhk ±20° NME (box)" in md and "turned +20° and -20°" in md
    assert res.to_dict()["sets"]["cuhk_rot"]["degrees"] == 20.0
    with pytest.raises(Exception, match="cuhk_rotation"):
        evaluate_human({"x": Upright(truth, True)}, cuhk=ann, cuhk_rotation=200.0, progress=False)

"""The flip test: detect on the image and its mirror, un-mirror, merge with NMS."""

from __future__ import annotations

import numpy as np

from featherface.evaluation.flip import flip_test
from featherface.types import Face


def test_flip_test_merges_the_mirrored_face():
    class OneFace:
        def detect(self, image):
            if image[0, -1, 0] == 7:  # mirrored: the face is on the other side
                return [Face(box=(90.0, 10.0, 100.0, 30.0), score=0.6)]
            return [Face(box=(0.0, 10.0, 10.0, 30.0), score=0.8)]

    img = np.zeros((50, 100, 3), np.uint8)
    img[0, 0, 0] = 7
    merged = flip_test(OneFace(), img, 0.4)
    np.testing.assert_allclose(merged, [[0, 10, 10, 20, 0.8]])

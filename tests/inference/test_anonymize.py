"""Detect-and-cover anonymisation with the shipped detector."""

from __future__ import annotations

import numpy as np
import pytest

from featherface import FaceDetector
from featherface.inference.anonymize import anonymize_image
from featherface.io.images import read_image


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
def test_detector_finds_no_face_in_its_own_anonymised_output(example_image, mode: str) -> None:
    """The contract of anonymisation: the shipped detector no longer finds the face it covered."""
    det = FaceDetector(threads=1)
    img = read_image(example_image)
    out, faces = anonymize_image(img, det, mode=mode)
    assert faces, "the demo face must be found before anonymising"
    assert det.detect(out) == []
    # a face-aligned crop of the original is still a face for the detector (the crop is not empty)
    crop = faces[0].align(img, size=224, margin=0.5)
    assert crop.std() > 10


def test_passes_and_given_faces() -> None:
    class Stub:
        name = "stub"
        calls = 0

        def detect(self, image):
            Stub.calls += 1
            return []

    img = np.zeros((20, 20, 3), np.uint8)
    out, faces = anonymize_image(img, Stub(), faces=[])
    assert faces == [] and Stub.calls == 0 and np.array_equal(out, img) and out is not img
    with pytest.raises(ValueError, match="passes"):
        anonymize_image(img, Stub(), passes=0)

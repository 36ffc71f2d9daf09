"""What `make demo` does — detect faces in the shipped example image with the shipped weights —
checked against the face box written down for that image (Eileen Collins' face in the NASA
portrait, 512x512: x1 178, y1 65, x2 270, y2 177, read off the image and confirmed by YuNet)."""

import json

import numpy as np
import pytest

from featherface.cli import main
from featherface.models.weights import BUILTIN_WEIGHTS

ASTRONAUT_FACE = (178.0, 65.0, 270.0, 177.0)


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("model", ["featherface-v2-ultra", "featherface-v1"])
def test_demo_finds_the_astronaut_face(model, example_image, tmp_path):
    """The shipped weights of both models still find the demo face (a retrained file that does not fails here)."""
    assert model in BUILTIN_WEIGHTS, f"no default weights shipped for {model}"
    out = tmp_path / "demo"
    rc = main(["detect", str(example_image), "--model", model, "--output", str(out),
               "--json", str(out / "detections.json"), "--quiet"])
    assert rc == 0
    assert (out / "astronaut_faces.jpg").stat().st_size > 10_000
    faces = json.loads((out / "detections.json").read_text())["results"][0]["faces"]
    assert faces, "no face found in the example image"
    best = max(faces, key=lambda f: _iou(f["box"], ASTRONAUT_FACE))
    assert _iou(best["box"], ASTRONAUT_FACE) >= 0.5
    # landmarks fall inside the face box, eyes above the mouth
    lm = np.asarray(best["landmarks"])
    assert (lm[:, 0] > ASTRONAUT_FACE[0]).all() and (lm[:, 0] < ASTRONAUT_FACE[2]).all()
    assert lm[0, 1] < lm[3, 1] and lm[1, 1] < lm[4, 1]
    # no spurious faces elsewhere at the default threshold
    assert len(faces) <= 2

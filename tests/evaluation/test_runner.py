"""featherface.evaluation.runner: our detector (or any) over the WIDER validation images, without the CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featherface.errors import FeatherFaceError, ImageError
from featherface.evaluation.runner import (WIDER_SCORE_THRESHOLD, detect_wider, evaluate_detectors, wider_image_root,
                                          wider_options)
from featherface.evaluation.predictions import EvaluationWarning
from featherface.evaluation.widerface import evaluate
from featherface.inference.options import DetectorOptions
from featherface.types import Face

from _wider_eval_helpers import make_gt

BOXES = [[10, 10, 20, 20], [50, 50, 30, 30]]
IMAGES = [
    ("0--Parade", "0_Parade_1", BOXES, {"easy": [1, 2], "medium": [1, 2], "hard": [1, 2]}),
    ("1--Handshaking", "1_Hand_2", BOXES[:1], {"easy": [1], "medium": [1], "hard": [1]}),
]


class Finder:
    """Finds BOXES in every image; in a mirrored image (bright half on the right) their mirrors."""

    name = "finder"

    def __init__(self):
        self.seen = 0

    def detect(self, image):
        self.seen += 1
        h, w = image.shape[:2]
        mirrored = image[:, : w // 2].mean() < image[:, w // 2:].mean()
        out = []
        for k, (x, y, bw, bh) in enumerate(BOXES):
            x1, x2 = (w - (x + bw), w - x) if mirrored else (x, x + bw)
            out.append(Face(box=(float(x1), float(y), float(x2), float(y + bh)), score=0.9 - 0.1 * k))
        return out


def _write_images(root, which=IMAGES):
    for e, n, _, _ in which:
        (root / e).mkdir(parents=True, exist_ok=True)
        img = np.zeros((120, 160, 3), np.uint8)
        img[:, :80] = 200
        cv2.imwrite(str(root / e / f"{n}.jpg"), img)


def test_options_default_to_the_wider_threshold():
    assert wider_options().score_threshold == WIDER_SCORE_THRESHOLD == 0.02
    assert wider_options(score_threshold=0.1, weights="w.pt") == DetectorOptions(score_threshold=0.1, weights="w.pt")


def test_detect_wider_with_any_detector_flip_and_saved_predictions(tmp_path):
    gt = make_gt(IMAGES)
    _write_images(tmp_path / "WIDER_val" / "images")
    det = Finder()
    preds = detect_wider(gt, tmp_path / "WIDER_val", detector=det, flip=True, save_predictions=tmp_path / "p")
    assert det.seen == 4 and set(preds) == {gt.key(0), gt.key(1)}
    assert preds[gt.key(0)].shape == (2, 5)  # the mirrored duplicates merged away
    np.testing.assert_allclose(preds[gt.key(0)][0, :4], BOXES[0], atol=1e-6)
    assert (tmp_path / "p" / "0--Parade" / "0_Parade_1.txt").is_file()
    assert evaluate(preds, gt)["easy"] > 0.4


def test_missing_and_no_images(tmp_path):
    gt = make_gt(IMAGES)
    _write_images(tmp_path / "val", IMAGES[:1])
    with pytest.warns(EvaluationWarning, match="1 validation image"):
        preds = detect_wider(gt, tmp_path / "val", detector=Finder())
    assert list(preds) == [gt.key(0)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="no validation image found"):
        detect_wider(gt, tmp_path / "empty", detector=Finder())
    with pytest.raises(FeatherFaceError, match="does not exist"):
        wider_image_root(tmp_path / "nope", gt.events[0])


@pytest.mark.filterwarnings("ignore:1 of 2 ground-truth images")
def test_evaluate_detectors_decodes_each_image_once_for_every_detector(tmp_path, monkeypatch):
    import featherface.io.images as images

    gt = make_gt(IMAGES)
    _write_images(tmp_path / "val", IMAGES[:1])  # one image missing: skipped with a warning, as detect_wider does
    reads = []
    real = images.load_image
    monkeypatch.setattr(images, "load_image", lambda p, *a, **k: reads.append(p) or real(p, *a, **k))
    a, b, calls = Finder(), Finder(), []
    with pytest.warns(EvaluationWarning, match="1 validation image"):
        rows = evaluate_detectors({"a": a, "b": b}, gt, tmp_path / "val", progress=lambda i, n: calls.append((i, n)))
    assert len(reads) == 1 and a.seen == b.seen == 1
    assert calls == [(1, 2), (2, 2)]
    assert rows["a"] == rows["b"] | {"seconds": rows["a"]["seconds"]}
    assert rows["a"]["predictions"] == 2 and rows["a"]["easy"] > 0.4

"""``featherface eval``: prediction folders, our detector (faked), flip merge, JSON and plot output."""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np
import pytest

from featherface.commands import evaluate as cmd
from featherface.errors import FeatherFaceError
from featherface.evaluation.predictions import write_predictions
from featherface.types import Face

from _wider_eval_helpers import write_gt_mats

BOXES = [[10, 10, 20, 20], [50, 50, 30, 30], [100, 10, 40, 44]]
IMAGES = [
    ("0--Parade", "0_Parade_1", BOXES, {"easy": [1], "medium": [1, 2], "hard": [1, 2, 3]}),
    ("1--Handshaking", "1_Hand_2", BOXES[:2], {"easy": [1, 2], "medium": [1, 2], "hard": [1, 2]}),
]


def parse(argv):
    parser = argparse.ArgumentParser(prog="featherface")
    sub = parser.add_subparsers(dest="command")
    cmd.add_parser(sub, "eval")
    return parser.parse_args(["eval", *argv])


@pytest.fixture()
def gt_dir(tmp_path):
    return write_gt_mats(tmp_path / "gt", IMAGES)


def test_predictions_folder_table_json_and_plot(tmp_path, gt_dir, capsys):
    pred = tmp_path / "pred"
    write_predictions(pred, "0--Parade", "0_Parade_1", np.array(BOXES, float), [0.9, 0.8, 0.7])
    write_predictions(pred, "1--Handshaking", "1_Hand_2", np.array([[200, 200, 10, 10]], float), [0.95])
    out_json, out_png = tmp_path / "r" / "ap.json", tmp_path / "r" / "pr.png"
    args = parse(["--gt", str(gt_dir), "--predictions", str(pred), "--json", str(out_json),
                  "--plot", str(out_png), "--quiet"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    header = next(l for l in lines if "easy" in l and "medium" in l and "hard" in l and "|" in l)
    assert [c.strip() for c in header.split("|")] == ["easy", "medium", "hard"]
    data = json.loads(out_json.read_text())
    assert set(data) >= {"easy", "medium", "hard", "faces", "num_images", "missing_images"}
    assert data["faces"] == {"easy": 3, "medium": 4, "hard": 5}
    # easy: FP at the top (0.95), then TP faces -> envelope 1/2 over recall 1/3 ... exact value
    assert 0 < data["easy"] < 1 and data["hard"] > 0
    assert out_png.stat().st_size > 1000 and out_png.read_bytes()[:4] == b"\x89PNG"


def test_through_the_main_cli_and_errors(tmp_path, gt_dir, capsys):
    from featherface.cli import main

    pred = tmp_path / "pred"
    write_predictions(pred, "0--Parade", "0_Parade_1", np.array(BOXES, float), [0.9, 0.8, 0.7])
    (pred / "0--Parade" / "bad").mkdir()
    (pred / "0--Parade" / "bad" / "1_Hand_2.txt").write_text("1_Hand_2\n3\n1 2 3 4 0.5\n")
    assert main(["eval", "--gt", str(gt_dir), "--predictions", str(pred), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1_Hand_2.txt:2:" in err and "announces 3 detection" in err
    assert main(["eval", "--gt", str(gt_dir), "--predictions", str(pred), "--flip"]) == 2
    assert "only apply with --images" in capsys.readouterr().err


def test_missing_images_warned_on_stderr(tmp_path, gt_dir, capsys):
    pred = tmp_path / "pred"
    write_predictions(pred, "0--Parade", "0_Parade_1", np.array(BOXES, float), [0.9, 0.8, 0.7])
    args = parse(["--gt", str(gt_dir), "--predictions", str(pred), "--quiet"])
    assert cmd.run(args) == 0
    cap = capsys.readouterr()
    assert "warning: 1 of 2 ground-truth images have no predictions" in cap.err
    assert "1 without predictions" in cap.out


class FakeDetector:
    """Finds the ground-truth faces of a known image, and in mirrored images their mirrors."""

    calls: list[dict] = []

    def __init__(self, model="featherface-v2-ultra", weights="default", device="cpu",
                 score_threshold=0.5, nms_threshold=0.4, input_size=None):
        FakeDetector.calls.append(dict(model=model, weights=weights, score_threshold=score_threshold,
                                       input_size=input_size))

    def detect(self, image):
        h, w = image.shape[:2]
        mirrored = image[:, : w // 2].mean() < image[:, w // 2 :].mean()  # bright half moved right
        faces = []
        for k, (x, y, bw, bh) in enumerate(BOXES):
            x1, x2 = (w - (x + bw), w - x) if mirrored else (x, x + bw)
            faces.append(Face(box=(float(x1), float(y), float(x2), float(y + bh)), score=0.9 - 0.1 * k))
        return faces


@pytest.fixture()
def fake_detector(monkeypatch):
    mod = types.ModuleType("featherface.inference.detector")
    mod.FaceDetector = FakeDetector
    monkeypatch.setitem(sys.modules, "featherface.inference.detector", mod)
    FakeDetector.calls.clear()
    return FakeDetector


def _images(root):
    import cv2

    for e, n, _, _ in IMAGES[:1]:  # the second image is missing on purpose
        (root / e).mkdir(parents=True, exist_ok=True)
        img = np.zeros((200, 300, 3), np.uint8)
        img[:, :150] = 200
        cv2.imwrite(str(root / e / f"{n}.jpg"), img)
    return root


def test_images_mode_runs_detector_saves_and_flip_merges(tmp_path, gt_dir, fake_detector, capsys):
    images = _images(tmp_path / "WIDER_val" / "images")
    save = tmp_path / "saved"
    args = parse(["--gt", str(gt_dir), "--images", str(tmp_path / "WIDER_val"), "--weights", "w.pt",
                  "--save-predictions", str(save), "--flip", "--quiet", "--json", str(tmp_path / "a.json")])
    assert cmd.run(args) == 0
    assert fake_detector.calls[0] == dict(model="featherface-v2-ultra", weights="w.pt", score_threshold=0.02,
                                          input_size=None)
    lines = (save / "0--Parade" / "0_Parade_1.txt").read_text().splitlines()
    assert lines[1] == "3"  # mirrored duplicates merged away by NMS
    np.testing.assert_allclose([float(v) for v in lines[2].split()[:4]], BOXES[0], atol=1e-6)
    cap = capsys.readouterr()
    # the folder holds 1 of the 2 images: scored against that image's ground truth only, and said so
    assert "subset: 1 of 2 images — not comparable to full-val numbers" in cap.err
    assert "subset: 1 of 2 images" in cap.out
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["source"]["flip"] is True and data["missing_images"] == 0
    assert data["subset"]["images"] == 1 and data["subset"]["of"] == 2 and len(data["subset"]["key"]) == 12
    assert data["easy"] == pytest.approx(1.0)  # the one easy face of the image present, found first
    assert images.is_dir()


class _Peer:
    def __init__(self, k: int) -> None:
        self.k = k  # finds the first k ground-truth faces

    def detect(self, image):
        return [Face(box=(float(x), float(y), float(x + w), float(y + h)), score=0.9 - 0.1 * i)
                for i, (x, y, w, h) in enumerate(BOXES[: self.k])]


def test_detectors_side_by_side_on_a_subset(tmp_path, gt_dir, monkeypatch, capsys):
    from featherface.peers import factory

    _images(tmp_path / "WIDER_val" / "images")
    seen = {}

    def fake_build(specs, **kw):
        seen.update(kw, specs=specs)
        return {"ours": _Peer(3), "peer": _Peer(1)}, ["ultraface: its files are missing"]

    monkeypatch.setattr(factory, "build_detectors", fake_build)
    out = tmp_path / "t.json"
    args = parse(["--gt", str(gt_dir), "--images", str(tmp_path / "WIDER_val" / "images"),
                  "--detectors", "featherface-v2-ultra,yunet,ultraface", "--quiet", "--json", str(out)])
    assert cmd.run(args) == 0
    assert seen["specs"] == ["featherface-v2-ultra", "yunet", "ultraface"] and seen["score_threshold"] == 0.02
    cap = capsys.readouterr()
    assert "| ours | 1.000 | 1.000 | 1.000 |" in cap.out
    assert "| peer | 1.000 | 0.500 | 0.333 |" in cap.out  # one of the 2 medium / 3 hard faces
    assert "subset: 1 of 2 images" in cap.out and "not run: ultraface" in cap.out
    data = json.loads(out.read_text())
    assert set(data["detectors"]) == {"ours", "peer"} and data["subset"]["images"] == 1
    assert data["detectors"]["peer"]["hard"] == pytest.approx(1 / 3, abs=1e-6)


def test_detectors_refuse_single_detector_options(tmp_path, gt_dir):
    for extra in (["--flip"], ["--plot", str(tmp_path / "p.png")]):
        args = parse(["--gt", str(gt_dir), "--images", str(tmp_path), "--detectors", "yunet", *extra])
        with pytest.raises(FeatherFaceError, match="--detectors runs each detector"):
            cmd.run(args)


def test_no_image_present_is_an_error(tmp_path, gt_dir):
    (tmp_path / "empty" / "0--Parade").mkdir(parents=True)
    args = parse(["--gt", str(gt_dir), "--images", str(tmp_path / "empty"), "--quiet"])
    with pytest.raises(FeatherFaceError, match="no WIDER FACE validation image found"):
        cmd.run(args)


def test_limit_and_bad_limit(tmp_path, gt_dir, capsys):
    pred = tmp_path / "pred"
    write_predictions(pred, "0--Parade", "0_Parade_1", np.array(BOXES, float), [0.9, 0.8, 0.7])
    args = parse(["--gt", str(gt_dir), "--predictions", str(pred), "--limit", "1", "--quiet"])
    assert cmd.run(args) == 0
    assert "evaluating 1 of the images only" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # refused by the parser (featherface.commands.argtypes)
        parse(["--gt", str(gt_dir), "--predictions", str(pred), "--limit", "0"])
    assert "--limit: must be >= 1, got 0" in capsys.readouterr().err

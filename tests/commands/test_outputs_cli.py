"""Every verb's output options go through featherface.io.outputs before the work starts; detect keeps
its results on a late failure (issue 14, items 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import pytest

import featherface.inference.detector as detector_module
from featherface.cli import main
from featherface.commands.train import prepare_output_dir
from featherface.errors import ConfigError
from tests.fuzz.campaign import base_image
from tests.fuzz.conftest import stub_detector


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cv2.imwrite(str(d / name), base_image())
    return d


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)


def _err_line(capsys, verb: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"featherface {verb}: error: ") and "Traceback" not in err, err
    return lines[0]


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


# -------------------------------------------------------------------------------- refused outputs

def test_detect_json_onto_its_input_keeps_the_photo(photos, stub, capsys):
    photo = photos / "a.jpg"
    before = photo.read_bytes()
    assert main(["detect", str(photo), "--json", str(photo), "--quiet"]) == 2
    assert "also an input of this run" in _err_line(capsys, "detect")
    assert photo.read_bytes() == before


def test_detect_json_dir_refused_up_front(photos, stub, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(detector_module, "FaceDetector", lambda **kw: calls.append(kw) or stub_detector())
    assert main(["detect", str(photos), "--json", str(photos), "--quiet"]) == 2
    assert "is a folder; give a file name" in _err_line(capsys, "detect")
    assert not calls  # refused before the model was built


def test_detect_into_its_own_folder_keeps_the_users_files(photos, stub, capsys):
    """detect DIR -o DIR: the user's own a_faces.jpg (an input) is not overwritten."""
    own = photos / "a_faces.jpg"
    cv2.imwrite(str(own), base_image(seed=3))
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    assert main(["detect", str(photos), "-o", str(photos), "--json", str(photos / "det.json"), "--quiet"]) == 0
    capsys.readouterr()
    for name, data in before.items():
        assert (photos / name).read_bytes() == data, name
    doc = json.loads((photos / "det.json").read_text())
    assert len(doc["results"]) == 4
    assert (photos / "a_faces-2.jpg").exists() and (photos / "a_faces_faces.jpg").exists()


def test_detect_picture_never_takes_the_json_name(photos, stub, capsys, tmp_path):
    out = tmp_path / "out"
    rc = main(["detect", str(photos / "a.jpg"), "-o", str(out), "--json", str(out / "a_faces.jpg"), "--force",
               "--quiet"])
    assert rc == 0
    capsys.readouterr()
    assert json.loads((out / "a_faces.jpg").read_text())["results"][0]["faces"]
    assert (out / "a_faces-2.jpg").exists()


def test_export_onto_a_photo_refused(photos, capsys):
    photo = photos / "a.jpg"
    before = photo.read_bytes()
    assert main(["export", "--random", "-o", str(photo), "--input-size", "64"]) == 2
    assert "not a .onnx file" in _err_line(capsys, "export")
    assert photo.read_bytes() == before


def test_export_onto_its_weights_refused(tmp_path, capsys):
    import torch

    from featherface.models import create_model
    from featherface.models.weights import save_weights

    torch.manual_seed(0)
    w = save_weights(create_model("featherface-v2-ultra"), tmp_path / "w.pt")
    before = w.read_bytes()
    assert main(["export", "--format", "torchscript", "--weights", str(w), "-o", str(w)]) == 2
    assert "also an input" in _err_line(capsys, "export")
    assert w.read_bytes() == before


@pytest.mark.parametrize("extra", [["--output", "{photo}"], ["--output", "{dir}/l.txt", "--report", "{photo}"]])
def test_autolabel_onto_its_photo_refused(photos, capsys, monkeypatch, extra):
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "build_teacher", lambda *a, **k: pytest.fail("teacher built before the check"))
    photo = photos / "a.jpg"
    before = photo.read_bytes()
    argv = ["autolabel", str(photo)] + [a.replace("{photo}", str(photo)).replace("{dir}", str(photos)) for a in extra]
    assert main(argv) == 2
    assert "also an input" in _err_line(capsys, "autolabel")
    assert photo.read_bytes() == before


def test_autolabel_report_same_as_labels(photos, capsys, monkeypatch):
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "build_teacher", lambda *a, **k: pytest.fail("teacher built before the check"))
    assert main(["autolabel", str(photos), "-o", str(photos / "l.txt"), "--report", str(photos / "l.txt")]) == 2
    assert "also a label file" in _err_line(capsys, "autolabel")


@pytest.mark.parametrize("opt", ["--grid", "--json", "--markdown"])
def test_compare_outputs_onto_an_input_refused(photos, capsys, opt):
    photo = photos / "b.jpg"
    before = photo.read_bytes()
    assert main(["compare", str(photos), "--peers", "haar", opt, str(photo), "-q"]) == 2
    assert "also an input" in _err_line(capsys, "compare")
    assert photo.read_bytes() == before


def test_compare_two_options_one_file(photos, tmp_path, capsys):
    assert main(["compare", str(photos), "--peers", "haar", "--json", str(tmp_path / "o.json"),
                 "--markdown", str(tmp_path / "o.json"), "--force", "-q"]) == 2
    assert "is also given to --json" in _err_line(capsys, "compare")


@pytest.mark.parametrize("argv", [
    ["eval", "--predictions", "{d}", "--json", "{d}"],
    ["eval", "--predictions", "{d}", "--json", "{d}/x.txt"],  # an input file
    ["eval", "--predictions", "{d}", "--plot", "{d}/p.png", "--json", "{d}/p.png"],
    ["eval", "--images", "{d}", "--save-predictions", "{d}/x.txt"],
    ["bench", "--json", "{d}"],
    ["bench", "--markdown", "{d}/x.txt"],
])
def test_eval_and_bench_outputs_refused_up_front(tmp_path, capsys, argv):
    d = tmp_path / "preds"
    d.mkdir()
    (d / "x.txt").write_text("something of the user's")
    rc = _run([a.replace("{d}", str(d)) for a in argv])
    assert rc == 2
    _err_line(capsys, argv[0])
    assert (d / "x.txt").read_text() == "something of the user's"


def test_read_only_output_folder(photos, stub, capsys, monkeypatch, tmp_path):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(ro) else real(p, m))
    assert main(["detect", str(photos), "--json", str(ro / "d.json"), "--quiet"]) == 2
    assert "is not writable" in _err_line(capsys, "detect")
    assert main(["detect", str(photos), "-o", str(ro / "pics"), "--quiet"]) == 2
    assert "is not writable" in _err_line(capsys, "detect")


# -------------------------------------------------------------------------------- train -o RUN

def _cfg(out: Path, resume=None):
    return SimpleNamespace(output_dir=str(out), resume=resume)


def test_train_refuses_an_earlier_run_without_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"earlier best")
    (run / "synthetic").mkdir()
    with pytest.raises(ConfigError, match="already holds a training run \\(best.pt\\).*--resume.*--force"):
        prepare_output_dir(_cfg(run))
    prepare_output_dir(_cfg(run, resume="auto"))  # continuing it is fine
    prepare_output_dir(_cfg(tmp_path / "fresh"))  # so is a new folder
    prepare_output_dir(_cfg(run), force=True)
    assert not (run / "best.pt").exists()
    aside = [p for p in run.iterdir() if p.name.startswith("replaced-")]
    assert len(aside) == 1 and (aside[0] / "best.pt").read_bytes() == b"earlier best"
    assert (run / "synthetic").is_dir()  # the cached smoke-run pictures stay


def test_train_cli_refuses_an_earlier_run(tmp_path, capsys, monkeypatch):
    import featherface.training.trainer as trainer_module

    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"x")
    monkeypatch.setattr(trainer_module, "Trainer", lambda cfg: pytest.fail("Trainer built"))
    assert main(["train", "--synthetic", "4", "-o", str(run)]) == 2
    assert "already holds a training run (last.pt)" in _err_line(capsys, "train")
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["train", "--synthetic", "4", "-o", str(f)]) == 2
    assert "is a file; give a folder" in _err_line(capsys, "train")


# -------------------------------------------------------------------------------- late failures

class _FailingOn:
    """The stub detector, raising ``exc`` on the n-th call."""

    def __init__(self, n: int, exc: BaseException):
        self.det, self.n, self.exc, self.calls = stub_detector(), n, exc, 0
        self.name, self.weights_path = self.det.name, None

    def detect(self, image):
        self.calls += 1
        if self.calls == self.n:
            raise self.exc
        return self.det.detect(image)


@pytest.mark.parametrize("exc,rc", [(KeyboardInterrupt(), 130), (RuntimeError("late bug"), 1)])
def test_detect_json_survives_a_late_failure(photos, tmp_path, monkeypatch, capsys, exc, rc):
    fake = _FailingOn(3, exc)
    monkeypatch.setattr(detector_module, "FaceDetector", lambda **kw: fake)
    out_json = tmp_path / "det.json"
    assert main(["detect", str(photos), "--json", str(out_json), "-o", str(tmp_path / "out"), "--quiet"]) == rc
    cap = capsys.readouterr()
    doc = json.loads(out_json.read_text())
    assert [Path(r["file"]).name for r in doc["results"]] == ["a.jpg", "b.jpg"]
    if rc == 130:
        assert doc["interrupted"] is True and "(interrupted after 2 inputs)" in cap.out
    else:
        assert doc["aborted"] == "RuntimeError: late bug"
        assert cap.err.strip().splitlines()[-1].startswith("featherface detect: internal error: RuntimeError: late bug")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_faces.jpg", "b_faces.jpg"]


def test_detect_sigterm_writes_the_json(photos, tmp_path, monkeypatch, capsys):
    import os
    import signal

    class Term(_FailingOn):
        def detect(self, image):
            self.calls += 1
            if self.calls == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return self.det.detect(image)

    fake = Term(0, RuntimeError())
    monkeypatch.setattr(detector_module, "FaceDetector", lambda **kw: fake)
    out_json = tmp_path / "det.json"
    assert main(["detect", str(photos), "--json", str(out_json), "--quiet"]) == 130
    capsys.readouterr()
    doc = json.loads(out_json.read_text())
    assert doc["interrupted"] is True and len(doc["results"]) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_detect_picture_failure_is_one_entry(photos, tmp_path, monkeypatch, capsys, stub):
    """Only the drawing failed: the faces stay in the one JSON entry of that file."""
    import featherface.commands.detect as detect_cmd
    from featherface.errors import OutputError

    real = detect_cmd._write_picture

    def flaky(target, image):
        if target.name.startswith("b_"):
            raise OutputError(f"{target}: cannot encode the annotated picture")
        real(target, image)

    monkeypatch.setattr(detect_cmd, "_write_picture", flaky)
    out_json = tmp_path / "det.json"
    assert main(["detect", str(photos), "--json", str(out_json), "-o", str(tmp_path / "out"), "--quiet"]) == 1
    cap = capsys.readouterr()
    doc = json.loads(out_json.read_text())
    assert len(doc["results"]) == 3
    b = next(r for r in doc["results"] if r["file"].endswith("b.jpg"))
    assert b["faces"] and "cannot encode" in b["picture_error"] and "error" not in b
    assert "2/3 inputs processed" in cap.out and "1 failed" in cap.out
    assert cap.err.count("featherface detect: error:") == 1 and "faces found, but" in cap.err


def test_detect_long_file_name(tmp_path, stub, capsys):
    d = tmp_path / "in"
    d.mkdir()
    name = "é" * 120 + ".jpg"  # 244 bytes: "<stem>_faces.jpg" would be 250, its temporary file longer still
    ok, buf = cv2.imencode(".jpg", base_image())
    (d / name).write_bytes(buf.tobytes())
    assert main(["detect", str(d), "-o", str(tmp_path / "out"), "--json", str(tmp_path / "d.json"), "--quiet"]) == 0
    capsys.readouterr()
    [pic] = list((tmp_path / "out").iterdir())
    assert pic.name.endswith("_faces.jpg") and len(pic.name.encode()) <= 200


def test_detect_extreme_aspect_image_gets_a_png(tmp_path, stub, capsys):
    """1x70000 is a valid image; JPEG cannot hold it (65500 a side): the picture is a PNG, not a failure."""
    import numpy as np

    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "thin.png"), np.full((1, 70000, 3), 120, np.uint8))
    out_json = tmp_path / "d.json"
    assert main(["detect", str(d), "-o", str(tmp_path / "out"), "--json", str(out_json), "--quiet"]) == 0
    cap = capsys.readouterr()
    assert "1/1 inputs processed" in cap.out and "ERROR" not in cap.err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["thin_faces.png"]
    [entry] = json.loads(out_json.read_text())["results"]
    assert (entry["width"], entry["height"]) == (70000, 1) and "picture_error" not in entry


# -------------------------------------------------------------------------------- two runs, one folder

def test_two_detect_runs_into_one_folder_keep_both_runs_pictures(photos, stub, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["detect", str(photos / "a.jpg"), "-o", str(out), "--quiet"]) == 0
    first = (out / "a_faces.jpg").read_bytes()
    other = photos / "x"
    other.mkdir()
    cv2.imwrite(str(other / "a.jpg"), 255 - base_image())  # another photo of the same name
    capsys.readouterr()
    assert main(["detect", str(other / "a.jpg"), "-o", str(out), "--quiet"]) == 0
    assert "took a numbered name" in capsys.readouterr().out
    assert (out / "a_faces.jpg").read_bytes() == first  # the first run's picture is kept
    assert (out / "a_faces-2.jpg").is_file()
    assert main(["detect", str(other / "a.jpg"), "-o", str(out), "--quiet", "--force"]) == 0
    assert (out / "a_faces.jpg").read_bytes() != first and not (out / "a_faces-3.jpg").exists()


def test_two_crop_runs_into_one_folder_keep_both_indexes(photos, tmp_path, capsys, monkeypatch):
    import numpy as np

    from featherface import FaceDetector
    from tests.inference.stub import PlantedFacesModel

    lms = np.array([[[10, 14], [24, 14], [17, 22], [12, 30], [22, 30]]], np.float32)
    boxes = np.array([[4, 3, 30, 40]], np.float32)
    monkeypatch.setattr(detector_module, "FaceDetector",
                        lambda **kw: FaceDetector(model=PlantedFacesModel(boxes, lms)))
    out = tmp_path / "crops"
    assert main(["crop", str(photos / "a.jpg"), "-o", str(out), "--quiet"]) == 0
    first = (out / "index.csv").read_text()
    crops = sorted(p.name for p in out.glob("*.png"))
    assert crops, "the stub detector's face must give a crop"
    assert main(["crop", str(photos / "a.jpg"), "-o", str(out), "--quiet"]) == 0
    assert (out / "index.csv").read_text() == first
    second = (out / "index-2.csv").read_text()
    assert all(name not in second for name in crops)  # the second run's crops have names of their own
    assert len(list(out.glob("*.png"))) == 2 * len(crops)


def test_crop_skips_a_face_with_coinciding_landmarks(photos, stub, tmp_path, capsys):
    assert main(["crop", str(photos / "a.jpg"), "-o", str(tmp_path / "c"), "--quiet"]) == 0
    assert "landmarks coincide" in capsys.readouterr().out

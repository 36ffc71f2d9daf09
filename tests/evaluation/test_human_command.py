"""``featherface eval`` on human-labelled sets: flags, one table of detectors, skipped detectors, errors."""

from __future__ import annotations

import json

import pytest

from featherface.cli import main
from featherface.peers import factory

from tests.evaluation.test_human import DET_FACES, KeyedDetector, make_sets


@pytest.fixture()
def fake_build(monkeypatch):
    seen = {}

    def build(specs, **kw):
        seen.update(specs=list(specs), **kw)
        dets = {s: KeyedDetector(DET_FACES if s != "blind" else {}, name=s) for s in specs if s != "gone"}
        notes = ["skipped gone: model file /x/gone.onnx not found"] if "gone" in specs else []
        for n in notes:
            kw["log"](n)
        return dets, notes

    monkeypatch.setattr(factory, "build_detectors", build)
    return seen


def test_human_sets_table_json_plot(tmp_path, fake_build, capsys):
    root = make_sets(tmp_path / "data")
    out_json, png = tmp_path / "r" / "h.json", tmp_path / "r" / "pr.png"
    rc = main(["eval", "--human-sets", str(root), "--detectors", "seeing,blind,gone", "--caltech-split", "all",
               "--json", str(out_json), "--plot", str(png), "--quiet"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    lines = cap.out.splitlines()
    assert lines[0].startswith("| detector | facemask AP@0.5 (≥16px) |") and "cuhk NME (IOD)" in lines[0]
    assert [l.split("|")[1].strip() for l in lines[2:4]] == ["seeing", "blind"]
    assert "skipped gone" in cap.err and cap.err.count("\n") == 1
    assert fake_build["specs"] == ["seeing", "blind", "gone"] and fake_build["score_threshold"] == 0.02
    assert fake_build["input_size"] is None and fake_build["nms_threshold"] is None
    data = json.loads(out_json.read_text())
    assert [d["name"] for d in data["detectors"]] == ["seeing", "blind"] and data["skipped"]
    assert data["detectors"][0]["facemask"]["ap"] == 0.5 and data["options"]["min_face"] == 16.0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_single_sets_threshold_min_face_limit(tmp_path, fake_build, capsys):
    root = make_sets(tmp_path / "data")
    rc = main(["eval", "--facemask", str(root / "facemask-kaggle"), "--detectors", "seeing", "--threshold", "0.95",
               "--min-face", "0", "--limit", "1", "--quiet", "--json", str(tmp_path / "a.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "facemask AP@0.5 (≥0px)" in out and "caltech" not in out.splitlines()[0] and "first 1 images" in out
    d = json.loads((tmp_path / "a.json").read_text())
    fm = d["detectors"][0]["facemask"]
    assert (fm["images"], fm["faces"], fm["tp"], fm["threshold"]) == (1, 2, 0, 0.95)
    assert fake_build["score_threshold"] == 0.02
    # without --detectors: --model with its shipped weights
    assert main(["eval", "--cuhk", str(root / "cuhk-landmarks"), "--quiet"]) == 0
    assert fake_build["specs"] == ["featherface-v2-ultra"]
    assert "cuhk found@0.5" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--facemask", "{tmp}/nope"], "nope: VOC box set folder not found"),
    (["--human-sets", "{tmp}"], "lacks the standard human-labelled set folder"),
    (["--facemask", "{tmp}"], "no VOC .xml annotation files"),
    (["--facemask", "{tmp}", "--flip"], "--flip only apply to WIDER FACE"),
    (["--facemask", "{tmp}", "--predictions", "{tmp}"], "--predictions only apply to WIDER FACE"),
    (["--detectors", "yunet"], "nothing to evaluate"),  # WIDER takes --detectors too, with --images
    ([], "nothing to evaluate"),
    (["--facemask", "{tmp}", "--detectors", ","], "--detectors is empty"),
    (["--cuhk", "{tmp}", "--limit", "0"], "--limit: must be >= 1"),  # refused by the parser itself
])
def test_bad_input_is_one_line_error(tmp_path, fake_build, capsys, argv, message):
    try:
        rc = main(["eval", *[a.replace("{tmp}", str(tmp_path)) for a in argv], "--quiet"])
    except SystemExit as exc:  # argparse-level refusals exit 2 with one line too
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err


def test_no_detector_built_is_an_error(tmp_path, fake_build, capsys):
    root = make_sets(tmp_path / "data")
    assert main(["eval", "--cuhk", str(root / "cuhk-landmarks"), "--detectors", "gone", "--quiet"]) == 2
    assert "no detector could be built (skipped gone" in capsys.readouterr().err

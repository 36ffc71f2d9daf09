import json

import cv2
import numpy as np
import pytest
import torch

from featherface.cli import main
from featherface.models import create_model
from featherface.models.weights import save_weights


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("cli") / "w.pt"
    save_weights(create_model("featherface-v2-ultra"), p)
    return p


def test_list_and_info(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "featherface-v2-ultra" in out and "featherface-v1" in out
    assert main(["info", "featherface-v2-ultra", "--size", "320"]) == 0
    out = capsys.readouterr().out
    assert "213,072" in out and "244,483" in out and "265,600" in out and "GFLOPs at 320x320" in out


def test_detect_folder_with_bad_files_continues(tmp_path, weights_file, capsys):
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "a.jpg"), np.full((64, 80, 3), 128, np.uint8))
    (d / "b.jpg").write_bytes(b"\xff\xd8 corrupt")
    (d / "c.png").write_bytes(b"")
    out_json = tmp_path / "det.json"
    rc = main(["detect", str(d), str(tmp_path / "missing.jpg"), "--weights", str(weights_file),
               "--json", str(out_json), "--output", str(tmp_path / "out"), "--quiet"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "b.jpg: cannot decode" in err and "c.png: empty file" in err and "missing.jpg: file not found" in err
    doc = json.loads(out_json.read_text())
    by_file = {r["file"].split("/")[-1]: r for r in doc["results"]}
    assert "faces" in by_file["a.jpg"] and "error" in by_file["b.jpg"]
    assert (tmp_path / "out" / "a_faces.jpg").exists()


def test_detect_wrong_weights_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    rc = main(["detect", "x.jpg", "--weights", str(bad)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.pt" in err[0]


def test_detect_v1_weights_on_v2_model(tmp_path, capsys):
    p = tmp_path / "v1.pt"
    save_weights(create_model("featherface-v1"), p)
    rc = main(["detect", "x.jpg", "--weights", str(p)])
    assert rc == 2
    assert "different architecture" in capsys.readouterr().err


def test_reserved_default_weights_error(capsys):
    rc = main(["detect", "x.jpg", "--model", "featherface-v2-base"])  # the ablation base ships no weights
    assert rc == 2 and "no trained weights" in capsys.readouterr().err

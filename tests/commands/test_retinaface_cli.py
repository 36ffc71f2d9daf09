"""CLI around RetinaFace-mnet0.25: ``list`` says its weights are read by path, ``info`` compares
it with the release file instead of the FeatherFace design sheet, ``detect`` runs a release file
with both backends."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from featherface.cli import main
from featherface.models import create_model
from featherface.peers.retinaface import RETINAFACE_ENV
from tests.models.retinaface_release import write_release_file


@pytest.fixture(scope="module")
def release_file(tmp_path_factory):
    torch.manual_seed(0)
    return write_release_file(create_model("retinaface-mnet025"), tmp_path_factory.mktemp("rf") / "rf.pth")


def test_list_shows_retinaface_read_by_path(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(RETINAFACE_ENV, str(tmp_path / "absent.pth"))
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| retinaface-mnet025"))
    assert "426,608" in row and "by path" in row
    assert next(line for line in out.splitlines() if line.startswith("| featherface-v2-ultra")).count("shipped")
    note = next(line for line in out.splitlines() if line.startswith("retinaface-mnet025:"))
    assert "not shipped" in note and "--weights" in note and f"not found at {tmp_path / 'absent.pth'}" in note


def test_info_compares_with_the_release_file(capsys):
    assert main(["info", "retinaface-mnet025", "--no-flops"]) == 0
    out = capsys.readouterr().out
    assert "release file" in out and "design sheet" not in out
    for block, n in (("backbone (body)", "213,072"), ("FPN", "103,040"), ("SSH", "104,256"), ("Heads", "6,240"),
                     ("total", "426,608")):
        row = next(line for line in out.splitlines() if line.startswith("| ") and block in line)
        assert row.count(n) == 2, row  # measured == release file
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 5  # header, rule, 4 blocks, total: no FeatherFace-only rows
    for absent in ("CBAM", "V2 Ultra techniques", "Channel shuffle", "BiFPN"):
        assert not any(absent in line for line in table)
    assert "techniques:" not in out
    assert "matches exactly" in out
    assert main(["info", "retinaface-mnet025", "--no-flops", "--set", "fpn_channels=32"]) == 0
    assert "does NOT match" in capsys.readouterr().out


def test_info_of_featherface_keeps_the_design_sheet(capsys):
    assert main(["info", "featherface-v1", "--no-flops"]) == 0
    out = capsys.readouterr().out
    assert "design sheet" in out and "BiFPN (lateral + layers)" in out and "release file" not in out


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_detect_with_release_file(release_file, tmp_path, monkeypatch, capsys, backend):
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
        monkeypatch.setenv("FEATHERFACE_CACHE", str(tmp_path / "cache"))
    img = tmp_path / "a.jpg"
    cv2.imwrite(str(img), np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8))
    rc = main(["detect", str(img), "--model", "retinaface-mnet025", "--weights", str(release_file),
               "--threshold", "0.6", "--backend", backend, "--json", str(tmp_path / "d.json"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["model"] == "retinaface-mnet025" and doc["weights"] == str(release_file)
    assert isinstance(doc["results"][0]["faces"], list)


def test_detect_release_file_needs_the_model_name(release_file, capsys):
    assert main(["detect", "x.jpg", "--weights", str(release_file)]) == 2
    err = capsys.readouterr().err
    assert "retinaface-mnet025" in err and len(err.strip().splitlines()) == 1

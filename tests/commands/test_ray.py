"""``featherface detect ... --ray``: the records of the plain run, from Ray actors on a local
instance (skipped when Ray is not installed; ``pip install 'featherface[ray]'``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import pytest

from featherface.cli import main

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    im = cv2.imread(str(ASTRONAUT))
    cv2.imwrite(str(d / "a.jpg"), cv2.resize(im, (192, 192)))
    (d / "b.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(d / "c.png"), cv2.flip(cv2.resize(im, (160, 160)), 1))
    return d


def test_ray_same_records_as_plain_cli(tmp_path, capsys):
    pytest.importorskip("ray.data")
    d = _folder(tmp_path)
    assert main(["detect", str(d), "--json", str(tmp_path / "plain.json"), "--quiet"]) == 1
    assert main(["detect", str(d), "--json", str(tmp_path / "ray.json"), "--jsonl", str(tmp_path / "ray.jsonl"),
                 "--quiet", "--ray-actors", "2", "--ray"]) == 1
    cap = capsys.readouterr()
    plain = json.loads((tmp_path / "plain.json").read_text())
    ray = json.loads((tmp_path / "ray.json").read_text())
    assert ray == plain and len(ray["results"]) == 3  # same records, same order, same document
    lines = [json.loads(s) for s in (tmp_path / "ray.jsonl").read_text().splitlines()]
    assert lines == plain["results"]
    assert "b.jpg: cannot decode" in cap.err and "(detect, --ray)" in cap.out


def test_ray_missing_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main(["detect", str(_folder(tmp_path)), "--json", str(tmp_path / "r.json"), "--ray"]) == 2
    err = capsys.readouterr().err
    assert "featherface[ray]" in err and "Traceback" not in err


def test_ray_refuses_pictures_and_workers(tmp_path, capsys):
    d = _folder(tmp_path)
    assert main(["detect", str(d), "-o", str(tmp_path / "out"), "--ray"]) == 2
    assert main(["detect", str(d), "--workers", "2", "--ray"]) == 2
    assert "--ray" in capsys.readouterr().err

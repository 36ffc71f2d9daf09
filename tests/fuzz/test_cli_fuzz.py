"""Fast fuzz subset: ``featherface detect`` on a folder full of bad and odd files.

In-process (``featherface.cli.main``, detector swapped for the planted-faces stub) on every file
case, and once as a real subprocess (random untrained network, ``--weights none``) on one file of
each kind. Every other file must still be processed, each failure reported on one line naming the
file, the JSON must hold one entry per input, and the run must end with the summary and exit 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

import featherface.inference.detector as detector_module
from featherface.cli import main
from tests.fuzz.campaign import base_image, check_detect_run, folder_extras, image_cases, write_case_files
from tests.fuzz.conftest import stub_detector

REPO = Path(__file__).resolve().parents[2]
FILE_CASES = [c for c in image_cases(seed=1, random_per_format=3) if c.is_file]


def test_detect_folder_in_process(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    files = write_case_files(FILE_CASES, folder)
    extras = folder_extras(folder, files["valid.png"].read_bytes())
    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    out_json, out_dir = tmp_path / "det.json", tmp_path / "out"
    rc = main(["detect", str(folder), "--json", str(out_json), "--output", str(out_dir), "--quiet"])
    cap = capsys.readouterr()
    doc = json.loads(out_json.read_text())
    problems, stats = check_detect_run(files, FILE_CASES, extras, doc, rc, cap.out, cap.err, out_dir)
    assert not problems, "\n".join(problems[:30])
    assert stats["valid-format"]["faces"] >= 8 and stats["truncated"]["error"] > 0


def test_same_stem_outputs_do_not_overwrite(tmp_path, monkeypatch, capsys):
    """Regression: a.jpg and a.png (or x/a.jpg and y/a.jpg) both wrote out/a_faces.jpg."""
    d = tmp_path / "in"
    (d / "x").mkdir(parents=True)
    (d / "y").mkdir()
    img = base_image()
    for p in (d / "a.jpg", d / "a.png", d / "x" / "a.jpg", d / "y" / "A.jpg"):
        cv2.imwrite(str(p), img)
    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    assert main(["detect", str(d), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    capsys.readouterr()
    names = {p.name for p in (tmp_path / "out").iterdir()}
    # the first keeps the plain name; names are compared case-insensitively (macOS/Windows disks)
    assert names == {"a_faces.jpg", "a_faces-2.jpg", "a_faces-3.jpg", "A_faces-4.jpg"}, names


@pytest.mark.slow
def test_detect_folder_subprocess(tmp_path):
    """The real command in a fresh interpreter (random network): one file of every kind."""
    seen: set[str] = set()
    subset = [c for c in FILE_CASES if not (c.kind in seen or seen.add(c.kind))]  # first of each kind
    subset += [c for c in FILE_CASES if c.kind == "exif-orientation" and c not in subset][:7]
    folder = tmp_path / "in"
    files = write_case_files(subset, folder)
    extras = {"garbage.mp4": "error"}
    (folder / "garbage.mp4").write_bytes(os.urandom(500))
    out_json = tmp_path / "det.json"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "featherface.cli", "detect", str(folder), "--weights", "none", "--json", str(out_json),
         "--quiet"],
        capture_output=True, text=True, timeout=240, cwd=REPO, env=env,
    )
    doc = json.loads(out_json.read_text())
    problems, _ = check_detect_run(files, subset, extras, doc, proc.returncode, proc.stdout, proc.stderr, None)
    assert not problems, "\n".join(problems[:30]) + "\n" + proc.stderr[-2000:]
    assert re.search(r"\d+/\d+ inputs processed, \d+ faces found, \d+ failed", proc.stdout)

"""``--workers N`` (detect, blur, crop) and ``detect_files(..., workers=N)``: the same records and
files as one process, in input order, and an unreadable file still a named failure."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.cli import main
from featherface.errors import ConfigError, ImageError

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Three small photos with faces and one file that is not an image, in a name order that
    interleaves them (the failure is in the middle)."""
    d = tmp_path_factory.mktemp("workers") / "in"
    d.mkdir()
    im = cv2.imread(str(ASTRONAUT))
    cv2.imwrite(str(d / "a.jpg"), cv2.resize(im, (192, 192)))
    (d / "b.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(d / "c.png"), cv2.flip(cv2.resize(im, (160, 160)), 1))
    cv2.imwrite(str(d / "d.jpg"), cv2.resize(im, (128, 128)))
    return d


def _run_verb(verb: str, folder: Path, out: Path, workers: int, capsys) -> tuple[dict, dict[str, bytes], str, str]:
    code = main([verb, str(folder), "-o", str(out / "files"), "--json", str(out / "r.json"), "--quiet",
                 "--workers", str(workers)])
    cap = capsys.readouterr()
    assert code == 1  # one input failed
    doc = json.loads((out / "r.json").read_text())
    files = {p.name: p.read_bytes() for p in sorted((out / "files").iterdir())}
    return doc, files, cap.out, cap.err


@pytest.mark.parametrize("verb", ["detect", "blur", "crop"])
def test_workers_2_same_outputs_as_1(verb, folder, tmp_path, capsys):
    one, files1, out1, err1 = _run_verb(verb, folder, tmp_path / "w1", 1, capsys)
    two, files2, out2, err2 = _run_verb(verb, folder, tmp_path / "w2", 2, capsys)
    as_text = json.dumps(two).replace(str(tmp_path / "w2"), str(tmp_path / "w1"))
    assert json.loads(as_text) == one  # same records, same order, same names
    assert files1 == files2 and files1  # the same pictures / crops, byte for byte
    for err in (err1, err2):
        assert f"featherface {verb}: error: " in err and "b.jpg" in err and "Traceback" not in err
    assert "--workers 2" in out2 and "images/s" in out2
    if verb != "crop":
        assert [r["file"].rsplit("/", 1)[-1] for r in two["results"]] == ["a.jpg", "b.jpg", "c.png", "d.jpg"]
        assert "error" in two["results"][1]


def test_detect_files_api_in_order_with_errors(folder):
    from featherface.inference.parallel import detect_files

    paths = sorted(folder.iterdir())
    one = list(detect_files(paths, workers=1))
    two = list(detect_files(paths, workers=2))
    assert isinstance(one[1], ImageError) and isinstance(two[1], ImageError) and "b.jpg" in str(two[1])
    for a, b in zip(one, two):
        if not isinstance(a, Exception):
            assert a.to_dict() == b.to_dict() and len(a) > 0
            # no pixels cross the process boundary; drawing reads the file again, the same picture
            assert b.image is None and (b.width, b.height) == (a.width, a.height)
            assert np.array_equal(b.plot(), a.plot())


def test_workers_must_be_positive(capsys):
    from featherface.inference.parallel import check_workers

    with pytest.raises(ConfigError):
        check_workers(0)
    with pytest.raises(SystemExit):
        main(["detect", "x.jpg", "--workers", "0"])
    capsys.readouterr()


def test_workers_auto_takes_the_cores_for_a_folder_on_onnxruntime_only(monkeypatch) -> None:
    from types import SimpleNamespace

    import featherface.inference.parallel as parallel
    from featherface.commands.workers import AUTO_MIN_IMAGES, workers_arg, resolve_workers

    monkeypatch.setattr(parallel, "default_workers", lambda: 4)
    ort, torch_det = SimpleNamespace(backend=SimpleNamespace(name="onnxruntime")), SimpleNamespace(
        backend=SimpleNamespace(name="torch"))
    assert workers_arg("auto") is None and workers_arg("3") == 3
    assert resolve_workers(None, AUTO_MIN_IMAGES, ort) == 4
    assert resolve_workers(None, AUTO_MIN_IMAGES - 1, ort) == 1  # a handful of photos: no pool to start
    assert resolve_workers(None, 500, torch_det) == 1  # each worker would import torch and hold a network
    assert resolve_workers(2, 1, torch_det) == 2  # asked for: as given

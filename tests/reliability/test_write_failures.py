"""Issue 28, case 3: a failed write is never reported as success. Every write names its file when
it fails (a full disk, a short write, ``/dev/full``), leaves no partial file, and fails the input
it belongs to (exit 1); a video whose file did not come out whole (OpenCV's writer reports
nothing) is caught when the writer is released."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.errors import OutputError
from featherface.io import outputs
from featherface.io.outputs import atomic_output, write_bytes, write_text
from featherface.io.video import check_video_file, open_video_writer


def _avi(path: Path, n: int = 6) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    return path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_dev_full_names_the_file():
    with pytest.raises(OutputError, match=r"^/dev/full: cannot write \(No space left on device\)"):
        write_text("/dev/full", "{}")


def test_full_disk_during_an_atomic_write_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "faces.json"
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", full)
    with pytest.raises(OutputError, match=r"faces\.json: cannot write \(No space left on device\)"):
        write_bytes(target, b"new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["faces.json"]


def test_a_tool_failing_inside_atomic_output_is_named_by_the_final_path(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(OutputError, match=r"model\.onnx: cannot write"):
        with atomic_output(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_check_video_file(tmp_path):
    good = _avi(tmp_path / "good.avi")
    check_video_file(good, 6)
    cut = tmp_path / "cut.mp4"
    w = open_video_writer(tmp_path / "whole.mp4", 10, (64, 48))
    for i in range(6):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    cut.write_bytes((tmp_path / "whole.mp4").read_bytes()[:600])  # what a full disk leaves: no index
    with pytest.raises(OutputError, match=r"out\.mp4: the video was not written completely"):
        check_video_file(cut, 6, name="out.mp4")


def test_writer_release_checks_unless_an_error_is_already_on_its_way(tmp_path, monkeypatch):
    from featherface.io import video

    monkeypatch.setattr(video.VideoWriter, "write", lambda self, frame: setattr(self, "frames", self.frames + 1))
    w = open_video_writer(tmp_path / "a.mp4", 10, (64, 48))
    w.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt
        finally:
            w.release()  # no second error over the first
    w = open_video_writer(tmp_path / "b.mp4", 10, (64, 48))
    w.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(OutputError, match=r"b\.mp4: the video was not written completely"):
        w.release()


@pytest.mark.parametrize("verb", ["detect", "blur"])
def test_a_video_that_was_not_written_fails_its_input(verb, tmp_path, monkeypatch, capsys):
    from featherface import cli
    from featherface.inference import detector as detector_module
    from featherface.io import video
    from tests.fuzz.conftest import stub_detector

    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    # a disk that takes nothing: the writer is told of every frame and keeps none
    monkeypatch.setattr(video.VideoWriter, "write", lambda self, frame: setattr(self, "frames", self.frames + 1))
    clip = _avi(tmp_path / "clip.avi")
    out = tmp_path / "out"
    rc = cli.main([verb, str(clip), "-o", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 1, captured
    assert "the video was not written completely" in captured.err and "Traceback" not in captured.err
    assert not [p for p in out.iterdir() if p.suffix == ".mp4" or ".tmp" in p.name]


def test_crop_on_a_full_disk_names_each_crop_and_exits_1(tmp_path, monkeypatch, capsys):
    from featherface import cli

    photo = tmp_path / "p.jpg"  # the demo portrait: one face, found by the shipped weights
    photo.write_bytes((Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg").read_bytes())
    real = outputs._atomic_write_bytes

    def full(data, path):
        if path.suffix == ".png":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(data, path)

    monkeypatch.setattr(outputs, "_atomic_write_bytes", full)
    rc = cli.main(["crop", str(photo), "-o", str(tmp_path / "crops"), "--quiet", "--backend", "torch"])
    err = capsys.readouterr().err
    assert rc == 1 and "p_00.png: cannot write (No space left on device)" in err, err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_jsonl_on_a_full_device_names_the_file(tmp_path, monkeypatch, capsys):
    from featherface import cli
    from featherface.inference import detector as detector_module
    from tests.fuzz.conftest import stub_detector

    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 128, np.uint8))
    rc = cli.main(["detect", str(photo), "--jsonl", "/dev/full", "--json", str(tmp_path / "all.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "/dev/full: cannot write (No space left on device)" in err and "Traceback" not in err
    assert (tmp_path / "all.json").is_file()  # what was found is still written


def test_wider_prediction_files_name_the_file_on_a_full_disk(tmp_path, monkeypatch):
    from featherface.evaluation.predictions import write_predictions

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", full)
    with pytest.raises(OutputError, match=r"0_Parade_1\.txt: cannot write \(No space left on device\)"):
        write_predictions(tmp_path, "0--Parade", "0_Parade_1", np.array([[1.0, 2.0, 3.0, 4.0]]), [0.9])

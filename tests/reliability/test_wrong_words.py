"""Issue 28, case 6: the words of each refusal are right and name the file, with no traceback.
A FIFO named as a weights, checkpoint or ONNX file is called a FIFO (it read as "not found" or
"empty (0 bytes)") and never opened (which would block); a pickled-code file given to
``train --resume`` is refused without torch's advice to load it with ``weights_only=False``."""

from __future__ import annotations

import os
import time

import pytest
import torch

from featherface.cli import main
from featherface.errors import WeightsError
from featherface.io.files import file_problem
from featherface.models.weights import read_weights
from featherface.training.checkpoint import find_resume_checkpoint, read_checkpoint
from tests.fuzz.payloads import CodeOnLoad


def test_file_problem_names_each_kind(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    os.mkfifo(tmp_path / "p")
    assert file_problem(tmp_path / "f") is None
    assert file_problem(tmp_path / "nope") == "not found"
    assert file_problem(tmp_path) == "is a directory"
    assert file_problem(tmp_path / "p") == "is a FIFO, not a regular file"
    assert file_problem("/dev/null") == "is a character device, not a regular file"


def test_fifo_as_weights_or_checkpoint_is_named_a_fifo_at_once(tmp_path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(WeightsError, match=r"fifo\.jpg: is a FIFO, not a regular file"):
        read_weights(fifo)
    with pytest.raises(WeightsError, match=r"fifo\.jpg: checkpoint is a FIFO"):
        read_checkpoint(fifo)
    with pytest.raises(WeightsError, match=r"fifo\.jpg: checkpoint to resume from is a FIFO"):
        find_resume_checkpoint(str(fifo), tmp_path)
    assert time.monotonic() - t0 < 1


def test_serve_weights_fifo_is_one_line(tmp_path, capsys):
    pytest.importorskip("uvicorn")
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    assert main(["serve", "--weights", str(fifo), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fifo.jpg: is a FIFO" in err and "empty" not in err


def test_onnx_path_fifo_is_named_a_fifo(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    photo = tmp_path / "p.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(photo), np.full((32, 32, 3), 100, np.uint8))
    rc = main(["detect", str(photo), "--backend", "onnxruntime", "--onnx-path", str(fifo), "--weights", "none"])
    err = capsys.readouterr().err
    assert rc == 2 and "fifo.onnx: ONNX file is a FIFO, not a regular file" in err and "not found" not in err


def test_resume_from_a_pickled_code_file_never_advises_weights_only_false(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"model": CodeOnLoad(str(marker))}, evil)
    with pytest.raises(WeightsError) as exc:
        read_checkpoint(evil)
    msg = str(exc.value)
    assert "evil.pt: refused to load" in msg and "weights_only=False" not in msg and "\n" not in msg
    assert not marker.exists()
    rc = main(["train", "--resume", str(evil), "--synthetic", "4", "--epochs", "1", "-o", str(tmp_path / "r"),
               "--no-progress", "--no-tensorboard", "--workers", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "evil.pt: refused to load" in err and "weights_only" not in err.replace("weights_only=True", "")
    assert not marker.exists()


@pytest.mark.parametrize("entry", ["../../../../etc/passwd", "/etc/passwd", "a/../../outside.jpg"])
def test_label_paths_outside_the_image_folder_are_refused_by_name(entry, tmp_path):
    from featherface.data.dataset import FaceDataset
    from featherface.errors import LabelFormatError

    images = tmp_path / "images"
    images.mkdir()
    labels = tmp_path / "label.txt"
    labels.write_text(f"# inside.jpg\n10 10 20 20\n# {entry}\n10 10 20 20\n")
    with pytest.raises(LabelFormatError, match=r"label\.txt: image '.*' \(entry 2\) resolves outside the image folder"):
        FaceDataset(labels, images)
    labels.write_text("# inside.jpg\n10 10 20 20\n# sub/../b.jpg\n10 10 20 20\n")
    assert len(FaceDataset(labels, images)) == 2  # '..' that stays inside is fine

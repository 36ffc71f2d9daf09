"""autolabel: arguments checked at the edge, a name the label file cannot hold skipped before the
labelling work (not a failure after it), label files written atomically (issue 14, items 4 and 8)."""

from __future__ import annotations

import math

import cv2
import pytest

from featherface.autolabel import autolabel, check_autolabel_options
from featherface.cli import main
from featherface.errors import ConfigError
from featherface.types import Face
from tests.fuzz.campaign import base_image


class OneFace:
    name = "fake"

    def __init__(self):
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return [Face.from_arrays([2, 2, 30, 30], 0.99, None)]


@pytest.mark.parametrize("min_size,val_fraction,needle", [
    (math.nan, 0.0, "min_size"), (-1, 0.0, "min_size"), (math.inf, 0.0, "min_size"), ("8", 0.0, "min_size"),
    (8.0, math.nan, "val_fraction"), (8.0, 1.0, "val_fraction"), (8.0, -0.1, "val_fraction"),
])
def test_bad_options(tmp_path, min_size, val_fraction, needle):
    with pytest.raises(ConfigError, match=needle):
        check_autolabel_options(min_size, val_fraction)
    teacher = OneFace()
    with pytest.raises(ConfigError, match=needle):
        autolabel([tmp_path / "a.jpg"], teacher, tmp_path / "l.txt", min_size=min_size, val_fraction=val_fraction)
    assert teacher.calls == 0


def test_name_with_a_newline_is_skipped_before_the_work(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for name in ("a.jpg", "bad\nname.jpg", "c.jpg"):
        cv2.imwrite(str(d / "tmp.jpg"), base_image())
        (d / "tmp.jpg").rename(d / name)
    teacher = OneFace()
    rep = autolabel(sorted(d.iterdir()), teacher, tmp_path / "l.txt", progress=False, min_size=0)
    assert teacher.calls == 2  # the unwritable name was never labelled
    assert len(rep.failures) == 1 and "line break" in rep.failures[0][1]
    text = (tmp_path / "l.txt").read_text()
    assert "# a.jpg" in text and "# c.jpg" in text and "bad" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "l.txt"]  # no temporary file left


def test_cli_report_is_csv_and_atomic(tmp_path, monkeypatch, capsys):
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "build_teacher", lambda *a, **k: OneFace())
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "a,b.jpg"), base_image())
    rc = main(["autolabel", str(d), "-o", str(tmp_path / "l.txt"), "--report", str(tmp_path / "r.csv"), "--quiet",
               "--min-size", "0", "--val-fraction", "0.5"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "r.csv").read_text() == 'image,faces\n"a,b.jpg",1\n'
    assert (tmp_path / "l_train.txt").exists() and (tmp_path / "l_val.txt").exists()

"""featherface.io.outputs: one way to open an output path (checked up front, written atomically)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from featherface.errors import OutputError
from featherface.io.outputs import (
    InputSet,
    atomic_output,
    check_output_dir,
    check_output_file,
    check_plot_output,
    write_text,
)


def test_input_set_by_path_symlink_and_hard_link(tmp_path):
    a = tmp_path / "a.jpg"
    a.write_bytes(b"photo")
    (tmp_path / "link.jpg").symlink_to(a)
    os.link(a, tmp_path / "hard.jpg")
    ins = InputSet([a])
    assert a in ins and tmp_path / "." / "a.jpg" in ins
    assert tmp_path / "link.jpg" in ins and tmp_path / "hard.jpg" in ins  # same inode
    assert tmp_path / "b.jpg" not in ins and None not in ins
    ins2 = InputSet()
    ins2.add_tree(tmp_path)  # every file below the folder, without walking it
    assert a in ins2 and tmp_path / "hard.jpg" in ins2 and tmp_path / "new.json" not in ins2
    (tmp_path / "sub").mkdir()
    assert tmp_path / "sub" not in ins2


def test_refuses_an_input_even_with_force(tmp_path):
    a = tmp_path / "x.jpg"
    a.write_bytes(b"photo")
    for force in (False, True):
        with pytest.raises(OutputError, match="also an input of this run"):
            check_output_file(a, "--json", inputs=[a], suffixes={".json"}, force=force)
    os.link(a, tmp_path / "y.json")
    with pytest.raises(OutputError, match="--json .*y.json is also an input"):
        check_output_file(tmp_path / "y.json", "--json", inputs=[a], suffixes={".json"})
    assert a.read_bytes() == b"photo"


def test_folder_where_a_file_is_meant_and_the_reverse(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OutputError, match=r"^--json .*d: is a folder; give a file name$"):
        check_output_file(tmp_path / "d", "--json")
    with pytest.raises(OutputError, match=r"^--output .*f.txt: is a file; give a folder$"):
        check_output_dir(tmp_path / "f.txt", "--output")
    with pytest.raises(OutputError, match="f.txt is a file, not a folder"):
        check_output_file(tmp_path / "f.txt" / "out.json", "--json")
    with pytest.raises(OutputError, match="f.txt is a file, not a folder"):
        check_output_dir(tmp_path / "f.txt" / "sub", "-o")
    assert check_output_dir(tmp_path / "d", "-o") == tmp_path / "d"
    assert check_output_dir(tmp_path / "new" / "deeper", "-o") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_existing_file_of_another_kind_needs_force(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    with pytest.raises(OutputError, match="already exists and is not a .onnx file.*pass --force"):
        check_output_file(photo, "-o", suffixes={".onnx"})
    assert check_output_file(photo, "-o", suffixes={".onnx"}, force=True) == photo
    old = tmp_path / "old.json"
    old.write_text("{}")
    assert check_output_file(old, "--json", suffixes={".json"}) == old  # an earlier output: replaced
    empty = tmp_path / "empty.txt"
    empty.touch()
    assert check_output_file(empty, "--json", suffixes={".json"}) == empty
    assert check_output_file(tmp_path / "new.txt", "--json", suffixes={".json"}) == tmp_path / "new.txt"
    with pytest.raises(OutputError, match="choose another name$"):
        check_output_file(photo, "-o", suffixes={".onnx"}, force_flag=None)


def test_not_writable(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    with pytest.raises(OutputError, match=r"^--json .*out.json: folder .* is not writable$"):
        check_output_file(tmp_path / "out.json", "--json")
    with pytest.raises(OutputError, match="folder above it, .* is not writable"):
        check_output_dir(tmp_path / "a" / "b", "--output")


def test_not_writable_for_root_too(tmp_path, monkeypatch):
    """os.access says yes to root on sysfs and the like: the probe file finds out."""
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="is not writable \\(Permission denied\\)"):
        check_output_file(tmp_path / "out.json", "--json")


def test_bad_paths(tmp_path):
    with pytest.raises(OutputError, match="empty path"):
        check_output_file("", "--json")
    with pytest.raises(OutputError, match="NUL"):
        check_output_file("a\x00b", "--json")
    with pytest.raises(OutputError, match="empty path"):
        check_output_dir("  ", "-o")


def test_streams_are_written_in_place():
    assert check_output_file("/dev/null", "--json", suffixes={".json"}) == __import__("pathlib").Path("/dev/null")
    write_text("/dev/null", "{}")  # no temporary file beside /dev/null, no rename over it
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_plot_suffix(tmp_path):
    for bad in ("pr.xyz", "pr"):
        with pytest.raises(OutputError, match="unsupported format"):
            check_plot_output(tmp_path / bad)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_plot_output(tmp_path / "d.png")
    assert check_plot_output(tmp_path / "pr.PDF") == tmp_path / "pr.PDF"


def test_write_text_is_atomic_and_keeps_normal_permissions(tmp_path):
    p = tmp_path / "sub" / "out.json"
    write_text(p, "héllo")
    assert p.read_text(encoding="utf-8") == "héllo"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    os.chmod(p, 0o640)
    write_text(p, "again")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_text() == "again"
    assert [q.name for q in p.parent.iterdir()] == ["out.json"]


def test_atomic_output_success_and_failure(tmp_path):
    final = tmp_path / "plot.png"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(final) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp != final
            tmp.write_bytes(b"half")
            raise RuntimeError("drawing failed")
    assert final.read_bytes() == b"old" and [q.name for q in tmp_path.iterdir()] == ["plot.png"]
    with atomic_output(final) as tmp:
        tmp.write_bytes(b"new")
    assert final.read_bytes() == b"new" and [q.name for q in tmp_path.iterdir()] == ["plot.png"]


def test_picture_outputs_never_replace_an_existing_picture_without_force(tmp_path):
    photo = tmp_path / "holiday.png"
    photo.write_bytes(b"\x89PNG a photo")
    with pytest.raises(OutputError, match="already exists .*pass --force"):
        check_plot_output(photo)
    assert check_plot_output(photo, force=True) == photo
    with pytest.raises(OutputError, match="already exists"):
        check_output_file(photo, "--grid", suffixes={".png"}, replace_same_kind=False)


def test_temporaries_of_dead_writers_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    """A SIGKILL mid-write leaves ``.<name>.<pid>.*.tmp``; the next write of that file removes it,
    but never a live writer's temporary nor a file this module did not name."""
    import subprocess
    import sys

    from featherface.io.outputs import atomic_write_bytes

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    target = tmp_path / "result.json"
    stale = tmp_path / f".result.json.{pid}.abc123.tmp"
    stale.write_text("half")
    mine = tmp_path / f".result.json.{os.getpid()}.zzz.tmp"
    mine.write_text("in progress")
    other = tmp_path / ".result.json.notes.txt"
    other.write_text("user file")
    atomic_write_bytes(b"{}", target)
    assert target.read_bytes() == b"{}"
    assert not stale.exists() and mine.exists() and other.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p != mine]

"""Readers of the human-labelled benchmarks (VOC xml, Caltech points, CUHK landmarks) on tiny generated sets."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from featherface.data.benchmarks import (
    BenchmarkWarning,
    load_caltech,
    load_cuhk,
    load_voc_dir,
    natural_key,
    read_caltech_points,
    read_voc_xml,
)
from featherface.data.splits import holdout_fraction
from featherface.errors import FeatherFaceError, ImageError, LabelFormatError


def voc_xml(filename: str, objects: list[tuple[str, tuple[float, float, float, float]]], stray: str = "",
            difficult: tuple[int, ...] = ()) -> str:
    objs = []
    for k, (name, (x1, y1, x2, y2)) in enumerate(objects):
        d = difficult[k] if k < len(difficult) else 0
        objs.append(f"""    <object>
        <name>{name}</name>
        <difficult>{d}</difficult>
        <bndbox>
            <xmin>{x1:g}</xmin>
            <ymin>{y1:g}</ymin>
            <xmax>{x2:g}</xmax>
            <ymax>{y2:g}</ymax>
        </bndbox>{stray if k == 0 else ""}
    </object>""")
    return (f"<annotation>\n    <folder>images</folder>\n    <filename>{filename}</filename>\n"
            f"    <size><width>64</width><height>48</height><depth>3</depth></size>\n" + "\n".join(objs) + "\n</annotation>\n")


def write_img(path, value: int = 100, shape=(48, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*shape, 3), value, np.uint8))


@pytest.fixture()
def voc(tmp_path):
    root = tmp_path / "mask"
    (root / "annotations").mkdir(parents=True)
    stray = "file:/Users/someone/archive/annotations/x17.xml"
    (root / "annotations" / "m0.xml").write_text(
        voc_xml("m0.jpg", [("without_mask", (1, 2, 30, 40)), ("with_mask", (40, 5, 60, 25))], stray=stray))
    (root / "annotations" / "m10.xml").write_text(voc_xml("m10.png", [("mask_weared_incorrect", (0, 0, 10, 10))],
                                                          difficult=(1,)))
    (root / "annotations" / "m2.xml").write_text(voc_xml("m2.jpg", []))
    for n in ("m0.jpg", "m10.jpg", "m2.jpg"):  # m10's xml names a .png: the .jpg of the same stem is found
        write_img(root / "images" / n)
    return root


def test_voc_reader_all_classes_are_faces_stray_text_and_order(voc):
    anns = load_voc_dir(voc)
    assert [a.source.name for a in anns] == ["m0.xml", "m2.xml", "m10.xml"]  # natural order
    a0 = anns[0]
    np.testing.assert_array_equal(a0.boxes, [[1, 2, 30, 40], [40, 5, 60, 25]])
    assert a0.labels == ("without_mask", "with_mask") and a0.image.name == "m0.jpg" and a0.size == (64, 48)
    assert anns[1].boxes.shape == (0, 4)
    assert anns[2].image.name == "m10.jpg" and anns[2].difficult.tolist() == [True]
    assert [a.source.name for a in load_voc_dir(voc, limit=2)] == ["m0.xml", "m2.xml"]
    only = load_voc_dir(voc, classes=["with_mask"])
    assert only[0].labels == ("with_mask",) and only[0].boxes.shape == (1, 4)
    assert natural_key("a2") < natural_key("a10")


@pytest.mark.parametrize("text, where, cause", [
    ("<annotation><object><bndbox><xmin>1</xmin>\n<ymin>2</ymin></object></annotation>", ":2:", "not well-formed XML"),
    ("<annotation>\n<object>\n<bndbox>\n<xmin>1</xmin><ymin>2</ymin><xmax>3</xmax>\n</bndbox></object></annotation>",
     ":3:", "lacks <ymax>"),
    ("<annotation>\n<object><name>f</name></object></annotation>", ":2:", "has no <bndbox>"),
    ("<annotation><object><bndbox>\n<xmin>a1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
     "</annotation>", ":2:", "<xmin> is not a number"),
    ("<annotation><object>\n<bndbox><xmin>9</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
     "</annotation>", ":2:", "xmax < xmin"),
    ("<annotation><object><bndbox><xmin>nan</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
     "</annotation>", ":1:", "not finite"),
    ("<html>\n</html>", ":1:", "not a PASCAL VOC annotation"),
    ("", ":1:", "not well-formed XML"),
])
def test_voc_errors_are_one_line_with_file_and_line(tmp_path, text, where, cause):
    f = tmp_path / "bad.xml"
    f.write_text(text)
    with pytest.raises(LabelFormatError) as ei:
        read_voc_xml(f)
    msg = str(ei.value)
    assert "\n" not in msg and f"bad.xml{where}" in msg and cause in msg


def test_voc_folder_errors(tmp_path, voc):
    with pytest.raises(FeatherFaceError, match="VOC box set folder not found"):
        load_voc_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatherFaceError, match="no VOC .xml annotation files"):
        load_voc_dir(tmp_path / "empty")
    (voc / "images" / "m2.jpg").unlink()
    with pytest.raises(ImageError, match=r"m2.xml: image m2.jpg not found"):
        load_voc_dir(voc)


CALTECH = [  # file, leye, reye, nose, mouth
    ("pic00001.jpg", 10, 10, 20, 10, 15, 15, 15, 20),
    ("pic00001.jpg", 40, 10, 50, 10, 45, 15, 45, 20),
    ("pic00002.jpg", 10, 10, 20, 10, 15, 15, 15, 20),
    ("pic00010.jpg", 10, 10, 20, 10, 15, 15, 15, 20),
]


def write_caltech(root, rows=CALTECH, images=True):
    root.mkdir(parents=True, exist_ok=True)
    (root / "WebFaces_GroundThruth.txt").write_text(
        "".join(" ".join([r[0]] + [f"{v:e}" for v in r[1:]]) + " \n" for r in rows))
    if images:
        for name in {r[0] for r in rows}:
            write_img(root / "images" / name)
    return root


def test_caltech_reader_groups_faces_and_splits_by_hash(tmp_path):
    root = write_caltech(tmp_path / "caltech-webfaces")
    pts = read_caltech_points(root / "WebFaces_GroundThruth.txt")
    assert list(pts) == ["pic00001.jpg", "pic00002.jpg", "pic00010.jpg"] and pts["pic00001.jpg"].shape == (2, 4, 2)
    np.testing.assert_array_equal(pts["pic00001.jpg"][1], [[40, 10], [50, 10], [45, 15], [45, 20]])
    allx = load_caltech(root, split="all")
    assert [a.key for a in allx] == ["pic00001.jpg", "pic00002.jpg", "pic00010.jpg"]
    assert [a.key for a in load_caltech(root, split="all", limit=2)] == ["pic00001.jpg", "pic00002.jpg"]
    frac = 0.5
    key = {k: holdout_fraction("caltech-webfaces/images/" + k, 0) for k in pts}
    val = [k for k in pts if key[k] < frac]
    train = [k for k in pts if key[k] >= frac]
    if val:
        assert [a.key for a in load_caltech(root, split="val", val_fraction=frac)] == val
    if train:
        assert [a.key for a in load_caltech(root, split="train", val_fraction=frac)] == train
    with pytest.raises(FeatherFaceError, match="split must be"):
        load_caltech(root, split="test")


def test_caltech_default_split_is_the_training_holdout(tmp_path):
    rows = [(f"pic{i:05d}.jpg", 10, 10, 20, 10, 15, 15, 15, 20) for i in range(200)]
    root = write_caltech(tmp_path / "web", rows)
    expect = [r[0] for r in rows if holdout_fraction("caltech-webfaces/images/" + r[0], seed=0) < 0.1]
    assert [a.key for a in load_caltech(root)] == expect  # folder name does not matter, the key prefix does
    assert 5 <= len(expect) <= 40


def test_caltech_errors_and_missing_images(tmp_path):
    root = write_caltech(tmp_path / "c")
    (root / "images" / "pic00002.jpg").unlink()
    with pytest.warns(BenchmarkWarning, match="1 labelled image"):
        assert len(load_caltech(root, split="all")) == 2
    (root / "WebFaces_GroundThruth.txt").write_text("pic1.jpg 1 2 3 4 5 6 7 8\npic2.jpg 1 2 3\n")
    with pytest.raises(LabelFormatError, match=r"GroundThruth.txt:2: expected 9 fields"):
        load_caltech(root, split="all")
    (root / "WebFaces_GroundThruth.txt").write_text("pic1.jpg 1 2 3 4 5 6 7 x8\n")
    with pytest.raises(LabelFormatError, match=r":1: field 9 is not a number"):
        load_caltech(root, split="all")
    with pytest.raises(FeatherFaceError, match="Caltech WebFaces folder not found"):
        load_caltech(tmp_path / "nope")


def write_cuhk(root, rows):
    root.mkdir(parents=True, exist_ok=True)
    (root / "landmarks.txt").write_text("".join(" ".join(str(v) for v in r) + "\n" for r in rows))
    for r in rows:
        write_img(root / r[0])
    return root


def test_cuhk_reader(tmp_path):
    lm = [30, 40, 70, 40, 50, 60, 35, 75, 65, 75]
    root = write_cuhk(tmp_path / "cuhk", [("images/b.jpg", 10, 90, 20, 100, *lm), ("images/a.jpg", 0, 50, 0, 60, *lm)])
    anns = load_cuhk(root)
    assert [a.key for a in anns] == ["images/b.jpg", "images/a.jpg"]  # the file's order
    np.testing.assert_array_equal(anns[0].box, [10, 20, 90, 100])  # left right top bottom -> x1 y1 x2 y2
    np.testing.assert_array_equal(anns[0].landmarks[1], [70, 40])
    assert len(load_cuhk(root, limit=1)) == 1
    (root / "images" / "a.jpg").unlink()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert len(load_cuhk(root)) == 1
    assert any(issubclass(x.category, BenchmarkWarning) for x in w)
    (root / "landmarks.txt").write_text(f"images/b.jpg 10 90 20 100 {' '.join(map(str, lm))}\nimages/b.jpg 90 10 20 100 "
                                        f"{' '.join(map(str, lm))}\n")
    with pytest.raises(LabelFormatError, match=r"landmarks.txt:2: empty face box"):
        load_cuhk(root)
    (root / "landmarks.txt").write_text("images/b.jpg 10 90 20 100 1 2\n")
    with pytest.raises(LabelFormatError, match=r"landmarks.txt:1: expected 15 fields"):
        load_cuhk(root)

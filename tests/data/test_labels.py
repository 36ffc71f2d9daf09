"""Label parsers and writer: canonical output, round trips, and file:line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface.data.labels import (
    ImageAnnotation,
    detect_layout,
    load_annotations,
    parse_labelv2_labels,
    parse_retinaface_labels,
    parse_wider_gt,
    write_retinaface_labels,
)
from featherface.errors import LabelFormatError
from featherface.io.paths import shared_dir

SHARED = shared_dir() / "data" / "widerface"

RETINA_SAMPLE = (
    "# 0--Parade/a.jpg 1024 768\n"
    "449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 515.031 412.83 0.0 485.174 425.893 0.0 538.357 431.491 0.0 0.82\n"
    "10 20 30 40\n"
    "5 6 7 8 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0\n"
    "# 1--Handshaking/b c.jpg\n"
    "# 2--Demo/c.jpg\n"
    "1 2 2 2\n"
)

LABELV2_SAMPLE = (
    "# 0--Parade/a.jpg 1024 768\n"
    "345 211 349 215\n"
    "449 330 571 479 488.906 373.643 542.089 376.442 515.031 412.83 485.174 425.893 538.357 431.491\n"
    "# 0--Parade/empty.jpg 640 480\n"
)

WIDER_SAMPLE = (
    "0--Parade/0_Parade_marchingband_1_849.jpg\n"
    "1\n"
    "449 330 122 149 0 0 0 0 0 0 \n"
    "0--Parade/0_Parade_Parade_0_904.jpg\n"
    "3\n"
    "361 98 263 339 0 0 0 0 0 0 \n"
    "10 10 2 2 2 0 0 0 0 0 \n"
    "50 50 20 20 0 0 0 1 0 0 \n"
    "0--Parade/empty.jpg\n"
    "0\n"
    "0 0 0 0 0 0 0 0 0 0 \n"
    "1--Handshaking/last.jpg\n"
    "1\n"
    "1 2 3 4 0 0 0 0 0 0\n"
)


def _write(tmp_path: Path, text: str, name: str = "label.txt", bom: bool = False, crlf: bool = False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_retinaface_parse_values(tmp_path: Path) -> None:
    anns = parse_retinaface_labels(_write(tmp_path, RETINA_SAMPLE))
    assert [a.path for a in anns] == ["0--Parade/a.jpg", "1--Handshaking/b c.jpg", "2--Demo/c.jpg"]
    a = anns[0]
    assert a.boxes.dtype == np.float32 and a.boxes.shape == (3, 4)
    assert a.landmarks.shape == (3, 5, 2) and a.landmarks.dtype == np.float32
    np.testing.assert_allclose(a.boxes[0], [449, 330, 571, 479])
    np.testing.assert_allclose(a.landmarks[0, 0], [488.906, 373.643], atol=1e-3)
    np.testing.assert_allclose(a.landmarks[0, 4], [538.357, 431.491], atol=1e-3)
    assert a.has_landmarks.tolist() == [True, False, False]
    assert np.all(a.landmarks[1:] == -1)
    assert len(anns[1]) == 0 and anns[1].boxes.shape == (0, 4) and anns[1].landmarks.shape == (0, 5, 2)


@pytest.mark.parametrize("bom,crlf", [(True, False), (False, True), (True, True)])
def test_bom_and_windows_line_endings(tmp_path: Path, bom: bool, crlf: bool) -> None:
    plain = parse_retinaface_labels(_write(tmp_path, RETINA_SAMPLE, "plain.txt"))
    odd = load_annotations(_write(tmp_path, RETINA_SAMPLE, bom=bom, crlf=crlf))
    assert [a.path for a in odd] == [a.path for a in plain]
    for x, y in zip(odd, plain):
        np.testing.assert_array_equal(x.boxes, y.boxes)
        np.testing.assert_array_equal(x.landmarks, y.landmarks)


def test_labelv2_parse_and_autodetect(tmp_path: Path) -> None:
    p = _write(tmp_path, LABELV2_SAMPLE)
    assert detect_layout(p) == "labelv2"
    for anns in (parse_labelv2_labels(p), load_annotations(p), load_annotations(p, layout="yunet")):
        assert len(anns) == 2
        np.testing.assert_allclose(anns[0].boxes, [[345, 211, 349, 215], [449, 330, 571, 479]])
        assert anns[0].has_landmarks.tolist() == [False, True]
        np.testing.assert_allclose(anns[0].landmarks[1, 2], [515.031, 412.83], atol=1e-3)
        assert len(anns[1]) == 0


def test_autodetect_four_column_files(tmp_path: Path) -> None:
    # x y w h with w < x is unmistakably RetinaFace even when headers carry W H
    p = _write(tmp_path, "# a.jpg 100 100\n50 50 10 10\n", "r.txt")
    assert detect_layout(p) == "retinaface"
    # corners and W H headers: labelv2
    p = _write(tmp_path, "# a.jpg 100 100\n5 5 20 30\n", "y.txt")
    assert detect_layout(p) == "labelv2"
    # no header extras: retinaface
    p = _write(tmp_path, "# a.jpg\n5 5 20 30\n", "r2.txt")
    assert detect_layout(p) == "retinaface"
    assert detect_layout(_write(tmp_path, WIDER_SAMPLE, "w.txt")) == "wider"


def test_wider_gt(tmp_path: Path) -> None:
    p = _write(tmp_path, WIDER_SAMPLE)
    for anns in (parse_wider_gt(p), load_annotations(p)):
        assert [len(a) for a in anns] == [1, 2, 0, 1]  # invalid face dropped
        np.testing.assert_allclose(anns[0].boxes, [[449, 330, 571, 479]])
        assert not anns[1].has_landmarks.any() and np.all(anns[1].landmarks == -1)
        np.testing.assert_allclose(anns[1].boxes[1], [10, 10, 12, 12])
    assert [len(a) for a in parse_wider_gt(p, skip_invalid=False)] == [1, 3, 0, 1]
    assert [len(a) for a in parse_wider_gt(p, min_size=5)] == [1, 1, 0, 0]


def test_min_size_either_side(tmp_path: Path) -> None:
    p = _write(tmp_path, "# a.jpg\n0 0 20 4\n0 0 4 20\n0 0 5 5\n0 0 0 9\n")
    assert len(load_annotations(p)[0]) == 3  # zero-width box always dropped
    assert len(load_annotations(p, min_size=5)[0]) == 1


def _ann(path: str, boxes: list, lms: list | None) -> ImageAnnotation:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    if lms is None:
        lm = np.full((len(b), 5, 2), -1, np.float32)
    else:
        lm = np.asarray(lms, np.float32).reshape(-1, 5, 2)
    has = ~np.any(np.all(lm == -1, axis=2), axis=1)
    return ImageAnnotation(path, b, lm, has)


def test_write_read_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    anns = []
    for i in range(5):
        n = int(rng.integers(0, 4))
        xy = rng.uniform(0, 900, (n, 2))
        wh = rng.uniform(1, 200, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1)
        lms = rng.uniform(0, 1000, (n, 5, 2))
        if n:
            lms[0] = -1  # a face without landmarks -> 4-number line
        anns.append(_ann(f"my photos/img {i}.jpg" if i == 3 else f"d/{i}.jpg", boxes.tolist(), lms.tolist()))
    path = write_retinaface_labels(tmp_path / "out" / "label.txt", anns)
    back = parse_retinaface_labels(path)
    assert detect_layout(path) == "retinaface"
    assert [a.path for a in back] == [a.path for a in anns]
    for a, b in zip(anns, back):
        np.testing.assert_allclose(b.boxes, np.round(a.boxes.astype(np.float64), 2), atol=1e-3)
        np.testing.assert_allclose(b.landmarks, np.round(a.landmarks.astype(np.float64), 2), atol=1e-3)
        np.testing.assert_array_equal(a.has_landmarks, b.has_landmarks)
    # second generation is byte-identical
    again = write_retinaface_labels(tmp_path / "again.txt", back)
    assert again.read_text() == path.read_text()
    lines = path.read_text().splitlines()
    assert {len(ln.split()) for ln in lines if not ln.startswith("#")} <= {4, 20}


def test_round_trip_retinaface_sample(tmp_path: Path) -> None:
    anns = parse_retinaface_labels(_write(tmp_path, RETINA_SAMPLE))
    back = parse_retinaface_labels(write_retinaface_labels(tmp_path / "w.txt", anns))
    for a, b in zip(anns, back):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.005)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.005)
        np.testing.assert_array_equal(a.has_landmarks, b.has_landmarks)


BAD_CASES = [
    # (layout, text, line number, words expected in the cause)
    ("retinaface", "# a.jpg\n1 2 3\n", 2, "column count"),
    ("retinaface", "# a.jpg\n1 2 3 4\n1 2 3 4 5 6\n", 3, "column count"),
    ("retinaface", "# a.jpg\n1 2 x 4\n", 2, "non-numeric"),
    ("retinaface", "# a.jpg\n1 2 nan 4\n", 2, "NaN"),
    ("retinaface", "# a.jpg\n1 2 inf 4\n", 2, "infinite"),
    ("retinaface", "# a.jpg\n\n1 2 -3 4\n", 3, "negative"),
    ("retinaface", "1 2 3 4\n# a.jpg\n", 1, "header"),
    ("retinaface", "# a.jpg\n#\n", 2, "path"),
    ("labelv2", "# a.jpg 10 10\n5 5 2 8\n", 2, "negative"),
    ("labelv2", "# a.jpg 10 10\n1 1 5 5 1 1\n", 2, "column count"),
    ("auto", "# a.jpg 10 10\n1 1 5 5 NaN 1 1 1 1 1 1 1 1 1\n", 2, "NaN"),
    ("wider", "a.jpg\n2\n1 1 5 5 0 0 0 0 0 0\nb.jpg\n1\n1 1 5 5 0 0 0 0 0 0\n", 4, "count mismatch"),
    ("wider", "a.jpg\n1\n1 1 5 5 0 0 0 0 0 0\n1 1 5 5 0 0 0 0 0 0\n", 4, "count mismatch"),
    ("wider", "a.jpg\n3\n1 1 5 5 0 0 0 0 0 0\n", 3, "count mismatch"),
    ("wider", "a.jpg\nx\n", 2, "non-numeric"),
    ("wider", "a.jpg\n1\n1 1 5 5 0 0 0 0 0\n", 3, "column count"),
    ("wider", "a.jpg\n1\n1 1 -5 5 0 0 0 0 0 0\n", 3, "negative"),
    ("wider", "a.jpg\n1\n1 1 5 nan 0 0 0 0 0 0\n", 3, "NaN"),
    ("wider", "a.jpg\n", 1, "face-count"),
    # numbers Python's float() takes but no label file writes
    ("retinaface", "# a.jpg\n1_000 2 3 4\n", 2, "non-numeric"),
    ("retinaface", "# a.jpg\n1 2 Infinity 4\n", 2, "infinite"),
    ("retinaface", "# a.jpg\n1 2 1e999 4\n", 2, "infinite"),
    # coordinates no image can have (would train on as huge losses)
    ("retinaface", "# a.jpg\n1 2 1e12 4\n", 2, "out of range"),
    ("labelv2", "# a.jpg 10 10\n1 1 5 5 1e30 1 1 1 1 1 1 1 1 1\n", 2, "out of range"),
    ("wider", "a.jpg\n1\n1 1 5 5e7 0 0 0 0 0 0\n", 3, "out of range"),
]


@pytest.mark.parametrize("layout,text,line,cause", BAD_CASES)
def test_malformed_lines_name_file_and_line(tmp_path: Path, layout: str, text: str, line: int, cause: str) -> None:
    p = _write(tmp_path, text, "bad_labels.txt", crlf=line % 2 == 0)
    with pytest.raises(LabelFormatError) as info:
        load_annotations(p, layout=layout)
    msg = str(info.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert cause.lower() in msg.lower(), msg


@pytest.mark.parametrize("layout,text", [
    ("retinaface", "# a.jpg\n1 2 3 4\n# b.jpg\n5 5 5 5\n# ./a.jpg\n7 7 7 7\n"),
    ("wider", "a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\nb.jpg\n1\n5 5 5 5 0 0 0 0 0 0\na.jpg\n1\n7 7 7 7 0 0 0 0 0 0\n"),
])
def test_repeated_image_entries_merged_with_a_warning(tmp_path: Path, layout: str, text: str) -> None:
    p = _write(tmp_path, text)
    with pytest.warns(UserWarning, match=r"1 repeated image entry \(first: (\./)?a\.jpg\)"):
        anns = load_annotations(p, layout=layout)
    assert [a.path for a in anns] == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(anns[0].boxes, [[1, 2, 4, 6], [7, 7, 14, 14]])
    assert anns[0].landmarks.shape == (2, 5, 2) and anns[0].has_landmarks.shape == (2,)


def test_negative_size_lenient_mode(tmp_path: Path) -> None:
    p = _write(tmp_path, "# a.jpg\n1 2 -3 4\n1 2 3 4\n")
    with pytest.warns(UserWarning, match=r"label.txt:2"):
        anns = load_annotations(p, strict=False)
    assert len(anns[0]) == 1


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "bin.txt"
    p.write_bytes(b"# a.jpg\n1 2 3 4\n\xff\xfe\n")
    with pytest.raises(LabelFormatError, match=r"bin.txt:3:"):
        load_annotations(p)
    with pytest.raises(LabelFormatError, match="cannot read"):
        load_annotations(tmp_path / "missing.txt")
    with pytest.raises(ValueError):
        load_annotations(p, layout="coco")


@pytest.mark.shared
def test_real_widerface_val_labels() -> None:
    retina = SHARED / "retinaface_val_label.txt"
    yunet = SHARED / "yunet_labelv2_val.txt"
    if not retina.is_file() or not yunet.is_file():
        pytest.skip(f"WIDER FACE val labels not found under {SHARED}")
    assert detect_layout(retina) == "retinaface"
    assert detect_layout(yunet) == "labelv2"
    # the distributed val labels carry one box of width -2: strict mode names it, lenient skips it
    with pytest.raises(LabelFormatError, match=r"retinaface_val_label.txt:\d+: negative"):
        load_annotations(retina)
    with pytest.warns(UserWarning):
        ra = load_annotations(retina, strict=False)
    ya = load_annotations(yunet, strict=False)
    assert len(ra) > 3000 and len(ya) >= len(ra)
    assert sum(len(a) for a in ra) > 39000
    by_path = {a.path: a for a in ya}
    for a in ra[::50]:  # the two dialects describe the same boxes
        np.testing.assert_allclose(a.boxes, by_path[a.path].boxes)
    with pytest.warns(UserWarning):
        big = load_annotations(retina, min_size=10, strict=False)
    assert sum(len(a) for a in big) < sum(len(a) for a in ra)
    for a in big:
        wh = a.boxes[:, 2:] - a.boxes[:, :2]
        assert np.all(wh >= 10)

"""Fast fuzz subset: malformed label files, WIDER gt text and prediction folders.

Contract: a LabelFormatError whose message starts with ``file:line:`` (or ``file:`` when no single
line is to blame), or a documented skip with a warning; never another exception and never a
silently different AP. Property: harmless transformations (BOM, CRLF, CR, tabs, trailing blanks)
of every prediction file give the *identical* evaluation.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from featherface.data.labels import ImageAnnotation, load_annotations
from featherface.errors import FeatherFaceError, LabelFormatError
from featherface.evaluation.predictions import read_prediction_file, write_predictions
from featherface.evaluation.predictions import EvaluationWarning, read_prediction_dir
from featherface.evaluation.wider_gt import WiderGroundTruth
from featherface.evaluation.widerface import evaluate
from tests.fuzz.campaign import (
    HARMLESS_TEXT,
    PRED_TEXT,
    RETINA_TEXT,
    WIDER_TEXT,
    LabelCase,
    prediction_file_cases,
    retinaface_label_cases,
    wider_gt_cases,
)


def _same(a: list[ImageAnnotation], b: list[ImageAnnotation]) -> bool:
    return len(a) == len(b) and all(
        x.path == y.path and np.array_equal(x.boxes, y.boxes) and np.array_equal(x.landmarks, y.landmarks)
        and np.array_equal(x.has_landmarks, y.has_landmarks) for x, y in zip(a, b))


def _judge(case: LabelCase, path: Path, call, reference=None, same=None) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = call()
        except LabelFormatError as exc:
            msg = str(exc)
            if "\n" in msg.strip():
                return f"multi-line error: {msg!r}"
            if not msg.startswith(f"{path}:"):
                return f"error does not start with the file name: {msg!r}"
            if case.expect == "error" and case.line is not None and not msg.startswith(f"{path}:{case.line}:"):
                return f"error not at line {case.line}: {msg!r}"
            if case.expect in ("same", "empty"):
                return f"harmless file refused: {msg!r}"
            return None
        except Exception as exc:  # noqa: BLE001
            return f"unexpected {type(exc).__name__}: {exc}"
    if case.expect == "error":
        return "malformed file accepted"
    if case.expect == "empty" and len(got) != 0:
        return f"empty file gave {len(got)} entries"
    if case.expect == "same" and reference is not None and not same(got, reference):
        return "parsed differently from the original"
    return None


@pytest.mark.parametrize("gen,layout,text", [(retinaface_label_cases, "retinaface", RETINA_TEXT),
                                             (wider_gt_cases, "wider", WIDER_TEXT)], ids=["retinaface", "wider"])
def test_label_file_fuzz(tmp_path, gen, layout, text):
    base_path = tmp_path / "base.txt"
    base_path.write_text(text)
    base = load_annotations(base_path, layout=layout)
    assert len(base) == 4
    failures = []
    cases = gen(seed=0, n_random=12)
    for k, case in enumerate(cases):
        p = tmp_path / f"case{k}.txt"
        p.write_bytes(case.data)
        for lay in (layout, "auto"):
            # with layout="auto" a broken file may be read as another layout: it must still
            # either parse or fail with our file:line error
            c = case if lay == layout else LabelCase(case.kind, case.name, case.data,
                                                     "either" if case.expect == "error" else case.expect)
            why = _judge(c, p, lambda: load_annotations(p, layout=lay, strict=case.strict), base, _same)
            if why:
                failures.append(f"{case.name} [{lay}]: {why}")
    assert len(cases) >= 40
    assert not failures, "\n".join(failures)


def test_lenient_negative_box_is_skipped_with_one_warning(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text(RETINA_TEXT.replace("10 20 30 40", "10 20 -30 40"))
    with pytest.warns(UserWarning, match=r"skipped 1 box\(es\) of negative width/height \(first at .*l\.txt:5\)"):
        anns = load_annotations(p, layout="retinaface", strict=False)
    assert [len(a) for a in anns] == [1, 1, 2, 0]


def test_prediction_file_fuzz(tmp_path):
    ev = tmp_path / "0--Parade"
    ev.mkdir()
    p = ev / "0_Parade_marchingband_1_849.txt"
    p.write_text(PRED_TEXT)
    base = read_prediction_file(p).boxes
    failures = []
    for case in prediction_file_cases(seed=0, n_random=12):
        p.write_bytes(case.data)
        why = _judge(case, p, lambda: read_prediction_file(p).boxes, base,
                     lambda a, b: a.shape == b.shape and np.array_equal(np.sort(a, axis=0), np.sort(b, axis=0)))
        if why:
            failures.append(f"{case.name}: {why}")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------ prediction folders and AP


def _gt() -> WiderGroundTruth:
    rng = np.random.default_rng(0)
    events, names, boxes = [], [], []
    for e in range(3):
        for i in range(4):
            events.append(f"{e}--Event")
            names.append(f"{e}_Event_img_{i}")
            n = int(rng.integers(1, 6))
            xy = rng.uniform(0, 400, (n, 2))
            wh = rng.uniform(8, 120, (n, 2))
            boxes.append(np.round(np.hstack([xy, wh])))
    keep = {s: [np.arange(1, len(b) + 1)[np.asarray(b)[:, 2] >= t] for b in boxes]
            for s, t in (("easy", 50), ("medium", 25), ("hard", 0))}
    return WiderGroundTruth(events=events, names=names, boxes=boxes, keep=keep)


def _write_preds(root: Path, gt: WiderGroundTruth, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for i in range(gt.num_images):
        b = gt.boxes[i]
        det = np.vstack([b + rng.normal(0, 3, b.shape), rng.uniform(0, 400, (3, 4)) + [0, 0, 8, 8]])
        det[:, 2:] = np.abs(det[:, 2:])
        write_predictions(root, gt.events[i], gt.names[i], det, rng.uniform(0.01, 1, len(det)))


def _aps(res: dict) -> tuple[float, float, float]:
    return res["easy"], res["medium"], res["hard"]


def _eval_dir(root: Path, gt: WiderGroundTruth) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        return evaluate(read_prediction_dir(root, gt), gt)


@pytest.mark.parametrize("transform", sorted(HARMLESS_TEXT))
def test_harmless_transformation_gives_identical_ap(tmp_path, transform):
    gt = _gt()
    root = tmp_path / "pred"
    _write_preds(root, gt)
    before = _eval_dir(root, gt)
    assert 0 < before["hard"] <= 1
    for f in root.rglob("*.txt"):
        f.write_bytes(HARMLESS_TEXT[transform](f.read_text()))
    after = _eval_dir(root, gt)
    assert _aps(after) == _aps(before)  # identical, not approximately equal
    for s in ("easy", "medium", "hard"):
        for k in ("precision", "recall"):
            assert np.array_equal(after["curves"][s][k], before["curves"][s][k])


def test_every_malformed_file_in_a_folder_is_named(tmp_path):
    """One broken file among good ones: the folder read fails naming that file (and line), or -
    for an 'either' mutation that still parses - evaluates exactly what was parsed."""
    gt = _gt()
    root = tmp_path / "pred"
    _write_preds(root, gt)
    victim = root / gt.events[0] / f"{gt.names[0]}.txt"
    original = victim.read_text()
    name_line = original.split("\n", 1)[0]
    failures = []
    for case in prediction_file_cases(seed=3, n_random=6):
        data = case.data.replace(b"0_Parade_marchingband_1_849", name_line.encode())
        victim.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EvaluationWarning)
                preds = read_prediction_dir(root, gt)
        except LabelFormatError as exc:
            if not str(exc).startswith(f"{victim}:"):
                failures.append(f"{case.name}: error does not name the file: {exc}")
            elif case.expect in ("same", "empty"):
                failures.append(f"{case.name}: harmless file refused: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{case.name}: unexpected {type(exc).__name__}: {exc}")
            continue
        if case.expect == "error":
            failures.append(f"{case.name}: malformed file accepted")
            continue
        # what was evaluated is exactly what the file says (no silent repair or reordering of data)
        res = evaluate(preds, gt)
        expected = dict(preds)
        expected[gt.key(0)] = read_prediction_file(victim).boxes
        assert _aps(evaluate(expected, gt)) == _aps(res)
    victim.write_text(original)
    assert not failures, "\n".join(failures)


def test_folder_level_oddities(tmp_path):
    gt = _gt()
    root = tmp_path / "pred"
    _write_preds(root, gt)
    base = _eval_dir(root, gt)
    # duplicate image under another event folder -> error naming the second file
    dup = root / "elsewhere" / f"{gt.names[1]}.txt"
    dup.parent.mkdir()
    dup.write_text((root / gt.events[1] / f"{gt.names[1]}.txt").read_text())
    with pytest.raises(LabelFormatError, match="second prediction file for image"):
        read_prediction_dir(root, gt)
    dup.unlink()
    # stray files that match no image: warned about, AP unchanged; non-.txt files ignored
    (root / "README.txt").write_text("my predictions\n")
    (root / gt.events[0] / "notes.md").write_text("x")
    with pytest.warns(EvaluationWarning, match="match no ground-truth image"):
        assert _aps(evaluate(read_prediction_dir(root, gt), gt)) == _aps(base)
    (root / "README.txt").unlink()
    # an empty file counts as "no detections", with a warning, exactly like a missing entry
    victim = root / gt.events[2] / f"{gt.names[2]}.txt"
    victim.write_bytes(b"")
    with pytest.warns(EvaluationWarning, match="were empty"):
        preds = read_prediction_dir(root, gt)
    expected = dict(preds)
    expected[gt.key(2)] = np.zeros((0, 5))
    assert _aps(evaluate(preds, gt)) == _aps(evaluate(expected, gt))
    # a folder of unrelated files is an error, not AP 0
    other = tmp_path / "other"
    (other / "x").mkdir(parents=True)
    (other / "x" / "cat.txt").write_text("cat\n0\n")
    with pytest.raises(FeatherFaceError, match="matches a ground-truth image"), \
            pytest.warns(EvaluationWarning, match="match no ground-truth image"):
        read_prediction_dir(other, gt)
    with pytest.raises(FeatherFaceError, match="does not exist"):
        read_prediction_dir(tmp_path / "missing", gt)


def test_binary_prediction_file_is_named(tmp_path):
    gt = _gt()
    root = tmp_path / "pred"
    _write_preds(root, gt)
    victim = root / gt.events[0] / f"{gt.names[0]}.txt"
    victim.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)))
    with pytest.raises(LabelFormatError, match=re.escape(str(victim))):
        read_prediction_dir(root, gt)

"""The comparison tool (featherface.tools.compare): agreement on hand-made cases, timing, tables, grid, WIDER, CLI.

Detectors here are fakes returning known faces, so nothing needs ../shared or real models.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.errors import ConfigError, FeatherFaceError
from featherface.evaluation.wider_gt import WiderGroundTruth
from featherface.peers import PeerUnavailableError
from featherface.tools.compare.agreement import agreement, landmark_error
from featherface.tools.compare.grid import draw_grid, pick_grid_images, write_jpeg
from featherface.tools.compare.report import format_markdown, format_wider_markdown
from featherface.tools.compare.run import compare_detectors
from featherface.tools.compare.wider import evaluate_on_wider
from featherface.tools.timing import run_detectors
from featherface.types import Face


def F(x1, y1, x2, y2, score=0.9, lms=None) -> Face:  # noqa: N802 - short test constructor
    return Face.from_arrays((x1, y1, x2, y2), score, None if lms is None else np.asarray(lms, float))


class FakeDetector:
    """Returns ``faces[call index % len]`` (or a function of the image) and counts calls."""

    def __init__(self, name, faces=None, fn=None, landmarks=False):
        self.name = name
        self.faces = faces
        self.fn = fn
        self.calls = 0
        self.gives_landmarks = landmarks
        self.input_size = None

    def detect(self, image):
        self.calls += 1
        if self.fn is not None:
            return self.fn(image)
        return list(self.faces)


# --------------------------------------------------------------------------- agreement


def test_landmark_error_normalised_by_reference_size():
    lms = [(1, 1), (2, 1), (1.5, 2), (1, 3), (2, 3)]
    ref = F(0, 0, 20, 5, lms=lms)  # sqrt(20*5) = 10
    moved = F(0, 0, 20, 5, lms=[(x + 3, y + 4) for x, y in lms])  # every point 5 px away
    assert landmark_error(moved, ref) == pytest.approx(0.5)
    assert landmark_error(F(0, 0, 20, 5), ref) is None


def test_agreement_pooled_over_images():
    lms = [(1, 1), (2, 1), (1.5, 2), (1, 3), (2, 3)]
    ref = [[F(0, 0, 10, 10, lms=lms), F(20, 0, 30, 10)], [F(0, 0, 10, 10)], []]
    pred = [[F(0, 0, 10, 10, lms=[(x + 1, y) for x, y in lms]), F(50, 50, 60, 60)], [], [F(1, 1, 5, 5)]]
    a = agreement(pred, ref, 0.5)
    assert (a.matched, a.found, a.reference) == (1, 3, 3)
    assert a.precision == pytest.approx(1 / 3) and a.recall == pytest.approx(1 / 3)
    assert a.landmark_nme == pytest.approx(0.1) and a.landmark_pairs == 1
    assert a.mean_iou == pytest.approx(1.0)
    empty = agreement([[]], [[]])
    assert empty.precision is None and empty.recall is None and empty.landmark_nme is None
    with pytest.raises(ConfigError):
        agreement([[]], [[], []])


# --------------------------------------------------------------------------- running, tables


def _img(h=40, w=60, v=128):
    return np.full((h, w, 3), v, np.uint8)


def test_run_detectors_warmup_then_repeats():
    a = FakeDetector("a", [F(0, 0, 5, 5)])
    b = FakeDetector("b", [])
    faces, lat = run_detectors([a, b], [_img(), _img()], repeats=3, settle_s=0)
    assert a.calls == b.calls == 2 + 3 * (1 + 2)  # warm-up pass, then per round one settling call + the images
    assert len(faces[0][1]) == 1 and faces[1][0] == []
    assert len(lat[0]) == 2 and all(t >= 0 for t in lat[0])
    _, lat0 = run_detectors([a], [_img()], repeats=0)
    assert lat0 == [[]]
    with pytest.raises(ConfigError):
        run_detectors([a], [_img()], repeats=-1)


def test_run_detectors_times_each_detector_over_all_images_in_a_row():
    """A user runs one detector over their photos: a timed round gives each detector the whole
    set back to back (turns per image would time each library while the other's threads spin)."""
    order: list[str] = []

    class Recorder:
        def __init__(self, name):
            self.name = name

        def detect(self, image):
            order.append(self.name)
            return []

    images = [_img(), _img(), _img()]
    run_detectors([Recorder("a"), Recorder("b")], images, repeats=2, settle_s=0)
    timed = order[2 * len(images):]  # after the warm-up pass of each
    per_pass = 1 + len(images)  # the settling call, then the images
    assert timed == ["a"] * per_pass + ["b"] * per_pass + ["b"] * per_pass + ["a"] * per_pass


def test_compare_detectors_table_and_json(tmp_path):
    ref = FakeDetector("ref", [F(0, 0, 10, 10), F(20, 0, 30, 10)], landmarks=True)
    half = FakeDetector("half", [F(0, 0, 10, 10)])
    img_path = tmp_path / "x.png"
    cv2.imwrite(str(img_path), _img())
    r = compare_detectors([half, ref], [img_path, _img()], reference="ref", repeats=1)
    assert r.images == ["x.png", "image1"]
    assert r.agreements["half"].recall == pytest.approx(0.5) and r.agreements["half"].precision == 1.0
    assert r.agreements["ref"].recall == 1.0
    md = format_markdown(r)
    lines = md.splitlines()
    assert lines[0].startswith("| detector |") and "precision vs ref" in lines[0]
    assert lines[2].startswith("| half | original | no | 2 |") and "| 1.000 | 0.500 | – |" in lines[2]
    assert "(reference)" in lines[3]
    d = r.to_dict(include_faces=True)
    json.dumps(d)  # serialisable
    assert d["detectors"][1]["faces_found"] == 4 and d["detectors"][0]["agreement"]["recall"] == 0.5
    assert d["detectors"][1]["per_image"][0]["detections"][0]["box"] == [0, 0, 10, 10]
    assert "opencv" in d["environment"]
    with pytest.raises(ConfigError, match="reference"):
        compare_detectors([half], [_img()], reference="nope", repeats=0)
    with pytest.raises(ConfigError, match="twice|two detectors"):
        compare_detectors([half, FakeDetector("half", [])], [_img()], repeats=0)


def test_grid_picture(tmp_path):
    cols = [("a", [[F(2, 2, 20, 20, lms=[(5, 5), (15, 5), (10, 10), (6, 15), (14, 15)])], []]),
            ("b", [[], [F(0, 0, 10, 10)]])]
    grid = draw_grid([_img(40, 60), _img(80, 60)], ["one.jpg", "two.jpg"], cols, cell_width=120, gap=4)
    # header 28 + gap + 80 (40 scaled x2) + gap + 160
    assert grid.shape == (28 + 4 + 80 + 4 + 160, 2 * 120 + 4, 3)
    assert (grid[40:100, 10:110] != 128).any()  # something was drawn on the first cell
    out = write_jpeg(tmp_path / "g" / "grid.jpg", grid, max_kb=400)
    assert out.is_file() and out.stat().st_size < 400 * 1024
    noisy = np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    small = write_jpeg(tmp_path / "n.jpg", noisy, max_kb=120)
    assert small.stat().st_size < write_jpeg(tmp_path / "n2.jpg", noisy, max_kb=None).stat().st_size
    assert pick_grid_images([f"{i}.jpg" for i in range(10)], 3) == [0, 4, 9]
    assert pick_grid_images(["a.jpg", "b.jpg"], ["b.jpg", "a"]) == [1, 0]
    with pytest.raises(ConfigError):
        pick_grid_images(["a.jpg"], ["zzz.jpg"])


# --------------------------------------------------------------------------- WIDER


def _wider_fixture(tmp_path: Path):
    gt = WiderGroundTruth(
        events=["0--Parade", "0--Parade", "1--Handshaking"],
        names=["a", "b", "c"],
        boxes=[[[10, 10, 20, 20], [40, 10, 20, 20]], [[5, 5, 30, 30]], [[0, 0, 8, 8]]],
        keep={"easy": [[1, 2], [1], []], "medium": [[1, 2], [1], [1]], "hard": [[1, 2], [1], [1]]},
    )
    root = tmp_path / "WIDER_val" / "images"
    for e, n in zip(gt.events, gt.names):
        (root / e).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / e / f"{n}.jpg"), _img(64, 64))
    return gt, root


def _oracle(gt: WiderGroundTruth):
    """A detector that returns the ground truth of the image it is shown (recognised by size/order)."""
    order = iter(range(10**6))

    def fn(_image):
        i = next(order) % gt.num_images
        return [F(x, y, x + w, y + h, 0.9) for x, y, w, h in gt.boxes[i]]

    return fn


def test_evaluate_on_wider_in_memory(tmp_path):
    gt, root = _wider_fixture(tmp_path)
    perfect = FakeDetector("perfect", fn=_oracle(gt))
    blind = FakeDetector("blind", [])
    scores = evaluate_on_wider([perfect, blind], root.parent, gt)  # WIDER_val/ also accepted
    assert scores["perfect"]["easy"] == pytest.approx(1.0) and scores["perfect"]["hard"] == pytest.approx(1.0)
    assert scores["blind"]["medium"] == 0.0 and scores["perfect"]["images"] == 3
    md = format_wider_markdown(scores)
    assert "| perfect | 1.0000 | 1.0000 | 1.0000 | 3 |" in md and "Partial" not in md
    part = evaluate_on_wider([FakeDetector("p", fn=_oracle(gt))], root, gt, limit=2)
    assert part["p"]["partial"] and part["p"]["images"] == 2
    (root / "1--Handshaking" / "c.jpg").unlink()
    with pytest.raises(FeatherFaceError, match="missing"):
        evaluate_on_wider([blind], root, gt)


def _cell(items):
    a = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        a[i, 0] = x
    return a


def _write_mats(folder: Path, gt: WiderGroundTruth) -> None:
    """The four official ground-truth files (MATLAB cell layout) for a small ground truth."""
    import scipy.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    events = list(dict.fromkeys(gt.events))
    idx = {e: [i for i, ev in enumerate(gt.events) if ev == e] for e in events}
    ev = _cell([np.array([e]) for e in events])
    files = _cell([_cell([np.array([gt.names[i]]) for i in idx[e]]) for e in events])
    bbx = _cell([_cell([gt.boxes[i].astype(np.int32) for i in idx[e]]) for e in events])
    sio.savemat(folder / "wider_face_val.mat", {"event_list": ev, "file_list": files, "face_bbx_list": bbx})
    for s in ("easy", "medium", "hard"):
        gl = _cell([_cell([(np.flatnonzero(gt.keep[s][i]) + 1).astype(np.uint16).reshape(-1, 1) for i in idx[e]])
                    for e in events])
        sio.savemat(folder / f"wider_{s}_val.mat", {"event_list": ev, "file_list": files, "gt_list": gl})


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def fake_peers(monkeypatch):
    """Make every peer spec build a fake detector (the real files are not needed)."""
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "default_weights_available", lambda model: False)
    made: dict[str, FakeDetector] = {}

    def fake_build(spec, **kw):
        name = spec.split(":")[0]
        if name == "haar":
            raise PeerUnavailableError("haar: not here")
        lms = [(3, 3), (7, 3), (5, 5), (3, 7), (7, 7)] if name == "yunet" else None
        d = FakeDetector(name, [F(0, 0, 10, 10, kw.get("score_threshold") or 0.5, lms)], landmarks=lms is not None)
        made[name] = d
        return d

    monkeypatch.setattr(factory, "build_peer", fake_build)
    return made


@pytest.fixture
def keep_threads():
    """``--threads`` sets process-wide thread counts; put them back for the other tests."""
    import torch

    before = (cv2.getNumThreads(), torch.get_num_threads())
    yield
    cv2.setNumThreads(before[0])
    torch.set_num_threads(before[1])


def test_cli_compare_photos(tmp_path, fake_peers, capsys, keep_threads):
    import torch

    from featherface.cli import main

    imgs = []
    for i in range(3):
        p = tmp_path / "photos" / f"{i}.jpg"
        p.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(p), _img(50 + i, 70))
        imgs.append(p)
    rc = main(["compare", str(tmp_path / "photos"), "--peers", "yunet,ultraface,haar", "--repeats", "2",
               "--json", str(tmp_path / "o.json"), "--grid", str(tmp_path / "g.jpg"), "--grid-images", "2",
               "--markdown", str(tmp_path / "t.md"), "--threads", "1"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "| yunet | original | yes | 3 |" in out and "| ultraface | original | no | 3 |" in out
    assert "skipped haar: not here" in err and "no trained weights" in err
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["reference"] == "yunet" and [d["name"] for d in data["detectors"]] == ["yunet", "ultraface"]
    assert data["detectors"][1]["agreement"]["recall"] == 1.0
    assert cv2.imread(str(tmp_path / "g.jpg")).shape[1] == 2 * 300 + 4
    assert (tmp_path / "t.md").read_text().startswith("| detector |")
    assert fake_peers["yunet"].calls == 3 + 2 * (1 + 3)  # warm-up, then 2 rounds of (settling call + 3 images)
    assert torch.get_num_threads() == 1 and data["settings"]["threads"] == 1


def test_cli_compare_wider_and_errors(tmp_path, fake_peers, capsys):
    from featherface.cli import main

    gt, root = _wider_fixture(tmp_path)
    _write_mats(tmp_path / "gt", gt)
    rc = main(["compare", "--peers", "yunet", "--wider-images", str(root), "--gt", str(tmp_path / "gt"),
               "--json", str(tmp_path / "w.json"), "-q"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "| detector | easy AP |" in out and "| yunet |" in out
    data = json.loads((tmp_path / "w.json").read_text())
    assert data["wider"]["results"]["yunet"]["images"] == 3
    assert data["wider"]["score_threshold"] == pytest.approx(0.02)
    assert fake_peers["yunet"].calls == 3
    assert main(["compare"]) == 2
    assert "give IMAGES" in capsys.readouterr().err
    assert main(["compare", "--wider-images", str(root)]) == 2
    assert main(["compare", str(root), "--peers", "yunet", "--reference", "haar", "-q"]) == 2
    assert "--reference" in capsys.readouterr().err
    assert main(["compare", str(root), "--peers", "bogus"]) == 2
    assert not math.isnan(data["wider"]["results"]["yunet"]["easy"])

"""Comparison machinery: matching and agreement on hand-made cases, timing, tables, grid, WIDER, CLI.

Detectors here are fakes returning known faces, so nothing needs ../shared or real models.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface.compare import (
    agreement,
    build_detectors,
    compare_detectors,
    draw_grid,
    evaluate_on_wider,
    format_markdown,
    format_wider_markdown,
    greedy_match,
    iou_matrix,
    landmark_error,
    pick_grid_images,
    run_detectors,
    write_jpeg,
)
from featherface.errors import ConfigError, FeatherFaceError
from featherface.evaluation.widerface import WiderGroundTruth
from featherface.peers import PEERS_ENV, PeerUnavailableError
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


# --------------------------------------------------------------------------- matching


def test_iou_matrix_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    m = iou_matrix(a, b)
    assert m[0] == pytest.approx([1.0, 50 / 150, 0.0])
    assert m[1] == pytest.approx([0, 0, 0])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_greedy_match_takes_best_pairs_one_to_one():
    ref = np.array([[0, 0, 10, 10], [8, 0, 18, 10]], float)
    # p0 overlaps ref0 at 0.667 and ref1 barely; p1 matches ref0 perfectly -> p1-ref0 first, p0 left alone
    pred = np.array([[2, 0, 12, 10], [0, 0, 10, 10]], float)
    m = greedy_match(pred, ref, 0.5)
    assert [(i, j) for i, j, _ in m] == [(1, 0)]
    assert m[0][2] == pytest.approx(1.0)
    assert greedy_match(pred, ref, 0.1)[1][:2] == (0, 1)  # lower threshold: p0 takes ref1
    assert greedy_match(np.zeros((0, 4)), ref) == []


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
    faces, lat = run_detectors([a, b], [_img(), _img()], repeats=3)
    assert a.calls == b.calls == 2 + 2 * 3
    assert len(faces[0][1]) == 1 and faces[1][0] == []
    assert len(lat[0]) == 2 and all(t >= 0 for t in lat[0])
    _, lat0 = run_detectors([a], [_img()], repeats=0)
    assert lat0 == [[]]
    with pytest.raises(ConfigError):
        run_detectors([a], [_img()], repeats=-1)


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


# --------------------------------------------------------------------------- line-up


def test_build_detectors_skips_unavailable_and_never_uses_random_weights(monkeypatch, tmp_path):
    import featherface.compare as compare_mod

    monkeypatch.setattr(compare_mod, "default_weights_available", lambda model: False)  # as today
    monkeypatch.setenv(PEERS_ENV, str(tmp_path))  # an empty peers folder
    msgs: list[str] = []
    dets = build_detectors(["featherface", "yunet", "ultraface"], log=msgs.append)
    assert dets == []
    text = "\n".join(msgs)
    assert "no trained weights" in text and "yunet" in text and "ultraface-rfb320" in text
    with pytest.raises(PeerUnavailableError):
        build_detectors(["yunet"], strict=True)
    with pytest.raises(ConfigError, match="weights"):
        build_detectors(["featherface"], strict=True)
    with pytest.raises(PeerUnavailableError):  # an explicit path is never skipped silently
        build_detectors([f"yunet:{tmp_path / 'missing.onnx'}"])
    with pytest.raises(ConfigError, match="unknown peer"):
        build_detectors(["nonsense"])


def test_build_detectors_includes_ours_with_weights_file(tmp_path):
    from featherface.models.registry import create_model
    from featherface.weights import save_weights

    w = save_weights(create_model("featherface-v2-ultra"), tmp_path / "w.pt")  # machinery test only
    dets = build_detectors([], weights=str(w), score_threshold=0.6, input_size=64)
    assert len(dets) == 1 and dets[0].input_size == 64
    assert type(dets[0]).__name__ == "FaceDetector"


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
    import featherface.compare as compare_mod
    import featherface.peers as peers

    monkeypatch.setattr(compare_mod, "default_weights_available", lambda model: False)
    made: dict[str, FakeDetector] = {}

    def fake_build(spec, **kw):
        name = spec.split(":")[0]
        if name == "haar":
            raise PeerUnavailableError("haar: not here")
        lms = [(3, 3), (7, 3), (5, 5), (3, 7), (7, 7)] if name == "yunet" else None
        d = FakeDetector(name, [F(0, 0, 10, 10, kw.get("score_threshold") or 0.5, lms)], landmarks=lms is not None)
        made[name] = d
        return d

    monkeypatch.setattr(peers, "build_peer", fake_build)
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
    assert fake_peers["yunet"].calls == 3 + 3 * 2
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


def test_build_detectors_includes_ours_once_default_weights_ship(monkeypatch):
    import featherface.compare as compare_mod

    monkeypatch.setattr(compare_mod, "default_weights_available", lambda model: True)
    seen = {}

    def fake_ours(model, weights, score, nms, size):
        seen.update(model=model, weights=weights, score=score, size=size)
        return FakeDetector(model, [])

    monkeypatch.setattr(compare_mod, "_our_detector", fake_ours)
    dets = build_detectors([], score_threshold=0.4, input_size=320)
    assert [d.name for d in dets] == ["featherface-v2-ultra"]
    assert seen == {"model": "featherface-v2-ultra", "weights": None, "score": 0.4, "size": 320}

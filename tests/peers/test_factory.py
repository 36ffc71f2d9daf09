"""Detector specs -> detectors (featherface.peers.factory): the compare line-up, the eval
``--detectors`` table, and the auto-label teachers (:class:`FusedTeacher` on hand-made detections:
fusion by score-weighted mean, single-teacher faces kept only above ``single_threshold``; spec
parsing). Fakes only; the one test that builds the real RetinaFace + YuNet reads ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface.errors import ConfigError
from featherface.peers import PEERS_ENV, PeerUnavailableError
from featherface.peers.factory import FusedTeacher, build_detectors, build_lineup, build_teacher, split_teachers
from featherface.types import Face

from tests.tools.test_compare import FakeDetector

REPO = Path(__file__).resolve().parents[2]

LM_A = np.array([[20, 20], [40, 20], [30, 30], [22, 40], [38, 40]], float)
LM_B = LM_A + 3.0


def F(box, score, lms=None) -> Face:  # noqa: N802 - short test constructor
    return Face.from_arrays(box, score, lms)


class FakeTeacher:
    def __init__(self, name, faces):
        self.name = name
        self.faces = list(faces)
        self.images = 0

    def detect(self, image):
        self.images += 1
        return list(self.faces)


IMG = np.zeros((100, 100, 3), np.uint8)


# --------------------------------------------------------------------------- auto-label teachers


def test_overlapping_boxes_fuse_into_the_score_weighted_mean():
    a = FakeTeacher("retinaface", [F((10, 10, 50, 50), 0.9, LM_A)])
    b = FakeTeacher("yunet", [F((13, 13, 53, 53), 0.6, LM_B)])  # IoU ~0.74
    fused = FusedTeacher([a, b], iou=0.5, single_threshold=0.8)
    assert fused.name == "retinaface+yunet"
    faces = fused.detect(IMG)
    assert a.images == b.images == 1 and len(faces) == 1
    f = faces[0]
    expected_box = (0.9 * np.array([10, 10, 50, 50]) + 0.6 * np.array([13, 13, 53, 53])) / 1.5
    assert f.box == pytest.approx(tuple(expected_box))  # 11.2, 11.2, 51.2, 51.2
    assert f.score == pytest.approx(0.9)  # the best member's score
    assert np.asarray(f.landmarks) == pytest.approx((0.9 * LM_A + 0.6 * LM_B) / 1.5)
    # the fused face passes even though one member (0.6) is below single_threshold


def test_landmarks_come_from_the_members_that_have_them():
    a = FakeTeacher("a", [F((10, 10, 50, 50), 0.5)])  # no landmarks (like UltraFace)
    b = FakeTeacher("b", [F((10, 10, 50, 50), 0.7, LM_B)])
    (f,) = FusedTeacher([a, b]).detect(IMG)
    assert np.asarray(f.landmarks) == pytest.approx(LM_B)
    assert f.box == pytest.approx((10, 10, 50, 50)) and f.score == pytest.approx(0.7)
    (g,) = FusedTeacher([a, FakeTeacher("c", [F((10, 10, 50, 50), 0.6)])]).detect(IMG)
    assert g.landmarks is None


def test_single_teacher_faces_below_the_threshold_are_dropped_above_kept():
    a = FakeTeacher("a", [F((0, 0, 20, 20), 0.79), F((60, 60, 90, 90), 0.95, LM_A)])
    b = FakeTeacher("b", [F((30, 0, 50, 20), 0.85), F((0, 60, 20, 80), 0.5)])
    faces = FusedTeacher([a, b], single_threshold=0.8).detect(IMG)
    assert [f.box for f in faces] == [(60, 60, 90, 90), (30, 0, 50, 20)]  # best first, unchanged
    assert [f.score for f in faces] == pytest.approx([0.95, 0.85])
    assert np.asarray(faces[0].landmarks) == pytest.approx(LM_A)
    kept = FusedTeacher([a, b], single_threshold=0.5).detect(IMG)
    assert len(kept) == 4  # score >= threshold is kept (0.5 itself included)


def test_boxes_below_the_iou_are_two_faces():
    a = FakeTeacher("a", [F((0, 0, 40, 40), 0.9)])
    b = FakeTeacher("b", [F((20, 20, 60, 60), 0.9)])  # IoU 1/7
    assert len(FusedTeacher([a, b], iou=0.5).detect(IMG)) == 2
    (f,) = FusedTeacher([a, b], iou=0.1).detect(IMG)
    assert f.box == pytest.approx((10, 10, 50, 50))


def test_each_face_takes_at_most_one_member_per_other_teacher():
    a = FakeTeacher("a", [F((10, 10, 50, 50), 0.9)])
    b = FakeTeacher("b", [F((11, 11, 51, 51), 0.7), F((14, 14, 54, 54), 0.6)])
    faces = FusedTeacher([a, b], single_threshold=0.8).detect(IMG)
    # a fuses with b's best-overlapping box; b's other box is alone and below 0.8: dropped
    assert len(faces) == 1
    assert faces[0].box == pytest.approx(tuple((0.9 * np.array([10, 10, 50, 50]) + 0.7 * np.array([11, 11, 51, 51])) / 1.6))


def test_one_teacher_or_no_faces_pass_through():
    only = FakeTeacher("a", [F((0, 0, 10, 10), 0.1)])
    assert FusedTeacher([only]).detect(IMG) == only.faces  # nothing to fuse with: unfiltered
    assert FusedTeacher([FakeTeacher("a", []), FakeTeacher("b", [])]).detect(IMG) == []
    with pytest.raises(ConfigError, match="at least one"):
        FusedTeacher([])


@pytest.fixture
def fake_builders(monkeypatch):
    import featherface.peers.retinaface as rf
    import featherface.peers.yunet as yn

    made: list[tuple] = []

    def fake_retinaface(path=None, score_threshold=0.5, **kw):
        made.append(("retinaface", path, score_threshold))
        return FakeTeacher("retinaface", [])

    class FakeYuNet(FakeTeacher):
        def __init__(self, model_path=None, score_threshold=0.6, name="yunet", **kw):
            made.append((name, model_path, score_threshold))
            super().__init__(name, [])

    monkeypatch.setattr(rf, "build_retinaface", fake_retinaface)
    monkeypatch.setattr(yn, "YuNetDetector", FakeYuNet)
    return made


def test_build_teacher_parses_fused_specs(fake_builders):
    t = build_teacher("retinaface+yunet", score_threshold=0.65)
    assert isinstance(t, FusedTeacher) and t.name == "retinaface+yunet" and len(t.teachers) == 2
    assert fake_builders == [("retinaface", None, 0.65), ("yunet", None, 0.65)]
    fake_builders.clear()
    t = build_teacher("retinaface:/w/rf.pth+yunet:/m/y.onnx")
    assert [x.name for x in t.teachers] == ["retinaface", "yunet"]
    assert fake_builders == [("retinaface", "/w/rf.pth", 0.7), ("yunet", "/m/y.onnx", 0.7)]
    fake_builders.clear()
    t = build_teacher("retinaface++yunet-s+")  # empty parts are ignored
    assert [x.name for x in t.teachers] == ["retinaface", "yunet-s"]
    assert fake_builders[1][1].endswith("yunet/yunet_s_dynamic.onnx")
    fake_builders.clear()
    single = build_teacher("retinaface")
    assert not isinstance(single, FusedTeacher) and fake_builders == [("retinaface", None, 0.7)]


def test_unknown_teacher_is_a_config_error(fake_builders):
    with pytest.raises(ConfigError, match="unknown teacher 'mtcnn'"):
        build_teacher("mtcnn")
    with pytest.raises(ConfigError, match="unknown teacher"):
        build_teacher("retinaface+bogus")
    with pytest.raises(ConfigError, match="needs a weights file"):
        build_teacher("featherface")


@pytest.mark.shared
def test_real_retinaface_plus_yunet_teacher():
    from featherface.peers import peer_status

    for spec in ("retinaface", "yunet"):
        ok, where = peer_status(spec)
        if not ok:
            pytest.skip(f"{spec}: {where} is not present")
    try:
        teacher = build_teacher("retinaface+yunet")
    except PeerUnavailableError as exc:  # e.g. an OpenCV without FaceDetectorYN
        pytest.skip(str(exc))
    assert isinstance(teacher, FusedTeacher) and teacher.name == "retinaface+yunet"
    faces = teacher.detect(REPO / "examples" / "astronaut.jpg")
    assert len(faces) == 1 and faces[0].landmarks is not None
    x1, y1, x2, y2 = faces[0].box
    assert abs(x1 - 178) < 15 and abs(y1 - 56) < 15 and abs(x2 - 270) < 15 and abs(y2 - 176) < 15


def test_a_plus_inside_a_file_path_does_not_split_the_teacher_spec():
    assert split_teachers("retinaface+yunet") == ["retinaface", "yunet"]
    assert split_teachers("yunet:/models/a+b.onnx") == ["yunet:/models/a+b.onnx"]
    assert split_teachers("retinaface:/w/r+1.pth+yunet-s") == ["retinaface:/w/r+1.pth", "yunet-s"]
    assert split_teachers("retinaface++yunet+") == ["retinaface", "yunet"]


# --------------------------------------------------------------------------- featherface compare: the line-up


def test_build_lineup_skips_unavailable_and_never_uses_random_weights(monkeypatch, tmp_path):
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "default_weights_available", lambda model: False)  # as today
    monkeypatch.setenv(PEERS_ENV, str(tmp_path))  # an empty peers folder
    msgs: list[str] = []
    dets = build_lineup(["featherface", "yunet", "ultraface"], log=msgs.append)
    assert dets == []
    text = "\n".join(msgs)
    assert "no trained weights" in text and "yunet" in text and "ultraface-rfb320" in text
    with pytest.raises(PeerUnavailableError):
        build_lineup(["yunet"], strict=True)
    with pytest.raises(ConfigError, match="weights"):
        build_lineup(["featherface"], strict=True)
    with pytest.raises(PeerUnavailableError):  # an explicit path is never skipped silently
        build_lineup([f"yunet:{tmp_path / 'missing.onnx'}"])
    with pytest.raises(ConfigError, match="unknown peer"):
        build_lineup(["nonsense"])


def test_build_lineup_includes_ours_with_weights_file(tmp_path):
    from featherface.models.registry import create_model
    from featherface.models.weights import save_weights

    w = save_weights(create_model("featherface-v2-ultra"), tmp_path / "w.pt")  # machinery test only
    dets = build_lineup([], weights=str(w), score_threshold=0.6, input_size=64)
    assert len(dets) == 1 and dets[0].input_size == 64
    assert type(dets[0]).__name__ == "FaceDetector"


def test_build_lineup_includes_ours_once_default_weights_ship(monkeypatch):
    import featherface.peers.factory as factory

    monkeypatch.setattr(factory, "default_weights_available", lambda model: True)
    seen = {}

    def fake_ours(model, weights, *, score_threshold, nms_threshold=None, input_size=None, device="cpu"):
        seen.update(model=model, weights=weights, score=score_threshold, size=input_size)
        return FakeDetector(model, [])

    monkeypatch.setattr(factory, "our_detector", fake_ours)
    dets = build_lineup([], score_threshold=0.4, input_size=320)
    assert [d.name for d in dets] == ["featherface-v2-ultra"]
    assert seen == {"model": "featherface-v2-ultra", "weights": None, "score": 0.4, "size": 320}


# --------------------------------------------------------------------------- featherface eval: --detectors


def test_build_detectors_skips_missing_files_with_notes(tmp_path):
    notes = []
    dets, skipped = build_detectors(
        ["featherface-v2-base", "retinaface:/no/such/retina.pth", f"yunet:{tmp_path}/none.onnx",
         f"featherface-v1:{tmp_path}/v1.pt", f"featherface:{tmp_path}/x.pt"], log=notes.append)
    assert dets == {} and skipped == notes and len(notes) == 5
    assert "featherface-v2-base: no trained weights ship" in notes[0]
    assert "retina.pth not found" in notes[1] and "none.onnx not found" in notes[2]
    assert "v1.pt not found" in notes[3] and "x.pt not found" in notes[4]
    with pytest.raises(ConfigError, match="unknown peer detector 'nosuch'"):
        build_detectors(["nosuch"])
    with pytest.raises(ConfigError, match="empty path"):
        build_detectors(["yunet:"])
    _, skipped = build_detectors([], weights=tmp_path / "w.pt")
    assert "w.pt: file not found" in skipped[0]


def test_two_weights_files_of_one_name_get_rows_of_their_own(tmp_path):
    import torch

    from featherface.models import create_model
    from featherface.models.weights import save_weights

    paths = []
    for run in ("run1", "run2"):
        (tmp_path / run).mkdir()
        torch.manual_seed(len(paths))
        paths.append(tmp_path / run / "final.pt")
        save_weights(create_model("featherface-v2-ultra"), paths[-1])
    dets, _ = build_detectors([f"featherface-v2-ultra:{p}" for p in paths])
    assert list(dets) == ["featherface-v2-ultra:final.pt", "featherface-v2-ultra:run2/final.pt"]
    with pytest.raises(ConfigError, match="listed twice"):
        build_detectors([f"featherface-v2-ultra:{paths[0]}"] * 2)

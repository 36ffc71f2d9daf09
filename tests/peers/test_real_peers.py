"""The real peer models on real photos (../shared/peers, ../shared/data); skipped when absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from featherface.io.paths import shared_dir
from featherface.ops.iou import iou_matrix
from featherface.peers import PeerUnavailableError, build_peer
from featherface.tools.compare.report import format_markdown
from featherface.tools.compare.run import compare_detectors

SHARED = shared_dir()
PEERS = SHARED / "peers"
PORTRAIT = SHARED / "data" / "faces-unlabeled" / "face_recognition__examples_obama.jpg"
COUPLE = SHARED / "data" / "faces-unlabeled" / "deepface__tests_unit_dataset_couple.jpg"
PHOTOS = SHARED / "data" / "photos"

pytestmark = pytest.mark.shared


def _need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"{p} is not present")


@pytest.fixture(scope="module")
def peers_env():
    _need(PEERS, PORTRAIT)
    mp = pytest.MonkeyPatch()
    mp.setenv("FEATHERFACE_PEERS_DIR", str(PEERS))
    yield
    mp.undo()


def _build(spec: str, **kw):
    try:
        return build_peer(spec, **kw)
    except PeerUnavailableError as exc:  # e.g. onnxruntime not installed
        pytest.skip(str(exc))


def test_yunet_finds_the_face_with_landmarks_in_our_order(peers_env):
    for spec in ("yunet", "yunet-s", "yunet-640"):
        faces = _build(spec, score_threshold=0.6).detect(PORTRAIT)
        assert len(faces) == 1, spec
        f = faces[0]
        (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = f.landmarks
        x1, y1, x2, y2 = f.box
        assert lex < nx < rex and lmx < rmx, spec  # left/right as seen in the image
        assert max(ley, rey) < ny < min(lmy, rmy), spec  # eyes above nose above mouth
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in f.landmarks), spec
        assert 150 < f.width < 320 and 200 < f.height < 420, spec  # the face is ~230x340 px


def test_ultraface_models_agree_with_yunet(peers_env):
    ref = _build("yunet", score_threshold=0.6)
    for path in (PORTRAIT, COUPLE):
        if not path.exists():
            continue
        ref_faces = ref.detect(path)
        ref_boxes = np.array([f.box for f in ref_faces])
        for spec in ("ultraface-rfb320", "ultraface-slim320", "ultraface-rfb640"):
            faces = _build(spec).detect(path)
            assert len(faces) == len(ref_faces), (spec, path.name)
            iou = iou_matrix(np.array([f.box for f in faces]), ref_boxes)
            assert (iou.max(axis=1) > 0.5).all(), (spec, path.name, iou)
            assert all(f.landmarks is None for f in faces)


def test_ultraface_priors_match_the_ones_baked_into_rfb640(peers_env):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from featherface.peers.ultraface import ultraface_priors

    model = onnx.load(str(PEERS / "ultraface" / "version-RFB-640.onnx"))
    consts = [numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"]
    baked = [c.reshape(-1, 2) for c in consts if c.ndim == 3 and c.shape[1] == 17640 and c.shape[2] == 2]
    ours = ultraface_priors(640, 480)
    assert any(np.allclose(b, ours[:, :2], atol=1e-6) for b in baked)  # centres
    assert any(np.allclose(b, ours[:, 2:], atol=1e-6) for b in baked)  # sizes


def test_compare_on_two_real_photos(peers_env):
    _need(PHOTOS / "19.jpg", PHOTOS / "9.jpg")
    dets = [_build("yunet", score_threshold=0.5), _build("ultraface-rfb320", score_threshold=0.5)]
    r = compare_detectors(dets, [PHOTOS / "19.jpg", PHOTOS / "9.jpg"], reference="yunet", repeats=1)
    a = r.agreements["ultraface-rfb320"]
    assert r.run("yunet").faces_found >= 10  # 5 + 8 people, clearly visible
    assert a.precision > 0.8 and a.recall > 0.8
    assert "| ultraface-rfb320 | 320x240 stretch | no |" in format_markdown(r)

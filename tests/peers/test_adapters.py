"""Peer adapters on synthetic images with fake back-ends: decoding, coordinate mapping, landmark order.

Nothing here needs ../shared: the OpenCV / onnxruntime objects are replaced by fakes that return
known rows, so every number below is checked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from featherface.errors import ConfigError, FeatherFaceError
from featherface.peers import PEERS_ENV, PeerUnavailableError, build_peer, parse_spec, peer_status, peers_dir
from featherface.peers.base import faces_from_rows
from featherface.peers.haar import HaarCascadeDetector
from featherface.peers.ultraface import (
    UltraFaceDetector,
    decode_ultraface,
    face_probability,
    preprocess,
    ultraface_priors,
)
from featherface.peers.yunet import YUNET_TO_OURS, YuNetDetector
from featherface.types import Detector


def _image(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- YuNet


class FakeYuNet:
    """Stands in for cv2.FaceDetectorYN: returns fixed rows in *input* pixels."""

    def __init__(self, rows: np.ndarray | None):
        self.rows = rows
        self.sizes: list[tuple[int, int]] = []
        self.inputs: list[tuple[int, ...]] = []
        self.created: tuple | None = None

    def factory(self, model, config, size, score, nms, top_k):  # noqa: ANN001 - mimics cv2
        self.created = (model, config, size, score, nms, top_k)
        return self

    def setInputSize(self, size):  # noqa: N802 - OpenCV's name
        self.sizes.append(tuple(size))

    def detect(self, image):
        self.inputs.append(image.shape)
        return 1, self.rows


def _yunet_row(x, y, w, h, score, lms):
    return [x, y, w, h, *np.asarray(lms, dtype=float).reshape(-1), score]


LMS = [(30, 40), (60, 40), (45, 55), (33, 70), (57, 70)]  # left eye, right eye, nose, left mouth, right mouth


def test_yunet_rows_map_to_faces_at_original_size():
    rows = np.array([_yunet_row(20, 25, 50, 60, 0.8, LMS), _yunet_row(100, 10, 30, 30, 0.95, np.zeros(10))], np.float32)
    fake = FakeYuNet(rows)
    det = YuNetDetector("model.onnx", score_threshold=0.6, nms_threshold=0.3, top_k=77, fixed_size=None, factory=fake.factory)
    faces = det.detect(_image(120, 160))
    assert isinstance(det, Detector)
    assert fake.created[2:] == ((320, 320), pytest.approx(0.6), pytest.approx(0.3), 77)
    assert fake.sizes == [(160, 120)] and fake.inputs == [(120, 160, 3)]
    assert [f.score for f in faces] == pytest.approx([0.95, 0.8])  # best first
    f = faces[1]
    assert f.box == pytest.approx((20, 25, 70, 85))
    assert np.asarray(f.landmarks) == pytest.approx(np.asarray(LMS, float))  # identity: YuNet's order is ours
    assert YUNET_TO_OURS == (0, 1, 2, 3, 4)
    det.detect(_image(120, 160))
    assert fake.sizes == [(160, 120)]  # same size: not set again


def test_yunet_input_size_scales_back():
    rows = np.array([_yunet_row(10, 20, 40, 50, 0.9, LMS)], np.float32)
    fake = FakeYuNet(rows)
    det = YuNetDetector(None, input_size=200, fixed_size=None, factory=fake.factory)
    faces = det.detect(_image(300, 400))  # longer side 400 -> 200: scale 0.5
    assert fake.sizes == [(200, 150)]
    assert faces[0].box == pytest.approx((20, 40, 100, 140))
    assert faces[0].landmarks[0] == pytest.approx((60, 80))
    assert det.describe_input() == "longer side 200"


def test_yunet_fixed_model_letterboxes_and_maps_back():
    rows = np.array([_yunet_row(64, 32, 128, 64, 0.9, LMS)], np.float32)
    fake = FakeYuNet(rows)
    det = YuNetDetector("yunet_n_640_640.onnx", fixed_size=(640, 640), factory=fake.factory)
    faces = det.detect(_image(640, 1280))  # scale 0.5, padded at the bottom
    assert fake.sizes == [(640, 640)] and fake.inputs == [(640, 640, 3)]
    assert faces[0].box == pytest.approx((128, 64, 384, 192))
    assert faces[0].landmarks[4] == pytest.approx((114, 140))
    assert det.describe_input() == "640x640 letterbox"
    with pytest.raises(ConfigError, match="fixed"):
        YuNetDetector("x.onnx", fixed_size=(640, 640), input_size=320, factory=FakeYuNet(None).factory)


def test_yunet_no_faces_and_clipping():
    assert YuNetDetector(None, fixed_size=None, factory=FakeYuNet(None).factory).detect(_image(50, 50)) == []
    rows = np.array([_yunet_row(-10, -5, 40, 200, 0.9, LMS)], np.float32)
    faces = YuNetDetector(None, fixed_size=None, factory=FakeYuNet(rows).factory).detect(_image(100, 100))
    assert faces[0].box == pytest.approx((0, 0, 30, 100))


def test_yunet_fixed_size_from_file_name(tmp_path):
    from featherface.peers.yunet import fixed_input_size

    p = tmp_path / "yunet_n_320_240.onnx"
    p.write_bytes(b"not a model")  # unreadable by ORT -> falls back to the name
    assert fixed_input_size(p) == (320, 240)
    q = tmp_path / "yunet_dynamic.onnx"
    q.write_bytes(b"x")
    assert fixed_input_size(q) is None


def test_yunet_threshold_validation():
    with pytest.raises(ConfigError):
        YuNetDetector(None, score_threshold=1.5, factory=FakeYuNet(None).factory)
    with pytest.raises(ConfigError):
        YuNetDetector(None, top_k=0, factory=FakeYuNet(None).factory)


# --------------------------------------------------------------------------- UltraFace


def test_ultraface_prior_counts_and_layout():
    p320 = ultraface_priors(320, 240)
    p640 = ultraface_priors(640, 480)
    assert p320.shape == (4420, 4) and p640.shape == (17640, 4)  # the released files' N
    # first cell of stride 8: three priors at one centre, sizes 10/16/24 px
    assert p640[:3, :2] == pytest.approx(np.array([[0.00625, 1 / 120]] * 3))
    assert p640[:3, 2] == pytest.approx(np.array([10, 16, 24]) / 640)
    assert p640[:3, 3] == pytest.approx(np.array([10, 16, 24]) / 480)
    # second prior cell moves along x (row-major grid)
    assert p640[3, :2] == pytest.approx((0.01875, 1 / 120))
    # stride 64 on 480 px: 8 rows, centres at (j + 0.5) / 8 (values baked into version-RFB-640.onnx)
    assert p640[17400] == pytest.approx((0.05, 0.0625, 0.2, 128 / 480))
    assert p640[-1, :2] == pytest.approx((0.95, 0.9375))
    assert (p320 >= 0).all() and (p320 <= 1).all()


def test_ultraface_decode():
    priors = np.array([[0.5, 0.5, 0.2, 0.4], [0.25, 0.75, 0.1, 0.1]])
    d0 = decode_ultraface(np.zeros((2, 4)), priors)
    assert d0 == pytest.approx(np.array([[0.4, 0.3, 0.6, 0.7], [0.2, 0.7, 0.3, 0.8]]))
    d = decode_ultraface(np.array([[1.0, -2.0, np.log(2) / 0.2, 0.0]]), priors[:1])
    # centre x = 0.5 + 1*0.1*0.2 = 0.52, y = 0.5 - 2*0.1*0.4 = 0.42; w = 0.4, h = 0.4
    assert d[0] == pytest.approx((0.32, 0.22, 0.72, 0.62))


def test_ultraface_preprocess():
    img = np.zeros((10, 20, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    x = preprocess(img, 8, 6)
    assert x.shape == (1, 3, 6, 8) and x.dtype == np.float32
    assert x[0, 0].mean() == pytest.approx((255 - 127) / 128)  # R first
    assert x[0, 2].mean() == pytest.approx(-127 / 128)


def test_face_probability_softmax_only_when_needed():
    probs = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert face_probability(probs) == pytest.approx([0.9, 0.2])
    logits = np.array([[0.0, np.log(3.0)]])
    assert face_probability(logits) == pytest.approx([0.75])


class FakeOrtSession:
    def __init__(self, scores, boxes, shape=(1, 3, 240, 320)):
        self.scores = np.asarray(scores, np.float32)[None]
        self.boxes = np.asarray(boxes, np.float32)[None]
        self.shape = shape
        self.fed: list[np.ndarray] = []

    class _Arg:
        def __init__(self, name, shape=None):
            self.name, self.shape = name, shape

    def get_inputs(self):
        return [self._Arg("input", list(self.shape))]

    def get_outputs(self):
        return [self._Arg("scores"), self._Arg("boxes")]

    def run(self, names, feed):
        self.fed.append(feed["input"])
        assert names == ["scores", "boxes"]
        return [self.scores, self.boxes]


def test_ultraface_raw_model_decodes_over_priors():
    n = 4420
    scores = np.tile([1.0, 0.0], (n, 1))
    boxes = np.zeros((n, 4))
    k = 3600 + 10 * 2  # stride-16 level (2 priors per cell), row 0, cell 10, first min_box (32 px)
    scores[k] = (0.05, 0.95)
    scores[k + 1] = (0.2, 0.8)  # same centre, 48 px: overlaps -> suppressed by NMS
    sess = FakeOrtSession(scores, boxes)
    det = UltraFaceDetector("version-RFB-320_without_postprocessing.onnx", session=sess)
    assert not det.postprocessed and det.describe_input() == "320x240 stretch"
    img = _image(480, 640)  # 2x the network input
    faces = det.detect(img)
    assert sess.fed[0].shape == (1, 3, 240, 320)
    assert len(faces) == 1 and faces[0].landmarks is None
    # prior centre ((10 + .5) / 20, (0 + .5) / 15) of 320x240, size 32 px -> x2 on a 640x480 image
    cx, cy = 10.5 / 20 * 640, 0.5 / 15 * 480
    assert faces[0].box == pytest.approx((cx - 32, max(0.0, cy - 32), cx + 32, cy + 32))
    assert faces[0].score == pytest.approx(0.95)


def test_ultraface_postprocessed_model_and_nms():
    n = 5
    scores = np.tile([0.99, 0.01], (n, 1))
    boxes = np.zeros((n, 4))
    scores[0] = (0.1, 0.9)
    boxes[0] = (0.1, 0.2, 0.3, 0.6)
    scores[1] = (0.2, 0.8)
    boxes[1] = (0.11, 0.21, 0.31, 0.61)  # duplicate
    scores[2] = (0.25, 0.75)
    boxes[2] = (0.6, 0.1, 0.9, 0.5)
    det = UltraFaceDetector("version-RFB-640.onnx", session=FakeOrtSession(scores, boxes, (1, 3, 480, 640)))
    assert det.postprocessed and (det.width, det.height) == (640, 480)
    faces = det.detect(_image(100, 200))
    assert [round(f.score, 2) for f in faces] == [0.9, 0.75]
    assert faces[0].box == pytest.approx((20, 20, 60, 60))
    assert faces[1].box == pytest.approx((120, 10, 180, 50))
    assert UltraFaceDetector("m.onnx", score_threshold=0.95, session=FakeOrtSession(scores, boxes, (1, 3, 480, 640))).detect(_image(10, 10)) == []


def test_ultraface_checks_prior_count_and_sizes():
    det = UltraFaceDetector("x_without_postprocessing.onnx", session=FakeOrtSession(np.tile([0.0, 1.0], (7, 1)), np.zeros((7, 4))))
    with pytest.raises(PeerUnavailableError, match="priors"):
        det.detect(_image(24, 32))
    with pytest.raises(ConfigError, match="fixed"):
        UltraFaceDetector("m.onnx", input_size=(640, 480), session=FakeOrtSession(np.zeros((1, 2)), np.zeros((1, 4))))
    dyn = UltraFaceDetector("m_without_postprocessing.onnx", input_size=160,
                            session=FakeOrtSession(np.zeros((1, 2)), np.zeros((1, 4)), (1, 3, "h", "w")))
    assert (dyn.width, dyn.height) == (160, 120) and dyn.priors.shape[0] == ultraface_priors(160, 120).shape[0]


# --------------------------------------------------------------------------- Haar


class FakeCascade:
    def __init__(self, rects, weights):
        self.rects, self.weights = rects, weights
        self.calls: list[tuple] = []

    def detectMultiScale3(self, grey, **kw):  # noqa: N802 - OpenCV's name
        self.calls.append((grey.shape, grey.dtype, kw))
        return np.asarray(self.rects), np.zeros(len(self.rects)), np.asarray(self.weights)


def test_haar_maps_rects_and_weights():
    fake = FakeCascade([[10, 20, 30, 30], [50, 5, 20, 20]], [1.5, 4.0])
    det = HaarCascadeDetector(cascade=fake, input_size=100)
    faces = det.detect(_image(100, 200))  # scale 0.5
    (shape, dtype, kw), = fake.calls
    assert shape == (50, 100) and dtype == np.uint8 and kw["outputRejectLevels"] is True
    assert [f.score for f in faces] == [4.0, 1.5]
    assert faces[1].box == pytest.approx((20, 40, 80, 100)) and faces[1].landmarks is None
    det2 = HaarCascadeDetector(cascade=FakeCascade([[10, 20, 30, 30], [50, 5, 20, 20]], [1.5, 4.0]), score_threshold=2.0)
    assert len(det2.detect(_image(100, 200))) == 1
    assert HaarCascadeDetector(cascade=FakeCascade(np.zeros((0, 4)), [])).detect(_image(20, 20)) == []


def test_haar_unavailable_without_cascade_classifier(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    with pytest.raises(PeerUnavailableError, match="CascadeClassifier"):
        HaarCascadeDetector()
    ok, why = peer_status("haar")
    assert not ok and "CascadeClassifier" in why


# --------------------------------------------------------------------------- registry & helpers


def test_parse_spec_and_aliases():
    assert parse_spec("yunet")[0].name == "yunet" and parse_spec("yunet")[1] is None
    assert parse_spec("ultraface")[0].name == "ultraface-rfb320"
    info, path = parse_spec("YuNet-S:/tmp/x.onnx")
    assert info.name == "yunet-s" and path == "/tmp/x.onnx"
    with pytest.raises(ConfigError, match="unknown peer"):
        parse_spec("mtcnn")
    with pytest.raises(ConfigError, match="empty path"):
        parse_spec("yunet:")


def test_peers_dir_env_and_missing_files(monkeypatch, tmp_path):
    monkeypatch.setenv(PEERS_ENV, str(tmp_path))
    assert peers_dir() == tmp_path
    ok, where = peer_status("ultraface-slim320")
    assert not ok and where.startswith(str(tmp_path))
    with pytest.raises(PeerUnavailableError, match=PEERS_ENV):
        build_peer("yunet")
    with pytest.raises(PeerUnavailableError, match="not found"):
        build_peer(f"ultraface:{tmp_path / 'nope.onnx'}")
    assert issubclass(PeerUnavailableError, FeatherFaceError)
    monkeypatch.delenv(PEERS_ENV)
    assert peers_dir().parts[-2:] == ("shared", "peers")


def test_face_helpers():
    # (the resizing helpers the adapters use, letterbox and resize_longer_side, are tested in tests/io;
    # their NMS, featherface.ops.nms_numpy, in tests/ops/test_nms.py)
    faces = faces_from_rows(np.array([[5, 5, 4, 9], [0, 0, 3, 3]]), np.array([0.9, 0.1]), None, 10, 10)
    assert len(faces) == 1  # the empty box is dropped


def test_peer_inputs_are_capped_at_the_largest_network_side() -> None:
    """A 10000 px photo at "original size" reaches a peer at 4096 px (memory), results scaled back."""
    from featherface.inference.options import MAX_INPUT_SIDE
    from featherface.peers.base import fit_input

    big = np.zeros((5000, 10000, 3), np.uint8)
    small, s = fit_input(big, None)
    assert max(small.shape[:2]) == MAX_INPUT_SIDE and s == pytest.approx(MAX_INPUT_SIDE / 10000)
    same, s1 = fit_input(np.zeros((100, 200, 3), np.uint8), None)
    assert same.shape[:2] == (100, 200) and s1 == 1.0
    asked, s2 = fit_input(np.zeros((100, 200, 3), np.uint8), 64)
    assert max(asked.shape[:2]) == 64 and s2 == pytest.approx(0.32)

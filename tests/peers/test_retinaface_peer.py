"""RetinaFace-mnet0.25 as a peer (``--peers retinaface[:PATH]``): registry entry, missing-file skip,
and a synthetic release file (a random model written in the release layout) run through
build_peer / build_lineup / ``featherface compare``. Only the last test reads ../shared."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from featherface.errors import ConfigError
from featherface.io.paths import shared_dir
from featherface.models import create_model
from featherface.peers import PEERS, PeerUnavailableError, build_peer, list_peers, parse_spec, peer_status
from featherface.peers.factory import build_lineup
from featherface.peers.retinaface import RETINAFACE_ENV, default_retinaface_weights
from featherface.tools.compare.run import describe_detector

from tests.models.retinaface_release import write_release_file

SHARED_RELEASE = shared_dir() / "weights" / "retinaface_mnet025_Final.pth"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("retinaface-mnet025").eval()
    path = write_release_file(model, tmp_path_factory.mktemp("rf") / "mobilenet0.25_Final.pth")
    return model, path


@pytest.fixture
def no_default(monkeypatch, tmp_path):
    """The default weights location points at a file that does not exist."""
    missing = tmp_path / "nowhere" / "retinaface_mnet025_Final.pth"
    monkeypatch.setenv(RETINAFACE_ENV, str(missing))
    return missing


def _image(h=96, w=128):
    return np.random.default_rng(0).integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def test_registry_entry():
    info = PEERS["retinaface"]
    assert "retinaface" in list_peers() and info.kind == "retinaface" and info.landmarks
    assert "426,608" in info.description and "biubug6/Pytorch_Retinaface" in info.description
    assert "MIT" in info.description
    assert parse_spec("retinaface") == (info, None)
    assert parse_spec("RetinaFace-mnet025:/w/x.pth") == (info, "/w/x.pth")
    with pytest.raises(ConfigError, match="empty path"):
        parse_spec("retinaface:")


def test_default_location_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv(RETINAFACE_ENV, raising=False)
    monkeypatch.setenv("FEATHERFACE_PEERS_DIR", str(tmp_path / "peers"))
    assert default_retinaface_weights() == tmp_path / "weights" / "retinaface_mnet025_Final.pth"
    monkeypatch.setenv(RETINAFACE_ENV, str(tmp_path / "r.pth"))
    assert default_retinaface_weights() == tmp_path / "r.pth"


def test_missing_file_is_unavailable_and_skipped_with_one_line(no_default, monkeypatch):
    import featherface.peers.factory as factory

    ok, where = peer_status("retinaface")
    assert not ok and where == str(no_default)
    with pytest.raises(PeerUnavailableError, match=RETINAFACE_ENV):
        build_peer("retinaface")
    monkeypatch.setattr(factory, "default_weights_available", lambda model: False)
    msgs: list[str] = []
    assert build_lineup(["retinaface"], log=msgs.append) == []
    skipped = [m for m in msgs if m.startswith("skipped retinaface")]
    assert len(skipped) == 1 and "\n" not in skipped[0] and str(no_default) in skipped[0]
    with pytest.raises(PeerUnavailableError):
        build_lineup(["retinaface"], strict=True)
    with pytest.raises(PeerUnavailableError, match="nope.pth"):  # an explicit path is never skipped
        build_lineup([f"retinaface:{no_default.parent / 'nope.pth'}"])


def test_build_peer_from_a_release_file(release):
    from featherface import FaceDetector

    model, path = release
    ok, where = peer_status(f"retinaface:{path}")
    assert ok and where == str(path)
    det = build_peer(f"retinaface:{path}", score_threshold=0.3, nms_threshold=0.3, input_size=64)
    assert det.name == f"retinaface:{path.name}" and det.input_size == 64
    assert det.config.neck == "fpn" and det.post.score_threshold == 0.3 and det.post.nms_threshold == 0.3
    assert describe_detector(det)[:2] == ("longer side 64", True)
    ref = FaceDetector(model, weights=None, score_threshold=0.3, nms_threshold=0.3, input_size=64)
    img = _image()
    a, b = det.detect(img), ref.detect(img)
    assert len(a) == len(b)
    for fa, fb in zip(a, b):
        assert np.allclose(fa.box, fb.box, atol=1e-3) and fa.landmarks is not None


def test_default_file_from_env(release, monkeypatch):
    _, path = release
    monkeypatch.setenv(RETINAFACE_ENV, str(path))
    assert peer_status("retinaface") == (True, str(path))
    assert build_peer("retinaface").name == "retinaface"


def test_wrong_file_is_an_error_not_a_skip(tmp_path):
    from featherface.errors import WeightsError

    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError):
        build_peer(f"retinaface:{bad}")


def test_cli_compare_with_retinaface_peer(release, tmp_path, monkeypatch, capsys):
    import featherface.peers.factory as factory
    from featherface.cli import main

    _, path = release
    monkeypatch.setattr(factory, "default_weights_available", lambda model: False)
    monkeypatch.setenv("FEATHERFACE_PEERS_DIR", str(tmp_path / "no-peers"))  # yunet: skipped
    img = tmp_path / "a.jpg"
    cv2.imwrite(str(img), _image(64, 64))
    before = torch.get_num_threads()
    try:
        rc = main(["compare", str(img), "--peers", f"yunet,retinaface:{path}", "--repeats", "1",
                   "--score-threshold", "0.9", "--json", str(tmp_path / "o.json"), "--threads", "1"])
    finally:
        torch.set_num_threads(before)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert f"| retinaface:{path.name} | original | yes |" in out
    assert "skipped yunet" in err
    data = json.loads((tmp_path / "o.json").read_text())
    assert [d["name"] for d in data["detectors"]] == [f"retinaface:{path.name}"]


@pytest.mark.shared
def test_real_release_file_as_peer(example_image, monkeypatch):
    if not SHARED_RELEASE.is_file():
        pytest.skip(f"{SHARED_RELEASE} is not present")
    monkeypatch.delenv(RETINAFACE_ENV, raising=False)
    monkeypatch.delenv("FEATHERFACE_PEERS_DIR", raising=False)
    assert peer_status("retinaface") == (True, str(SHARED_RELEASE))
    det = build_peer("retinaface", score_threshold=0.5)
    faces = det.detect(example_image)
    assert len(faces) == 1 and faces[0].score > 0.99
    x1, y1, x2, y2 = faces[0].box
    assert abs(x1 - 178) < 10 and abs(y1 - 56) < 10 and abs(x2 - 270) < 10 and abs(y2 - 176) < 10

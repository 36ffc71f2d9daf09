"""The shared folder is located in one place (featherface.io.paths): $FEATHERFACE_SHARED_DIR, else
``../shared`` beside the checkout; the narrower overrides of the peers and RetinaFace still win."""

from __future__ import annotations

from pathlib import Path

import featherface
from featherface.export.quantize import CALIBRATION_ENV, default_calibration_dir
from featherface.io.paths import SHARED_ENV, find_shared, shared_dir, source_checkout
from featherface.peers import PEERS_ENV, peers_dir
from featherface.peers.retinaface import RETINAFACE_ENV, RETINAFACE_FILE, default_retinaface_weights


def test_default_is_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(SHARED_ENV, raising=False)
    assert source_checkout() == Path(featherface.__file__).resolve().parents[1]
    assert shared_dir() == source_checkout().parent / "shared"


def test_env_override_moves_every_default(monkeypatch, tmp_path):
    for env in (PEERS_ENV, RETINAFACE_ENV, CALIBRATION_ENV):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv(SHARED_ENV, str(tmp_path))
    assert shared_dir() == tmp_path
    assert peers_dir() == tmp_path / "peers"
    assert default_retinaface_weights() == tmp_path / "weights" / RETINAFACE_FILE
    assert find_shared("data", "photos") is None and default_calibration_dir() is None
    (tmp_path / "data" / "photos").mkdir(parents=True)
    assert find_shared("data", "photos") == tmp_path / "data" / "photos" == default_calibration_dir()


def test_narrower_overrides_still_win(monkeypatch, tmp_path):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    monkeypatch.setenv(PEERS_ENV, str(tmp_path / "p"))
    monkeypatch.setenv(RETINAFACE_ENV, str(tmp_path / "r.pth"))
    monkeypatch.setenv(CALIBRATION_ENV, str(tmp_path / "c"))
    assert peers_dir() == tmp_path / "p"
    assert default_retinaface_weights() == tmp_path / "r.pth"
    assert default_calibration_dir() == tmp_path / "c"


def test_find_shared_without_the_override_also_looks_beside_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(SHARED_ENV, raising=False)
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared" / "data" / "only-here").mkdir(parents=True)
    monkeypatch.chdir(work)
    assert find_shared("data", "only-here") == tmp_path / "shared" / "data" / "only-here"
    assert find_shared("data", "nowhere-at-all") is None

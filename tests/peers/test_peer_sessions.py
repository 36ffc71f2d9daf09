"""Peer onnxruntime sessions go through make_session; its failures make the peer unavailable."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("onnxruntime")

from featherface.peers.base import PeerUnavailableError, onnxruntime_session  # noqa: E402


def test_unreadable_file_makes_the_peer_unavailable(tmp_path):
    bad = tmp_path / "peer.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(PeerUnavailableError, match="cannot load it"):
        onnxruntime_session(bad, threads=1)


def test_missing_onnxruntime_makes_the_peer_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(PeerUnavailableError, match=r"featherface\[onnx\].*UltraFace"):
        onnxruntime_session(tmp_path / "peer.onnx")

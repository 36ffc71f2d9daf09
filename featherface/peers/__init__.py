"""Adapters for other projects' face detectors (YuNet, UltraFace, OpenCV Haar), for comparisons.

Every adapter satisfies :class:`featherface.types.Detector` (``name``, ``detect(image) ->
list[Face]`` in original pixels, landmarks in our order or ``None``). Model files are read by
path, never shipped: see :func:`peers_dir` and :func:`build_peer`. Turning the commands' detector
specs (ours, RetinaFace, the peers, fused auto-label teachers) into detectors is
:mod:`featherface.peers.factory`.
"""

from __future__ import annotations

from featherface.peers.base import PEERS_ENV, PeerUnavailableError, peers_dir
from featherface.peers.registry import PEERS, PeerInfo, build_peer, list_peers, parse_spec, peer_status

__all__ = [
    "PEERS",
    "PEERS_ENV",
    "PeerInfo",
    "PeerUnavailableError",
    "build_peer",
    "list_peers",
    "parse_spec",
    "peer_status",
    "peers_dir",
]

"""The user's cache folder of the package (on-the-fly ONNX exports and what points at them).

``$FEATHERFACE_CACHE/<kind>`` or ``~/.cache/featherface/<kind>`` (``$XDG_CACHE_HOME`` honoured),
a temporary folder if that is not writable. One home, so the exporter that writes a file and the
detector that finds it again without torch agree on the place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(kind: str = "onnx") -> Path:
    """The cache folder for ``kind`` (created on demand)."""
    env = os.environ.get("FEATHERFACE_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "featherface"
    d = base / kind
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return d
    except OSError:
        d = Path(tempfile.gettempdir()) / f"featherface-{kind}"
        d.mkdir(parents=True, exist_ok=True)
        return d

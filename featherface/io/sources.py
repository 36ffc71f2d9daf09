"""How long a video source may keep a run waiting: the options of :class:`featherface.io.video.VideoReader`.

Here, without OpenCV, so that the command line's ``--open-timeout`` / ``--read-timeout`` take their
defaults from the one place that defines them without loading OpenCV for ``--help``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_OPEN_TIMEOUT_S", "DEFAULT_READ_TIMEOUT_S", "MAX_TIMEOUT_S", "SourceTimeouts", "default_timeouts",
           "set_default_timeouts"]

# seconds a source may take to open (and give its first frame), and between two frames
DEFAULT_OPEN_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 86400.0


@dataclass(frozen=True)
class SourceTimeouts:
    """How long a video source may keep us waiting, in seconds.

    ``open_s``: to open the source and deliver its first frame (a silent RTSP/HTTP server, a FIFO
    no writer ever opens, a camera that never starts). ``read_s``: between two frames once it runs
    (a stream or FIFO that stalls). Past either the source is a failed input, never a finished one:
    without them a FIFO blocked forever and a stalled MJPEG stream ended as "processed" after ~30 s.
    Defaults: :data:`DEFAULT_OPEN_TIMEOUT_S`, :data:`DEFAULT_READ_TIMEOUT_S`, or the environment
    variables ``FEATHERFACE_OPEN_TIMEOUT`` / ``FEATHERFACE_READ_TIMEOUT``."""

    open_s: float = DEFAULT_OPEN_TIMEOUT_S
    read_s: float = DEFAULT_READ_TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("open_s", "read_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v <= MAX_TIMEOUT_S):
                raise ValueError(f"{name} must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {v!r}")

    @classmethod
    def from_env(cls) -> "SourceTimeouts":
        """The defaults, overridden by ``FEATHERFACE_OPEN_TIMEOUT`` / ``FEATHERFACE_READ_TIMEOUT``."""
        kw = {}
        for field_name, var in (("open_s", "FEATHERFACE_OPEN_TIMEOUT"), ("read_s", "FEATHERFACE_READ_TIMEOUT")):
            raw = os.environ.get(var)
            if raw:
                try:
                    kw[field_name] = float(raw)
                except ValueError:
                    raise ValueError(f"{var}={raw!r} is not a number of seconds") from None
        return cls(**kw)


_default_timeouts: list[SourceTimeouts] = []


def default_timeouts() -> SourceTimeouts:
    """The timeouts a :class:`VideoReader` uses when given none (see :func:`set_default_timeouts`)."""
    return _default_timeouts[-1] if _default_timeouts else SourceTimeouts.from_env()


def set_default_timeouts(timeouts: SourceTimeouts | None) -> None:
    """Make ``timeouts`` the process default (``None``: back to the defaults and environment);
    what the command line's ``--open-timeout`` / ``--read-timeout`` do."""
    _default_timeouts.clear()
    if timeouts is not None:
        _default_timeouts.append(timeouts)

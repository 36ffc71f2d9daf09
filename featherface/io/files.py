"""Whether a path named as an input file (weights, checkpoint, ONNX model...) can be read as one.

One answer for every loader: a FIFO or a device is named for what it is instead of "not found"
(``Path.is_file`` is false for it) or "empty (0 bytes)" (its size is 0), and is never opened —
opening a FIFO without a writer blocks for ever. Images have their own guard in
:func:`featherface.io.images.read_image`; videos, which may be FIFOs, :mod:`featherface.io.video`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["file_problem"]


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a readable regular file ("not found", "is a directory", "is a FIFO,
    not a regular file"...), or ``None`` when it is one. Never opens the path."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return "not found"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special")
    return f"is {kind}, not a regular file"

"""``--device`` / ``device=`` strings checked once, at the edge, with a one-line :class:`ConfigError`.

torch accepts ``torch.device("cuda")`` on a machine without CUDA and only fails at the first
tensor moved there (an ``AssertionError`` deep inside ``torch.cuda``); ``"bogus"`` raises a
``RuntimeError`` listing twenty device types. :func:`resolve_device` turns both into one line.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import torch

from featherface.errors import ConfigError

__all__ = ["resolve_device", "torch_threads"]

_threads_lock = threading.Lock()
_threads_depth = 0
_threads_saved = 0


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the process's setting.

    For small tensor work between network calls (post-processing): torch's second OpenMP worker
    keeps spinning after each parallel op, and on a 2-core machine it takes a core from the next
    onnxruntime call (measured: 640² latency with 2 threads 21 -> 15 ms). Safe across Python
    threads: the first to enter saves the setting and the last to leave restores it."""
    global _threads_depth, _threads_saved
    with _threads_lock:
        if _threads_depth == 0:
            _threads_saved = torch.get_num_threads()
            if _threads_saved != n:
                torch.set_num_threads(n)
        _threads_depth += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_depth -= 1
            if _threads_depth == 0 and torch.get_num_threads() != _threads_saved:
                torch.set_num_threads(_threads_saved)


def resolve_device(device: Any, option: str = "device") -> Any:
    """``None``/``"auto"`` -> CUDA when available, else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    (checked against the GPUs present), ``"mps"``; a ``torch.device`` is checked the same way."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise ConfigError(f"{option} must be a string such as 'cpu', 'cuda' or 'cuda:1', got {type(device).__name__}")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(f"{option} {device!r} is not a device: use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"{option} {device!r}: CUDA is not available ({why}); use --device cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ConfigError(f"{option} {device!r}: only {n} CUDA device(s) present (cuda:0..cuda:{n - 1})")
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"{option} {device!r}: MPS is not available on this machine; use --device cpu")
        return dev
    raise ConfigError(f"{option} {device!r} is not supported: use cpu, cuda, cuda:N or auto")

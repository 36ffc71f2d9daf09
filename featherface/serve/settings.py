"""Settings of the HTTP service: one dataclass, read by the CLI verb and by :func:`create_app`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from featherface.errors import ConfigError
from featherface.inference.options import DetectorOptions

__all__ = ["ServeSettings"]


@dataclass
class ServeSettings:
    """What ``featherface serve`` runs with (the CLI flags have the same names).

    ``workers`` inference sessions serve requests in parallel; up to ``queue`` more wait for one
    (beyond that: HTTP 429). Each session gets ``threads`` CPU threads (default: the cores divided
    among the workers, so N workers do not oversubscribe the machine).
    """

    host: str = "127.0.0.1"  # loopback unless told otherwise: a detector is not a public service by default
    port: int = 8000
    model: str = "featherface-v2-ultra"
    weights: str | None = "default"
    backend: str = "auto"  # as FaceDetector(): onnxruntime for weights files (an exported graph cached once)
    workers: int = 1
    threads: int | None = None
    queue: int = 16
    token: str | None = None  # bearer token required on /v1/* and /metrics when set
    max_upload_mb: float = 20.0
    timeout_s: float = 30.0  # longest a request may wait and run; then HTTP 503
    score_threshold: float = DetectorOptions.score_threshold  # defaults of the per-request query options
    nms_threshold: float = DetectorOptions.nms_threshold

    def __post_init__(self) -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"serve: {msg}")

        if not isinstance(self.port, int) or not (0 <= self.port <= 65535):
            raise bad(f"port must be 0-65535, got {self.port!r}")
        if not isinstance(self.workers, int) or not (1 <= self.workers <= 64):
            raise bad(f"workers must be 1-64, got {self.workers!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise bad(f"threads must be a positive integer, got {self.threads!r}")
        if not isinstance(self.queue, int) or self.queue < 0:
            raise bad(f"queue must be >= 0, got {self.queue!r}")
        for name in ("max_upload_mb", "timeout_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (0 < float(v) < 1e6):
                raise bad(f"{name} must be a positive number, got {v!r}")
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise bad("token must be a non-empty string without spaces")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    def session_threads(self) -> int:
        """CPU threads of each inference session."""
        if self.threads is not None:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.workers)

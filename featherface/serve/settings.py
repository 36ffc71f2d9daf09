"""Settings of the HTTP service: one dataclass, read by the CLI verb and by :func:`create_app`."""

from __future__ import annotations

import os
from dataclasses import InitVar, dataclass, field
from typing import Any

from featherface.errors import ConfigError
from featherface.inference.options import DetectorOptions

__all__ = ["ServeSettings", "DETECTOR_KEYWORDS"]

# the DetectorOptions fields ServeSettings took as its own keywords before it held a DetectorOptions:
# still accepted (ServeSettings(threads=1)) and readable (settings.score_threshold), read from ``detector``
DETECTOR_KEYWORDS = ("model", "weights", "backend", "threads", "score_threshold", "nms_threshold")
_KEEP: Any = object()  # "keyword not given": None is a value (weights=None: random, threads=None: computed)


@dataclass
class ServeSettings:
    """What ``featherface serve`` runs with (the CLI flags have the same names).

    ``workers`` inference sessions serve requests in parallel; up to ``queue`` more wait for one
    (beyond that: HTTP 429). Each session is a detector built from ``detector`` (a
    :class:`DetectorOptions`: the service repeats none of its defaults), with ``detector.threads``
    CPU threads (default: the cores divided among the workers, so N workers do not oversubscribe
    the machine). ``ServeSettings(threads=2, score_threshold=0.6)`` still works: the detector's
    keywords (:data:`DETECTOR_KEYWORDS`) set the fields of ``detector`` and read them back.
    """

    host: str = "127.0.0.1"  # loopback unless told otherwise: a detector is not a public service by default
    port: int = 8000
    # the sessions' detector: model, weights, backend, threads (None: the cores divided among the
    # workers) and the defaults of the per-request query options (score/NMS threshold)
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    workers: int = 1
    queue: int = 16
    token: str | None = None  # bearer token required on /v1/* and /metrics when set
    max_upload_mb: float = 20.0
    timeout_s: float = 30.0  # longest a request may wait and run; then HTTP 503
    # per-request bounds: what one client may make the server decode, compute and send back
    max_megapixels: float = 50.0  # pixels an upload may declare (read from its header, before decoding): 413
    max_input_size: int = 1280  # largest ?input_size= (a 1x1 upload at 4096 cost 7 s and 1 GB): 400
    max_crop_megapixels: float = 16.0  # faces x size^2 of one /v1/crop answer (e.g. 1275 crops of 112^2): 422
    max_response_mb: float = 32.0  # largest answer body: 422
    # slow and idle clients: headers must arrive within header_timeout_s of connecting (or of the
    # last answer on a kept-alive connection), the upload within upload_timeout_s (408)
    header_timeout_s: float = 10.0
    upload_timeout_s: float = 30.0
    max_connections: int = 256  # open connections; more get HTTP 503 at once
    # DETECTOR_KEYWORDS, as keywords: they replace the field of ``detector`` (not stored twice)
    model: InitVar[Any] = _KEEP
    weights: InitVar[Any] = _KEEP
    backend: InitVar[Any] = _KEEP
    threads: InitVar[Any] = _KEEP
    score_threshold: InitVar[Any] = _KEEP
    nms_threshold: InitVar[Any] = _KEEP

    def __post_init__(self, *given: Any) -> None:
        changes = {k: v for k, v in zip(DETECTOR_KEYWORDS, given) if v is not _KEEP}
        if not isinstance(self.detector, DetectorOptions):
            raise ConfigError(f"serve: detector must be a DetectorOptions, got {type(self.detector).__name__}")
        if changes:
            self.detector = self.detector.replace(**changes)
        self._check()

    def _check(self) -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"serve: {msg}")

        if not isinstance(self.port, int) or not (0 <= self.port <= 65535):
            raise bad(f"port must be 0-65535, got {self.port!r}")
        if not isinstance(self.workers, int) or not (1 <= self.workers <= 64):
            raise bad(f"workers must be 1-64, got {self.workers!r}")
        threads = self.detector.threads
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise bad(f"threads must be a positive integer, got {threads!r}")
        if not isinstance(self.queue, int) or self.queue < 0:
            raise bad(f"queue must be >= 0, got {self.queue!r}")
        if not isinstance(self.max_input_size, int) or not (32 <= self.max_input_size <= 4096) \
                or self.max_input_size % 32:
            raise bad(f"max_input_size must be a multiple of 32 in 32-4096, got {self.max_input_size!r}")
        if not isinstance(self.max_connections, int) or not (1 <= self.max_connections <= 100_000):
            raise bad(f"max_connections must be 1-100000, got {self.max_connections!r}")
        for name in ("max_upload_mb", "timeout_s", "max_megapixels", "max_crop_megapixels", "max_response_mb",
                     "header_timeout_s", "upload_timeout_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (0 < float(v) < 1e6):
                raise bad(f"{name} must be a positive number, got {v!r}")
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise bad("token must be a non-empty string without spaces")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1e6)

    @property
    def max_crop_pixels(self) -> int:
        return int(self.max_crop_megapixels * 1e6)

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 2**20)

    def session_threads(self) -> int:
        """CPU threads of each inference session."""
        if self.detector.threads is not None:
            return self.detector.threads
        return max(1, (os.cpu_count() or 1) // self.workers)


def _detector_field(name: str) -> property:
    def get(self: ServeSettings) -> Any:
        return getattr(self.detector, name)

    def put(self: ServeSettings, value: Any) -> None:
        self.detector = self.detector.replace(**{name: value})

    return property(get, put, doc=f"``detector.{name}`` (the keyword ServeSettings took before it held one)")


# set after the class is built: the generated __init__ has kept the InitVars' defaults
for _name in DETECTOR_KEYWORDS:
    setattr(ServeSettings, _name, _detector_field(_name))
del _name

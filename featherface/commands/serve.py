"""``featherface serve``: the detector over HTTP (JSON API + a browser page), on uvicorn."""

from __future__ import annotations

import argparse
import os

from featherface.commands.argtypes import int_range, positive_float
from featherface.commands.options import add_detector_args, detector_options
from featherface.serve.settings import ServeSettings

_S = ServeSettings()


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="serve the detector over HTTP (JSON API and a browser page)",
                       description="Run an HTTP service: POST /v1/detect, /v1/blur, /v1/crop (an image as the body "
                                   "or a multipart file), GET /v1/models, /healthz, /metrics, and a page at / to try "
                                   "photos or the webcam. Binds to 127.0.0.1 unless --host says otherwise. Needs "
                                   "pip install 'featherface[serve]'.")
    p.add_argument("--host", default=_S.host, help="address to bind (default: %(default)s, this machine only; "
                                                   "0.0.0.0 serves the network)")
    p.add_argument("--port", type=int_range(0, 65535, name="port"), default=_S.port, help="TCP port (default: %(default)s)")
    add_detector_args(p, ["model", "weights", "backend", "threads", "score_threshold", "nms_threshold"],
                      helps={"threads": "CPU threads per worker (default: the cores divided among the workers)",
                             "score_threshold": "default score threshold of requests (a request's "
                                                "?score_threshold= overrides it)"},
                      defaults={"threads": None})
    p.add_argument("--workers", type=int_range(1, 64, name="workers"), default=_S.workers,
                   help="inference sessions serving requests in parallel (default: %(default)s)")
    p.add_argument("--queue", type=int_range(0, 10_000, name="queue"), default=_S.queue,
                   help="requests that may wait for a session; more get HTTP 429 (default: %(default)s)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on /v1/* and /metrics (default: $FEATHERFACE_SERVE_TOKEN, "
                        "else no token)")
    p.add_argument("--max-upload-mb", type=positive_float, default=_S.max_upload_mb,
                   help="largest accepted upload in MiB; larger: HTTP 413 (default: %(default)s)")
    p.add_argument("--timeout", type=positive_float, default=_S.timeout_s, dest="timeout_s",
                   help="seconds a request may wait and run; then HTTP 503 (default: %(default)s)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn log level (default: %(default)s)")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The :class:`ServeSettings` of the parsed flags (the token falls back to $FEATHERFACE_SERVE_TOKEN)."""
    opts = detector_options(args)
    return ServeSettings(host=args.host, port=args.port, model=opts.model, weights=opts.weights,
                         backend=opts.backend, workers=args.workers, threads=args.threads, queue=args.queue,
                         token=args.token or os.environ.get("FEATHERFACE_SERVE_TOKEN") or None,
                         max_upload_mb=args.max_upload_mb, timeout_s=args.timeout_s,
                         score_threshold=opts.score_threshold, nms_threshold=opts.nms_threshold)


def run(args: argparse.Namespace) -> int:
    # the serve extra (uvicorn, starlette, anyio, prometheus_client): imported on use, so the other
    # verbs and ``featherface --help`` work without it
    import uvicorn

    from featherface.serve.app import create_app
    from featherface.serve.pool import DetectorPool

    settings = settings_from_args(args)
    pool = DetectorPool.from_settings(settings)  # bad weights / model fail here, before the port is bound
    app = create_app(settings, pool)
    where = f"http://{settings.host}:{settings.port}/"
    print(f"featherface serve: {pool.info['name']} x {settings.workers} worker(s), "
          f"{pool.info['threads_per_worker']} thread(s) each, on {where}"
          + (" (bearer token required)" if settings.token else ""), flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                timeout_graceful_shutdown=10)
    return 0

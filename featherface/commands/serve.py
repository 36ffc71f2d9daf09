"""``featherface serve``: the detector over HTTP (JSON API + a browser page), on uvicorn."""

from __future__ import annotations

import argparse
import errno
import os
import socket

from featherface.commands.argtypes import int_range, positive_float
from featherface.commands.options import add_detector_args, detector_options
from featherface.errors import ConfigError
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
    p.add_argument("--max-megapixels", type=positive_float, default=_S.max_megapixels,
                   help="most pixels an upload may declare, read from its header before decoding; more: HTTP 413 "
                        "(default: %(default)s)")
    p.add_argument("--max-input-size", type=int_range(32, 4096, name="size"), default=_S.max_input_size,
                   help="largest ?input_size= a request may ask for, a multiple of 32 (default: %(default)s)")
    p.add_argument("--max-crop-megapixels", type=positive_float, default=_S.max_crop_megapixels,
                   help="faces x size^2 of one /v1/crop answer; more: HTTP 422 (default: %(default)s)")
    p.add_argument("--max-response-mb", type=positive_float, default=_S.max_response_mb,
                   help="largest answer in MiB; larger: HTTP 422 (default: %(default)s)")
    p.add_argument("--header-timeout", type=positive_float, default=_S.header_timeout_s, dest="header_timeout_s",
                   help="seconds a connection may take to send its request headers; then it is closed "
                        "(default: %(default)s)")
    p.add_argument("--upload-timeout", type=positive_float, default=_S.upload_timeout_s, dest="upload_timeout_s",
                   help="seconds an upload may take to arrive; then HTTP 408 (default: %(default)s)")
    p.add_argument("--max-connections", type=int_range(1, 100_000, name="connections"), default=_S.max_connections,
                   help="open connections at once; more get HTTP 503 (default: %(default)s)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn log level (default: %(default)s)")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The :class:`ServeSettings` of the parsed flags (the token falls back to $FEATHERFACE_SERVE_TOKEN)."""
    return ServeSettings(host=args.host, port=args.port, detector=detector_options(args), workers=args.workers,
                         queue=args.queue, token=args.token or os.environ.get("FEATHERFACE_SERVE_TOKEN") or None,
                         max_upload_mb=args.max_upload_mb, timeout_s=args.timeout_s,
                         max_megapixels=args.max_megapixels, max_input_size=args.max_input_size,
                         max_crop_megapixels=args.max_crop_megapixels, max_response_mb=args.max_response_mb,
                         header_timeout_s=args.header_timeout_s, upload_timeout_s=args.upload_timeout_s,
                         max_connections=args.max_connections)


def run(args: argparse.Namespace) -> int:
    # the serve extra (uvicorn, starlette, anyio, prometheus_client): imported on use, so the other
    # verbs and ``featherface --help`` work without it
    import uvicorn

    from featherface.serve.app import create_app
    from featherface.serve.pool import DetectorPool

    from featherface.serve.protocol import uvicorn_options

    settings = settings_from_args(args)
    pool = DetectorPool.from_settings(settings)  # bad weights / model fail here, before the port is bound
    app = create_app(settings, pool)
    sock = listen(settings.host, settings.port)  # a busy port: one line, before anything is announced
    where = f"http://{settings.host}:{sock.getsockname()[1]}/"
    print(f"featherface serve: {pool.info['name']} x {settings.workers} worker(s), "
          f"{pool.info['threads_per_worker']} thread(s) each, on {where}"
          + (" (bearer token required)" if settings.token else ""), flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=10, **uvicorn_options(settings))
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a port in use or an address that is not this
    machine's is a :class:`ConfigError` naming it (uvicorn logged 7 lines and exited 3)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: not an address of this machine ({exc.strerror or exc})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        hint = "; another server is using it: pick another --port" if exc.errno == errno.EADDRINUSE else ""
        raise ConfigError(f"cannot listen on {host}:{port}: {why}{hint}") from None
    sock.set_inheritable(True)
    return sock

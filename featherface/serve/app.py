"""The Starlette application of ``featherface serve``.

Request flow: bearer-token check -> body read with a hard size cap (413) and a deadline (408) ->
header checks (415 not an image, 413 more pixels declared than ``max_megapixels``) -> admission
(429 when every session is busy and the queue is full) -> in a worker thread, with one pooled
detector exclusively: decode (400 damaged), detect, crop or blur, encode the answer (422 past the
crop or response limits) -> the bytes are sent. The event loop itself only moves bytes, so
``/healthz`` answers at once while every worker is busy. Every failure is a JSON body
``{"error": {"status": ..., "message": ...}}``; a bug is logged on the server and answered with a
plain 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
from importlib import resources
from typing import Any, Awaitable, Callable

import anyio
import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from featherface.errors import FeatherFaceError, ImageError
from featherface.inference.anonymize import anonymize_image
from featherface.inference.results import Results
from featherface.io.image_header import image_header_size, is_known_image
from featherface.io.images import decode_image, encode_image
from featherface.ops.align import CROP_MARGIN_RANGE, CROP_SIZE_RANGE, CropOptions
from featherface.ops.anonymize import ANONYMIZE_MODES, ANONYMIZE_SHAPES, MARGIN_RANGE, AnonymizeOptions
from featherface.serve.pool import DetectorPool, Overloaded, detect_with
from featherface.serve.settings import ServeSettings

__all__ = ["create_app", "HTTPError"]

log = logging.getLogger("featherface.serve")


class HTTPError(Exception):
    """An expected failure with its HTTP status and a one-line message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# the endpoints that take an image upload (admitted by the upload semaphore of create_app)
UPLOAD_ENDPOINTS = ("detect", "blur", "crop")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


# ------------------------------------------------------------------ query options

def _query_float(request: Request, name: str, default: float, lo: float, hi: float) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = float(raw)
    except ValueError:
        raise HTTPError(400, f"query option {name}={raw!r} is not a number") from None
    if not (lo <= v <= hi):
        raise HTTPError(400, f"query option {name}={raw} is outside [{lo:g}, {hi:g}]")
    return v


def _query_int(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise HTTPError(400, f"query option {name}={raw!r} is not a whole number")
    v = int(raw)
    if not (lo <= v <= hi):
        raise HTTPError(400, f"query option {name}={raw} is outside [{lo}, {hi}]")
    return v


def _query_bool(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise HTTPError(400, f"query option {name}={raw!r} is not true/false")


def _query_choice(request: Request, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = request.query_params.get(name, default)
    if raw not in choices:
        raise HTTPError(400, f"query option {name}={raw!r}: use one of {', '.join(choices)}")
    return raw


def _detect_options(request: Request, settings: ServeSettings) -> dict[str, Any]:
    size = _query_int(request, "input_size", None, 32, settings.max_input_size)
    if size is not None and size % 32:
        raise HTTPError(400, f"query option input_size={size} must be a multiple of 32")
    return {
        "score_threshold": _query_float(request, "score_threshold", settings.detector.score_threshold, 0.0, 1.0),
        "nms_threshold": _query_float(request, "nms_threshold", settings.detector.nms_threshold, 0.01, 1.0),
        "input_size": size,
    }


# ------------------------------------------------------------------ body reading

async def _read_capped(request: Request, limit: int, timeout_s: float = 30.0) -> bytes:
    """The request body, refusing (413) as soon as it passes ``limit`` bytes — announced or not —
    and (408) when it has not all arrived ``timeout_s`` seconds after the headers (a slow client
    holds a connection, not a worker, but must not hold it for ever)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"upload of {int(declared):,} bytes is larger than the {limit:,}-byte limit")
    chunks, total = [], 0
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    raise HTTPError(413, f"upload is larger than the {limit:,}-byte limit")
                chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPError(400, "the client closed the connection before the upload ended") from None
    except TimeoutError:
        raise HTTPError(408, f"the upload did not arrive within {timeout_s:g} s ({total:,} bytes came)") from None
    return b"".join(chunks)


async def _read_upload(request: Request, settings: ServeSettings) -> bytes:
    """The uploaded image's bytes (a raw body, or the first file of a multipart form), checked
    without decoding: an image format we read, declaring at most ``settings.max_megapixels``."""
    body = await _read_capped(request, settings.max_upload_bytes, settings.upload_timeout_s)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        # parsing a 20 MB form takes ~0.8 s of Python: in a thread, not on the event loop
        body = await anyio.to_thread.run_sync(_multipart_file_sync, body, ctype)
    if not body:
        raise HTTPError(400, "no image in the request (send the image as the body or as a multipart file)")
    if not is_known_image(body):
        raise HTTPError(415, "the upload is not an image (PNG, JPEG, BMP, WebP, TIFF, GIF, PNM or JPEG 2000)")
    size = image_header_size(body)
    if size is not None and size[0] * size[1] > settings.max_pixels:
        raise HTTPError(413, f"the upload declares {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:,.0f} Mpx), "
                             f"above this server's {settings.max_megapixels:g} Mpx limit; send a smaller image")
    return body


def _decode(body: bytes, settings: ServeSettings) -> np.ndarray:
    """Decode an upload checked by :func:`_read_upload` (in a worker thread: decoding is the slow part)."""
    try:
        image = decode_image(body, "upload")
    except ImageError as exc:
        raise HTTPError(400, str(exc)) from None
    h, w = image.shape[:2]
    if h * w > settings.max_pixels:  # a format whose header we do not parse
        raise HTTPError(413, f"the upload is {w}x{h} pixels, above this server's {settings.max_megapixels:g} Mpx limit")
    return image


def _json_bytes(doc: Any, settings: ServeSettings) -> bytes:
    """``doc`` as JSON, refused (422) past the response limit."""
    data = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return _capped_answer(data, settings)


def _capped_answer(data: bytes, settings: ServeSettings) -> bytes:
    if len(data) > settings.max_response_bytes:
        raise HTTPError(422, f"the answer would be {len(data):,} bytes, above this server's "
                             f"{settings.max_response_bytes:,}-byte limit; ask for fewer or smaller results")
    return data


def _multipart_file_sync(body: bytes, ctype: str) -> bytes:
    """:func:`_multipart_file` on an event loop of its own (called in a worker thread)."""
    return asyncio.run(_multipart_file(body, ctype))


async def _multipart_file(body: bytes, ctype: str) -> bytes:
    """The first file part of an already size-checked multipart body."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", ctype.encode("latin-1"))]}
    try:
        form = await Request(scope, receive).form(max_files=1, max_fields=20)
    except Exception as exc:  # noqa: BLE001 - python-multipart raises several types for bad forms
        raise HTTPError(400, f"malformed multipart form ({type(exc).__name__})") from None
    for value in form.values():
        if hasattr(value, "read"):
            return await value.read()
    raise HTTPError(400, "the multipart form holds no file (send the image as a file field, e.g. 'image')")


# ------------------------------------------------------------------ the app

def create_app(settings: ServeSettings | None = None, pool: DetectorPool | None = None) -> Starlette:
    """The ASGI application. ``pool``: ready detector sessions (built from ``settings`` when omitted)."""
    settings = settings or ServeSettings()
    pool = pool or DetectorPool.from_settings(settings)
    registry = CollectorRegistry()
    requests_total = Counter("featherface_requests", "HTTP requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("featherface_request_seconds", "request latency", ["endpoint"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
    inflight = Gauge("featherface_inflight", "requests admitted and not yet answered", registry=registry)
    faces_total = Counter("featherface_faces", "faces returned", registry=registry)

    def authorised(request: Request) -> bool:
        if settings.token is None:
            return True
        got = request.headers.get("authorization", "")
        return hmac.compare_digest(got.encode(), f"Bearer {settings.token}".encode())

    def endpoint(name: str, protected: bool = True) -> Callable[[Callable[[Request], Awaitable[Response]]],
                                                                Callable[[Request], Awaitable[Response]]]:
        def wrap(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            async def handler(request: Request) -> Response:
                t0 = time.perf_counter()
                try:
                    if protected and not authorised(request):
                        resp: Response = _error(401, "missing or wrong bearer token (Authorization: Bearer ...)")
                    elif name in UPLOAD_ENDPOINTS:
                        resp = await admitted(fn, request)
                    else:
                        resp = await fn(request)
                except HTTPError as exc:
                    resp = _error(exc.status, exc.message)
                except Overloaded as exc:
                    resp = _error(429, str(exc))
                except TimeoutError:
                    resp = _error(503, f"the request did not finish within {settings.timeout_s:g} s; try again")
                except FeatherFaceError as exc:
                    resp = _error(400, str(exc).splitlines()[0])
                except Exception:  # noqa: BLE001 - the client gets a status, the log gets the traceback
                    log.exception("serve: %s failed", name)
                    resp = _error(500, "internal error (logged on the server)")
                requests_total.labels(name, str(resp.status_code)).inc()
                latency.labels(name).observe(time.perf_counter() - t0)
                return resp
            return handler
        return wrap

    # uploads held in memory at once: one per session and queue place (more: 429 before the body is
    # read), so bodies take at most (workers + queue) x max_upload_mb
    uploads = anyio.Semaphore(pool.size + pool.queue_limit)

    async def admitted(fn: Callable[[Request], Awaitable[Response]], request: Request) -> Response:
        if uploads.value == 0:
            raise Overloaded(f"{pool.size + pool.queue_limit} upload(s) are already being served; retry shortly")
        async with uploads:
            return await fn(request)

    async def run_job(job: Callable[[Any], Any]) -> tuple[Any, float, float]:
        """``job(detector)`` on a pooled detector in a worker thread -> (result, queue s, run s)."""
        inflight.inc()
        try:
            with anyio.fail_after(settings.timeout_s):
                return await pool.run(job)
        finally:
            inflight.dec()

    @endpoint("detect")
    async def detect(request: Request) -> Response:
        t0 = time.perf_counter()
        opts = _detect_options(request, settings)
        landmarks = _query_bool(request, "landmarks", True)
        body = await _read_upload(request, settings)
        t_read = time.perf_counter()

        def job(det: Any) -> tuple[dict[str, Any], int, float]:
            t = time.perf_counter()
            image = _decode(body, settings)
            t_decoded = time.perf_counter()
            faces = detect_with(det, image, **opts)
            record = Results(faces, image=image).to_dict(landmarks=landmarks)  # the record every verb writes
            return record, len(faces), t_decoded - t

        (record, n, decode_s), queued, ran = await run_job(job)
        faces_total.inc(n)
        return JSONResponse({
            "model": pool.info["name"],
            "image": {"width": record["width"], "height": record["height"]},
            "faces": record["faces"],
            "timings_ms": {"read_decode": round((t_read - t0 + decode_s) * 1000, 2), "queue": round(queued * 1000, 2),
                           "detect": round((ran - decode_s) * 1000, 2),
                           "total": round((time.perf_counter() - t0) * 1000, 2)},
        })

    @endpoint("blur")
    async def blur(request: Request) -> Response:
        opts = _detect_options(request, settings)
        base = AnonymizeOptions()  # the query options' defaults, as blur's flags and anonymize_image's
        anon = base.replace(mode=_query_choice(request, "mode", base.mode, ANONYMIZE_MODES),
                            shape=_query_choice(request, "shape", base.shape, ANONYMIZE_SHAPES),
                            margin=_query_float(request, "margin", base.margin, *MARGIN_RANGE))
        fmt = _query_choice(request, "format", "jpeg", ("jpeg", "png"))
        body = await _read_upload(request, settings)

        def job(det: Any) -> tuple[bytes, int]:
            image = _decode(body, settings)

            class _Bound:  # the request's options on every detection pass
                name = det.name

                @staticmethod
                def detect(img: np.ndarray) -> list[Any]:
                    return detect_with(det, img, **opts)

            out, faces = anonymize_image(image, _Bound(), **anon.kwargs())
            data = encode_image(out, ".png" if fmt == "png" else ".jpg", () if fmt == "png" else (1, 92))
            return _capped_answer(data, settings), len(faces)

        (data, n), _, _ = await run_job(job)
        return Response(data, media_type=f"image/{fmt}", headers={"X-Faces": str(n)})

    @endpoint("crop")
    async def crop(request: Request) -> Response:
        opts = _detect_options(request, settings)
        base = CropOptions()  # the query options' defaults, as crop's flags and Face.align's
        crop_opts = base.replace(size=_query_int(request, "size", base.size, *CROP_SIZE_RANGE),
                                 margin=_query_float(request, "margin", base.margin, *CROP_MARGIN_RANGE))
        body = await _read_upload(request, settings)
        side = crop_opts.size

        def job(det: Any) -> bytes:
            image = _decode(body, settings)
            faces = detect_with(det, image, **opts)
            aligned = [(f, d) for f, d in zip(faces, Results(faces, image=image).to_dict()["faces"])
                       if f.landmarks is not None]
            if len(aligned) * side * side > settings.max_crop_pixels:  # before any crop is made
                raise HTTPError(422, f"{len(aligned)} faces x {side}x{side} crops is "
                                     f"{len(aligned) * side * side / 1e6:,.1f} Mpx, above this server's "
                                     f"{settings.max_crop_megapixels:g} Mpx limit; ask for a smaller size")
            crops = []
            for f, d in aligned:
                png = encode_image(f.align(image, size=side, margin=crop_opts.margin), ".png")
                crops.append({**d, "crop_png_base64": base64.b64encode(png).decode("ascii")})
            return _json_bytes({"model": pool.info["name"], "size": side, "margin": crop_opts.margin, "faces": crops},
                               settings)

        data, _, _ = await run_job(job)
        return Response(data, media_type="application/json")

    @endpoint("healthz", protected=False)
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": pool.info["name"], "workers": pool.size,
                             "busy": pool.busy, "waiting": pool.waiting})

    @endpoint("models")
    async def models(request: Request) -> Response:
        return JSONResponse({"models": [pool.info]})

    @endpoint("metrics")
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    page_html = resources.files("featherface.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @endpoint("page", protected=False)
    async def page(request: Request) -> Response:
        return HTMLResponse(page_html)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _error(status, "no such endpoint" if status == 404 else "method not allowed")

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/detect", detect, methods=["POST"]),
        Route("/v1/blur", blur, methods=["POST"]),
        Route("/v1/crop", crop, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.pool = pool
    app.state.settings = settings
    return app

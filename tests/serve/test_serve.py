"""``featherface serve`` through a real HTTP server and client: results equal the library's,
errors are JSON with the right status, overload is refused, and a bounded load test has 0 errors."""

from __future__ import annotations

import base64
import concurrent.futures as futures
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from featherface import FaceDetector
from featherface.io.images import decode_image, encode_image, read_image
from featherface.serve.settings import ServeSettings
from featherface.errors import ConfigError

from .conftest import httpx, running

from featherface.serve.app import create_app  # noqa: E402  (after the importorskip in conftest)
from featherface.serve.pool import DetectorPool  # noqa: E402


@pytest.fixture(scope="module")
def app_url(example_image_module):
    settings = ServeSettings(workers=2, threads=1, queue=8)
    app = create_app(settings)
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def example_image_module() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def test_detect_equals_the_library(app_url: str, example_image_module: Path) -> None:
    data = example_image_module.read_bytes()
    lib = [f.to_dict() for f in FaceDetector(threads=1).detect(read_image(example_image_module))]
    assert lib, "the demo face must be found"
    r = httpx.post(f"{app_url}/v1/detect", content=data, headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["faces"] == lib
    assert body["image"] == {"width": 512, "height": 512}
    assert set(body["timings_ms"]) == {"read_decode", "queue", "detect", "total"}
    # multipart upload, per-request options
    r = httpx.post(f"{app_url}/v1/detect?score_threshold=0.9&landmarks=false",
                   files={"image": ("a.jpg", data, "image/jpeg")}, timeout=30)
    assert r.status_code == 200, r.text
    faces = r.json()["faces"]
    assert [f["box"] for f in faces] == [f["box"] for f in lib if f["score"] >= 0.9]
    assert all("landmarks" not in f for f in faces)


def test_blur_and_crop(app_url: str, example_image_module: Path) -> None:
    data = example_image_module.read_bytes()
    r = httpx.post(f"{app_url}/v1/blur?mode=pixelate&format=png", content=data, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert int(r.headers["x-faces"]) >= 1
    blurred = decode_image(r.content)
    assert blurred.shape == (512, 512, 3)
    assert FaceDetector(threads=1).detect(blurred) == []
    r = httpx.post(f"{app_url}/v1/crop?size=112", content=data, timeout=30)
    assert r.status_code == 200
    crops = r.json()["faces"]
    assert crops and decode_image(base64.b64decode(crops[0]["crop_png_base64"])).shape == (112, 112, 3)


def test_info_endpoints(app_url: str) -> None:
    assert httpx.get(f"{app_url}/healthz").json()["status"] == "ok"
    (m,) = httpx.get(f"{app_url}/v1/models").json()["models"]
    assert m["name"] == "featherface-v2-ultra" and m["params"] > 200_000 and len(m["weights_sha256"]) == 64
    assert m["weights"] and "/" not in m["weights"] and "\\" not in m["weights"]  # a name, never the server's path
    page = httpx.get(f"{app_url}/")
    assert page.status_code == 200 and "<canvas" in page.text and "/v1/detect" in page.text
    metrics = httpx.get(f"{app_url}/metrics").text
    assert "featherface_requests_total" in metrics and 'endpoint="healthz"' in metrics


@pytest.mark.parametrize("path,kwargs,status,words", [
    ("/v1/detect", {"content": b"hello, not an image"}, 415, "not an image"),
    ("/v1/detect", {"content": b"\xff\xd8\xff\xe0" + b"\x00" * 64}, 400, "cannot decode"),
    ("/v1/detect", {"content": b""}, 400, "no image"),
    ("/v1/detect?score_threshold=2", {"content": b"x"}, 400, "score_threshold"),
    ("/v1/detect?input_size=33", {"content": b"x"}, 400, "multiple of 32"),
    ("/v1/blur?mode=smear", {"content": b"x"}, 400, "mode"),
    ("/v1/nothing", {"content": b"x"}, 404, "no such endpoint"),
    ("/v1/detect", {"files": {"note": ("a.txt", b"text", "text/plain")}, "data": {"a": "b"}}, 415, "not an image"),
])
def test_bad_requests_get_json_errors(app_url: str, path: str, kwargs: dict, status: int, words: str) -> None:
    r = httpx.post(f"{app_url}{path}", timeout=30, **kwargs)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["status"] == status and words in err["message"] and "Traceback" not in r.text


def test_upload_limit_token_and_overload() -> None:
    gate = threading.Event()

    class Slow:
        name = "slow"

        def detect(self, image, **kw):
            gate.wait(10)
            return []

    settings = ServeSettings(workers=1, queue=1, max_upload_mb=0.01, token="s3cret", timeout_s=5)
    app = create_app(settings, DetectorPool([Slow()], queue=1, info={"name": "slow"}))
    img = encode_image(np.full((64, 64, 3), 128, np.uint8), ".png")
    auth = {"Authorization": "Bearer s3cret"}
    with running(app) as url:
        assert httpx.post(f"{url}/v1/detect", content=img).status_code == 401
        assert httpx.post(f"{url}/v1/detect", content=img, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(f"{url}/healthz").status_code == 200  # health needs no token
        big = httpx.post(f"{url}/v1/detect", content=b"\x89PNG" + b"\0" * 20_000, headers=auth)
        assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
        with futures.ThreadPoolExecutor(4) as ex:
            jobs = [ex.submit(httpx.post, f"{url}/v1/detect", content=img, headers=auth, timeout=30) for _ in range(3)]
            time.sleep(1.0)  # one running, one waiting: the third is refused at once
            gate.set()
            codes = sorted(j.result().status_code for j in jobs)
        assert codes == [200, 200, 429]


def test_timeout_is_503_and_the_session_comes_back() -> None:
    class Stuck:
        name = "stuck"
        delay = 1.5

        def detect(self, image, **kw):
            time.sleep(Stuck.delay)
            return []

    app = create_app(ServeSettings(workers=1, timeout_s=0.3), DetectorPool([Stuck()], queue=4, info={"name": "stuck"}))
    img = encode_image(np.full((64, 64, 3), 128, np.uint8), ".png")
    with running(app) as url:
        r = httpx.post(f"{url}/v1/detect", content=img, timeout=30)
        assert r.status_code == 503 and "did not finish" in r.json()["error"]["message"]
        Stuck.delay = 0.0
        time.sleep(1.5)  # the stuck call finishes and returns its session
        assert httpx.post(f"{url}/v1/detect", content=img, timeout=30).status_code == 200


def test_bounded_load_has_no_errors_and_the_same_faces(app_url: str, example_image_module: Path) -> None:
    """8 concurrent clients for a few seconds (the 20 s run is benchmarks/serve_load.py)."""
    data = example_image_module.read_bytes()
    expected = httpx.post(f"{app_url}/v1/detect", content=data, timeout=30).json()["faces"]
    stop = time.monotonic() + 4.0
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = c.post(f"{app_url}/v1/detect", content=data)
                with lock:
                    lat.append(time.perf_counter() - t)
                    if r.status_code != 200 or r.json()["faces"] != expected:
                        errors.append(f"{r.status_code} {r.text[:80]}")

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(lat) >= 8


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="workers"):
        ServeSettings(workers=0)
    with pytest.raises(ConfigError, match="token"):
        ServeSettings(token="a b")
    assert ServeSettings(workers=4, threads=None).session_threads() >= 1


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG signature + IHDR claiming width x height (a decompression bomb's header)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + b"\x00" * 64)


def test_bad_uploads_each_get_a_4xx_and_the_server_keeps_serving(app_url: str, example_image_module: Path) -> None:
    good = example_image_module.read_bytes()
    cases = {
        "empty": (b"", {}, 400),
        "truncated": (good[: len(good) // 2], {}, 400),
        "decompression bomb": (_png_declaring(40000, 40000), {}, 413),  # refused from its header
        "a PDF": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", {"Content-Type": "application/pdf"}, 415),
        "multipart header, raw body": (good, {"Content-Type": "multipart/form-data; boundary=xyz"}, 400),
        "21 MB": (b"\xff\xd8" + b"\0" * (21 * 2**20), {}, 413),
    }
    for what, (body, headers, status) in cases.items():
        r = httpx.post(f"{app_url}/v1/detect", content=body, headers=headers, timeout=60)
        assert r.status_code == status, (what, r.status_code, r.text[:200])
        assert r.json()["error"]["status"] == status, what
        assert httpx.get(f"{app_url}/healthz", timeout=10).status_code == 200, f"server down after {what}"

    def one_gigabyte():  # streamed without a Content-Length: the cap must still stop it early
        chunk = b"\xff\xd8" + b"\0" * (2**20 - 2)
        for _ in range(1024):
            yield chunk

    t = time.monotonic()
    try:
        r = httpx.post(f"{app_url}/v1/detect", content=one_gigabyte(), timeout=60)
        assert r.status_code == 413
    except httpx.TransportError:
        pass  # the server may close the connection while the client is still sending
    assert time.monotonic() - t < 30, "the server read far past its upload limit"
    r = httpx.post(f"{app_url}/v1/detect", content=good, timeout=30)
    assert r.status_code == 200 and r.json()["faces"]

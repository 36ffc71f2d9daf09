"""Frames from files, folders, videos and stream URLs, detected one by one."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from featherface import FaceDetector
from featherface.errors import ImageError
from featherface.inference.stream import iter_frames, stream_faces
from featherface.io.images import read_image


def make_pan_zoom_clip(image: np.ndarray, path: Path, frames: int = 24, size: tuple[int, int] = (320, 240),
                       fps: float = 12.0) -> Path:
    """A clip that pans across and zooms into ``image`` (known motion, for stream and track tests)."""
    h, w = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        t = i / max(1, frames - 1)
        zoom = 1.0 + 0.5 * t
        cw, ch = int(w / zoom), int(h / zoom)
        x0 = int((w - cw) * (0.3 + 0.4 * t))
        y0 = int((h - ch) * 0.4)
        writer.write(cv2.resize(image[y0:y0 + ch, x0:x0 + cw], size, interpolation=cv2.INTER_AREA))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory, example_image_module) -> Path:
    return make_pan_zoom_clip(read_image(example_image_module), tmp_path_factory.mktemp("clip") / "pan.mp4")


@pytest.fixture(scope="module")
def example_image_module() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(threads=1)


def test_video_frames_with_timestamps_and_faces(clip: Path, detector: FaceDetector) -> None:
    results = list(stream_faces(detector, clip))
    assert [r.index for r in results] == list(range(24))
    assert results[0].timestamp == pytest.approx(0.0, abs=1e-6)
    assert results[-1].timestamp == pytest.approx(23 / 12.0, abs=0.02)
    assert sum(bool(r.faces) for r in results) >= 20  # the face stays in view while the camera moves
    d = results[3].to_dict()
    assert d["frame"] == 3 and d["file"] == str(clip) and "time" in d and isinstance(d["faces"], list)
    assert (d["width"], d["height"]) == (320, 240)
    every = list(stream_faces(detector, clip, every=5, keep_frames=False))
    assert [r.index for r in every] == [0, 5, 10, 15, 20] and every[0].frame is None


def test_folders_images_and_file_urls(tmp_path: Path, clip: Path, example_image_module: Path,
                                      detector: FaceDetector) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(example_image_module.read_bytes())
    (folder / "b.mp4").write_bytes(clip.read_bytes())
    names = [(Path(n).name, i) for n, i, _, _ in iter_frames(folder)]
    assert names[0] == ("a.jpg", 0) and len(names) == 25 and names[1] == ("b.mp4", 0)
    one = list(stream_faces(detector, example_image_module))
    assert len(one) == 1 and one[0].timestamp is None and one[0].faces
    assert len(list(iter_frames(clip.as_uri()))) == 24


def _mjpeg_server(frames: list[bytes]) -> http.server.ThreadingHTTPServer:
    """A loopback MJPEG camera (multipart/x-mixed-replace, what IP cameras serve) sending ``frames``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for jpg in frames:
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg))
                self.wfile.write(jpg + b"\r\n")

        def log_message(self, *args: object) -> None:
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def test_http_mjpeg_stream_from_a_loopback_server(clip: Path, detector: FaceDetector) -> None:
    """A network source: an MJPEG camera stream served by a server the test starts and stops."""
    jpgs = [cv2.imencode(".jpg", f)[1].tobytes() for _, _, _, f in iter_frames(clip)][:12]
    server = _mjpeg_server(jpgs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
        results = list(stream_faces(detector, url))
        assert 10 <= len(results) <= 12 and results[0].source == url
        assert sum(bool(r.faces) for r in results) >= 8
    finally:
        server.shutdown()
        thread.join(5)


def test_bad_sources_are_one_line_errors(tmp_path: Path, clip: Path) -> None:
    with pytest.raises(ImageError, match="camera 97: cannot open"):
        list(iter_frames(97))
    with pytest.raises(ImageError, match="cannot open the stream"):
        list(iter_frames("http://127.0.0.1:9/nothing.mp4"))
    with pytest.raises(ImageError, match="no such file"):
        list(iter_frames(tmp_path / "missing.mp4"))
    # a video cut short mid-way: the good frames come first, then a one-line error
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    got = []
    try:
        for item in iter_frames(cut):
            got.append(item)
    except ImageError as exc:
        assert "cut.mp4" in str(exc) and "\n" not in str(exc)
    assert len(got) < 24

"""Audio carried over to a re-encoded video: packets copied unchanged, interleaved, optional PyAV."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from featherface.io import audio as audio_mod

av = pytest.importorskip("av")


def make_clip(path: Path, seconds: float = 1.0, fps: int = 10, with_audio: bool = True) -> int:
    """An mpeg4 clip of moving grey squares, with a 440 Hz AAC tone; returns the audio packet count."""
    n_audio = 0
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        a = out.add_stream("aac", rate=16000) if with_audio else None
        for i in range(int(seconds * fps)):
            img = np.full((64, 96, 3), 60, np.uint8)
            img[10:40, 5 + 5 * i:35 + 5 * i] = 200
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            t = np.arange(int(16000 * seconds)) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(tone), 1024):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
                frame.sample_rate = 16000
                frame.pts = start
                frame.time_base = Fraction(1, 16000)
                for p in a.encode(frame):
                    out.mux(p)
                    n_audio += 1
            for p in a.encode():
                out.mux(p)
                n_audio += 1
    return n_audio


def streams(path: Path) -> dict[str, int]:
    with av.open(str(path)) as c:
        counts = {"video": 0, "audio": 0}
        for p in c.demux():
            if p.dts is not None:
                counts[p.stream.type] += 1
    return counts


def test_audio_packets_are_copied_beside_our_video(tmp_path: Path) -> None:
    src = tmp_path / "talk.mp4"
    n_audio = make_clip(src)
    ours = tmp_path / "ours.mp4"
    make_clip(ours, with_audio=False)  # stands in for the anonymised, silent video
    out = tmp_path / "out.mp4"
    assert audio_mod.copy_audio(src, ours, out) == 1
    got = streams(out)
    assert got["audio"] == streams(src)["audio"] and got["audio"] >= n_audio - 2
    assert got["video"] == streams(ours)["video"]


def test_a_silent_source_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "silent.mp4"
    make_clip(src, with_audio=False)
    out = tmp_path / "out.mp4"
    assert audio_mod.copy_audio(src, src, out) == 0 and not out.exists()


def test_blur_keeps_the_sound_and_says_so_without_pyav(tmp_path: Path, monkeypatch, capsys) -> None:
    import featherface.inference.detector as detector_module
    from featherface.cli import main
    from tests.fuzz.conftest import stub_detector

    monkeypatch.setattr(detector_module, "FaceDetector", stub_detector)
    src = tmp_path / "talk.mp4"
    make_clip(src)
    doc = tmp_path / "a.json"
    assert main(["blur", str(src), "-o", str(tmp_path / "out"), "--json", str(doc), "--quiet"]) == 0
    entry = json.loads(doc.read_text())["results"][0]
    assert entry["audio"] == "copied"
    assert streams(Path(entry["output"]))["audio"] == streams(src)["audio"] > 0
    monkeypatch.setattr(audio_mod, "audio_copy_available", lambda: False)
    assert main(["blur", str(src), "-o", str(tmp_path / "out2"), "--json", str(doc), "--quiet"]) == 0
    assert json.loads(doc.read_text())["results"][0]["audio"] == "no PyAV"
    assert "pip install 'featherface[video]'" in capsys.readouterr().out

"""What the media verbs (``detect``, ``blur``, ``crop``) share: inputs that may be images, folders,
videos, cameras or URLs, their detector flags, output names that never overwrite one another or an
input, and the writer of annotated videos — one home for all three.

The image and video readers (OpenCV) are imported where they are used: every verb's module is
imported for ``featherface --help``, which must not load OpenCV.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from featherface.commands.argtypes import float_range, nonneg_int, positive_int
from featherface.commands.options import add_detector_args
from featherface.io.outputs import InputSet, atomic_output, write_text
from featherface.io.sources import DEFAULT_OPEN_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S, MAX_TIMEOUT_S

# the detector flags of every verb that runs our detector over images and videos (detect, blur, crop)
MEDIA_DETECTOR_FLAGS = ("model", "weights", "score_threshold", "nms_threshold", "input_size", "max_size",
                        "tile", "tile_size", "tile_overlap", "vote_iou", "device", "backend", "onnx_path", "threads")
# a file name is at most 255 bytes; keep "<stem>_faces-NN.jpg" and its ".<name>.XXXXXXXX.tmp"
# temporary sibling well inside that
MAX_STEM_BYTES = 180

_seconds = float_range(0.0, MAX_TIMEOUT_S, lo_open=True)

INPUT_HELP = "image files, folders, video files, a camera index (0) or a stream URL (rtsp://, http://...)"


def add_media_args(p: argparse.ArgumentParser) -> None:
    """Inputs, detector and tracking options common to the media verbs."""
    p.add_argument("paths", nargs="+", help=INPUT_HELP)
    add_detector_args(p, MEDIA_DETECTOR_FLAGS, title="detector")
    p.add_argument("--force", action="store_true",
                   help="let outputs replace files already in --output (else they take a numbered name: -2, -3...)")
    p.add_argument("--every", type=positive_int, default=1, help="process every N-th video frame (default: 1)")
    p.add_argument("--track", action="store_true",
                   help="follow faces across video frames (stable IDs, faces kept through missed frames; "
                        "needs pip install 'featherface[track]')")
    add_max_missed_arg(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_source_args(p)


def add_max_missed_arg(p: argparse.ArgumentParser) -> None:
    """``--max-missed``: one spelling and default for every verb that tracks (detect, blur, crop)."""
    p.add_argument("--max-missed", type=nonneg_int, default=5,
                   help="with --track: frames a face stays followed without a detection (default: 5)")


def add_source_args(p: argparse.ArgumentParser) -> None:
    """``--open-timeout`` / ``--read-timeout``: how long a video, FIFO, camera or stream may keep
    the run waiting (a source past either is a failed input); applied by :func:`apply_source_args`."""
    p.add_argument("--open-timeout", type=_seconds, default=None, metavar="S",
                   help="seconds a video, FIFO, camera or stream URL may take to open and give its first frame; "
                        f"then it is a failed input (default: {DEFAULT_OPEN_TIMEOUT_S:g}, "
                        "or FEATHERFACE_OPEN_TIMEOUT)")
    p.add_argument("--read-timeout", type=_seconds, default=None, metavar="S",
                   help="seconds a running video source may go without a frame (a stalled stream or FIFO); then it is "
                        f"a failed input (default: {DEFAULT_READ_TIMEOUT_S:g}, or FEATHERFACE_READ_TIMEOUT)")


def apply_source_args(args: argparse.Namespace) -> None:
    """Make the parsed ``--open-timeout`` / ``--read-timeout`` the process's source timeouts
    (the CLI calls this before a verb that has them runs)."""
    from dataclasses import replace

    from featherface.io.sources import SourceTimeouts, set_default_timeouts

    given = {k: v for k, v in (("open_s", getattr(args, "open_timeout", None)),
                               ("read_s", getattr(args, "read_timeout", None))) if v is not None}
    set_default_timeouts(replace(SourceTimeouts.from_env(), **given))


def expand_media(paths: list[str]) -> tuple[list[str | Path], InputSet]:
    """Inputs in order (stream sources kept as given, folders expanded) and the set of input files
    (no output may replace one)."""
    from featherface.io.images import expand_inputs  # OpenCV: on use (see the module docstring)
    from featherface.io.video import is_stream_source

    out: list[str | Path] = []
    files: list[Path] = []
    for p in paths:
        if is_stream_source(p) and not str(p).lower().startswith("file://"):
            out.append(p)
        else:
            found = expand_inputs([p])
            out.extend(found)
            files.extend(found)
    return out, InputSet(files)


def source_stem(source: str | Path) -> str:
    """A file-name stem for an input: the file's stem, ``camera0``, or the URL's last part."""
    from featherface.io.video import is_stream_source  # OpenCV: on use (see the module docstring)

    s = str(source)
    if isinstance(source, Path) or not is_stream_source(s):
        return Path(s).stem or "input"
    if s.isdigit():
        return f"camera{s}"
    tail = s.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(tail).stem)[:60] or "stream"


def short_stem(stem: str) -> str:
    """``stem`` cut to :data:`MAX_STEM_BYTES` bytes of UTF-8 (never inside a character)."""
    b = stem.encode("utf-8", "surrogateescape")
    if len(b) <= MAX_STEM_BYTES:
        return stem
    return b[:MAX_STEM_BYTES].decode("utf-8", "ignore") or "image"


def output_name(out_dir: Path, stem: str, tag: str, suffix: str, used: set[str], avoid: Any = (),
                replace: bool = False, renamed: list[Path] | None = None) -> Path:
    """``<stem><tag><suffix>``, or ``<stem><tag>-2<suffix>``... when an earlier input of this run
    already took that name (``a.jpg`` and ``a.png``, or ``x/a.jpg`` and ``y/a.jpg``), when the
    name is one of the run's inputs (``avoid``: ``detect DIR -o DIR`` over a ``a_faces.jpg`` of the
    user's own), or — unless ``replace`` (``--force``) — when a file of that name is already there
    (an earlier run's, another run's writing into the same folder): one output must never
    silently overwrite another's, nor an input, nor what was there before. ``renamed`` collects
    the outputs that moved aside only because of a file already there (for the summary)."""
    stem = short_stem(stem)
    name, k, existed = f"{stem}{tag}{suffix}", 1, False
    while True:
        taken = name.lower() in used or (out_dir / name) in avoid
        there = not replace and (out_dir / name).exists()
        if not (taken or there):
            break
        existed = existed or (there and not taken)
        k += 1
        name = f"{stem}{tag}-{k}{suffix}"
    used.add(name.lower())
    if existed and renamed is not None:
        renamed.append(out_dir / name)
    return out_dir / name


def renamed_note(renamed: list[Path], out_dir: Path) -> str | None:
    """The summary's note on outputs that took a new name because a file of theirs was already there."""
    n = len(renamed)
    if not n:
        return None
    return (f"note: {n} output(s) in {out_dir} took a numbered name (-2, -3...) because a file of that name "
            "was already there; --force replaces such files instead")


def is_still(source: str | Path) -> bool:
    from featherface.io.video import is_stream_source, is_video_path  # OpenCV: on use (module docstring)

    return not is_stream_source(str(source)) and not is_video_path(Path(source))


class VideoOut:
    """An annotated video written under a temporary name and renamed when complete (opened at the first frame)."""

    def __init__(self, target: Path, fps: float) -> None:
        self.target, self.fps = target, fps
        self._ctx: Any = None
        self._tmp: Path | None = None
        self._writer: Any = None

    def write(self, frame: Any) -> None:
        from featherface.io.video import open_video_writer  # OpenCV: on use (see the module docstring)

        if self._writer is None:
            self._ctx = atomic_output(self.target)
            self._tmp = self._ctx.__enter__()
            h, w = frame.shape[:2]
            self._writer = open_video_writer(self._tmp, self.fps, (w, h), name=self.target)
        self._writer.write(frame)

    def close(self, ok: bool = True, audio_from: str | Path | None = None) -> str | None:
        """Finish the file (renamed into place only when ``ok``). ``audio_from``: a source video
        whose audio is copied in (needs PyAV); returns what became of the audio: ``"copied"``,
        ``"none"`` (the source has none), ``"no PyAV"``, ``"failed: ..."``, or ``None`` (not asked)."""
        audio = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.release()  # checks the file: a full disk is an OutputError naming it
            except BaseException:
                self._ctx.__exit__(*sys.exc_info())  # no half-written video is left behind
                raise
            if ok and audio_from is not None and self._tmp is not None:
                audio = self._mux_audio(audio_from, self._tmp)
            exc = (None, None, None) if ok else (RuntimeError, RuntimeError("incomplete"), None)
            self._ctx.__exit__(*exc)
        return audio

    @staticmethod
    def _mux_audio(source: str | Path, tmp: Path) -> str:
        from featherface.io.audio import audio_copy_available, copy_audio

        if not audio_copy_available():
            return "no PyAV"
        muxed = tmp.with_name(tmp.name[:-len(tmp.suffix)] + ".a" + tmp.suffix)  # a temporary of the same family
        try:
            n = copy_audio(source, tmp, muxed)
            if n:
                os.replace(muxed, tmp)
            return "copied" if n else "none"
        except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg errors: the video stays, without sound
            with contextlib.suppress(OSError):
                muxed.unlink()
            return f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


@contextlib.contextmanager
def progress(total: int | None, desc: str, quiet: bool) -> Iterator[Any]:
    bar = tqdm(total=total, desc=desc, unit="frame", disable=quiet, leave=False, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()

def write_results_doc(target: str | None, json_path: Path | None, det: Any, score_threshold: float,
                      results: list[dict[str, Any]], interrupted: bool = False,
                      aborted: BaseException | None = None) -> None:
    """The ``--json`` document of ``detect`` (also its ``--ray`` path): the detector, its threshold and every
    input's record; to stdout for ``-``, else written to ``json_path`` through the output layer."""
    doc: dict[str, Any] = {"model": det.name, "weights": str(det.weights_path) if det.weights_path else None,
                           "score_threshold": score_threshold, "results": results}
    if interrupted:
        doc["interrupted"] = True
    if aborted is not None:
        doc["aborted"] = f"{type(aborted).__name__}: {aborted}"
    if target == "-":
        json.dump(doc, sys.stdout, indent=1)
        print()
    elif json_path is not None:
        write_text(json_path, json.dumps(doc, indent=1))

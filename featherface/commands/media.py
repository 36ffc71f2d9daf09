"""What the media verbs (``detect``, ``blur``, ``crop``) share: inputs that may be images, folders,
videos, cameras or URLs, their detector flags, output names that never overwrite one another or an
input, and the writer of annotated videos — one home for all three.

The image and video readers (OpenCV) are imported where they are used: every verb's module is
imported for ``featherface --help``, which must not load OpenCV.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from featherface.commands.argtypes import nonneg_int, positive_int
from featherface.commands.options import add_detector_args
from featherface.io.outputs import InputSet, atomic_output

# the detector flags of every verb that runs our detector over images and videos (detect, blur, crop)
MEDIA_DETECTOR_FLAGS = ("model", "weights", "score_threshold", "nms_threshold", "input_size", "max_size",
                        "device", "backend", "onnx_path", "threads")
# a file name is at most 255 bytes; keep "<stem>_faces-NN.jpg" and its ".<name>.XXXXXXXX.tmp"
# temporary sibling well inside that
MAX_STEM_BYTES = 180

INPUT_HELP = "image files, folders, video files, a camera index (0) or a stream URL (rtsp://, http://...)"


def add_media_args(p: argparse.ArgumentParser) -> None:
    """Inputs, detector and tracking options common to the media verbs."""
    p.add_argument("paths", nargs="+", help=INPUT_HELP)
    add_detector_args(p, MEDIA_DETECTOR_FLAGS, title="detector")
    p.add_argument("--every", type=positive_int, default=1, help="process every N-th video frame (default: 1)")
    p.add_argument("--track", action="store_true",
                   help="follow faces across video frames (stable IDs, faces kept through missed frames; "
                        "needs pip install 'featherface[track]')")
    p.add_argument("--max-missed", type=nonneg_int, default=5,
                   help="with --track: frames a face stays followed without a detection (default: 5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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


def output_name(out_dir: Path, stem: str, tag: str, suffix: str, used: set[str], avoid: Any = ()) -> Path:
    """``<stem><tag><suffix>``, or ``<stem><tag>-2<suffix>``... when an earlier input of this run
    already took that name (``a.jpg`` and ``a.png``, or ``x/a.jpg`` and ``y/a.jpg``) or when the
    name is one of the run's inputs (``avoid``: ``detect DIR -o DIR`` over a ``a_faces.jpg`` of the
    user's own): one input's output must never silently overwrite another's, nor an input."""
    stem = short_stem(stem)
    name, k = f"{stem}{tag}{suffix}", 1
    while name.lower() in used or (out_dir / name) in avoid:
        k += 1
        name = f"{stem}{tag}-{k}{suffix}"
    used.add(name.lower())
    return out_dir / name


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

    def close(self, ok: bool = True) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            exc = (None, None, None) if ok else (RuntimeError, RuntimeError("incomplete"), None)
            self._ctx.__exit__(*exc)


@contextlib.contextmanager
def progress(total: int | None, desc: str, quiet: bool) -> Iterator[Any]:
    bar = tqdm(total=total, desc=desc, unit="frame", disable=quiet, leave=False, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()

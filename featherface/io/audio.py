"""Carry a source video's audio over to a video we re-encoded (``featherface blur``).

Why: OpenCV's ``VideoWriter`` writes pictures only, so an anonymised interview or street clip lost
its sound. With PyAV installed (``pip install 'featherface[video]'``) the audio packets are copied
as they are — no re-encoding, no quality loss — next to the video packets of our file. Without
PyAV, or when the source has no audio, nothing happens and the caller says so.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Iterator

__all__ = ["audio_copy_available", "copy_audio"]


def audio_copy_available() -> bool:
    """Whether PyAV (the ``av`` package) is installed."""
    return importlib.util.find_spec("av") is not None


def copy_audio(source: str | os.PathLike[str], video: str | os.PathLike[str],
               output: str | os.PathLike[str]) -> int:
    """Write ``output``: the video stream of ``video`` plus the audio streams of ``source``, packets
    copied unchanged. Returns the number of audio streams copied; 0 (and no ``output``) when PyAV is
    missing or ``source`` has no audio. A source whose audio cannot be read raises ``av`` errors
    (``av.error.FFmpegError``), which the caller turns into a warning."""
    if not audio_copy_available():
        return 0
    import av  # optional dependency: only here

    with av.open(str(source)) as src:
        audio_in = [s for s in src.streams if s.type == "audio"]
        if not audio_in:
            return 0
        with av.open(str(video)) as vid, av.open(str(output), "w") as out:
            video_in = vid.streams.video[0]
            targets = {("v", video_in.index): out.add_stream_from_template(video_in)}
            targets.update({("a", s.index): out.add_stream_from_template(s) for s in audio_in})
            # interleave by time as we go: all video first would make the muxer hold the whole
            # video in memory until the first audio packet arrives
            streams = [_packets(vid.demux(video_in), "v"), _packets(src.demux(*audio_in), "a")]
            heads = [next(g, None) for g in streams]
            while any(h is not None for h in heads):
                k = min((i for i, h in enumerate(heads) if h is not None), key=lambda i: heads[i][0])
                _, tag, packet = heads[k]
                packet.stream = targets[(tag, packet.stream.index)]
                out.mux(packet)
                heads[k] = next(streams[k], None)
    return len(audio_in)


def _packets(demux: Iterator[Any], tag: str) -> Iterator[tuple[float, str, Any]]:
    """``(time in seconds, tag, packet)`` of a demuxer, without its end-of-stream markers."""
    for packet in demux:
        if packet.dts is None:
            continue
        yield float(packet.dts * packet.time_base), tag, packet

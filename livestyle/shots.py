"""A long video spread over workers (`livestyle batch --split-shots`): cut at its scene cuts, each shot
stylized on its own, the shots joined without re-encoding, with the original audio and timestamps.

Why at scene cuts: temporal coherence (temporal.TemporalStabilizer) starts afresh at every cut anyway, so
a shot stylized alone gives the frames a single run gives. The cuts are found by that same stabilizer
(`find_shots` feeds it the input frames at the size they are stylized), so they are exactly the frames where
a single run resets. Each shot also runs `overlap` frames before its cut, which warm coherence up and are
dropped (at a cut they change nothing; they would matter where a shot is not cut-aligned).

Pieces are encoded without B-frames, so packets in decode order have increasing timestamps and the pieces'
packets can be joined end to end (`join`), each keeping its original timestamp; the audio of the input is
copied in beside them. Every piece and the joined file are written atomically (atomic.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import av

from .atomic import atomic_output
from .config import StylizeConfig, TemporalConfig, VideoConfig

MIN_SHOT_FRAMES = 8  # a shorter shot (a flash, a fade's steps) joins the one before it
OVERLAP_FRAMES = 4


@dataclass
class Shot:
    index: int
    warm_pts: int  # the first frame run (the overlap before the cut)
    start_pts: int  # the first frame written: the cut
    end_pts: int | None  # the first frame of the next shot; None: to the end
    frames: int


def find_shots(path: str, stylize: StylizeConfig, temporal: TemporalConfig | None, *,
               overlap: int = OVERLAP_FRAMES, min_frames: int = MIN_SHOT_FRAMES) -> list[Shot]:
    """The shots of a video: where the frame step's temporal coherence resets (a scene cut, a time gap),
    at the size `stylize` gives the frames. Shots shorter than `min_frames` join the one before."""
    from .sinks import even_required
    from .sources import VideoFileSource
    from .temporal import TemporalStabilizer

    stab = TemporalStabilizer(temporal if temporal is not None and temporal.weight > 0 else TemporalConfig())
    need_even = any(even_required(VideoConfig().pix_fmt))
    starts, all_pts = [], []
    with VideoFileSource(path, max_side_px=stylize.max_side_px, size=stylize.size, even=need_even) as source:
        for frame, pts, _ in source:
            stab(frame, frame, time_s=float(pts * source.time_base))
            if stab.last.get("reset") is not None and (not starts or len(all_pts) - starts[-1] >= min_frames):
                starts.append(len(all_pts))
            all_pts.append(pts)
    shots = []
    for i, first in enumerate(starts):
        last = starts[i + 1] if i + 1 < len(starts) else len(all_pts)
        shots.append(Shot(i, all_pts[max(0, first - overlap)], all_pts[first],
                          all_pts[last] if last < len(all_pts) else None, last - first))
    return shots


def render_shot(in_path: str, out_path: str, step, mix, shot: Shot, stylize: StylizeConfig, video: VideoConfig,
                progress=None) -> int:
    """Stylize one shot of `in_path` into `out_path` (video only, no B-frames): frames from `shot.warm_pts` go
    through `step` (reset first), those from `shot.start_pts` up to `shot.end_pts` are written. Returns the
    frames written."""
    from .sinks import VideoFileSink, container_for, even_required
    from .sources import VideoFileSource

    step.reset()
    written = 0
    need_even = any(even_required(video.pix_fmt))
    with VideoFileSource(in_path, max_side_px=stylize.max_side_px, size=stylize.size, even=need_even,
                         start_pts=shot.warm_pts) as source, atomic_output(out_path, overwrite=True) as tmp:
        sink = VideoFileSink(tmp, source.width, source.height, rate=source.rate, time_base=source.time_base,
                             codec=video.codec, crf=video.crf, pix_fmt=video.pix_fmt, preset=video.preset,
                             format=container_for(out_path), b_frames=False)
        try:
            for frame, pts, duration in source:
                if shot.end_pts is not None and pts >= shot.end_pts:
                    break
                styled = step([frame], mix, times_s=[float(pts * source.time_base)])[0]
                if pts >= shot.start_pts:
                    sink.write(styled, pts, duration)
                    written += 1
                    if progress is not None:
                        progress(written)
        finally:
            sink.close()
    return written


def join(in_path: str, pieces: list[str], out_path: str, *, overwrite: bool = False) -> int:
    """The pieces' video packets end to end in `out_path`, with `in_path`'s audio copied in beside them
    (interleaved by time); nothing is re-encoded. Returns the number of video packets."""
    from .sinks import _AudioCarry, container_for

    packets = 0
    with atomic_output(out_path, overwrite=overwrite) as tmp:
        with av.open(pieces[0]) as first, av.open(tmp, "w", format=container_for(out_path)) as out:
            if out.format.name in ("mp4", "mov"):
                out.container_options["movflags"] = "+faststart"
            video = out.add_stream_from_template(first.streams.video[0])
            audio = _AudioCarry(in_path, out)
            try:
                for piece in pieces:
                    with av.open(piece) as c:
                        for packet in c.demux(c.streams.video[0]):
                            if packet.size == 0:
                                continue
                            t = packet.dts if packet.dts is not None else packet.pts
                            if t is not None:
                                audio.copy_until(float(t * packet.time_base))
                            packet.stream = video
                            out.mux(packet)
                            packets += 1
                audio.finish(None)
            finally:
                audio.close()
    return packets


def pieces_dir(out_path: str) -> str:
    """Where the shots of `out_path` are kept until joined: a hidden folder beside it."""
    head, name = os.path.split(out_path)
    return os.path.join(head, f".{name}.shots")

"""`livestyle video`: decode a file, stylize frames in batches, encode, carry the audio along.

With VideoConfig.pipelined (`--pipeline`), decoding and encoding run in their own threads beside the
network (VideoConfig.pipelined, on by default: with the one network it is 8-10 % faster on 2 cores;
`--no-pipeline` takes turns in one thread).

`stylize_video` runs a StreamStylizer (stylize.py) over the clip. Underneath, `transcode` takes any
callback `process(frames, times_s) -> frames` (Gatys video passes its own), always called with consecutive
frames in display order, so a stateful step (temporal coherence) can hook in there. Timestamps pass
through in the input stream's time base, so frame rate, variable frame rate and A/V sync are kept.

Nothing is lost: the output is written to a hidden temporary file beside it and renamed when
complete (atomic.py). On Ctrl-C the frames encoded so far are flushed into `<stem>.partial<ext>`
and VideoInterrupted says where; on any other error the temporary file is removed.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .atomic import atomic_output
from .io_threads import reader, writer
from .config import StylizeConfig, VideoConfig
from .images import check_size
from .sinks import VideoFileSink, check_encoder, container_for, even_required
from .sources import VideoFileSource
from .stylize import AUTO_COMPILE_MIN_FRAMES, StreamStylizer

log = logging.getLogger(__name__)


Process = Callable[[list[np.ndarray], list[float]], list[np.ndarray]]
MixAt = Callable[[list[float]], np.ndarray]  # frame times (s) -> (n_styles,) or (N, n_styles) mix
Progress = Callable[[int, "int | None"], None]


@dataclass
class VideoSummary:
    in_path: str
    out_path: str
    frames: int  # frames written
    width: int
    height: int
    seconds: float  # wall time of the whole run
    decode_s: float  # demux + decode + RGB conversion + rotation + resize (busy time: with
    #   VideoConfig.pipelined it runs in its own thread, beside the network)
    network_s: float  # the process callback (stylization)
    encode_s: float  # encode + mux, audio included, and the final flush (busy time, own thread too)
    skipped_frames: int = 0  # corrupt packets the decoder rejected
    frames_expected: int | None = None  # what the container header promised
    ended_early: bool = False  # the input could not be read to its end (truncated?)
    audio: list[str] = field(default_factory=list)  # e.g. ["aac copied"]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C during transcode / stylize_video. `kept_path` holds the first `frames_done` frames (None: nothing kept)."""

    def __init__(self, kept_path: str | None, frames_done: int, frames_total: int | None):
        self.kept_path, self.frames_done, self.frames_total = kept_path, frames_done, frames_total
        of = f" of {frames_total}" if frames_total else ""
        kept = (f"kept the first {frames_done} frames in {kept_path}" if kept_path
                else "nothing was written")
        super().__init__(f"interrupted at frame {frames_done}{of}; {kept}")


def partial_path(out_path: str | os.PathLike) -> str:
    """`<stem>.partial<ext>` beside the output; `<stem>.partial-2<ext>` ... if that exists already."""
    p = Path(out_path)
    candidate, n = p.with_name(f"{p.stem}.partial{p.suffix}"), 2
    while candidate.exists():
        candidate, n = p.with_name(f"{p.stem}.partial-{n}{p.suffix}"), n + 1
    return str(candidate)


def stylize_video(in_path: str | os.PathLike, out_path: str | os.PathLike, step: StreamStylizer,
                  mix_at: MixAt | np.ndarray, *, video_cfg: VideoConfig | None = None,
                  progress: Progress | None = None) -> VideoSummary:
    """Stylize every frame of `in_path` into `out_path` through the frame step `step` (network, strength,
    colour, temporal coherence), with the style mix `mix_at(times_s)` for each batch of frames (a
    schedule) or one fixed (n_styles,) mix. Frame size and batch size come from `step.cfg`."""
    fixed = None if callable(mix_at) else mix_at
    if step.cfg.compile == "auto":  # a short clip is done before a compile would pay (stylize.py)
        with VideoFileSource(str(in_path)) as probe:
            n = probe.frames_expected
        step.stylizer.compile_pays = n is None or n >= AUTO_COMPILE_MIN_FRAMES

    def process(frames: list[np.ndarray], times_s: list[float]) -> list[np.ndarray]:
        return step(frames, fixed if fixed is not None else mix_at(times_s), times_s=times_s)

    return transcode(in_path, out_path, process, video_cfg=video_cfg or VideoConfig(), stylize_cfg=step.cfg,
                     progress=progress)


def transcode(in_path: str | os.PathLike, out_path: str | os.PathLike, process: Process, *,
              video_cfg: VideoConfig, stylize_cfg: StylizeConfig, progress: Progress | None = None) -> VideoSummary:
    """Decode `in_path`, pass consecutive frames through `process(frames, times_s)` in batches of
    stylize_cfg.batch_size (sized by its max_side_px/size), encode into `out_path`; see the module
    docstring. `stylize_video` is this with a StreamStylizer; Gatys video passes its own process."""
    t_start = time.perf_counter()
    in_path, out_path = str(in_path), str(out_path)
    fmt = container_for(out_path)  # before decoding anything
    check_encoder(video_cfg.codec, video_cfg.crf)
    need_even = any(even_required(video_cfg.pix_fmt))  # round a resized size to even numbers
    decode_s = network_s = encode_s = 0.0

    t0 = time.perf_counter()
    with VideoFileSource(in_path, max_side_px=stylize_cfg.max_side_px, size=stylize_cfg.size,
                         even=need_even) as source:
        decode_s += time.perf_counter() - t0
        w, h = source.width, source.height
        check_size(in_path, w, h)
        need_w, need_h = even_required(video_cfg.pix_fmt)  # the source keeps odd sizes it is not asked to resize
        if (need_w and w % 2) or (need_h and h % 2):
            raise ValueError(f"{in_path}: {w}x{h} has odd dimensions but {video_cfg.pix_fmt} needs an even width "
                             "and height; pass --max-side PX or --size WxH to resize (sizes are rounded to even)")
        total = source.frames_expected
        time_base, start_pts = source.time_base, source.start_pts
        log.info("%s: %dx%d -> %dx%d, %s fps, ~%s frames", in_path, source.src_width, source.src_height,
                 w, h, source.rate, total)
        with atomic_output(out_path, overwrite=video_cfg.overwrite) as tmp:
            try:
                sink = VideoFileSink(tmp, w, h, rate=source.rate, time_base=time_base, codec=video_cfg.codec,
                                     crf=video_cfg.crf, pix_fmt=video_cfg.pix_fmt, audio_from=in_path,
                                     preset=video_cfg.preset,
                                     format=fmt)
            except ValueError as e:
                raise ValueError(str(e).replace(tmp, out_path)) from None  # name the file the user asked for
            done = 0
            frames = reader(source, video_cfg.pipelined)
            out = writer(sink, video_cfg.pipelined)
            try:
                batch: list = []
                items = iter(frames)
                while True:
                    item = next(items, None)
                    if item is not None:
                        batch.append(item)
                    if batch and (item is None or len(batch) == stylize_cfg.batch_size):
                        t0 = time.perf_counter()
                        times_s = [float((f.pts - start_pts) * time_base) for f in batch]
                        styled = process([f.frame for f in batch], times_s)
                        network_s += time.perf_counter() - t0
                        assert len(styled) == len(batch), f"process returned {len(styled)} frames for {len(batch)}"
                        for s, f in zip(styled, batch):
                            out.write(s, f.pts, f.duration)
                        done += len(batch)
                        batch = []
                        if progress is not None:
                            progress(done, total)
                    if item is None:
                        break
                out.finish()
                t0 = time.perf_counter()
                sink.close()
                encode_s += time.perf_counter() - t0
            except KeyboardInterrupt:
                # flush what was encoded (audio up to the same time) and keep it under a name that
                # says it is partial; the temporary file itself is removed by atomic_output
                frames.stop()
                out.abort()
                sink.close(audio_until_s=sink.end_s)
                kept = None
                if sink.frames_written:
                    kept = partial_path(out_path)
                    os.replace(tmp, kept)
                raise VideoInterrupted(kept, sink.frames_written, total) from None
            except BaseException:
                frames.stop()
                out.abort()
                sink.close(audio_until_s=sink.end_s)
                raise
            finally:
                decode_s += frames.busy_s
                encode_s += out.busy_s
            audio = sink.audio
        summary = VideoSummary(in_path, out_path, frames=done, width=w, height=h,
                               seconds=time.perf_counter() - t_start, decode_s=decode_s, network_s=network_s,
                               encode_s=encode_s, skipped_frames=source.skipped_frames,
                               frames_expected=total, ended_early=source.ended_early, audio=audio)
    log.info("%s: %d frames in %.1f s (decode %.1f s, network %.1f s, encode %.1f s), %d corrupt frames skipped",
             out_path, summary.frames, summary.seconds, decode_s, network_s, encode_s, summary.skipped_frames)
    return summary

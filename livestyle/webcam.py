"""The live loop: newest camera frame -> network with the current style mix -> temporal coherence ->
window / recording / stream / virtual camera, with keys that morph styles while it runs.

One loop, top to bottom, state in local variables (STYLE.md section 2). Latency is measured from the
moment the capture thread read a frame to the moment its stylized version was shown/sent.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Protocol

import cv2
import numpy as np
import torch

from .capture import LiveSource
from .controls import KEY_HELP, Controls
from .frames import fit_size, frame_to_tensor, resize_frame, tensor_to_frame

log = logging.getLogger(__name__)


@dataclass
class ScriptedKey:
    key: str
    at_s: float | None = None  # seconds since the first frame
    at_frame: int | None = None  # or a frame number


def parse_keys(spec: str) -> list[ScriptedKey]:
    """'2@1.5,b@2s,3@40f,q@5': key at seconds (default unit) or at a frame number ('f').
    Named keys: space, esc, plus, minus, comma."""
    names = {"space": " ", "esc": "\x1b", "plus": "+", "minus": "-", "comma": ","}
    out = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        key, sep, when = part.rpartition("@")
        if not sep or not key:
            raise ValueError(f"expected KEY@TIME like '2@1.5' or '2@40f' in --keys, got {part!r}")
        key = names.get(key.lower(), key)
        if len(key) != 1:
            raise ValueError(f"unknown key {key!r} in --keys; use one character or space/esc/plus/minus/comma")
        try:
            if when.endswith("f"):
                out.append(ScriptedKey(key, at_frame=int(when[:-1])))
            else:
                out.append(ScriptedKey(key, at_s=float(when.rstrip("s"))))
        except ValueError:
            raise ValueError(f"expected a time like 1.5, 1.5s or 40f in --keys, got {when!r}") from None
    return out


class FrameSink(Protocol):
    def write(self, frame: np.ndarray, pts: int, duration: int = 0) -> None: ...
    def close(self) -> None: ...


@dataclass
class LiveStats:
    frames: int = 0
    dropped: int = 0  # captured frames never stylized because a newer one was ready
    latencies_ms: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)  # wall time between displayed frames
    mixes: list[list[float]] = field(default_factory=list)  # model-space mix used for each frame
    keys: list[tuple[int, str]] = field(default_factory=list)  # (frame, key) as handled
    snapshots: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency_median_ms(self) -> float:
        return float(np.median(self.latencies_ms)) if self.latencies_ms else 0.0


def draw_overlay(img_bgr: np.ndarray, lines: list[str]) -> None:
    """Text in a translucent box at the top left, in place."""
    if not lines:
        return
    scale, thick, pad = 0.5, 1, 6
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0] for t in lines]
    lh = max(h for _, h in sizes) + 6
    w = max(w for w, _ in sizes) + 2 * pad
    h = lh * len(lines) + pad
    w, h = min(w, img_bgr.shape[1]), min(h, img_bgr.shape[0])
    roi = img_bgr[:h, :w]
    roi[:] = (roi * 0.4).astype(np.uint8)
    for i, t in enumerate(lines):
        cv2.putText(img_bgr, t, (pad, pad + lh * (i + 1) - 6), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)


@dataclass
class LiveOptions:
    max_side_px: int | None = 640  # the network runs at this size at most (the capture may be larger)
    window: bool = True
    window_title: str = "livestyle"
    snapshot_dir: str = "."
    record_path: str | None = None  # start recording at once to this file
    max_frames: int | None = None  # stop after this many frames (tests, soak runs)
    duration_s: float | None = None  # stop after this long
    style_names: list[str] = field(default_factory=list)


def run_live(source: LiveSource, stylize: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
             controls: Controls, opts: LiveOptions, *, stabilizer=None,
             open_recorder: Callable[[str, int, int], FrameSink] | None = None,
             extra_sinks: list[FrameSink] | None = None, scripted_keys: list[ScriptedKey] | None = None,
             on_frame: Callable[[LiveStats], None] | None = None) -> LiveStats:
    """Run until 'q', the end of the source, max_frames or duration_s. `stylize(x, mix)` maps float
    (1, 3, H, W) in [0, 1] to the same; strength and colour preservation are read from
    `controls.state` by the caller's stylize function. Returns the statistics."""
    stats = LiveStats()
    pending = sorted(scripted_keys or [], key=lambda k: (k.at_frame if k.at_frame is not None else 1e12,
                                                         k.at_s if k.at_s is not None else 1e12))
    recorder: FrameSink | None = None
    record_t0 = 0.0
    sinks = list(extra_sinks or [])
    t_start = last_shown = None
    last_seq = -1
    out_size = None
    try:
        while True:
            item = source.read()
            if item is None:
                stats.error = source.error
                break
            now = time.monotonic()
            if t_start is None:
                t_start = now
                if opts.record_path and open_recorder:
                    recorder, record_t0 = open_recorder(opts.record_path, *_size_for(item.frame, opts)), now
                    controls.state.recording = True
            if last_seq >= 0 and item.seq > last_seq + 1:
                stats.dropped += item.seq - last_seq - 1
            last_seq = item.seq
            frame = item.frame
            if out_size is None:
                out_size = _size_for(frame, opts)
            frame = resize_frame(frame, *out_size)

            # keys: scripted ones due by now, then the window's
            keys = []
            elapsed = now - t_start
            while pending and ((pending[0].at_frame is not None and pending[0].at_frame <= stats.frames) or
                               (pending[0].at_s is not None and pending[0].at_s <= elapsed)):
                keys.append(pending.pop(0).key)
            if opts.window:
                k = cv2.waitKey(1) & 0xFF
                if k != 255:
                    keys.append(chr(k))
            quit_now = False
            for key in keys:
                stats.keys.append((stats.frames, key))
                action = controls.handle_key(key)
                if action == "quit":
                    quit_now = True
                elif action == "record" and open_recorder:
                    if recorder is None:
                        path = opts.record_path or os.path.join(opts.snapshot_dir, time.strftime("livestyle-%Y%m%d-%H%M%S.mp4"))
                        recorder, record_t0 = open_recorder(path, *out_size), now
                        controls.state.recording = True
                    else:
                        recorder.close()
                        stats.recordings.append(getattr(recorder, "path", ""))
                        recorder, controls.state.recording = None, False
            if quit_now:
                break
            controls.tick()

            mix = controls.mix.model_mix()
            stats.mixes.append([round(float(v), 5) for v in mix])
            x = frame_to_tensor(frame)
            styled = tensor_to_frame(stylize(x, mix))
            if stabilizer is not None:
                if controls.state.temporal:
                    styled = stabilizer(frame, styled, mix=mix, time_s=item.t_capture)
                else:
                    stabilizer.reset()

            for key in keys:
                if key == "s":
                    path = os.path.join(opts.snapshot_dir, time.strftime("livestyle-%Y%m%d-%H%M%S") + f"-{stats.frames}.png")
                    cv2.imwrite(path, cv2.cvtColor(styled, cv2.COLOR_RGB2BGR))
                    stats.snapshots.append(path)

            t_out = time.monotonic()
            if recorder is not None:
                recorder.write(styled, int(round((t_out - record_t0) * 1000)))
            for sink in sinks:
                sink.write(styled, int(round((t_out - t_start) * 1000)))
            if opts.window:
                shown = np.concatenate([frame, styled], axis=1) if controls.state.side_by_side else styled
                shown = cv2.cvtColor(shown, cv2.COLOR_RGB2BGR)
                lines = []
                if controls.state.overlay:
                    fps = 1000.0 / np.mean(stats.frame_ms[-15:]) if stats.frame_ms else 0.0
                    lines = [controls.mix.describe(opts.style_names or [str(i + 1) for i in range(controls.mix.n)]),
                             f"{fps:4.1f} fps  latency {stats.latencies_ms[-1] if stats.latencies_ms else 0:3.0f} ms"
                             f"  strength {controls.state.strength:.1f}"
                             + ("  colour" if controls.state.preserve_color else "")
                             + ("  temporal" if controls.state.temporal and stabilizer is not None else "")
                             + ("  cycle" if controls.state.cycle else "")
                             + ("  blend [ ]" if controls.state.blend_mode else "")
                             + ("  REC" if recorder is not None else "")]
                if controls.state.help:
                    lines += [ln.strip() for ln in KEY_HELP.strip().splitlines()]
                draw_overlay(shown, lines)
                cv2.imshow(opts.window_title, shown)
            t_shown = time.monotonic()
            stats.latencies_ms.append((t_shown - item.t_capture) * 1000)
            if last_shown is not None:
                stats.frame_ms.append((t_shown - last_shown) * 1000)
            last_shown = t_shown
            stats.frames += 1
            if on_frame:
                on_frame(stats)
            if opts.max_frames and stats.frames >= opts.max_frames:
                break
            if opts.duration_s and t_shown - t_start >= opts.duration_s:
                break
    finally:
        if recorder is not None:
            recorder.close()
            stats.recordings.append(getattr(recorder, "path", ""))
        for sink in sinks:
            sink.close()
        if opts.window:
            cv2.destroyAllWindows()
        stats.seconds = (last_shown - t_start) if (t_start and last_shown) else 0.0
    return stats


def _size_for(frame: np.ndarray, opts: LiveOptions) -> tuple[int, int]:
    h, w = frame.shape[:2]
    return fit_size(w, h, max_side_px=opts.max_side_px, even=True)


MS = Fraction(1, 1000)  # recordings and streams carry millisecond timestamps from the wall clock


class TimedSink:
    """Wraps a VideoFileSink-like sink: millisecond wall-clock pts made strictly increasing (two frames
    in the same millisecond would otherwise collide), so playback speed is right even when fps varies.
    With `final_path`, the sink writes a temporary file that is renamed to `final_path` on close."""

    def __init__(self, sink, *, final_path: str | None = None, tmp_path: str | None = None):
        self.sink, self.final_path, self.tmp_path = sink, final_path, tmp_path
        self.path = final_path or getattr(sink, "path", "")
        self._last_pts = -1
        self._closed = False

    def write(self, frame: np.ndarray, pts: int, duration: int = 0) -> None:
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        self.sink.write(frame, pts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.sink.close()
        if self.final_path and self.tmp_path:
            if self._last_pts < 0:  # nothing recorded: no empty file that looks like a recording
                os.unlink(self.tmp_path)
                self.path = ""
            else:
                os.replace(self.tmp_path, self.final_path)

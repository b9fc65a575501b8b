"""The live loop for any live source (a camera, a stream, a file played as a camera): newest frame ->
the frame step (stylize.StreamStylizer: network, strength, colour, temporal coherence) with the current
style mix -> recorder, stream, virtual camera, preview window (sinks.py), with keys that morph styles
while it runs.

One loop, top to bottom, state in local variables (STYLE.md section 2). Latency is measured from the
moment the capture thread read a frame to the moment its stylized version was shown/sent.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

import cv2
import numpy as np

from .capture import LiveSource
from .config import StylizeConfig, TemporalConfig
from .controls import ControlState, Controls, StyleMix
from .device import LoadWatcher
from .keys import KEY_HELP
from .governor import START_NET_SIDE_PX, ResolutionGovernor, default_target_fps, live_scales
from .images import fit_size, resize_frame
from .live_outputs import Recorder, WindowSink, save_snapshot
from .stylize import StreamStylizer

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


STATS_WINDOW = 3000  # per-frame records kept (about 2 minutes at 25 fps): a long session stays bounded


@dataclass
class LiveStats:
    frames: int = 0
    dropped: int = 0  # captured frames never stylized because a newer one was ready
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))  # capture -> shown
    frame_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))  # between shown frames
    scales: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))  # network scale per frame
    carried: int = 0  # frames shown as the previous output carried along the flow (no network run)
    first_frame_s: float | None = None  # from the call to the first frame shown
    mixes: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))  # model-space mix per frame
    keys: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))  # (frame, key) as handled
    snapshots: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency_median_ms(self) -> float:
        return float(np.median(self.latencies_ms)) if self.latencies_ms else 0.0

    def recent_fps(self, n: int = 15) -> float:
        recent = list(self.frame_ms)[-n:]
        return 1000.0 / float(np.mean(recent)) if recent else 0.0


def draw_overlay(img: np.ndarray, lines: list[str]) -> None:
    """Text in a translucent box at the top left, in place."""
    if not lines:
        return
    scale, thick, pad = 0.5, 1, 6
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0] for t in lines]
    lh = max(h for _, h in sizes) + 6
    w = max(w for w, _ in sizes) + 2 * pad
    h = lh * len(lines) + pad
    w, h = min(w, img.shape[1]), min(h, img.shape[0])
    roi = img[:h, :w]
    roi[:] = (roi * 0.4).astype(np.uint8)
    for i, t in enumerate(lines):
        cv2.putText(img, t, (pad, pad + lh * (i + 1) - 6), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)


@dataclass
class LiveOptions:
    max_side_px: int | None = 640  # the network runs at this size at most (the capture may be larger)
    snapshot_dir: str = "."
    record_path: str | None = None  # start recording at once to this file
    max_frames: int | None = None  # stop after this many frames (tests, soak runs)
    duration_s: float | None = None  # stop after this long
    style_names: list[str] = field(default_factory=list)
    target_fps: float | None = None  # adapt the network's resolution to keep this rate (None: full size always)
    adapt_threads: bool = True  # fewer network threads while other processes keep cores busy (device.LoadWatcher)


@dataclass
class LiveSession:
    """One webcam session as `livestyle webcam` runs it: the model's frame step (StreamStylizer.for_model, so
    the runtime is the one `video` gets), the key controls over the chosen styles, and the loop's options.
    `webcam`, `bench`'s webcam timing and tools/soak_webcam.py all build it here."""

    step: StreamStylizer
    controls: Controls
    opts: LiveOptions

    @classmethod
    def create(cls, model, names: list[str], opts: LiveOptions, *, stylize: StylizeConfig | None = None,
               temporal: TemporalConfig | None = None, state: ControlState | None = None,
               morph_s: float = 0.5) -> "LiveSession":
        """`model`: a modelfile.ModelFile; `names`: its styles or presets for keys 1-9."""
        from .modelfile import style_vector
        stylize = dataclasses.replace(stylize or StylizeConfig(max_side_px=opts.max_side_px), batch_size=1)
        step = StreamStylizer.for_model(model, stylize, temporal)
        controls = Controls(StyleMix([style_vector(n, model) for n in names], morph_s=morph_s),
                            state or ControlState())
        return cls(step, controls, opts)

    def run(self, source: LiveSource, **outputs) -> LiveStats:
        """run_live on `source` with `outputs` (window, recorder, outputs, scripted_keys, on_frame). The target
        rate `opts.target_fps` None is the camera's rate up to DEFAULT_TARGET_FPS_CAP, as `webcam` defaults;
        0 never adapts."""
        target = self.opts.target_fps
        target = default_target_fps(source.info.fps) if target is None else (target or None)
        return run_live(source, self.step, self.controls, dataclasses.replace(self.opts, target_fps=target),
                        **outputs)


def run_live(source: LiveSource, step: StreamStylizer, controls: Controls, opts: LiveOptions, *,
             window: WindowSink | None = None, recorder: Recorder | None = None,
             outputs: list[FrameSink] | None = None, scripted_keys: list[ScriptedKey] | None = None,
             on_frame: Callable[[LiveStats], None] | None = None) -> LiveStats:
    """Run until 'q', the end of the source, max_frames or duration_s: newest frame -> keys -> frame
    step (network, strength, colour, coherence as `controls.state` says) -> recorder, outputs, window.
    Every output is closed on the way out, whatever happens. Returns the statistics."""
    stats = LiveStats()
    t_call = time.monotonic()
    governor = None
    watcher = LoadWatcher() if opts.adapt_threads and step.stylizer.device.type == "cpu" else None
    threads_now = watcher.max_threads if watcher is not None else 0
    pending = sorted(scripted_keys or [], key=lambda k: (k.at_frame if k.at_frame is not None else 1e12,
                                                         k.at_s if k.at_s is not None else 1e12))
    outputs = list(outputs or [])
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
            if out_size is None:
                out_size = _size_for(item.frame, opts)
                if opts.target_fps:
                    scales = live_scales(*out_size)
                    governor = ResolutionGovernor(opts.target_fps, scales, carry=step.stabilizer is not None, start=max(
                        [sc for sc in scales if max(out_size) * sc <= START_NET_SIDE_PX + 0.5] or [1.0]))
            if t_start is None:
                t_start = now
                if opts.record_path and recorder is not None:
                    recorder.start(opts.record_path, *out_size, now)
            if last_seq >= 0 and item.seq > last_seq + 1:
                stats.dropped += item.seq - last_seq - 1
            last_seq = item.seq
            frame = resize_frame(item.frame, *out_size)

            actions = _handle_keys(pending, window, controls, stats, now - t_start)
            if "quit" in actions:
                break
            if recorder is not None:
                _toggle_recording(recorder, actions.count("record"), opts, out_size, now)
            controls.state.recording = recorder is not None and recorder.active
            controls.tick()

            mix = controls.mix.model_mix()
            stats.mixes.append([round(float(v), 5) for v in mix])
            state = controls.state
            if watcher is not None and watcher.threads() != threads_now:
                threads_now = watcher.threads()
                log.info("%.1f cores busy with other work: %d network thread(s)", watcher.others, threads_now)
                step.stylizer.set_threads(threads_now)
            scale = governor.scale if governor else 1.0
            stats.scales.append(scale)
            carry = governor is not None and governor.every > 1 and stats.frames % governor.every != 0
            styled = step([frame], mix, times_s=[item.t_capture], strength=state.strength,
                          preserve_color=state.preserve_color, temporal=state.temporal, scale=scale, carry=carry)[0]
            stats.carried += carry and step.stabilizer is not None and step.stabilizer.last.get("carried", False)

            if "snapshot" in actions:
                stats.snapshots.append(save_snapshot(styled, opts.snapshot_dir,
                                                     time.strftime("livestyle-%Y%m%d-%H%M%S") + f"-{stats.frames}"))
            t_out = time.monotonic()
            if recorder is not None:
                recorder.write(styled, t_out)
            for sink in outputs:
                sink.write(styled, int(round((t_out - t_start) * 1000)))
            if window is not None:
                _show(window, frame, styled, stats, controls, opts, step, recorder)
            t_shown = time.monotonic()
            stats.latencies_ms.append((t_shown - item.t_capture) * 1000)
            if last_shown is not None:
                stats.frame_ms.append((t_shown - last_shown) * 1000)
                if governor:
                    governor.update(t_shown - last_shown, t_shown - now)
            else:
                stats.first_frame_s = t_shown - t_call
            last_shown = t_shown
            stats.frames += 1
            if on_frame:
                on_frame(stats)
            if opts.max_frames and stats.frames >= opts.max_frames:
                break
            if opts.duration_s and t_shown - t_start >= opts.duration_s:
                break
    finally:
        if watcher is not None:
            watcher.close()
            step.stylizer.set_threads(watcher.max_threads)
        stats.seconds = (last_shown - t_start) if (t_start and last_shown) else 0.0
        for out in [recorder, *outputs, window]:
            if out is not None:
                out.close()
        if recorder is not None:
            stats.recordings = list(recorder.finished)
    return stats


def _handle_keys(pending: list[ScriptedKey], window: WindowSink | None, controls: Controls, stats: LiveStats,
                 elapsed_s: float) -> list[str]:
    """The scripted keys due by now, then the window's, each handled: the actions they asked for."""
    keys = []
    while pending and ((pending[0].at_frame is not None and pending[0].at_frame <= stats.frames) or
                       (pending[0].at_s is not None and pending[0].at_s <= elapsed_s)):
        keys.append(pending.pop(0).key)
    if window is not None:
        keys += window.keys()
    actions = []
    for key in keys:
        stats.keys.append((stats.frames, key))
        actions.append(controls.handle_key(key))
    return actions


def _toggle_recording(recorder: Recorder, presses: int, opts: LiveOptions, size: tuple[int, int], now: float) -> None:
    for _ in range(presses):  # `r`: stop a recording, or start one (named by the time when no --record)
        if recorder.active:
            recorder.stop()
        else:
            recorder.start(opts.record_path or os.path.join(
                opts.snapshot_dir, time.strftime("livestyle-%Y%m%d-%H%M%S.mp4")), *size, now)


def _show(window: WindowSink, frame: np.ndarray, styled: np.ndarray, stats: LiveStats, controls: Controls,
          opts: LiveOptions, step: StreamStylizer, recorder: Recorder | None) -> None:
    state = controls.state
    shown = np.concatenate([frame, styled], axis=1) if state.side_by_side else styled.copy()
    draw_overlay(shown, _overlay_lines(stats, controls, opts, step, recorder) if state.overlay else [])
    window.write(shown)


def _overlay_lines(stats: LiveStats, controls: Controls, opts: LiveOptions, step: StreamStylizer,
                   recorder: Recorder | None) -> list[str]:
    state = controls.state
    lines = [controls.mix.describe(opts.style_names or [str(i + 1) for i in range(controls.mix.n)]),
             f"{stats.recent_fps():4.1f} fps  latency {stats.latencies_ms[-1] if stats.latencies_ms else 0:3.0f} ms"
             f"  strength {state.strength:.1f}"
             + ("  colour" if state.preserve_color else "")
             + ("  temporal" if state.temporal and step.stabilizer is not None else "")
             + ("  cycle" if state.cycle else "")
             + ("  blend [ ]" if state.blend_mode else "")
             + ("  REC" if recorder is not None and recorder.active else "")
             + (f"  scale {stats.scales[-1]:.2f}" if stats.scales and stats.scales[-1] < 1.0 else "")
             + (f"  carried {stats.carried / max(1, stats.frames):.0%}" if stats.carried else "")]
    if state.help:
        lines += [ln.strip() for ln in KEY_HELP.strip().splitlines()]
    return lines


def _size_for(frame: np.ndarray, opts: LiveOptions) -> tuple[int, int]:
    h, w = frame.shape[:2]
    return fit_size(w, h, max_side_px=opts.max_side_px, even=True)

"""The live loop's governor: when frames fall behind the target rate, first carry every other frame
along the optical flow, then run the network on smaller copies of the frame, and come back up when there
is room (performance.md in docs/ says how it behaves). Arithmetic on timings: no frames, no torch."""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

SCALES = (1.0, 0.75, 0.5, 0.375, 0.25)  # network scales a side the live loop may step through
MIN_NET_SIDE_PX = 320  # ... but the network never runs smaller than this (longest side): below it the strokes
#   outgrow the picture. So 640x360 steps down to 50 %, 1280x720 down to 25 % (a 320x180 network).
START_NET_SIDE_PX = 640  # and it starts no larger than this (the webcam's default size): a 1280x720 frame's first
#   frame through the full-size network took 2.1 s on the 2-core AVX2 CPU; it goes up when there is room


DEFAULT_TARGET_FPS_CAP = 24.0  # the default --target-fps is the camera's rate, but no more than this: on the 2-core
#   AVX2 CPU, 24 keeps the network at full size on every other frame (24.7 fps, 48 ms median latency, looping
#   demo), while the camera's 30 made it shrink the frame to 75 % for the last few fps (29.3 fps), which costs
#   look (Starry Night's texture ratio 0.57 -> 0.80)


def default_target_fps(camera_fps: float) -> float:
    """The adaptive resolution's target when --target-fps is not given: the camera's rate, capped."""
    return min(camera_fps, DEFAULT_TARGET_FPS_CAP) if camera_fps > 0 else DEFAULT_TARGET_FPS_CAP


def live_scales(width: int, height: int, scales: tuple[float, ...] = SCALES) -> tuple[float, ...]:
    """The scales of `scales` at which a width x height frame's network keeps MIN_NET_SIDE_PX (1 always)."""
    side = max(width, height)
    return tuple(sc for sc in scales if sc == 1.0 or side * sc >= MIN_NET_SIDE_PX - 0.5)


class ResolutionGovernor:
    """`--target-fps`: the scale the network runs at (a fraction of each side of the frame), lowered when
    frames fall behind the target and raised when there is room, with hysteresis so it does not pump.

    It looks at the median time p that a frame's work took (from the frame in hand to shown) over the frames
    since its last decision (at least `min_frames`, and `window` frames or `window_s` seconds of them)
    against the target T = 1/fps: the work, not the period between frames, which a camera caps at its own
    rate (a 30 fps camera never shows a period under 33 ms, so the headroom of a fast step would never
    show and the scale, once lowered, would never rise again). Network time goes
    with the pixel count, so one step from scale s to s' predicts p x (s'/s)^2. Above `slower` x T it goes
    down at once to the largest scale predicted to meet T (the smallest there is when none is): a slow CPU
    gets there in a second, not step by step. It goes up one step when that step is predicted under
    `faster` x T. After a change it waits `hold_s` seconds: a new size's first frames are slower (with
    `--compile on`, its compile), and load comes and goes."""

    def __init__(self, target_fps: float, scales: tuple[float, ...] = (1.0, 0.75, 0.5), *, window: int = 10,
                 window_s: float = 1.0, min_frames: int = 3, slower: float = 1.1, faster: float = 0.8,
                 hold_s: float = 1.5, start: float = 1.0, carry: bool = False):
        self.period = 1.0 / target_fps
        # levels (scale, every): the network runs on every `every`-th frame at `scale`. With `carry`, the first
        # step down keeps the full size and runs the network on every other frame, the frames between being the
        # last output carried along the optical flow (TemporalStabilizer.carry): half the network's work with
        # its look unchanged; the smaller scales come after it, also every other frame.
        self.levels = [(scales[0], 1)] + [(sc, 2 if carry else 1) for sc in scales[int(not carry):]]
        self.window, self.window_s, self.min_frames = window, window_s, min_frames
        self.slower, self.faster, self.hold_s = slower, faster, hold_s
        self.level = min(range(len(self.levels)), key=lambda i: (abs(self.levels[i][0] - start), self.levels[i][1] != 1))
        self._times: list[float] = []  # wall clock between shown frames
        self._busy: list[float] = []  # the work of each frame
        self._wait_s = 0.0
        self.changes = 0

    @property
    def scale(self) -> float:
        return self.levels[self.level][0]

    @property
    def every(self) -> int:
        """The network runs on every `every`-th frame (1: all of them)."""
        return self.levels[self.level][1]

    def _cost(self, level: int) -> float:
        scale, every = self.levels[level]
        return scale * scale / every

    def update(self, frame_s: float, busy_s: float | None = None) -> float:
        """Tell it the wall clock between the last two shown frames (`frame_s`) and how much of it the last
        frame's work took (`busy_s`; default all of it); returns the scale."""
        if self._wait_s > 0:
            self._wait_s -= frame_s
            return self.scale
        self._times.append(frame_s)
        self._busy.append(frame_s if busy_s is None else busy_s)
        n = len(self._times)
        if n < self.min_frames or (n < self.window and sum(self._times) < self.window_s):
            return self.scale
        # the median frame; with carried frames between network ones, the median over runs of `every` frames
        # of their mean (the median of alternating long and short frames would be one or the other, and a
        # plain mean takes a single hiccup of a few hundred ms for a slow machine)
        k = self.every
        runs = [sum(self._busy[i:i + k]) / k for i in range(0, len(self._busy) - k + 1, k)] or self._busy
        p = float(np.median(runs))
        self._times.clear()
        self._busy.clear()
        cost = self._cost(self.level)
        if p > self.slower * self.period and self.level < len(self.levels) - 1:
            lower = range(self.level + 1, len(self.levels))
            self.level = next((i for i in lower if p * self._cost(i) / cost <= self.period), lower[-1])
        elif self.level > 0 and p * self._cost(self.level - 1) / cost < self.faster * self.period:
            self.level -= 1
        else:
            return self.scale
        self._wait_s, self.changes = self.hold_s, self.changes + 1
        log.info("network scale %.2f, every %d frame(s) (frames took %.0f ms, target %.0f ms)", self.scale,
                 self.every, 1000 * p, 1000 * self.period)
        return self.scale

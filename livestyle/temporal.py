"""Temporal coherence at inference: carry the previous stylized frame along the optical flow and blend
it with the current stylization where the flow can be trusted, so brush strokes stay put instead of
being redrawn every frame.

    stab = TemporalStabilizer(TemporalConfig())       # weight 0.6
    for frame in source:                              # uint8 (H, W, 3) RGB
        styled = stylizer([frame], mix)[0]            # uint8 (H, W, 3) RGB
        out = stab(frame, styled, mix=mix)            # uint8 (H, W, 3) RGB, coherent

Per frame, at 640x360 (session 8, the 2-core Xeon: 6.4 ms in all with the defaults; StreamStylizer works
out step 1 and 2 in a thread while the network runs on the frame, so most of it is off the critical path):
1. One DIS flow (preset "medium") from the current input to the previous one, both shrunk to at most 320
   px wide (flow_to_prev), whatever the video's resolution; with check="fb" also the reverse (flow_to_next).
2. Trust mask on that small grid: motion boundaries, pixels whose flow leaves the frame, and pixels whose
   motion-compensated input changed by more than `photometric_threshold` (disocclusions, lighting, flow
   errors); with check="fb" also forward-backward consistency (Ruder et al. 2016). Untrusted pixels take
   the fresh stylization: disoccluded and fast-moving regions are never smeared with stale history.
3. a = weight * mask, upsampled to full size (bilinear, so its edges are soft); the previous *output*
   is warped with the upsampled flow (cv2.remap, fixed-point maps) and
       out = a * warp(prev_out, flow_to_prev) + (1 - a) * styled          (cv2.blendLinear)
Frames stay uint8 numpy throughout: every step is one OpenCV call, multithreaded, with no torch
dispatch (a torch grid_sample at 640x360 costs ~1-4 ms alone on this CPU, and the stylizer hands out
uint8 frames anyway).

Resets (history dropped, the fresh stylization passes through): the first frame and a change of frame
size; a scene cut, detected when the mean motion-compensated gray difference of the inputs exceeds
`cut_threshold` or less than `cut_min_trusted` of the pixels are trusted (within real clips we measured
residuals <= 0.024 and trusted >= 0.55, across cuts >= 0.17 and <= 0.05); a gap in timestamps over
`max_gap_s`; `reset()`.

Style changes: history drawn with the old style must not hold a new one back. `notice_style_change(a)`
(or `mix=`, which measures a as half the L1 distance between consecutive mixes: the fraction of the
blend that moved, 1 for a switch) scales the history weight of the next frame by (1 - a): a full switch
shows at once, a partial move of the mix drops that share of old history, and the rest fades at the
usual rate w per frame.

Camera shake is global motion, which the flow follows: DIS's coarse-to-fine pyramid recovers whole-frame
shifts of a 640x360 frame up to (32, -32) px with >= 96 % of pixels within 1 px at the default settings
(tools/experiments/bench_temporal.py shake), so the history moves with the image rather than being averaged across
the shake; the strip that enters the frame has no history (out-of-frame check) and takes the fresh
stylization; shakes the flow cannot follow fail the checks or trigger a reset instead of ghosting.
"""
from __future__ import annotations

import logging
import time

import cv2
import numpy as np

from .config import TemporalConfig
from .flow import FlowEstimator, occlusion_mask, resize_flow, warp
from .images import check_frame

log = logging.getLogger(__name__)

INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def mix_distance(a, b) -> float:
    """How much of a style blend moved between two mixes: half the L1 distance (0 same, 1 disjoint)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        return 1.0
    return float(min(1.0, 0.5 * np.abs(a - b).sum()))


class TemporalStabilizer:
    """`stab(frame, styled) -> out`: uint8 (H, W, 3) RGB in and out, one call per frame in order.
    Keeps the previous input (small, gray) and a copy of the previous output, so callers may draw on
    what they get back. `cfg.weight` may be changed between frames (0 = off). `last` holds the last
    frame's diagnostics: reset reason (None when blended), trusted fraction, history weight, ms."""

    def __init__(self, cfg: TemporalConfig | None = None, *, estimator: FlowEstimator | None = None):
        cfg = cfg or TemporalConfig()
        if not 0.0 <= cfg.weight <= 1.0:
            raise ValueError(f"expected temporal weight in 0..1, got {cfg.weight}")
        if cfg.check not in ("fb", "photometric"):
            raise ValueError(f"expected temporal check 'fb' or 'photometric', got {cfg.check!r}")
        if cfg.interpolation not in INTERPOLATIONS:
            raise ValueError(f"expected temporal interpolation 'linear' or 'cubic', got {cfg.interpolation!r}")
        self.cfg = cfg
        self.estimator = estimator or FlowEstimator(backend=cfg.flow_backend, preset=cfg.flow_preset,
                                                    scale=cfg.flow_scale, max_width=cfg.flow_max_width)
        self.cuts = 0  # scene cuts detected so far
        self._prev_mix = None
        self.last: dict = {}
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame passes through as it is stylized."""
        self._prev_small = None
        self._prev_out = None
        self._prev_time = None
        self._style_change = 0.0

    def notice_style_change(self, amount: float = 1.0) -> None:
        """The style moved by `amount` (0..1; 1 = a different style) since the last frame: the next
        frame keeps only (1 - amount) of the usual history weight. Changes add up until that frame."""
        self._style_change = 1.0 - (1.0 - self._style_change) * (1.0 - min(1.0, max(0.0, amount)))

    def process(self, frames: list[np.ndarray], styled: list[np.ndarray], *, mixes=None,
                times_s: list[float] | None = None, ahead: tuple | None = None) -> list[np.ndarray]:
        """A batch of consecutive frames: one call per frame, in order (`mixes`: one per frame or None;
        `ahead`: look_ahead of the first frame)."""
        return [self(f, s, mix=None if mixes is None else mixes[i], time_s=None if times_s is None else times_s[i],
                     ahead=ahead if i == 0 else None)
                for i, (f, s) in enumerate(zip(frames, styled))]

    def _start(self, small: np.ndarray, styled: np.ndarray, time_s: float | None, reason: str,
               t0: float) -> np.ndarray:
        self._prev_small, self._prev_out, self._prev_time = small, styled.copy(), time_s
        self._style_change = 0.0
        self.last = {"reset": reason, "trusted": 0.0, "history_weight": 0.0,
                     "ms": (time.perf_counter() - t0) * 1e3}
        return styled

    def _motion(self, small: np.ndarray, prev: np.ndarray | None = None):
        """Flow from `small` (the current input, prepared) to the previous one (`prev`, default the one held),
        the trust mask on the small grid (1 = trusted), the mean motion-compensated change and the trusted
        fraction."""
        cfg = self.cfg
        prev = self._prev_small if prev is None else prev
        flow_to_prev, flow_to_next = self.estimator.flows_between(prev, small, both=cfg.check == "fb")
        mask = occlusion_mask(flow_to_prev, flow_to_next)  # (h, w) on the small grid, 1 = trusted
        residual = cv2.absdiff(warp(prev, flow_to_prev), small)  # motion-compensated change
        if residual.ndim == 3:  # RAFT works on RGB
            residual = residual.max(axis=2)
        residual_mean = cv2.mean(residual)[0] / 255.0  # cv2.mean: ~10x faster than numpy's on uint8
        if cfg.photometric_threshold > 0:
            mask *= residual <= cfg.photometric_threshold * 255.0
        return flow_to_prev, mask, residual_mean, cv2.mean(mask)[0]

    def look_ahead(self, frame: np.ndarray) -> tuple:
        """What the next call for `frame` needs from the inputs alone: its small copy and, when there is history
        of that size, the flow and trust mask against the previous input. It reads the state and changes
        nothing, so it may run in another thread while the network stylizes `frame` (StreamStylizer does);
        pass the result to that call as `ahead`."""
        check_frame(frame)
        prev, small = self._prev_small, self.estimator.prepare(frame)
        ready = prev is not None and prev.shape == small.shape and self.cfg.weight > 0
        return prev, small, self._motion(small, prev) if ready else None

    def carry(self, frame: np.ndarray, *, mix=None, time_s: float | None = None) -> np.ndarray | None:
        """The previous output moved along the optical flow onto `frame`, without a fresh stylization: what
        the live loop shows for the frames it does not run the network on when it is behind (the look is
        the network's own, at full size). None when there is nothing to carry: no history, another size,
        a time gap, a scene cut, a style that moved since the last frame, coherence off. The result
        becomes the history of the next frame."""
        t0 = time.perf_counter()
        check_frame(frame)
        if mix is not None:
            mix = mix.detach().cpu().numpy() if hasattr(mix, "detach") else np.asarray(mix)
            if self._prev_mix is not None and mix_distance(self._prev_mix, mix) > 0:
                return None  # a morph or switch: every frame needs the network
        cfg = self.cfg
        if (cfg.weight == 0.0 or self._prev_out is None or self._prev_out.shape != frame.shape or self._style_change > 0
                or (time_s is not None and self._prev_time is not None and abs(time_s - self._prev_time) > cfg.max_gap_s)):
            return None
        small = self.estimator.prepare(frame)
        flow_to_prev, _, residual_mean, trusted = self._motion(small)
        if residual_mean > cfg.cut_threshold or trusted < cfg.cut_min_trusted:
            return None  # a cut: the caller stylizes, and __call__ resets
        h, w = frame.shape[:2]
        out = warp(self._prev_out, resize_flow(flow_to_prev, w, h), fixed_point=True,
                   interpolation=INTERPOLATIONS[cfg.interpolation])
        self._prev_small, self._prev_out, self._prev_time = small, out.copy(), time_s
        self.last = {"reset": None, "carried": True, "ms": (time.perf_counter() - t0) * 1e3}
        return out

    def __call__(self, frame: np.ndarray, styled: np.ndarray, *, mix=None, time_s: float | None = None,
                 ahead: tuple | None = None) -> np.ndarray:
        """The coherent version of `styled` (the stylization of `frame`). `mix`: the style weights
        used (any array-like; changes are noticed); `time_s`: the frame's timestamp (gaps reset); `ahead`:
        look_ahead(frame), made since the last call (else the work is done here)."""
        t0 = time.perf_counter()
        check_frame(frame)
        check_frame(styled)
        if frame.shape != styled.shape:
            raise ValueError(f"expected stylized frame of the input's size {frame.shape}, got {styled.shape}")
        if mix is not None:
            mix = mix.detach().cpu().numpy() if hasattr(mix, "detach") else np.asarray(mix)
            if self._prev_mix is not None:
                moved = mix_distance(self._prev_mix, mix)
                if moved > 0:
                    self.notice_style_change(moved)
            self._prev_mix = mix.copy()
        cfg = self.cfg
        if cfg.weight == 0.0:  # off; the history is dropped so that turning it on again starts clean
            self.reset()
            self.last = {"reset": "off", "trusted": 0.0, "history_weight": 0.0, "ms": 0.0}
            return styled
        fresh = ahead is not None and ahead[0] is self._prev_small  # made against the history held now
        small = ahead[1] if fresh else self.estimator.prepare(frame)
        if self._prev_out is None:
            return self._start(small, styled, time_s, "first frame", t0)
        if self._prev_out.shape != styled.shape:
            return self._start(small, styled, time_s, "frame size changed", t0)
        if time_s is not None and self._prev_time is not None and abs(time_s - self._prev_time) > cfg.max_gap_s:
            return self._start(small, styled, time_s, f"gap of {abs(time_s - self._prev_time):.2f} s", t0)

        motion = ahead[2] if fresh and ahead[2] is not None else self._motion(small)
        flow_to_prev, mask, residual_mean, trusted = motion
        if residual_mean > cfg.cut_threshold or trusted < cfg.cut_min_trusted:
            self.cuts += 1
            log.info("scene cut (residual %.3f, trusted %.2f): temporal history reset", residual_mean, trusted)
            return self._start(small, styled, time_s, "scene cut", t0)

        weight = cfg.weight * (1.0 - self._style_change)
        h, w = styled.shape[:2]
        alpha = cv2.resize(mask * np.float32(weight), (w, h), interpolation=cv2.INTER_LINEAR)  # (H, W)
        warped = warp(self._prev_out, resize_flow(flow_to_prev, w, h), fixed_point=True,
                      interpolation=INTERPOLATIONS[cfg.interpolation])
        out = cv2.blendLinear(warped, styled, alpha, 1.0 - alpha)

        self._prev_small, self._prev_out, self._prev_time = small, out.copy(), time_s
        self._style_change = 0.0
        self.last = {"reset": None, "trusted": trusted, "residual": residual_mean, "history_weight": weight,
                     "ms": (time.perf_counter() - t0) * 1e3}
        return out

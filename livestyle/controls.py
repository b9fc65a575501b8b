"""Live controls: which styles are mixed and how strongly, driven by keys, with smooth morphs.

A switch never cuts: the CIN weight vector moves from where it is to the new target over `morph_s`
with smoothstep easing, so every weight changes monotonically and the network sees a blend of
gamma/beta tables in between (no pixel crossfade, and no recompile: the mix is a tensor input).

The keys are in keys.py (also `livestyle webcam --help` and the README).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def smoothstep(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


@dataclass
class ControlState:
    """Toggles the frame loop reads each frame."""

    strength: float = 1.0
    preserve_color: bool = False
    temporal: bool = True
    overlay: bool = True
    side_by_side: bool = False
    help: bool = False
    cycle: bool = False
    blend_mode: bool = False
    recording: bool = False


@dataclass
class StyleMix:
    """Weights over the user's chosen styles (the --styles list), with a morph towards a target.

    `style_vectors[k]` is the model-space weight vector (n_model_styles,) of the user's k-th style (a
    single painting or a preset mix); `model_mix()` maps the current weights to model space."""

    style_vectors: list[np.ndarray]
    morph_s: float = 0.5  # duration of a switch
    cycle_period_s: float = 8.0  # time per style in automatic cycling (the morph takes half of it)
    clock: Callable[[], float] = time.monotonic
    _start: np.ndarray = field(init=False)
    _target: np.ndarray = field(init=False)
    _t0: float = field(init=False, default=0.0)
    _duration: float = field(init=False, default=0.0)
    first: int = field(init=False, default=0)
    second: int | None = field(init=False, default=None)
    balance: float = field(init=False, default=0.5)  # share of `second` in blend mode

    def __post_init__(self):
        assert self.style_vectors, "at least one style"
        n = len(self.style_vectors)
        self._start = self._target = np.eye(n, dtype=np.float32)[0]
        self._t0 = self.clock()

    @property
    def n(self) -> int:
        return len(self.style_vectors)

    def weights(self) -> np.ndarray:
        """Current weights over the user's styles, (n,), convex."""
        if self._duration <= 0:
            return self._target.copy()
        a = smoothstep((self.clock() - self._t0) / self._duration)
        return (1 - a) * self._start + a * self._target

    def model_mix(self) -> np.ndarray:
        w = self.weights()
        return sum(w[k] * self.style_vectors[k] for k in range(self.n))

    def _morph_to(self, target: np.ndarray, duration: float | None = None) -> None:
        self._start = self.weights()
        self._target = target / target.sum()
        self._t0 = self.clock()
        self._duration = self.morph_s if duration is None else duration

    def _blend_target(self) -> np.ndarray:
        t = np.zeros(self.n, np.float32)
        if self.second is None or self.second == self.first:
            t[self.first] = 1.0
        else:
            t[self.first] = 1 - self.balance
            t[self.second] = self.balance
        return t

    def select(self, k: int, *, duration: float | None = None) -> None:
        """Make style k the only one (or, in blend mode, call select_second)."""
        if not 0 <= k < self.n:
            return
        self.first, self.second = k, None
        self._morph_to(self._blend_target(), duration)

    def select_second(self, k: int) -> None:
        if not 0 <= k < self.n:
            return
        self.second = k
        self._morph_to(self._blend_target())

    def shift_balance(self, delta: float) -> None:
        if self.second is None:
            return
        self.balance = min(1.0, max(0.0, self.balance + delta))
        self._morph_to(self._blend_target(), duration=0.15)

    def cycle_step(self) -> None:
        """Advance the automatic cycle: a slow morph to the next style."""
        self.select((self.first + 1) % self.n, duration=self.cycle_period_s / 2)

    def describe(self, names: list[str]) -> str:
        w = self.weights()
        parts = [f"{names[k]} {w[k]:.0%}" for k in range(self.n) if w[k] >= 0.005]
        return " + ".join(parts)


# keys that flip one ControlState flag
TOGGLES = {"c": "preserve_color", "t": "temporal", "o": "overlay", "i": "side_by_side", "h": "help"}


class Controls:
    """Keys -> StyleMix and ControlState changes. `handle_key` returns an action the frame loop must
    carry out ('snapshot', 'record', 'quit') or None."""

    def __init__(self, mix: StyleMix, state: ControlState | None = None):
        self.mix = mix
        self.state = state or ControlState()
        self._last_cycle = mix.clock()

    def handle_key(self, key: str) -> str | None:
        s, m = self.state, self.mix
        if key in ("q", "\x1b"):
            return "quit"
        if key.isdigit() and key != "0":
            k = int(key) - 1
            if s.blend_mode:
                m.select_second(k)
            else:
                m.select(k)
            s.cycle = False
        elif key == "b":
            s.blend_mode = not s.blend_mode
            if not s.blend_mode:
                m.select(m.first)
        elif key == "[":
            m.shift_balance(-0.1)
        elif key == "]":
            m.shift_balance(+0.1)
        elif key in ("+", "="):
            s.strength = round(min(1.0, s.strength + 0.1), 2)
        elif key in ("-", "_"):
            s.strength = round(max(0.0, s.strength - 0.1), 2)
        elif key in TOGGLES:
            setattr(s, TOGGLES[key], not getattr(s, TOGGLES[key]))
        elif key == " ":
            s.cycle = not s.cycle
            self._last_cycle = m.clock() - m.cycle_period_s  # start moving now
        elif key == "s":
            return "snapshot"
        elif key == "r":
            return "record"
        return None

    def tick(self) -> None:
        """Per frame: advance automatic cycling."""
        if self.state.cycle and self.mix.clock() - self._last_cycle >= self.mix.cycle_period_s:
            self._last_cycle = self.mix.clock()
            self.mix.cycle_step()

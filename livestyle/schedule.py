"""Style schedules: morph between style mixes along a video.

`--schedule 0:monet,10s:vangogh` is a list of keyframes `TIME:MIX`. TIME is seconds from the first
frame (a plain number or with an `s`); MIX is a style or preset name, or `name:w+name:w` (the same
mixes as --styles/--mix, with `+` between styles because `,` separates keyframes). Each entry is
split on its first ':' only. Between keyframes the mix weights are interpolated linearly by the
frame's time; before the first and after the last keyframe the nearest mix is held.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .modelfile import ModelFile, parse_mix

_EXAMPLE = "0:monet,10s:vangogh or 0:a,5:a:0.5+b:0.5"


@dataclass
class Schedule:
    times_s: list[float]  # keyframe times, strictly increasing
    mixes: np.ndarray  # (K, n_styles) convex weights, one row per keyframe

    def mix_at(self, times_s: list[float]) -> np.ndarray:
        """(N, n_styles) mixes for frames shown at `times_s` seconds."""
        t = np.asarray(times_s, dtype=np.float64)
        keys = np.asarray(self.times_s, dtype=np.float64)
        cols = [np.interp(t, keys, self.mixes[:, j].astype(np.float64)) for j in range(self.mixes.shape[1])]
        return np.stack(cols, axis=1).astype(np.float32)  # (N, n_styles)


def _parse_time(text: str, entry: str) -> float:
    body = text.strip().lower()
    body = body[:-1] if body.endswith("s") else body
    try:
        t = float(body)
    except ValueError:
        raise ValueError(f"schedule entry {entry!r}: expected a time in seconds such as 0, 2.5 or 10s "
                         f"before the ':', got {text.strip()!r}") from None
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"schedule entry {entry!r}: time must be a number of seconds >= 0, got {text.strip()!r}")
    return t


def parse_schedule(spec: str, model: ModelFile) -> Schedule:
    """Keyframes from 'TIME:MIX,TIME:MIX,...'; ValueError naming the bad entry and what was expected."""
    entries = [e.strip() for e in spec.split(",")]
    if not spec.strip() or any(not e for e in entries):
        raise ValueError(f"expected a schedule of TIME:MIX entries separated by ',' such as {_EXAMPLE}, got {spec!r}")
    times, mixes = [], []
    for entry in entries:
        time_text, sep, mix_text = entry.partition(":")
        if not sep or not mix_text.strip():
            raise ValueError(f"schedule entry {entry!r}: expected TIME:MIX such as {_EXAMPLE}")
        t = _parse_time(time_text, entry)
        if times and t <= times[-1]:
            raise ValueError(f"schedule times must increase: {entry!r} at {t:g} s comes after {times[-1]:g} s")
        try:
            mix = parse_mix(mix_text, model)
        except ValueError as e:
            raise ValueError(f"schedule entry {entry!r}: {e}") from None
        times.append(t)
        mixes.append(mix)
    return Schedule(times, np.stack(mixes))  # (K, n_styles)

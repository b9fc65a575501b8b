"""The checks on option values that the command line and the Python API share: one place says what a
strength, a size or a weight may be, so `--strength 5` and `stylize(..., strength=5)` are refused alike.
Each raises TypeError (not a number at all) or ValueError (out of range) naming the option."""
from __future__ import annotations

import math
import numbers


def number(value, *, name: str, minimum: float | None = None, maximum: float | None = None,
           strict: bool = False, integer: bool = False):
    """`value` as a finite float (or int with `integer`) within [minimum, maximum] (minimum excluded
    with `strict`)."""
    want = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {want}, got {type(value).__name__} {value!r}")
    if integer and not float(value).is_integer():
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    v = int(value) if integer else float(value)
    low_ok = minimum is None or (v > minimum if strict else v >= minimum)
    if not math.isfinite(v) or not low_ok or (maximum is not None and v > maximum):
        bounds = (f" in {minimum:g}..{maximum:g}" if minimum is not None and maximum is not None
                  else f" {'>' if strict else '>='} {minimum:g}" if minimum is not None else "")
        raise ValueError(f"{name}: expected {want}{bounds}, got {value!r}")
    return v


def unit(value, *, name: str) -> float:
    """A fraction in 0..1 (strength, temporal weight)."""
    return number(value, name=name, minimum=0.0, maximum=1.0)


def max_side(value, *, name: str = "max_side") -> int | None:
    """A longest side in pixels, or None for "keep the size"."""
    return None if value is None else number(value, name=name, minimum=1, integer=True)


def boolean(value, *, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return value


def callback(value, *, name: str):
    if value is not None and not callable(value):
        raise TypeError(f"{name}: expected a function or None, got {type(value).__name__} {value!r}")
    return value

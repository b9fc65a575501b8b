"""The grid score: how strongly a picture repeats a pattern locked to a period of P pixels, the mark a
strided network leaves (a wallpaper of 8-px tiles, strokes that snap to the stride).

For each period P:
  1. luminance of the picture (Rec. 601 weights);
  2. high-pass: the luminance minus its 3x3 box blur (reflected border);
  3. crop to a multiple of P and average the high-pass at each of the P x P positions of a P x P block,
     over all blocks;
  4. score = variance of those P x P means / (variance of the high-pass / number of blocks).
Detail with no period averages out at every position and scores about 1 (the variance of a mean of
n independent values is the variance / n); a pattern that repeats every P pixels survives the averaging
and scores far above 1. numpy and OpenCV only: no torch.
"""
from __future__ import annotations

import cv2
import numpy as np

PERIODS = (2, 4, 8, 16)


def high_pass(frame: np.ndarray) -> np.ndarray:
    """float64 (H, W): luminance of a uint8 (H, W, 3) RGB frame (or (H, W) gray) minus its 3x3 box blur."""
    if frame.ndim == 3:
        lum = frame[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    else:
        lum = frame.astype(np.float64)
    return lum - cv2.blur(lum, (3, 3), borderType=cv2.BORDER_REFLECT)


def grid_score(frame: np.ndarray, period: int, *, hp: np.ndarray | None = None) -> float:
    """The score of one period (see the module's docstring); NaN when the picture is smaller than one
    block a side or has no detail at all."""
    hp = high_pass(frame) if hp is None else hp
    rows, cols = hp.shape[0] // period, hp.shape[1] // period
    if rows < 1 or cols < 1:
        return float("nan")
    crop = hp[:rows * period, :cols * period]
    var = crop.var()
    if var <= 0:
        return float("nan")
    means = crop.reshape(rows, period, cols, period).mean(axis=(0, 2))  # (P, P): one mean per position
    return float(means.var() / (var / (rows * cols)))


def grid_scores(frame: np.ndarray, periods: tuple[int, ...] = PERIODS) -> dict[int, float]:
    """{period: score} for one picture."""
    hp = high_pass(frame)
    return {p: grid_score(frame, p, hp=hp) for p in periods}

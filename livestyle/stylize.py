"""Stylizing frames with a loaded model: device placement, autocast, strength and colour
preservation. Shared by `image`, `video` and `webcam`; knows nothing about files or windows."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from .color import transfer_luminance
from .config import StylizeConfig
from .frames import frames_to_tensor, tensor_to_frames
from .model import StyleNet, resolve_device


class Stylizer:
    """`stylizer(frames, mix)` -> stylized frames. `mix` is (n_styles,) for all frames or
    (N, n_styles) for one mix per frame (schedules)."""

    def __init__(self, net: StyleNet, cfg: StylizeConfig):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        self.net = net.to(self.device).eval()

    def _autocast(self):
        # fp16 autocast on CUDA: the convs are bandwidth-bound and CIN is computed in float anyway
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def stylize_tensor(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """float (N, 3, H, W) in [0, 1] -> same shape, stylized, strength and colour applied."""
        with self._autocast():
            styled = self.net(x, mix.to(self.device))
        if self.cfg.preserve_color:
            styled = transfer_luminance(x, styled)
        s = self.cfg.strength
        if s != 1.0:
            styled = x + s * (styled - x)  # 0 -> input, 1 -> full style
        return styled

    def __call__(self, frames: list[np.ndarray], mix: torch.Tensor) -> list[np.ndarray]:
        if not frames:
            return []
        x = frames_to_tensor(frames, self.device)  # (N, 3, H, W)
        return tensor_to_frames(self.stylize_tensor(x, mix))

"""Synthetic motion for the temporal loss in training: a batch of photos and a moved copy with known flow.

Huang et al. 2017 and Gao et al. 2018 (ReCoNet) train on consecutive video frames and their optical
flow. livestyle trains on photos, so the second frame is made: each photo is resampled along a random
smooth flow (a small affine camera motion plus a low-frequency elastic field, like things moving in
the scene), then sensor noise and a brightness change are added, as a camera would between frames.
The flow is exact, so the loss needs no flow estimate and no occlusion guess: the mask only drops the
pixels whose source lies outside the photo (they would be border-replicated, not moved).

Direction, as in flow.py: `flow_to_prev[:, :, y, x]` is the displacement from pixel (x, y) of the moved
frame to where that point was in the original, so `warp_tensor(original, flow_to_prev)` is the moved
frame before noise, and `warp_tensor(stylize(original), flow_to_prev)` is what a temporally stable
network would output for it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import MotionConfig
from .flow import warp_tensor


def random_flow(n: int, h: int, w: int, cfg: MotionConfig, generator: torch.Generator) -> torch.Tensor:
    """Random smooth flows, float (N, 2, H, W) in pixels (channel 0 = dx, 1 = dy), on the CPU."""
    def uniform(size, bound):
        return (torch.rand(size, generator=generator) * 2 - 1) * bound

    angle = uniform(n, math.radians(cfg.rotate_deg))
    zoom = 1 + uniform(n, cfg.scale)
    shift = uniform((n, 2), cfg.shift_px)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    cx, cy = (w - 1) / 2, (h - 1) / 2
    px, py = xs - cx, ys - cy  # (H, W) about the centre
    cos, sin = (zoom * torch.cos(angle))[:, None, None], (zoom * torch.sin(angle))[:, None, None]
    src_x = cos * px - sin * py + cx + shift[:, 0, None, None]  # (N, H, W): where each pixel came from
    src_y = sin * px + cos * py + cy + shift[:, 1, None, None]
    flow = torch.stack((src_x - xs, src_y - ys), dim=1)  # (N, 2, H, W)
    if cfg.elastic_px > 0:
        g = max(2, cfg.elastic_grid)
        coarse = torch.randn((n, 2, g, g), generator=generator) * cfg.elastic_px
        flow = flow + F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    return flow


def inside_mask(flow_to_prev: torch.Tensor) -> torch.Tensor:
    """1 where flow_to_prev points inside the frame, else 0: float (N, 1, H, W)."""
    _, _, h, w = flow_to_prev.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow_to_prev.dtype, device=flow_to_prev.device),
                            torch.arange(w, dtype=flow_to_prev.dtype, device=flow_to_prev.device), indexing="ij")
    sx, sy = xs + flow_to_prev[:, 0], ys + flow_to_prev[:, 1]
    ok = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    return ok[:, None].to(flow_to_prev.dtype)


def moved_pair(x: torch.Tensor, cfg: MotionConfig, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x float (N, 3, H, W) in [0, 1] -> (moved, flow_to_prev, mask): the moved frames (N, 3, H, W) in
    [0, 1], the exact flow from them back to x (N, 2, H, W) and where it is valid (N, 1, H, W).
    All random numbers come from `generator` (CPU), so a step's pair is reproducible."""
    n, _, h, w = x.shape
    flow_to_prev = random_flow(n, h, w, cfg, generator)
    gain = (1 + (torch.rand(n, generator=generator) * 2 - 1) * cfg.brightness)[:, None, None, None]
    noise = torch.randn((n, 3, h, w), generator=generator) * cfg.noise
    flow_to_prev = flow_to_prev.to(x.device)
    moved = (warp_tensor(x, flow_to_prev) * gain.to(x.device) + noise.to(x.device)).clamp(0, 1)
    return moved, flow_to_prev, inside_mask(flow_to_prev)

"""The only place where layouts change: uint8 (H, W, 3) RGB numpy frames <-> float (N, 3, H, W)
tensors in [0, 1]. Reading, writing and resizing frames (no torch) is images.py."""
from __future__ import annotations

import numpy as np
import torch

from .images import check_frame


def frames_to_tensor(frames: list[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
    """Stack same-size frames into one float32 (N, 3, H, W) tensor in [0, 1]."""
    for f in frames:
        check_frame(f)
    batch = torch.from_numpy(np.stack(frames)).to(device)  # (N, H, W, 3) uint8
    return batch.permute(0, 3, 1, 2).float().div(255.0)  # (N, 3, H, W)


def frame_to_tensor(frame: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    return frames_to_tensor([frame], device)


def tensor_to_frames(x: torch.Tensor) -> list[np.ndarray]:
    """float (N, 3, H, W) in [0, 1] -> list of uint8 (H, W, 3) RGB frames (rounded, clipped)."""
    assert x.dim() == 4 and x.shape[1] == 3, f"expected (N, 3, H, W), got {tuple(x.shape)}"
    u8 = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    arr = u8.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (N, H, W, 3)
    return list(arr)


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    return tensor_to_frames(x if x.dim() == 4 else x[None])[0]

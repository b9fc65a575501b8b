"""The only place where layouts change: uint8 (H, W, 3) RGB numpy frames <-> float (N, 3, H, W)
tensors in [0, 1], and frame resizing."""
from __future__ import annotations

import cv2
import numpy as np
import torch


def check_frame(frame: np.ndarray) -> None:
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3):
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"expected frame uint8 (H, W, 3) RGB, got {got}")


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


def fit_size(width: int, height: int, *, max_side_px: int | None = None,
             size: tuple[int, int] | None = None, even: bool = False) -> tuple[int, int]:
    """Output (width, height) for a frame: `size` exactly, else scaled down so the longest side is at
    most `max_side_px` (never up), keeping the aspect ratio. `even` rounds to even numbers (yuv420p)."""
    if size is not None:
        w, h = size
    elif max_side_px is not None and max(width, height) > max_side_px:
        scale = max_side_px / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
    else:
        w, h = width, height
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area filter when shrinking (no aliasing), bicubic when enlarging."""
    h0, w0 = frame.shape[:2]
    if (w0, h0) == (width, height):
        return frame
    interp = cv2.INTER_AREA if width * height < w0 * h0 else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, height), interpolation=interp)


def read_image(path: str) -> np.ndarray:
    """An image file as an RGB frame; ValueError when it is not a readable image."""
    import os
    if not os.path.exists(path):
        raise FileNotFoundError(f"input image not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ValueError(f"{path}: not a readable image (expected PNG, JPEG, WebP, BMP or TIFF)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_image(frame: np.ndarray, ext: str) -> bytes:
    """Encode an RGB frame to image bytes for a file extension such as '.png' or '.jpg'."""
    check_frame(frame)
    try:
        ok, buf = cv2.imencode(ext, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    except cv2.error:  # OpenCV 5 raises for an extension it has no encoder for
        ok = False
    if not ok:
        raise ValueError(f"cannot write images of type {ext!r}; use .png, .jpg, .webp, .bmp or .tif")
    return buf.tobytes()

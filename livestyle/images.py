"""Frames as numpy, without torch: checking, sizing, resizing, reading and encoding images. Frames are
uint8 (H, W, 3) RGB everywhere in livestyle; frames.py turns them into tensors."""
from __future__ import annotations

import os

import cv2
import numpy as np


def check_frame(frame: np.ndarray) -> None:
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3):
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"expected frame uint8 (H, W, 3) RGB, got {got}")


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


MAX_SIDE_PX = 8192  # larger images and video frames are refused: several GB of activations per frame
MAX_PIXELS = 36_000_000  # 36 Mpixel, e.g. 8000x4500


def check_size(what: str, width: int, height: int) -> None:
    """The one size limit for pictures and video frames; the message says how to get under it."""
    if max(width, height) > MAX_SIDE_PX or width * height > MAX_PIXELS:
        raise ValueError(f"{what}: {width}x{height} ({width * height / 1e6:.0f} Mpixel) is too large to stylize "
                         f"(limit {MAX_SIDE_PX} px a side and {MAX_PIXELS // 1_000_000} Mpixel); "
                         "pass --max-side 1920 or smaller")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def decode_image(path: str) -> np.ndarray | None:
    """An image file as an RGB frame, or None when it cannot be decoded (callers that skip bad files)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str, *, what: str = "input image") -> np.ndarray:
    """An image file as an RGB frame; a one-line error naming the file when it is missing, a folder or
    not a readable image."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{what} {path} is a folder; expected an image file (PNG, JPEG, WebP, BMP or TIFF)")
    frame = decode_image(path)
    if frame is None:
        raise ValueError(f"{what} {path} is not a readable image (expected PNG, JPEG, WebP, BMP or TIFF)")
    return frame


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

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
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"expected a frame of at least 1x1 pixels, got {frame.shape[1]}x{frame.shape[0]}")


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
    if _too_large(width, height):
        raise ValueError(f"{what}: {width}x{height} ({width * height / 1e6:.0f} Mpixel) is too large to stylize "
                         f"(limit {MAX_SIDE_PX} px a side and {MAX_PIXELS // 1_000_000} Mpixel); "
                         "pass --max-side 1920 or smaller")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG, JPEG, BMP or WebP header declares it, before anything is decoded; None
    for other formats or a header too short to say. A 100-byte file can declare 65000x65000."""
    b = bytes(data[:65536])
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if b[:2] == b"BM" and len(b) >= 26:
        return abs(int.from_bytes(b[18:22], "little", signed=True)), abs(int.from_bytes(b[22:26], "little", signed=True))
    if b[:4] == b"RIFF" and b[8:12] == b"WEBP" and len(b) >= 30:
        kind = b[12:16]
        if kind == b"VP8X":
            return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
        if kind == b"VP8L":
            bits = int.from_bytes(b[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if kind == b"VP8 ":
            return int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF
        return None
    if b[:2] == b"\xff\xd8":  # JPEG: walk the markers to the first start-of-frame
        i = 2
        while i + 9 <= len(b):
            if b[i] != 0xFF:
                return None
            marker = b[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(b[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
            i += 2 + length
    return None


def _too_large(width: int, height: int) -> bool:
    return max(width, height) > MAX_SIDE_PX or width * height > MAX_PIXELS


def decode_image(path: str) -> np.ndarray | None:
    """An image file as an RGB frame, or None when it cannot be decoded or its header declares a picture
    over the size limit (callers that skip bad files; read_image says which)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    declared = header_size(data) if data.size else None
    if declared and _too_large(*declared):
        return None
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:  # OpenCV's own pixel limit (CV_IO_MAX_IMAGE_PIXELS) for formats read without a header check
        return None
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str, *, what: str = "input image") -> np.ndarray:
    """An image file as an RGB frame; a one-line error naming the file when it is missing, a folder or
    not a readable image."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{what} {path} is a folder; expected an image file (PNG, JPEG, WebP, BMP or TIFF)")
    with open(path, "rb") as f:
        declared = header_size(f.read(65536))
    if declared and _too_large(*declared):  # refused from its header, before a byte is decoded
        w, h = declared
        raise ValueError(f"{what} {path}: its header declares {w}x{h} ({w * h / 1e6:.0f} Mpixel), over livestyle's "
                         f"limit of {MAX_SIDE_PX} px a side and {MAX_PIXELS // 1_000_000} Mpixel; shrink it first")
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

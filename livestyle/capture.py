"""Live capture: a camera (device index, /dev/video path, stream URL) or a video file played at its own
frame rate as if it were a camera. Capture runs in its own thread and keeps only the newest frame, so a
slow consumer always gets the freshest picture and latency never builds up (stale frames are dropped
and counted). OpenCV's BGR is converted here; frames leave as uint8 (H, W, 3) RGB.
"""
from __future__ import annotations

import glob
import logging
import os
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class CaptureInfo:
    source: str
    width: int  # what the device really delivers (read back, may differ from what was asked)
    height: int
    fps: float
    is_file: bool


@dataclass
class CapturedFrame:
    frame: np.ndarray  # uint8 (H, W, 3) RGB
    t_capture: float  # time.monotonic() when the frame was read
    seq: int  # 0, 1, 2, ... in capture order; gaps seen by the consumer are dropped frames


def list_cameras(max_index: int = 10) -> list[str]:
    """Camera devices that exist on this machine (Linux: /dev/video*)."""
    found = sorted(glob.glob("/dev/video*"))
    return found[:max_index]


def _open_capture(source: str) -> cv2.VideoCapture:
    if source.isdigit():
        return cv2.VideoCapture(int(source))
    return cv2.VideoCapture(source)


class LiveSource:
    """Context manager; `read()` returns the newest CapturedFrame not yet handed out, or None when
    the source has ended (file without --loop, or a camera that stopped delivering)."""

    def __init__(self, source: str, *, size: tuple[int, int] | None = None, fps: float | None = None,
                 loop: bool = False, capture=None, stall_timeout_s: float = 3.0):
        self.source = source
        self.loop = loop
        self.stall_timeout_s = stall_timeout_s
        self.is_file = capture is None and os.path.isfile(source)
        if capture is None and not source.isdigit() and "://" not in source:  # a path: say what is wrong with it
            if os.path.isdir(source):
                raise ValueError(f"--camera {source} is a folder; expected a camera index, a /dev/video path, "
                                 "a video file or a stream URL")
            if not os.path.exists(source):
                raise FileNotFoundError(f"--camera {source}: no such camera device or video file")
        self.cap = capture if capture is not None else _open_capture(source)
        if not self.cap.isOpened():
            if self.is_file:
                raise ValueError(f"--camera {source}: not a video file OpenCV can read (expected MP4, MOV, MKV, "
                                 "WebM, ...)")
            cams = list_cameras()
            found = f"cameras found: {', '.join(cams)}" if cams else "no cameras found"
            raise RuntimeError(f"could not open camera {source!r} ({found}); try --camera 0, a /dev/video path, "
                               "a video file or a stream URL")
        if size and not self.is_file:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps and not self.is_file:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        # read back what the device really gives (pyvirtualcam's note: may differ from what was asked)
        width = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        real_fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not real_fps or real_fps > 1000 or real_fps != real_fps:
            real_fps = 30.0
        self.info = CaptureInfo(source, width, height, real_fps, self.is_file)
        self._latest: CapturedFrame | None = None
        self._handed_seq = -1
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = False
        self.error: str | None = None
        self.frames_captured = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="livestyle-capture")
        self._thread.start()

    def _run(self) -> None:
        period = 1.0 / self.info.fps if self.is_file else 0.0
        next_t = time.monotonic()
        last_ok = time.monotonic()
        seq = 0
        while not self._stop.is_set():
            ok, bgr = self.cap.read()
            if not ok or bgr is None:
                if self.is_file and self.loop and seq > 0:
                    self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                if self.is_file or time.monotonic() - last_ok > self.stall_timeout_s:
                    if not self.is_file:
                        self.error = f"camera {self.source!r} stopped delivering frames"
                    break
                time.sleep(0.01)
                continue
            last_ok = time.monotonic()
            if period:  # a file plays at its own rate, as a camera would deliver it
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 else cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            with self._cond:
                self._latest = CapturedFrame(frame, time.monotonic(), seq)
                self.frames_captured = seq + 1
                self._cond.notify_all()
            seq += 1
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def read(self, timeout_s: float = 5.0) -> CapturedFrame | None:
        """The newest frame after the last one handed out; None when the source has ended."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None or self._latest.seq <= self._handed_seq:
                if self._ended:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    self.error = self.error or f"no frame from {self.source!r} for {timeout_s:.0f} s"
                    return None
                self._cond.wait(left)
            item = self._latest
            self._handed_seq = item.seq
            return item

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def __enter__(self) -> "LiveSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The live loop's outputs, one `write(frame, pts_ms)` each: recordings and streams with millisecond
timestamps from the wall clock (TimedSink over sinks.VideoFileSink), the `r` key's Recorder, the preview
window and snapshots. No torch: frames are uint8 (H, W, 3) RGB numpy."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np

from .sinks import VideoFileSink, container_for

MS = Fraction(1, 1000)  # recordings and streams carry millisecond timestamps from the wall clock
STREAM_FORMATS = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts", "tcp": "mpegts"}


class TimedSink:
    """Wraps a VideoFileSink: millisecond wall-clock pts made strictly increasing (two frames in the same
    millisecond would otherwise collide), so playback speed is right even when fps varies. With
    `final_path`, the sink writes a temporary file that is renamed to `final_path` on close (and removed
    when nothing was recorded, or on `close(keep=False)`)."""

    def __init__(self, sink: VideoFileSink, *, final_path: str | None = None, tmp_path: str | None = None,
                 overwrite: bool = False):
        self.sink, self.final_path, self.tmp_path, self.overwrite = sink, final_path, tmp_path, overwrite
        self.path = final_path or getattr(sink, "path", "")
        self._last_pts = -1
        self._closed = self._failed = False

    def write(self, frame: np.ndarray, pts: int, duration: int = 0) -> None:
        pts = max(pts, self._last_pts + 1)
        try:
            self.sink.write(frame, pts)
        except Exception as e:
            self._failed = True  # a full disk, a dropped connection: what was written is not kept
            raise OSError(f"could not write to {self.path}: {e}") from None
        self._last_pts = pts

    def close(self, *, keep: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        keep = keep and not self._failed
        try:
            self.sink.close()
        except Exception:
            keep = False
            raise
        finally:
            if self.final_path and self.tmp_path:
                if self._last_pts < 0 or not keep:  # nothing recorded: no empty file that looks like one
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.tmp_path)
                    self.path = ""
                else:
                    from .atomic import commit
                    commit(self.tmp_path, self.final_path, overwrite=self.overwrite)


def open_recording(path: str, width: int, height: int, *, overwrite: bool = False, crf: int = 20) -> TimedSink:
    """A recording with real (millisecond) timestamps, written to a hidden temporary file beside `path`
    and renamed to it on close."""
    from .atomic import check_output_path, reserve_temp

    fmt = container_for(path)
    check_output_path(path, overwrite=overwrite)
    tmp = reserve_temp(os.path.abspath(path), suffix=f".partial{os.path.splitext(path)[1]}")
    try:
        sink = VideoFileSink(tmp, width, height, rate=Fraction(30), time_base=MS, format=fmt, crf=crf)
    except BaseException:
        os.unlink(tmp)
        raise
    return TimedSink(sink, final_path=path, tmp_path=tmp, overwrite=overwrite)


def open_stream(url: str, width: int, height: int) -> TimedSink:
    """A low-latency live stream to rtmp://, srt://, udp:// or tcp:// (OBS, ffplay)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError as e:
        raise ValueError(f"--stream: expected a URL like udp://127.0.0.1:5000, got {url!r} ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_FORMATS:
        raise ValueError(f"--stream: expected a URL starting with rtmp://, srt://, udp:// or tcp://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"--stream: expected a host in the URL, like {scheme}://127.0.0.1:5000, got {url!r}")
    try:
        sink = VideoFileSink(url, width, height, rate=Fraction(30), time_base=MS, format=STREAM_FORMATS[scheme],
                             crf=23, low_latency=True)
    except (ValueError, OSError, av.error.FFmpegError) as e:
        msg = str(e).replace(f"cannot write video to {url}: ", "").split("; use .mp4")[0]
        raise ValueError(f"--stream: could not open {url}: {msg}") from None
    return TimedSink(sink)


class Recorder:
    """The `r` key's recording: `start(path, width, height)`, `write(frame, t_s)`, `stop() -> path`."""

    def __init__(self, *, overwrite: bool = False):
        self.overwrite = overwrite
        self._sink: TimedSink | None = None
        self._t0 = 0.0
        self.finished: list[str] = []  # recordings closed so far

    @property
    def active(self) -> bool:
        return self._sink is not None

    def start(self, path: str, width: int, height: int, t_s: float) -> None:
        if self._sink is None:
            self._sink, self._t0 = open_recording(path, width, height, overwrite=self.overwrite), t_s

    def write(self, frame: np.ndarray, t_s: float) -> None:
        if self._sink is not None:
            self._sink.write(frame, int(round((t_s - self._t0) * 1000)))

    def stop(self) -> str:
        sink, self._sink = self._sink, None
        if sink is None:
            return ""
        sink.close()
        if sink.path:
            self.finished.append(sink.path)
        return sink.path

    def close(self) -> None:
        self.stop()


_PROBE = "import cv2; cv2.namedWindow('livestyle-probe'); cv2.waitKey(1); cv2.destroyAllWindows()"


def display_problem() -> str | None:
    """Why a preview window cannot open here, or None when it can. OpenCV's GUI aborts the whole process
    (Qt: SIGABRT) when there is no display, so on Linux a window is first tried in a child process."""
    if not sys.platform.startswith("linux"):
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "opening a window did not finish in 20 s"
    if done.returncode != 0:
        return f"OpenCV could not open a window on display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')}"
    return None


class WindowSink:
    """The preview window (OpenCV HighGUI): `write(frame)` shows an RGB frame, `keys()` the keys pressed
    since the last call."""

    def __init__(self, title: str = "livestyle"):
        import cv2
        self._cv2, self.title = cv2, title

    def write(self, frame: np.ndarray, pts: int = 0, duration: int = 0) -> None:
        self._cv2.imshow(self.title, self._cv2.cvtColor(frame, self._cv2.COLOR_RGB2BGR))

    def keys(self) -> list[str]:
        k = self._cv2.waitKey(1) & 0xFF
        return [] if k == 255 else [chr(k)]

    def close(self) -> None:
        self._cv2.destroyAllWindows()


def save_snapshot(frame: np.ndarray, folder: str, name: str) -> str:
    """A PNG of the frame in `folder`, written atomically; never replaces a file (a number is added)."""
    from .atomic import atomic_write_bytes, check_output_path
    from .images import encode_image

    stem, n = os.path.join(folder, name), 1
    path = f"{stem}.png"
    while os.path.exists(path):
        n += 1
        path = f"{stem}-{n}.png"
    check_output_path(path)
    atomic_write_bytes(path, encode_image(frame, ".png"), overwrite=False)
    return path

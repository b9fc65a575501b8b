"""Frame sources: iterate to get uint8 (H, W, 3) RGB frames. No torch here: frames are numpy.

VideoFileSource decodes a file with PyAV. It checks the file where it enters (a missing file, a text
file, an image renamed .mp4, an audio-only file, a video stream with no frames all raise one-line
errors naming the file), turns frames upright by the stream's display matrix the way ffmpeg's
autorotate does, resizes them, and skips packets the decoder rejects (counted in `skipped_frames`).
"""
from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from typing import Iterator, NamedTuple, Sequence

import av
import numpy as np

from .images import fit_size, resize_frame

log = logging.getLogger(__name__)


class TimedFrame(NamedTuple):
    frame: np.ndarray  # uint8 (H, W, 3) RGB, upright, resized
    pts: int  # presentation time in the source's time_base; strictly increasing
    duration: int  # how long it is shown, in time_base units (0 when unknown)


# ---- display matrix (rotation metadata) -------------------------------------------------------

def display_rotation(matrix: Sequence[int]) -> float:
    """Degrees the display matrix rotates the picture counter-clockwise, in [-180, 180]: FFmpeg's
    av_display_rotation_get (libavutil/display.c); PyAV's `VideoFrame.rotation` is the same number."""
    m = [v / 65536 for v in matrix[:6]]  # 16.16 fixed point; [2] and [5] are 2.30 but unused
    scale0, scale1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if scale0 == 0 or scale1 == 0:
        return 0.0
    return -math.degrees(math.atan2(m[1] / scale1, m[0] / scale0))


def orient_frame(frame: np.ndarray, matrix: Sequence[int] | None) -> np.ndarray:
    """Turn a decoded frame upright as a player would, from the 9 int32 of FFmpeg's DISPLAYMATRIX.

    The decision table is ffmpeg's autorotate (fftools/ffmpeg_filter.c, also ffplay.c): the clockwise
    angle theta picks a transpose / hflip / vflip, and the signs of matrix[0], [3], [4] tell a mirrored
    picture from a rotated one, so all eight EXIF-style orientations come out right.
    """
    if matrix is None:
        return frame
    theta = -round(display_rotation(matrix))  # clockwise degrees
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)  # into [-0.9, 359.1), as ffmpeg's get_rotation
    if abs(theta - 90 * round(theta / 90)) > 1:
        # ffmpeg inserts a `rotate` filter here (black corners); such files are very rare
        log.warning("display matrix rotates by %.0f degrees, not a multiple of 90; using %d",
                    theta, 90 * round(theta / 90) % 360)
    theta = 90 * round(theta / 90) % 360
    if theta == 90:
        # transpose=cclock_flip is a plain transpose; transpose=clock turns 90 degrees clockwise
        out = frame.transpose(1, 0, 2) if matrix[3] > 0 else np.rot90(frame, -1)
    elif theta == 180:
        out = frame[:, ::-1] if matrix[0] < 0 else frame
        out = out[::-1] if matrix[4] < 0 else out
    elif theta == 270:
        # transpose=clock_flip: clockwise then upside down; transpose=cclock: 90 degrees counter-clockwise
        out = np.rot90(frame, -1)[::-1] if matrix[3] < 0 else np.rot90(frame, 1)
    else:
        out = frame[::-1] if matrix[4] < 0 else frame
    return np.ascontiguousarray(out)


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    sd = frame.side_data.get("DISPLAYMATRIX")
    if sd is None:
        return None
    matrix = np.frombuffer(bytes(sd), dtype=np.int32)  # native-endian int32[9], as FFmpeg stores it
    return [int(v) for v in matrix[:9]] if matrix.size >= 9 else None


# ---- video files --------------------------------------------------------------------------------

def _first_line(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.splitlines()[0] if text else type(e).__name__


class VideoFileSource:
    """`for frame, pts, duration in VideoFileSource(path):` decoded frames, upright and resized.

    Opening checks the file and decodes the first frame, so `width`/`height` (output size after
    rotation and resizing), `time_base`, `rate` and `rotation` are known before iterating. `even`
    rounds a resized size down to even numbers (yuv420p encoders need them). `start_pts` starts at the first
    frame shown at or after that time (in the stream's time base): a seek to the keyframe before it, then
    decoding up to it (a shot of a long video, batch --split-shots).
    """

    def __init__(self, path: str | os.PathLike, *, max_side_px: int | None = None,
                 size: tuple[int, int] | None = None, even: bool = False, start_pts: int | None = None):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"input not found: {self.path}")
        if os.path.isdir(self.path):
            raise ValueError(f"{self.path} is a folder; expected a video file")
        try:
            self._container = av.open(self.path)
        except av.error.FFmpegError as e:
            raise ValueError(f"{self.path}: cannot read it as a video ({_first_line(e)}); "
                             "it is not a video file, or it is truncated or corrupt") from None
        try:
            self._open_stream(max_side_px, size, even)
            if start_pts is not None and start_pts > self.start_pts:
                self._seek(start_pts)
        except BaseException:
            self._container.close()
            raise

    def _open_stream(self, max_side_px, size, even) -> None:
        c = self._container
        fmt = c.format.name
        streams = [s for s in c.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
        if fmt == "image2" or (fmt.endswith("_pipe") and fmt != "gif_pipe"):
            codec = c.streams.video[0].codec_context.name if c.streams.video else fmt
            raise ValueError(f"{self.path} is an image ({codec}), not a video; use `livestyle image`")
        if not streams:
            found = ", ".join(f"{s.type} {s.codec_context.name if s.codec_context else '?'}" for s in c.streams)
            raise ValueError(f"{self.path} has no video stream (found: {found or 'no streams'}); expected a video file")
        self.stream = streams[0]
        self.stream.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with the network
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 90000)
        self.rate: Fraction = self.stream.average_rate or self.stream.guessed_rate or Fraction(30)
        self.skipped_frames = 0  # packets the decoder rejected (corrupt data)
        self.frames_read = 0
        self.ended_early = False  # the demuxer failed before the end of the file
        self._last_pts: int | None = None
        self._default_duration = max(1, round(1 / (self.rate * self.time_base)))
        self._decoded = self._decode()
        first = next(self._decoded, None)
        if first is None:
            bad = f" ({self.skipped_frames} corrupt packets)" if self.skipped_frames else ""
            raise ValueError(f"{self.path}: the video stream has no frames that could be decoded{bad}")
        self._first = first
        self.start_pts: int = first.pts if first.pts is not None else 0
        self._matrix = _display_matrix(first)
        self.rotation = round(display_rotation(self._matrix)) if self._matrix else 0
        upright = orient_frame(np.empty((first.height, first.width, 0), np.uint8), self._matrix)
        self.src_width, self.src_height = upright.shape[1], upright.shape[0]
        self.width, self.height = fit_size(self.src_width, self.src_height, max_side_px=max_side_px,
                                           size=size, even=even and (max_side_px is not None or size is not None))
        if self.rotation:
            log.info("%s: display matrix rotates %d degrees counter-clockwise; frames are turned upright",
                     self.path, self.rotation)

    def _seek(self, start_pts: int) -> None:
        self._container.seek(start_pts, stream=self.stream, backward=True, any_frame=False)
        self._decoded = self._decode()
        for f in self._decoded:
            if f.pts is None or f.pts >= start_pts:
                self._first = f
                return
        self._first = None  # nothing at or after start_pts

    @property
    def frames_expected(self) -> int | None:
        """Frame count from the container header, or duration x rate; None when neither is known."""
        if self.stream.frames:
            return self.stream.frames
        if self.stream.duration:
            return max(1, round(self.stream.duration * self.time_base * self.rate))
        if self._container.duration:
            return max(1, round(self._container.duration / 1_000_000 * self.rate))
        return None

    def _decode(self) -> Iterator[av.VideoFrame]:
        packets = self._container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as e:
                # the container itself is damaged past this point: keep what was decoded
                self.ended_early = True
                log.info("%s: stopped reading after %d frames (%s); the file looks truncated",
                            self.path, self.frames_read, _first_line(e))
                return
            try:
                frames = self.stream.decode(packet)
            except av.error.FFmpegError as e:
                self.skipped_frames += 1
                log.debug("%s: skipped a corrupt packet at pts %s (%s)", self.path, packet.pts, _first_line(e))
                continue
            for f in frames:
                if f.is_corrupt:
                    self.skipped_frames += 1
                    continue
                yield f

    def __iter__(self) -> Iterator[TimedFrame]:
        while True:
            f = self._first if self._first is not None else next(self._decoded, None)
            self._first = None
            if f is None:
                return
            pts = f.pts if f.pts is not None else (self._last_pts + self._default_duration
                                                   if self._last_pts is not None else 0)
            if self._last_pts is not None and pts <= self._last_pts:
                pts = self._last_pts + 1  # encoders refuse repeated timestamps; a tick later is invisible
            self._last_pts = pts
            frame = f.to_ndarray(format="rgb24")  # (H, W, 3) uint8 RGB
            frame = orient_frame(frame, self._matrix)
            frame = resize_frame(frame, self.width, self.height)
            self.frames_read += 1
            yield TimedFrame(frame, pts, f.duration or self._default_duration)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

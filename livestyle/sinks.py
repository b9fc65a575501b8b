"""Frame sinks: take uint8 (H, W, 3) RGB frames. No torch here: frames are numpy.

VideoFileSink encodes with PyAV (H.264 in MP4 by default) and carries the audio of another file
along: packets are copied unchanged when the output container accepts their codec, else decoded and
re-encoded to the container's default audio codec (AAC for MP4). Audio is copied in step with the
video, so the muxer never has to hold a whole track in memory and a cut-short file stays in sync.
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np

log = logging.getLogger(__name__)

# encoders that take a constant rate factor (x264/x265/SVT-AV1/libaom; VP9 reads it with b=0)
_CRF_CODECS = {"libx264", "libx264rgb", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9", "libvpx"}
_SUGGESTED = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "mpeg4")
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


_CRF_RANGES = {"libx264": 51, "libx264rgb": 51, "libx265": 51}  # the others in _CRF_CODECS take 0..63


def check_encoder(codec: str, crf: int | None = None) -> av.codec.Codec:
    """The PyAV video encoder called `codec`; ValueError naming the ones that exist when it does not, or
    when `crf` is outside what that encoder takes (x264/x265 0..51, VP9/AV1 0..63)."""
    try:
        c = av.codec.Codec(codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        have = [n for n in _SUGGESTED if n in av.codecs_available]
        raise ValueError(f"unsupported codec {codec!r}: this FFmpeg build has no such encoder; "
                         f"try --codec {' or '.join(have) or 'mpeg4'}") from None
    if c.type != "video":
        raise ValueError(f"codec {codec!r} is an {c.type} encoder; expected a video encoder such as libx264")
    if crf is not None and c.name in _CRF_CODECS:
        top = _CRF_RANGES.get(c.name, 63)
        if not 0 <= crf <= top:
            raise ValueError(f"--crf for {c.name} must be 0..{top}, got {crf}")
    return c


def even_required(pix_fmt: str) -> tuple[bool, bool]:
    """(width, height) must be even for this pixel format: chroma subsampled 2x (4:2:0) or 2x1 (4:2:2)."""
    name = pix_fmt.lower()
    if name.startswith(("yuv420", "yuvj420", "nv12", "nv21", "p010", "p016")):
        return True, True
    if name.startswith(("yuv422", "yuvj422", "nv16", "yuyv", "uyvy")):
        return True, False
    return False, False


class _AudioCarry:
    """Audio streams of `in_path` carried into `out`: copied packets, or re-encoded frames."""

    def __init__(self, in_path: str, out: av.container.OutputContainer):
        self._in = av.open(in_path)
        self._out = out
        self._map = {}  # input stream index -> (output stream, copy?)
        self.described: list[str] = []
        supported = out.supported_codecs
        for s in self._in.streams.audio:
            name = s.codec_context.name
            if name in supported:
                o = out.add_stream_from_template(s)
                self._map[s.index] = (o, True)
                self.described.append(f"{name} copied")
            else:
                codec = out.default_audio_codec or "aac"
                if codec == "none" or not s.sample_rate:
                    log.warning("%s: dropping %s audio (the %s container takes no audio)", in_path, name, out.format.name)
                    continue
                rate = s.sample_rate
                if codec in ("libopus", "opus") and rate not in _OPUS_RATES:
                    rate = 48000  # Opus takes only these rates; PyAV resamples the frames on encode
                o = out.add_stream(codec, rate=rate)
                o.layout = s.layout.name if s.layout.name in _LAYOUTS.values() else _LAYOUTS.get(s.layout.nb_channels, "stereo")
                self._map[s.index] = (o, False)
                self.described.append(f"{name} re-encoded to {codec}")
        streams = [s for s in self._in.streams.audio if s.index in self._map]
        self._packets = self._in.demux(*streams) if streams else iter(())
        self._pending: av.Packet | None = None
        self.done = not streams

    def copy_until(self, until_s: float | None) -> None:
        """Mux audio up to `until_s` seconds on the input's timeline (None: to the end)."""
        while not self.done:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                self._flush_encoders()
                return
            if until_s is not None and packet.pts is not None and packet.pts * packet.time_base >= until_s:
                self._pending = packet
                return
            o, copy = self._map[packet.stream.index]
            if copy:
                if packet.size == 0:  # the demuxer's empty flush packet (PyAV's remux example checks size)
                    continue
                packet.stream = o
                self._out.mux(packet)
            else:
                try:
                    frames = packet.stream.decode(packet)
                except av.error.FFmpegError as e:
                    log.debug("skipped a corrupt audio packet (%s)", e)
                    continue
                for frame in frames:
                    self._out.mux(o.encode(frame))

    def _flush_encoders(self) -> None:
        self.done = True
        for o, copy in self._map.values():
            if not copy:
                self._out.mux(o.encode(None))

    def finish(self, until_s: float | None) -> None:
        self.copy_until(until_s)
        if not self.done:
            self._flush_encoders()

    def close(self) -> None:
        self._in.close()


class VideoFileSink:
    """`sink.write(frame, pts)` encodes a frame shown at `pts` (in `time_base` units).

    `time_base` and `rate` should be the source's, so that timestamps pass through unchanged (variable
    frame rate too). `audio_from` names a file whose audio streams are carried into the output.
    `low_latency` is for live streams (rtmp://, srt://, udp:// with `format`): x264 `veryfast` +
    `zerolatency` (no B-frames, no lookahead: a frame leaves the encoder as soon as it is written) and
    a keyframe every 2 s so that viewers can join. `close()` flushes the encoder (`for packet in
    stream.encode(): out.mux(packet)`) and is safe to call twice; `close(audio_until_s=t)` stops the
    audio at t, for a file that was cut short.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, *, rate: Fraction,
                 time_base: Fraction, codec: str = "libx264", crf: int | None = 18, pix_fmt: str = "yuv420p",
                 audio_from: str | None = None, format: str | None = None, low_latency: bool = False,
                 preset: str | None = None):
        self.path = str(path)
        encoder = check_encoder(codec)
        codec = encoder.name  # canonical name: "h264" -> "libx264"
        formats = [f.name for f in (encoder.video_formats or [])]
        if formats and pix_fmt not in formats:  # ProRes takes 10-bit 4:2:2 only, for one: use what it takes
            log.info("%s does not take %s; encoding %s", codec, pix_fmt, formats[0])
            pix_fmt = formats[0]
        need_w, need_h = even_required(pix_fmt)
        if (need_w and width % 2) or (need_h and height % 2):
            raise ValueError(f"{width}x{height} has odd dimensions but {pix_fmt} needs an even width and height; "
                             "pass --max-side PX or --size WxH to resize (sizes are rounded to even numbers)")
        try:
            self._out = av.open(self.path, "w", format=format)
        except (ValueError, av.error.FFmpegError) as e:
            raise ValueError(f"cannot write video to {self.path}: {e}; use .mp4, .mkv, .mov or .webm") from None
        self._audio = None
        try:
            # FFmpeg's codec query is only meaningful for muxers with a codec tag table; MPEG-TS has none
            # (it lists just its defaults) but carries H.264/HEVC/AAC by specification
            if self._out.format.name != "mpegts" and codec not in self._out.supported_codecs:
                raise ValueError(f"the {self._out.format.name} container cannot hold {codec} video; "
                                 "use another --codec or output extension (.mkv takes most codecs)")
            if self._out.format.name in ("mp4", "mov") and not low_latency:
                self._out.container_options["movflags"] = "+faststart"  # index at the front: plays while downloading
            self._video = self._out.add_stream(codec, rate=rate)
            self._video.width, self._video.height, self._video.pix_fmt = width, height, pix_fmt
            self._video.codec_context.time_base = time_base
            self._video.time_base = time_base
            options = {}
            if crf is not None and codec in _CRF_CODECS:
                options.update({"crf": str(crf), **({"b": "0"} if "vpx" in codec else {})})
            elif crf is not None:
                log.info("%s takes no crf; using its default rate control", codec)
            if preset and codec in ("libx264", "libx264rgb", "libx265"):
                options["preset"] = preset
            if low_latency:
                self._video.codec_context.gop_size = max(1, round(2 * rate))
                if codec in ("libx264", "libx264rgb"):
                    options.update({"preset": "veryfast", "tune": "zerolatency"})
                else:
                    self._video.codec_context.max_b_frames = 0
            self._video.codec_context.options = options
            if audio_from is not None:
                self._audio = _AudioCarry(audio_from, self._out)
            if low_latency and hasattr(self._out, "start_encoding"):
                # a live stream connects when its header is written: now, so a refused connection is said
                # before anything starts, not at the first frame
                self._out.start_encoding()
        except BaseException:
            self._close_files()
            raise
        self.width, self.height, self.time_base = width, height, time_base
        self.frames_written = 0
        self.end_s = 0.0  # end of the last frame written, seconds on the input's timeline
        self._closed = False

    @property
    def audio(self) -> list[str]:
        """What happened to each audio stream, e.g. ['aac copied']."""
        return self._audio.described if self._audio else []

    def write(self, frame: np.ndarray, pts: int, duration: int = 0) -> None:
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == (self.height, self.width, 3)):
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ValueError(f"expected frame uint8 ({self.height}, {self.width}, 3) RGB, got {got}")
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts, vf.time_base = pts, self.time_base
        if duration:
            vf.duration = duration  # the last frame's duration sets the file's duration
        self._out.mux(self._video.encode(vf))
        self.frames_written += 1
        self.end_s = float((pts + max(duration, 1)) * self.time_base)
        if self._audio is not None:
            self._audio.copy_until(float(pts * self.time_base))

    def close(self, *, audio_until_s: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._out.mux(self._video.encode(None))  # the frames still buffered in the encoder
            if self._audio is not None:
                self._audio.finish(audio_until_s)
        finally:
            self._close_files()

    def _close_files(self) -> None:
        if self._audio is not None:
            self._audio.close()
        self._out.close()

    def __enter__(self) -> VideoFileSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # after an error keep the audio no longer than the video that was written
        self.close(audio_until_s=self.end_s if exc_type is not None else None)


class VirtualCamSink:
    """Frames to a virtual camera (v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS)
    through pyvirtualcam, an optional dependency imported here so that `import livestyle` never needs
    it. `write(frame, pts, duration)` matches VideoFileSink; `close()` is safe to call twice."""

    def __init__(self, width: int, height: int, *, fps: float = 30.0, device: str | None = None):
        try:
            import pyvirtualcam
        except ImportError:
            raise RuntimeError("--virtual-camera needs pyvirtualcam: pip install 'livestyle[virtualcam]'") from None
        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device)
        except RuntimeError as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RuntimeError(f"could not open a virtual camera ({msg}); on Linux load v4l2loopback "
                               "(sudo modprobe v4l2loopback devices=1 exclusive_caps=1)") from None
        self.width, self.height, self.device = width, height, self._cam.device
        log.info("virtual camera %s: %dx%d at %.1f fps", self.device, width, height, fps)

    def write(self, frame: np.ndarray, pts: int = 0, duration: int = 0) -> None:
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape == (self.height, self.width, 3)):
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ValueError(f"expected frame uint8 ({self.height}, {self.width}, 3) RGB, got {got}")
        self._cam.send(frame)

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None

    def __enter__(self) -> VirtualCamSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- live outputs: one `write(frame, pts_ms)` each -------------------------------------------

MS = Fraction(1, 1000)  # recordings and streams carry millisecond timestamps from the wall clock
STREAM_FORMATS = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts", "tcp": "mpegts"}
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


def container_for(path: str) -> str:
    """The container format for an output file name; a clear error for any other extension."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in CONTAINERS:
        raise ValueError(f"output {path}: expected a video file name ending in {', '.join(CONTAINERS)}, "
                         f"got {ext or 'no extension'!r}")
    return CONTAINERS[ext]


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

"""Frame sinks: take uint8 (H, W, 3) RGB frames. No torch here: frames are numpy.

VideoFileSink encodes with PyAV (H.264 in MP4 by default) and carries the audio of another file
along: packets are copied unchanged when the output container accepts their codec, else decoded and
re-encoded to the container's default audio codec (AAC for MP4). Audio is copied in step with the
video, so the muxer never has to hold a whole track in memory and a cut-short file stays in sync.
"""
from __future__ import annotations

import logging
import os
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
                 preset: str | None = None, b_frames: bool = True):
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
            if not b_frames:  # decode order = display order: pieces whose packets are joined end to end (shots.py)
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


CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


def container_for(path: str) -> str:
    """The container format for an output file name; a clear error for any other extension."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in CONTAINERS:
        raise ValueError(f"output {path}: expected a video file name ending in {', '.join(CONTAINERS)}, "
                         f"got {ext or 'no extension'!r}")
    return CONTAINERS[ext]

"""`livestyle video` end to end on tiny clips that the tests write with PyAV (never committed):
frame count, rate, timestamps, rotation, audio, bad input, overwrite, Ctrl-C, corrupt frames."""
from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle import cli
from livestyle.config import StylizeConfig, VideoConfig
from livestyle.sources import VideoFileSource, orient_frame
from livestyle.transcode import VideoInterrupted, transcode

W, H, N, FPS = 64, 48, 24, 12
VFR_PTS = [0, 40, 120, 130, 250, 300, 420, 500, 510, 700]  # milliseconds


def quadrants(w: int = W, h: int = H, shade: int = 0) -> np.ndarray:
    """An asymmetric test picture: red, green / blue, white quadrants, so every turn and flip shows."""
    f = np.zeros((h, w, 3), np.uint8)
    f[: h // 2, : w // 2] = (255, 0, 0)
    f[: h // 2, w // 2:] = (0, 255, 0)
    f[h // 2:, : w // 2] = (0, 0, 255)
    f[h // 2:, w // 2:] = (255, 255, 255)
    f[:4, :4] = shade  # changes per frame, so frames differ
    return f


def write_clip(path: Path, *, n: int = N, fps: int = FPS, size: tuple[int, int] = (W, H), audio: str | None = "aac",
               pts: list[int] | None = None, time_base: Fraction | None = None, rotation: int | None = None,
               hflip: bool = False, vflip: bool = False, codec: str = "libx264", pix_fmt: str = "yuv420p",
               options: dict | None = None) -> Path:
    w, h = size
    with av.open(str(path), "w", options=options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if time_base:
            vs.codec_context.time_base = vs.time_base = time_base
        if rotation is not None:
            vs.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
        aus = None
        if audio:
            aus = out.add_stream(audio, rate=16000)
            aus.layout = "mono"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(quadrants(w, h, shade=10 * i % 256), format="rgb24")
            frame.pts = pts[i] if pts else i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus:
            end_s = float(pts[-1] * time_base) + 0.1 if pts else n / fps
            fmt = aus.codec_context.format.name  # fltp for AAC, s16 for PCM
            t, total = 0, int(16000 * end_s)
            while t < total:
                k = min(1024, total - t)
                tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(t, t + k) / 16000)[None]  # (1, k)
                samples = (tone * 32767).astype(np.int16) if fmt.startswith("s16") else tone.astype(np.float32)
                af = av.AudioFrame.from_ndarray(samples, format=fmt.rstrip("p") if fmt == "s16p" else fmt, layout="mono")
                af.sample_rate, af.pts = 16000, t
                out.mux(aus.encode(af))
                t += k
            out.mux(aus.encode(None))
    return path


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"duration_s": c.duration / 1e6, "rate": v.average_rate, "width": v.width, "height": v.height,
                "audio": [(a.codec_context.name, float(a.duration * a.time_base)) for a in c.streams.audio]}
        frames = list(c.decode(v))
        info["times_s"] = [float(f.pts * f.time_base) for f in frames]
        info["rotation"] = frames[0].rotation if frames else 0
        info["frames"] = [f.to_ndarray(format="rgb24") for f in frames]
    return info


def _mux_silent_aac(out) -> None:
    """One frame of mono silence as an AAC stream of `out`."""
    a = out.add_stream("aac", rate=16000)
    a.layout = "mono"
    af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    af.sample_rate, af.pts = 16000, 0
    out.mux(a.encode(af))
    out.mux(a.encode(None))


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    c = {
        "av": write_clip(d / "av.mp4"),
        "vfr": write_clip(d / "vfr.mp4", n=len(VFR_PTS), pts=VFR_PTS, time_base=Fraction(1, 1000)),
        "rot90": write_clip(d / "rot90.mp4", n=4, rotation=90, audio=None),
        "alaw": write_clip(d / "alaw.mov", audio="pcm_alaw"),
        "odd": write_clip(d / "odd.mp4", n=4, size=(65, 49), pix_fmt="yuv444p", audio=None),
        "audio_only": d / "audio_only.m4a",
        "zero": d / "zero.mkv",
        "text": d / "notes.mp4",
        "png": d / "picture.mp4",
    }
    with av.open(str(c["audio_only"]), "w") as out:  # AAC only, no video stream
        _mux_silent_aac(out)
    with av.open(str(c["zero"]), "w") as out:  # a video stream with no frames at all
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        _mux_silent_aac(out)
    c["text"].write_text("this is not a video\n")
    import cv2
    ok, png = cv2.imencode(".png", quadrants())
    c["png"].write_bytes(png.tobytes())
    data = c["av"].read_bytes()  # moov atom at the end: cut in half, the index is gone
    c["truncated"] = d / "truncated.mp4"
    c["truncated"].write_bytes(data[: len(data) // 2])
    # three P-frame packets overwritten with junk in an otherwise good file
    with av.open(str(c["av"])) as src:
        packets = [(p.pos, p.size) for p in src.demux(video=0) if p.size]
    damaged = bytearray(data)
    for pos, size in packets[8:11]:
        damaged[pos: pos + size] = b"\xff" * size
    c["corrupt"] = d / "corrupt.mp4"
    c["corrupt"].write_bytes(bytes(damaged))
    return c


def run(*argv) -> int:
    return cli.main(["video", *map(str, argv)])


# ---- what must be kept --------------------------------------------------------------------------

def test_video_keeps_frame_count_rate_duration_and_audio(clips, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a", "--batch-size", "5") == 0
    src, got = probe(clips["av"]), probe(out)
    assert len(got["frames"]) == N
    assert got["rate"] == FPS
    assert (got["width"], got["height"]) == (W, H)
    assert abs(got["duration_s"] - src["duration_s"]) <= 1 / FPS
    assert got["times_s"] == pytest.approx(src["times_s"], abs=1e-3)
    assert [name for name, _ in got["audio"]] == ["aac"]
    assert got["audio"][0][1] == pytest.approx(src["audio"][0][1], abs=1 / FPS)
    assert np.abs(got["frames"][0].astype(int) - src["frames"][0]).mean() > 10  # really stylized
    err = capsys.readouterr().err
    assert f"{N} frames" in err and "fps" in err and "decode" in err and "network" in err and "encode" in err
    assert "aac copied" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_variable_frame_rate_timestamps_are_kept(clips, tiny_model_path, tmp_path):
    out = tmp_path / "vfr_out.mp4"
    assert run(clips["vfr"], out, "--weights", tiny_model_path, "--styles", "b") == 0
    assert probe(out)["times_s"] == pytest.approx([p / 1000 for p in VFR_PTS], abs=1e-3)


def test_audio_is_reencoded_when_the_container_cannot_take_it(clips, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "from_alaw.mp4"
    assert run(clips["alaw"], out, "--weights", tiny_model_path, "--styles", "a") == 0
    got = probe(out)
    assert [name for name, _ in got["audio"]] == ["aac"]
    assert got["audio"][0][1] == pytest.approx(N / FPS, abs=1 / FPS)
    assert "pcm_alaw re-encoded to aac" in capsys.readouterr().err


def test_schedule_runs_end_to_end(clips, tiny_model_path, tmp_path):
    out = tmp_path / "sched.mp4"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--schedule", "0:a,1s:b+c", "--batch-size", "3") == 0
    assert len(probe(out)["frames"]) == N


# ---- rotation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("degrees,hflip,vflip", [(0, False, False), (90, False, False), (180, False, False),
                                                 (-90, False, False), (0, True, False), (0, False, True),
                                                 (90, True, False), (-90, True, False)])
def test_source_turns_frames_upright_from_the_display_matrix(tmp_path, degrees, hflip, vflip):
    path = write_clip(tmp_path / "r.mp4", n=2, rotation=degrees, hflip=hflip, vflip=vflip, audio=None)
    # PyAV's set_display_rotation: "degrees is a counter-clockwise rotation; hflip / vflip mirror after it"
    expected = np.rot90(quadrants(), degrees // 90)
    expected = expected[:, ::-1] if hflip else expected
    expected = expected[::-1] if vflip else expected
    with VideoFileSource(path) as src:
        frame = next(iter(src)).frame
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).mean() < 8


def test_rotated_clip_comes_out_upright_with_no_rotation(clips, tiny_model_path, tmp_path):
    out = tmp_path / "upright.mp4"
    assert run(clips["rot90"], out, "--weights", tiny_model_path, "--styles", "a", "--strength", "0") == 0
    got = probe(out)
    assert (got["width"], got["height"]) == (H, W) and got["rotation"] == 0
    assert np.abs(got["frames"][0].astype(int) - np.rot90(quadrants())).mean() < 8


def test_orient_frame_without_matrix_is_identity():
    f = quadrants()
    assert orient_frame(f, None) is f


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key,args,message", [
    ("missing", [], "input not found"),
    ("text", [], "cannot read it as a video"),
    ("png", [], "is an image (png), not a video"),
    ("truncated", [], "truncated or corrupt"),
    ("audio_only", [], "has no video stream (found: audio aac)"),
    ("zero", [], "has no frames"),
    ("av", ["--codec", "nosuchcodec"], "unsupported codec 'nosuchcodec'"),
    ("av", ["--codec", "aac"], "expected a video encoder"),
    ("odd", [], "odd dimensions"),
    ("av", ["--size", "9000x100"], "pass --max-side"),
    ("av", ["--schedule", "0:a", "--styles", "b"], "leave out --styles"),
])
def test_bad_input_is_one_line_and_exit_code_2(clips, tiny_model_path, tmp_path, capsys, key, args, message):
    src = clips.get(key, tmp_path / "missing.mp4")
    out = tmp_path / "out.mp4"
    extra = [] if "--schedule" in args else ["--styles", "a"]
    assert run(src, out, "--weights", tiny_model_path, *extra, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("livestyle: error: ") and err.count("\n") == 1, err
    assert message in err
    if key != "missing" and "--" not in " ".join(args):
        assert str(src) in err  # names the file
    assert not out.exists() and not list(tmp_path.glob(".*"))


def test_odd_size_error_says_even_and_how_to_resize(clips, tiny_model_path, tmp_path, capsys):
    assert run(clips["odd"], tmp_path / "o.mp4", "--weights", tiny_model_path, "--styles", "a") == 2
    err = capsys.readouterr().err
    assert "even" in err and "--max-side" in err and "--size" in err
    # resizing rounds to even numbers, so the same clip works with --max-side
    assert run(clips["odd"], tmp_path / "o.mp4", "--weights", tiny_model_path, "--styles", "a", "--max-side", "33") == 0
    got = probe(tmp_path / "o.mp4")
    assert (got["width"], got["height"]) == (32, 24)


def test_output_folder_missing_or_not_writable(clips, tiny_model_path, tmp_path, capsys, monkeypatch):
    assert run(clips["av"], tmp_path / "nowhere" / "out.mp4", "--weights", tiny_model_path, "--styles", "a") == 2
    assert "does not exist" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root may write anywhere, so the check is exercised by making os.access say no for this folder
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    assert run(clips["av"], locked / "out.mp4", "--weights", tiny_model_path, "--styles", "a") == 2
    assert "is not writable" in capsys.readouterr().err


def test_unknown_output_extension_is_refused(clips, tiny_model_path, tmp_path, capsys):
    (tmp_path / "o").mkdir()
    out = tmp_path / "o" / "out.xyz"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a") == 2
    err = capsys.readouterr().err
    assert f"output {out}: expected a video file name ending in" in err and ".mp4" in err
    assert not list(out.parent.iterdir())


# ---- nothing lost ----------------------------------------------------------------------------------

def test_existing_output_is_not_overwritten(clips, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"precious")
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a") == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a", "--overwrite") == 0
    assert len(probe(out)["frames"]) == N


def test_input_is_never_the_output(clips, tiny_model_path, tmp_path, capsys):
    clip = shutil.copy(clips["av"], tmp_path / "same.mp4")
    before = Path(clip).read_bytes()
    assert run(clip, clip, "--weights", tiny_model_path, "--styles", "a", "--overwrite") == 2
    assert "never writes over what it reads" in capsys.readouterr().err
    assert Path(clip).read_bytes() == before


def test_ctrl_c_keeps_a_partial_file_and_no_complete_looking_output(clips, tiny_model_path, tmp_path, capsys,
                                                                    monkeypatch):
    from livestyle.stylize import Stylizer
    calls = {"n": 0}
    real_call = Stylizer.__call__

    def interrupt_on_third_batch(self, frames, mix, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_call(self, frames, mix, **kw)

    monkeypatch.setattr(Stylizer, "__call__", interrupt_on_third_batch)
    (tmp_path / "o").mkdir()
    out = tmp_path / "o" / "out.mp4"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a", "--batch-size", "4") == 130
    err = capsys.readouterr().err
    partial = out.parent / "out.partial.mp4"
    assert f"interrupted at frame 8 of {N}; kept the first 8 frames in {partial}" in err
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.partial.mp4"]  # no hidden temporary file
    got = probe(partial)
    assert len(got["frames"]) == 8
    assert got["audio"] and got["audio"][0][1] <= 8 / FPS + 0.1  # audio cut at the same point


def test_interrupt_before_any_frame_keeps_nothing(clips, tmp_path):
    def process(frames, times_s):
        raise KeyboardInterrupt

    with pytest.raises(VideoInterrupted, match="nothing was written") as e:
        transcode(clips["av"], tmp_path / "o.mp4", process, video_cfg=VideoConfig(), stylize_cfg=StylizeConfig())
    assert e.value.kept_path is None and e.value.frames_done == 0
    assert not list(tmp_path.iterdir())


def test_failed_run_leaves_no_file(clips, tmp_path):
    def process(frames, times_s):
        raise RuntimeError("network exploded")

    with pytest.raises(RuntimeError, match="network exploded"):
        transcode(clips["av"], tmp_path / "o.mp4", process, video_cfg=VideoConfig(), stylize_cfg=StylizeConfig())
    assert not list(tmp_path.iterdir())


# ---- damaged input and the library API --------------------------------------------------------------

def test_corrupt_frames_are_skipped_with_a_count(clips, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "fixed.mp4"
    assert run(clips["corrupt"], out, "--weights", tiny_model_path, "--styles", "a") == 0
    assert "livestyle: warning: skipped 3 corrupt frames" in capsys.readouterr().err
    assert len(probe(out)["frames"]) == N - 3


def test_process_gets_consecutive_frames_with_times_and_progress_is_reported(clips, tmp_path):
    seen_times, reports = [], []

    def process(frames, times_s):
        assert all(f.dtype == np.uint8 and f.shape == (H, W, 3) for f in frames)
        seen_times.extend(times_s)
        return [255 - f for f in frames]

    s = transcode(clips["av"], tmp_path / "o.mp4", process, video_cfg=VideoConfig(),
                      stylize_cfg=StylizeConfig(batch_size=5), progress=lambda done, total: reports.append((done, total)))
    assert seen_times == pytest.approx([i / FPS for i in range(N)])
    assert reports == [(5, N), (10, N), (15, N), (20, N), (24, N)]
    assert (s.frames, s.width, s.height, s.skipped_frames) == (N, W, H, 0)
    assert s.fps > 0 and s.decode_s > 0 and s.network_s > 0 and s.encode_s > 0  # each share was measured
    assert max(s.decode_s, s.network_s, s.encode_s) <= s.seconds  # pipelined: the three overlap


def test_the_inline_pipeline_writes_the_same_video_and_its_parts_add_up(clips, tmp_path):
    outs = {}
    for pipelined in (True, False):
        s = transcode(clips["av"], tmp_path / f"o{pipelined}.mp4", lambda frames, t: [255 - f for f in frames],
                          video_cfg=VideoConfig(pipelined=pipelined), stylize_cfg=StylizeConfig(batch_size=3))
        outs[pipelined] = [f.frame for f in VideoFileSource(str(tmp_path / f"o{pipelined}.mp4"))]
    assert s.decode_s + s.network_s + s.encode_s <= s.seconds  # inline: one after another
    assert len(outs[True]) == len(outs[False]) == N
    # x264 output is not always bit-identical between runs in this process (seen after other encodes,
    # both ways round), so the frames are compared as pictures: mean error well under one level
    assert all(np.abs(a.astype(int) - b).mean() < 0.5 for a, b in zip(outs[True], outs[False]))


SLOW_CLI = """
import sys, time
from livestyle import cli
from livestyle.stylize import Stylizer
real_call = Stylizer.__call__
def slow_call(self, frames, mix, **kw):
    styled = real_call(self, frames, mix, **kw)
    print("batch", flush=True)  # tells the test a batch is done
    time.sleep(0.2)
    return styled
Stylizer.__call__ = slow_call
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigint_stops_cleanly_with_exit_code_130(clips, tiny_model_path, tmp_path):
    """A real Ctrl-C (SIGINT to a child process), not a simulated KeyboardInterrupt."""
    import signal
    import subprocess
    import sys
    (tmp_path / "o").mkdir()
    out = tmp_path / "o" / "out.mp4"
    argv = ["video", str(clips["av"]), str(out), "--weights", str(tiny_model_path), "--styles", "a", "--batch-size", "2"]
    p = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        for _ in range(3):
            assert p.stdout.readline() == "batch\n"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "livestyle: interrupted at frame" in err and "kept the first" in err and "out.partial.mp4" in err
    assert not out.exists()
    assert [q.name for q in out.parent.iterdir()] == ["out.partial.mp4"]
    assert 4 <= len(probe(out.parent / "out.partial.mp4")["frames"]) < N


# ---- the other sinks ------------------------------------------------------------------------------

def test_low_latency_sink_writes_no_b_frames(tmp_path):
    from livestyle.sinks import VideoFileSink
    path = tmp_path / "live.mp4"
    with VideoFileSink(path, W, H, rate=Fraction(30), time_base=Fraction(1, 1000), low_latency=True) as sink:
        for i in range(10):
            sink.write(quadrants(shade=20 * i), pts=33 * i)
    with av.open(str(path)) as c:
        kinds = [av.video.frame.PictureType(f.pict_type).name for f in c.decode(video=0)]
    assert len(kinds) == 10 and "B" not in kinds and kinds[0] == "I"


def test_virtual_camera_without_pyvirtualcam_names_the_extra(monkeypatch):
    import sys
    from livestyle.sinks import VirtualCamSink
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if it were not installed
    with pytest.raises(RuntimeError, match=r"pip install 'livestyle\[virtualcam\]'"):
        VirtualCamSink(W, H, fps=30)


def test_method_gatys_writes_a_video_with_the_frames_and_audio(tmp_path, random_vgg_path, capsys):
    from livestyle.images import encode_image
    clip = tmp_path / "tiny.mp4"
    write_clip(clip, n=3, size=(32, 24))
    style = tmp_path / "style.png"
    style.write_bytes(encode_image(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8), ".png"))
    out = tmp_path / "g.mp4"
    rc = cli.main(["video", str(clip), str(out), "--method", "gatys", "--styles", str(style), "--vgg",
                   str(random_vgg_path), "--iterations", "2", "--coarse-iterations", "0", "--scales", "1",
                   "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 0, err
    with av.open(str(out)) as c:
        assert c.streams.audio and sum(1 for _ in c.decode(video=0)) == 3
    assert not (tmp_path / "g.gatys-frames").exists()  # the per-frame resume folder is removed when done
    rc = cli.main(["video", str(clip), str(tmp_path / "h.mp4"), "--method", "gatys", "--styles", "monet"])
    assert rc == 2 and "livestyle: error:" in capsys.readouterr().err


def test_video_pipeline_option_writes_every_frame(clips, tiny_model_path, tmp_path):
    out = tmp_path / "piped.mp4"
    assert run(clips["av"], out, "--weights", tiny_model_path, "--styles", "a", "--pipeline") == 0
    assert len(probe(out)["frames"]) == N

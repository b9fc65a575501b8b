"""The live mode driven from a video file with --no-window and scripted keys: no camera, no display."""
import socket
import threading

import av
import numpy as np
import pytest
import torch

from livestyle import cli
from livestyle.capture import LiveSource
from livestyle.live import parse_keys


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory):
    """2 s of a textured pattern drifting right, 64x48 at 15 fps, written with PyAV."""
    path = tmp_path_factory.mktemp("cam") / "cam.mp4"
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (48, 200, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=15)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(tex[:, i * 2:i * 2 + 64]), format="rgb24")
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path


def _probe(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = [f.pts * float(f.time_base) for f in c.decode(s)]
    return pts


def test_file_as_camera_with_keys_records_and_moves_the_mix(moving_clip, tiny_model_path, tmp_path, capsys):
    rec = tmp_path / "rec.mp4"
    rc = cli.main(["webcam", "--camera", str(moving_clip), "--no-window", "--weights", str(tiny_model_path),
                   "--styles", "a,c", "--keys", "2@5f", "--max-frames", "20", "--record", str(rec),
                   "--temporal", "0", "--morph-s", "0.2"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "capturing" in err and "(file played as a live camera)" in err
    assert f"recorded {rec}" in err
    pts = _probe(rec)
    assert 15 <= len(pts) <= 20
    assert all(b > a for a, b in zip(pts, pts[1:]))  # real, increasing timestamps
    # played at its own 15 fps, not as fast as it decodes: the frames span more than half of (n - 1) / 15 s
    # (the first frames may come at once; a busy machine may take longer, so no upper bound)
    assert pts[-1] - pts[0] >= 0.5 * (len(pts) - 1) / 15
    assert not list(tmp_path.glob(".*partial*"))


def test_scripted_keys_morph_the_mix_monotonically(moving_clip, tiny_model_path, tmp_path):
    from livestyle.capture import LiveSource
    from livestyle.controls import Controls, StyleMix
    from livestyle.config import StylizeConfig
    from livestyle.live import LiveOptions, run_live
    from livestyle.stylize import StreamStylizer
    from livestyle.modelfile import load_stylenet, style_vector
    model = load_stylenet(tiny_model_path)
    vecs = [style_vector("a", model), style_vector("c", model)]
    controls = Controls(StyleMix(vecs, morph_s=0.6))
    step = StreamStylizer(model.net, StylizeConfig(device="cpu", compile="off"))
    with LiveSource(str(moving_clip), loop=True) as src:
        stats = run_live(src, step, controls, LiveOptions(max_frames=25), scripted_keys=parse_keys("2@3f"))
    w_c = [m[2] for m in stats.mixes]
    assert w_c[:3] == [0.0, 0.0, 0.0] and w_c[-1] == 1.0
    assert all(b >= a for a, b in zip(w_c, w_c[1:]))
    assert any(0.05 < w < 0.95 for w in w_c)  # in between for a while: a morph, not a cut
    assert list(stats.keys) == [(3, "2")]


def test_a_camera_that_cannot_open_exits_2_and_says_so(tiny_model_path, capsys):
    rc = cli.main(["webcam", "--camera", "/dev/video-nope", "--no-window", "--weights", str(tiny_model_path),
                   "--styles", "a"])
    err = capsys.readouterr().err
    assert rc == 2 and "--camera /dev/video-nope: no such camera device" in err and "Traceback" not in err


class DyingCapture:
    """Stands in for cv2.VideoCapture: a few frames, then nothing (a camera unplugged)."""

    def __init__(self, n=5):
        self.n = n

    def isOpened(self):
        return True

    def read(self):
        if self.n <= 0:
            return False, None
        self.n -= 1
        return True, np.full((48, 64, 3), 100, np.uint8)

    def get(self, prop):
        import cv2
        return {cv2.CAP_PROP_FRAME_WIDTH: 64, cv2.CAP_PROP_FRAME_HEIGHT: 48, cv2.CAP_PROP_FPS: 30}.get(prop, 0)

    def set(self, *a):
        return True

    def release(self):
        pass


def test_a_camera_that_disappears_ends_the_stream_with_a_message():
    with LiveSource("fake", capture=DyingCapture(), stall_timeout_s=0.2) as src:
        got = []
        while (item := src.read(timeout_s=2)) is not None:
            got.append(item.seq)
        assert got and "stopped delivering frames" in src.error


def test_keys_spec_is_checked():
    assert [(k.key, k.at_s, k.at_frame) for k in parse_keys("2@1.5,space@2s,q@40f")] == \
        [("2", 1.5, None), (" ", 2.0, None), ("q", None, 40)]
    with pytest.raises(ValueError, match="expected KEY@TIME"):
        parse_keys("2")


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_udp_stream_is_read_back_by_pyav(moving_clip, tiny_model_path, capsys):
    port = _free_udp_port()
    got = {}

    def receive():
        try:
            with av.open(f"udp://127.0.0.1:{port}?timeout=8000000", format="mpegts",
                         options={"analyzeduration": "500000", "probesize": "200000"}) as c:
                n = 0
                for frame in c.decode(video=0):
                    got["size"] = (frame.width, frame.height)
                    n += 1
                    if n >= 5:
                        break
                got["frames"] = n
        except Exception as e:  # reported by the assertion below
            got["error"] = repr(e)

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    import time
    time.sleep(0.5)
    rc = cli.main(["webcam", "--camera", str(moving_clip), "--loop", "--no-window", "--weights", str(tiny_model_path),
                   "--styles", "b", "--stream", f"udp://127.0.0.1:{port}?pkt_size=1316", "--duration", "4",
                   "--temporal", "0"])
    t.join(timeout=10)
    assert rc == 0, capsys.readouterr().err
    assert got.get("frames", 0) >= 5, got
    assert got["size"] == (64, 48)


@pytest.mark.parametrize("args,message", [(["--morph-s", "-1"], "expected a number >= 0"),
                                          (["--duration", "0"], "expected a number > 0"),
                                          (["--fps", "abc"], "expected a number > 0")])
def test_bad_numbers_are_refused_with_one_line(args, message, capsys):
    assert cli.main(["webcam", "--styles", "a"] + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_governor_steps_down_when_behind_and_up_only_with_room():
    from livestyle.governor import ResolutionGovernor
    g = ResolutionGovernor(30.0, window=5, window_s=10.0, hold_s=0.5)
    for _ in range(5):
        g.update(0.040)  # 25 fps against 30: 0.75 is predicted to meet it (40 ms x 0.56 = 22 ms)
    assert g.scale == 0.75
    for _ in range(int(0.5 / 0.04) + 1 + 5):
        g.update(0.045)  # still behind after the hold
    assert g.scale == 0.5
    for _ in range(60):
        g.update(0.020)  # past the hold; at 0.75 this would take ~45 ms: stay (no pumping)
    assert g.scale == 0.5 and g.changes == 2
    for _ in range(5):
        g.update(0.010)  # ~22 ms predicted at 0.75, under 0.8 x 33 ms: room
    assert g.scale == 0.75 and g.changes == 3


def test_the_governor_sees_room_behind_a_camera_that_caps_the_frame_rate():
    from livestyle.governor import ResolutionGovernor
    g = ResolutionGovernor(30.0, start=0.5, window=5, window_s=10.0)
    for _ in range(20):
        g.update(1 / 30, 0.015)  # the camera's 33 ms between frames; 15 ms of work: 0.75 predicted at 34 ms
    assert g.scale == 0.5 and g.changes == 0
    for _ in range(5):
        g.update(1 / 30, 0.010)  # 10 ms of work: 0.75 predicted at 22.5 ms, under 0.8 x 33 ms
    assert g.scale == 0.75 and g.changes == 1


def test_with_carry_the_first_step_down_keeps_full_size_on_every_other_frame():
    from livestyle.governor import ResolutionGovernor
    g = ResolutionGovernor(30.0, (1.0, 0.75, 0.5), carry=True, window=5, window_s=10.0, hold_s=0.0)
    assert (g.scale, g.every) == (1.0, 1)
    for _ in range(5):
        g.update(0.050, 0.050)  # 20 fps: every other frame at full size is predicted at 25 ms
    assert (g.scale, g.every) == (1.0, 2)
    for _ in range(5):
        g.update(0.080, 0.080)  # much slower (a busy core): straight to a scale predicted to meet 33 ms
    assert (g.scale, g.every) == (0.5, 2)
    for _ in range(5):
        g.update(1 / 30, 0.004)  # idle again: one level up at a time
    assert (g.scale, g.every) == (0.75, 2)


def test_the_default_target_is_the_camera_rate_up_to_24_fps():
    from livestyle.governor import default_target_fps
    assert default_target_fps(15.0) == 15.0 and default_target_fps(30.0) == 24.0 and default_target_fps(60.0) == 24.0
    assert default_target_fps(0.0) == 24.0  # a camera that does not say


def test_a_slow_cpu_gets_to_the_scale_it_needs_at_once_and_stays():
    from livestyle.governor import ResolutionGovernor, live_scales
    g = ResolutionGovernor(30.0, live_scales(1280, 720))
    for _ in range(3):
        g.update(0.400)  # 2.5 fps at full 720p: even 25 % a side is predicted at 25 ms, the first that meets 33
    assert g.scale == 0.25 and g.changes == 1
    for _ in range(int(3.0 / 0.05) + 1):
        g.update(0.050)  # still under target at the floor: nowhere lower to go
    assert g.scale == 0.25 and g.changes == 1


def test_the_network_never_runs_below_320_px_whatever_the_output_size():
    from livestyle.governor import ResolutionGovernor, live_scales
    assert live_scales(640, 360) == (1.0, 0.75, 0.5)
    assert live_scales(1280, 720) == (1.0, 0.75, 0.5, 0.375, 0.25)
    assert live_scales(360, 640) == (1.0, 0.75, 0.5)  # portrait: the longest side counts
    assert live_scales(320, 180) == (1.0,)  # already at the floor: always full size
    assert live_scales(200, 100) == (1.0,)
    assert ResolutionGovernor(30.0, live_scales(1280, 720), start=0.5).scale == 0.5


def test_a_scaled_step_returns_full_size_frames_that_look_like_the_full_step(tiny_net):
    from livestyle.config import StylizeConfig
    from livestyle.stylize import StreamStylizer
    step = StreamStylizer(tiny_net, StylizeConfig(device="cpu", compile="off", precision="fp32"))
    rng = np.random.default_rng(0)
    frame = np.ascontiguousarray(np.repeat(np.repeat(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), 8, 0), 8, 1))
    mix = torch.tensor([0.0, 1.0, 0.0])
    full = step([frame], mix)[0]
    half = step([frame], mix, scale=0.5)[0]
    weak = step([frame], mix, scale=0.5, strength=0.0)[0]
    assert half.shape == full.shape == frame.shape
    assert np.abs(half.astype(int) - full).mean() < 0.5 * np.abs(frame.astype(int) - full).mean()
    assert np.array_equal(weak, frame)  # strength applies at full size

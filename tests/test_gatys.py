"""Gatys optimisation mode: the loss falls, coarse to fine returns the requested size, colour
preservation keeps the content's chroma, the temporal loss lowers flicker, a killed video run
resumes where it stopped, and bad CLI input gives one-line errors. Tiny images and a random VGG
built on request (never as a fallback), so nothing here needs ../shared."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from conftest import shared_path
from livestyle import cli
from livestyle.color import rgb_to_ycbcr
from livestyle.config import GatysConfig
from livestyle.frames import frame_to_tensor
from livestyle.images import read_image
from livestyle.gatys import GatysOptimizer, match_histogram, optimize
from livestyle.gatys_video import gatys_video, work_dir_for
from livestyle.metrics import read_frames, warping_error
from livestyle.transcode import VideoInterrupted
from livestyle.vgg import VGGFeatures, load_vgg

# shallow layers keep the random VGG small and the tests fast; the mode itself defaults to Gatys's
LAYERS = dict(content_layer="relu2_2", style_layers={"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0})


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny images run as fast on one thread (and two spinning OpenMP threads on a busy 2-core machine
    were measured much slower, see test_train.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def vgg() -> VGGFeatures:
    """Random weights, torchvision's input convention: unit-scale inputs keep this random network's
    loss well conditioned (with the Caffe 0..255 scale, L-BFGS's first steps overshoot on it and the
    loss rises for 3 iterations before it falls; the real Caffe VGG has no such trouble)."""
    torch.manual_seed(0)
    return VGGFeatures(("relu1_1", "relu2_1", "relu2_2", "relu3_1"), random_weights=True, convention="torchvision")


def _cfg(**kw) -> GatysConfig:
    base = dict(scales=(1.0,), iterations=5, coarse_iterations=0, bf16=False, device="cpu", **LAYERS)
    return GatysConfig(**{**base, **kw})


def _photo(w: int = 32, h: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth random colour picture (upsampled noise), uint8 RGB."""
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)


def _stripes(w: int = 32, h: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    on = (np.sin((xx + yy) * 0.9) > 0)[..., None]
    return np.where(on, np.array([230, 200, 20], np.uint8), np.array([20, 40, 160], np.uint8)).astype(np.uint8)


def test_the_loss_falls_over_five_iterations_at_32px(vgg):
    losses = []
    progress = lambda e: e["event"] == "iteration" and losses.append(e["loss"])  # noqa: E731
    out = optimize(frame_to_tensor(_photo()), [frame_to_tensor(_stripes())], _cfg(), vgg=vgg, progress=progress)
    assert out.shape == (1, 3, 32, 32) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert len(losses) == 5 and all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0]


def test_adam_and_noise_init_also_lower_the_loss(vgg):
    losses = []
    progress = lambda e: e["event"] == "iteration" and losses.append(e["loss"])  # noqa: E731
    optimize(frame_to_tensor(_photo()), [frame_to_tensor(_stripes())], _cfg(optimizer="adam", init="noise"),
             vgg=vgg, progress=progress)
    assert losses[-1] < losses[0]


def test_multi_scale_returns_the_requested_size_after_a_stage_per_scale(vgg):
    stages = []
    progress = lambda e: e["event"] == "stage" and stages.append((e["height"], e["width"]))  # noqa: E731
    cfg = _cfg(scales=(0.25, 0.5, 1.0), coarse_iterations=2, iterations=2)
    out = optimize(frame_to_tensor(_photo(72, 40)), [frame_to_tensor(_stripes(50, 50))], cfg, vgg=vgg,
                   progress=progress)
    assert out.shape == (1, 3, 40, 72)
    assert stages == [(20, 36), (40, 72)]  # 1/4 would be 10x18: under 16 px, skipped


def test_blended_styles_need_one_weight_each(vgg):
    with pytest.raises(ValueError, match="expected 2 style weights"):
        GatysOptimizer([frame_to_tensor(_stripes())] * 2, _cfg(), weights=[1.0], vgg=vgg)


def test_luminance_preservation_keeps_the_contents_chroma_in_ycbcr(vgg):
    content, style = frame_to_tensor(_photo()), [frame_to_tensor(_stripes())]
    chroma = lambda x: rgb_to_ycbcr(x)[:, 1:]  # noqa: E731
    kept = optimize(content, style, _cfg(preserve_color="luminance"), vgg=vgg)
    free = optimize(content, style, _cfg(), vgg=vgg)
    kept_err = (chroma(kept) - chroma(content)).abs().mean().item()
    free_err = (chroma(free) - chroma(content)).abs().mean().item()
    assert kept_err < 0.02 and kept_err < free_err / 5  # not 0: RGB is clipped to [0, 1] at the end
    assert (rgb_to_ycbcr(kept)[:, :1] - rgb_to_ycbcr(content)[:, :1]).abs().mean() > 0.01  # luminance did change


def test_histogram_matching_gives_the_style_the_contents_colour_mean_and_covariance():
    style, content = frame_to_tensor(_photo(seed=3)), frame_to_tensor(_photo())
    matched = match_histogram(style, content)
    stats = lambda x: (x[0].reshape(3, -1).mean(1), torch.cov(x[0].reshape(3, -1)))  # noqa: E731
    (m1, c1), (m2, c2) = stats(matched), stats(content)
    assert torch.allclose(m1, m2, atol=0.02) and torch.allclose(c1, c2, atol=0.005)


def test_init_from_a_livestyle_network_starts_at_its_output(vgg, tiny_model_path):
    from livestyle.gatys import network_init
    content = frame_to_tensor(_photo())
    start = network_init(content, str(tiny_model_path), "a")
    cfg = _cfg(init="net", init_weights=str(tiny_model_path), init_style="a", optimizer="adam", lr=1e-4, iterations=1)
    out = optimize(content, [frame_to_tensor(_stripes())], cfg, vgg=vgg)
    assert (out - start).abs().max() < 2e-4 < (out - content).abs().max()


# ---- video ------------------------------------------------------------------------------------------

def _moving_clip(path: Path, n: int = 3, w: int = 48, h: int = 32, step_px: int = 2) -> Path:
    """A textured pattern sliding right by step_px per frame, near-lossless H.264."""
    rng = np.random.default_rng(1)
    big = cv2.resize(rng.integers(0, 256, (10, 20, 3), dtype=np.uint8), (w + n * step_px, h),
                     interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=10, options={"crf": "0"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
        for i in range(n):
            x0 = (n - i) * step_px  # content moves right
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[:, x0:x0 + w]), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def _video_cfg(**kw) -> GatysConfig:
    # Adam: L-BFGS without a line search overshoots now and then on a random VGG (a spike of 1e7 x the
    # loss in one iteration, gone in the next), which would make the warping errors a lottery
    return _cfg(iterations=8, video_iterations=8, max_side_px=64, optimizer="adam", **kw)


def _frames(out: Path) -> list[np.ndarray]:
    return [read_image(str(p)) for p in sorted(work_dir_for(out).glob("*.png"))]


def test_the_temporal_loss_lowers_the_warping_error_on_a_moving_pattern(vgg, tmp_path):
    from livestyle.config import VideoConfig
    clip = _moving_clip(tmp_path / "moving.mp4")
    style = [frame_to_tensor(_stripes())]
    errors = {}
    for weight in (0.0, 1e6):
        out = tmp_path / f"out{weight:g}.mp4"
        gatys_video(clip, out, style, _video_cfg(temporal_weight=weight), vgg=vgg, keep_frames=True,
                    video_cfg=VideoConfig(pix_fmt="yuv444p"))
        frames_in, _ = read_frames(clip)
        errors[weight] = warping_error(frames_in, _frames(out))
    assert errors[1e6] < 0.5 * errors[0.0]


def test_long_term_terms_tie_each_pixel_to_the_nearest_earlier_frame_where_it_was_visible(vgg, tmp_path):
    from livestyle.gatys import GatysOptimizer
    from livestyle.gatys_video import _GatysFrames
    frames_in, _ = read_frames(_moving_clip(tmp_path / "moving.mp4", n=3, step_px=3))
    opt = GatysOptimizer([frame_to_tensor(_stripes())], _video_cfg(temporal_frames=(1, 2)), vgg=vgg)
    frames = _GatysFrames(opt, tmp_path, None)
    frames(frames_in[:2], [0.0, 0.1])
    init, terms = frames._temporal_targets(frames_in[2])
    assert len(terms) == 2 and init.shape == (1, 3, 32, 48)
    (_, near), (_, far) = terms
    assert near.shape == far.shape == (1, 1, 32, 48)
    assert torch.all(near * far == 0)  # no pixel tied to both
    assert near.mean() > 0.5  # the pattern slides right: most pixels were visible one frame ago


def test_a_killed_video_run_resumes_at_the_next_frame_and_ends_like_an_uninterrupted_one(vgg, tmp_path):
    clip = _moving_clip(tmp_path / "moving.mp4")
    style = [frame_to_tensor(_stripes())]
    cfg = _video_cfg(temporal_weight=1e6)
    whole = tmp_path / "whole.mp4"
    gatys_video(clip, whole, style, cfg, vgg=vgg, keep_frames=True)

    out = tmp_path / "out.mp4"

    def kill_after_frame_1(e):
        if e["event"] == "frame" and e["frame"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(VideoInterrupted):
        gatys_video(clip, out, style, cfg, vgg=vgg, progress=kill_after_frame_1)
    assert sorted(p.name for p in work_dir_for(out).glob("*.png")) == ["000000.png", "000001.png"]
    assert not out.exists()

    events = []
    gatys_video(clip, out, style, cfg, vgg=vgg, keep_frames=True,
                progress=lambda e: e["event"] == "frame" and events.append((e["frame"], e["resumed"])))
    assert events == [(0, True), (1, True), (2, False)]
    assert out.exists() and len(read_frames(out)[0]) == 3
    for a, b in zip(_frames(whole), _frames(out)):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2

    with pytest.raises(ValueError, match=r"other settings \(differs in: config.iterations"):
        (tmp_path / "again.mp4.gatys-frames").mkdir()
        (tmp_path / "again.mp4.gatys-frames" / "settings.json").write_text(
            (work_dir_for(out) / "settings.json").read_text())
        gatys_video(clip, tmp_path / "again.mp4", style, dataclasses.replace(cfg, iterations=9), vgg=vgg)


# ---- command line -----------------------------------------------------------------------------------

@pytest.fixture
def images(tmp_path) -> dict:
    paths = {"content": tmp_path / "content.png", "style": tmp_path / "style.png"}
    cv2.imwrite(str(paths["content"]), _photo(40, 30)[..., ::-1])
    cv2.imwrite(str(paths["style"]), _stripes()[..., ::-1])
    return {k: str(v) for k, v in paths.items()}


def test_gatys_cli_writes_the_image_and_intermediate_ones(images, random_vgg_path, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = cli.main(["gatys", images["content"], images["style"], str(out), "--vgg", str(random_vgg_path),
                     "--iterations", "2", "--scales", "1", "--max-side", "32", "--save-every", "1", "--bf16", "off",
                     "--content-layer", "relu2_2", "--style-layers", "relu1_1,relu2_1"])
    assert code == 0, capsys.readouterr().err
    assert read_image(str(out)).shape == (24, 32, 3)
    assert (tmp_path / "out.iter0002.png").exists()
    assert "wrote" in capsys.readouterr().err


def test_gatys_cli_starts_from_a_livestyle_network_with_init_net(images, random_vgg_path, tiny_model_path, tmp_path):
    out = tmp_path / "out.png"
    assert cli.main(["gatys", images["content"], images["style"], str(out), "--vgg", str(random_vgg_path),
                     "--iterations", "1", "--scales", "1", "--max-side", "32", "--bf16", "off", "--init", "net",
                     "--weights", str(tiny_model_path), "--init-style", "ab", "--content-layer", "relu2_2",
                     "--style-layers", "relu1_1"]) == 0
    assert read_image(str(out)).shape == (24, 32, 3)


@pytest.mark.parametrize("args, message", [
    (["{content}", "{tmp}/missing.jpg", "{tmp}/o.png"], "style image not found: .*missing.jpg"),
    (["{content}", "{style}", "{tmp}/o.png", "--init", "photo"], "invalid choice: 'photo'"),
    (["{content}", "{style}", "{style}"], "never writes over what it reads"),
    (["{content}", "{style}", "{tmp}/o.png", "--init", "net"], "--init net needs --weights FILE"),
    (["{content}", "{style},{style}", "{tmp}/o.png", "--style-weights", "1"], "--style-weights has 1 weights but 2"),
    (["{content}", "{style}", "{tmp}/o.xyz"], "cannot write images of type '.xyz'"),
    (["{content}", "{style}", "{tmp}/o.png", "--init-style", "a"], "are for --init net"),
])
def test_gatys_cli_bad_input_is_one_line_and_exit_2(images, tmp_path, capsys, args, message):
    argv = [a.format(tmp=tmp_path, **images) for a in args]
    assert cli.main(["gatys", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("livestyle: error:") and len(err.splitlines()) == 1
    assert __import__("re").search(message, err), err


def test_with_the_real_vgg_twenty_iterations_halve_the_style_loss_of_a_photo(tmp_path):
    vgg_path = shared_path("vgg/vgg16-caffe-features-fp16.pth")
    photo = frame_to_tensor(cv2.resize(read_image(str(shared_path("content/bsds500_test_100007.jpg"))), (64, 48)))
    style = frame_to_tensor(read_image(str(shared_path("styles/vangogh_starry_night.jpg"))))
    cfg = GatysConfig(scales=(1.0,), iterations=20, device="cpu", vgg=str(vgg_path))
    losses = []
    optimize(photo, [style], cfg, progress=lambda e: e["event"] == "iteration" and losses.append(e["style"]))
    assert losses[-1] < 0.5 * losses[0]

import numpy as np
import pytest
import torch

from livestyle.color import keep_colors, rgb_to_ycbcr, transfer_luminance, ycbcr_to_rgb
from livestyle.config import StylizeConfig
from livestyle.frames import frame_to_tensor, tensor_to_frame
from livestyle.images import fit_size, resize_frame
from livestyle.stylize import Stylizer, to_frames


def test_frame_tensor_round_trip_is_exact():
    frame = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    x = frame_to_tensor(frame)
    assert x.shape == (1, 3, 7, 9) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert np.array_equal(tensor_to_frame(x), frame)


def test_a_wrong_frame_is_refused_with_what_arrived():
    with pytest.raises(ValueError, match=r"expected frame uint8 \(H, W, 3\) RGB, got float64 \(4, 4, 3\)"):
        frame_to_tensor(np.zeros((4, 4, 3)))


def test_fit_size_keeps_aspect_and_never_enlarges():
    assert fit_size(1920, 1080, max_side_px=640) == (640, 360)
    assert fit_size(320, 200, max_side_px=640) == (320, 200)
    assert fit_size(1920, 1080, size=(100, 50)) == (100, 50)
    assert fit_size(641, 361, max_side_px=2000, even=True) == (640, 360)
    assert resize_frame(np.zeros((10, 20, 3), np.uint8), 5, 4).shape == (4, 5, 3)


def test_ycbcr_round_trip():
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-5)


def test_keep_colors_on_frames_is_the_luminance_transfer_on_tensors():
    rng = np.random.default_rng(3)
    a, b = (rng.random((2, 9, 11, 3), dtype=np.float32) for _ in range(2))
    ref = transfer_luminance(torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2))
    assert np.abs(keep_colors(a, b) - ref.permute(0, 2, 3, 1).numpy()).max() < 1e-5


def test_strength_zero_returns_the_input(tiny_net):
    frame = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    out = Stylizer(tiny_net, StylizeConfig(device="cpu", strength=0.0))([frame], torch.tensor([1.0, 0, 0]))[0]
    assert np.array_equal(out, frame)
    full = Stylizer(tiny_net, StylizeConfig(device="cpu"))([frame], torch.tensor([1.0, 0, 0]))[0]
    assert np.abs(full.astype(int) - frame).mean() > 5


def test_preserve_color_keeps_the_input_chroma(tiny_net):
    frame = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = Stylizer(tiny_net, StylizeConfig(device="cpu", preserve_color=True))([frame], torch.tensor([0, 1.0, 0]))[0]
    cc_in = rgb_to_ycbcr(frame_to_tensor(frame))[:, 1:]
    cc_out = rgb_to_ycbcr(frame_to_tensor(out))[:, 1:]
    # equal up to rounding and the clamp at the RGB gamut edges
    assert (cc_in - cc_out).abs().median() < 0.01
    assert transfer_luminance(frame_to_tensor(frame), frame_to_tensor(frame)).sub(frame_to_tensor(frame)).abs().max() < 1e-5


def test_a_short_last_batch_is_padded_to_the_compiled_size_and_trimmed(tiny_net, monkeypatch):
    cfg = StylizeConfig(device="cpu", batch_size=4, compile="on", precision="fp32")
    st = Stylizer(tiny_net, cfg)
    seen = []
    monkeypatch.setattr(st.torch, "_runner", lambda kind, x, mix, small: (seen.append(tuple(x.shape)), st.torch._modules[kind])[1])
    # textured frames: on constant ones instance norm divides rounding noise by almost nothing, and batch-4
    # and batch-1 convolutions (different kernels) then disagree by tens of levels on some AVX-512 CPUs
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(2)]
    mixes = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    out = st(frames, mixes)
    assert seen == [(4, 16, 16, 3)] and len(out) == 2
    alone = [Stylizer(tiny_net, StylizeConfig(device="cpu", compile="off", precision="fp32"))([f], m)[0]
             for f, m in zip(frames, mixes)]
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(out, alone))


def test_an_unknown_image_extension_is_a_clear_error():
    from livestyle.images import encode_image
    with pytest.raises(ValueError, match="cannot write images of type '.xyz'"):
        encode_image(np.zeros((4, 4, 3), np.uint8), ".xyz")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_fused_uint8_path_gives_the_frames_of_the_float_path(tiny_net, precision):
    """Frames in, frames out (FramesNet: conversions inside the compiled graph) vs the float tensor path
    (strength 1 goes through FramesNet; a strength of 0.999... forces the float path)."""
    frames = [np.random.default_rng(i).integers(0, 256, (12, 20, 3), dtype=np.uint8) for i in range(2)]
    mix = torch.tensor([0.2, 0.3, 0.5])
    fused = Stylizer(tiny_net, StylizeConfig(device="cpu", compile="off", precision=precision))
    assert fused._frames_path()
    out = fused(frames, mix)
    ref = to_frames(fused.torch.floats(frames, np.stack([mix.numpy()] * 2)))
    for a, b in zip(out, ref):
        assert a.shape == (12, 20, 3) and a.dtype == np.uint8 and a.flags.c_contiguous
        assert np.abs(a.astype(int) - b).max() <= (1 if precision == "fp32" else 3)

import urllib.error

import cv2
import numpy as np
import pytest
import torch

from conftest import shared_path
from livestyle import flow as flow_mod
from livestyle.flow import (FlowEstimator, endpoint_error, occlusion_mask, read_flo, resize_flow, temporal_loss, warp,
                            warp_tensor)
from conftest import write_flo


def texture(h: int, w: int, seed: int, sigma: float = 2.0) -> np.ndarray:
    """Smoothed colour noise: texture that optical flow can lock on to."""
    n = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w, 3)).astype(np.float32), (0, 0), sigma)
    return ((n - n.min()) / (n.max() - n.min()) * 255).astype(np.uint8)


def moving_square(x: int, *, h: int = 96, w: int = 128, size: int = 32) -> np.ndarray:
    """A textured square at column x over a static textured background."""
    frame = texture(h, w, 1)
    frame[h // 3:h // 3 + size, x:x + size] = texture(size, size, 2)
    return frame


def test_warp_with_zero_flow_is_identity():
    frame = texture(24, 32, 0)
    zero = np.zeros((24, 32, 2), np.float32)
    assert np.array_equal(warp(frame, zero), frame)
    assert np.array_equal(warp(frame, zero, fixed_point=True), frame)
    img = frame.astype(np.float32) / 255
    assert np.allclose(warp(img, zero), img)
    x = torch.rand(2, 3, 24, 32)
    assert torch.allclose(warp_tensor(x, torch.zeros(2, 2, 24, 32)), x, atol=1e-5)


def test_warp_along_flow_to_prev_lines_the_previous_frame_up_with_now():
    prev = texture(32, 48, 0)
    cur = np.roll(prev, 3, axis=1)  # content moved 3 px right: each pixel was 3 px to the left
    flow_to_prev = np.zeros((32, 48, 2), np.float32)
    flow_to_prev[..., 0] = -3
    assert np.array_equal(warp(prev, flow_to_prev)[:, 3:], cur[:, 3:])


def test_warp_tensor_matches_numpy_warp():
    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 3)).astype(np.float32)
    flow = rng.normal(0, 2, (20, 30, 2)).astype(np.float32)
    expected = warp(img, flow)
    got = warp_tensor(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(flow).permute(2, 0, 1)[None])
    # OpenCV 4's remap rounds its bilinear weights to 1/32 (5.x does not): up to 0.019 apart here, 0.003 on
    # average; a flow taken the wrong way round, or off by a pixel, is ~0.3 apart
    diff = np.abs(got[0].permute(1, 2, 0).numpy() - expected)
    assert diff.max() < 0.03 and diff.mean() < 0.006


def test_temporal_loss_is_zero_for_a_perfectly_warped_pair_and_differentiable():
    prev = torch.rand(1, 3, 16, 16)
    flow = torch.zeros(1, 2, 16, 16)
    mask = torch.ones(1, 1, 16, 16)
    styled = prev.clone().requires_grad_(True)
    loss = temporal_loss(styled, prev, flow, mask)
    assert loss.item() == pytest.approx(0, abs=1e-10)
    noisy = (prev + 0.1).requires_grad_(True)
    loss = temporal_loss(noisy, prev, flow, mask)
    loss.backward()
    assert loss.item() == pytest.approx(0.01, rel=1e-4) and noisy.grad.abs().sum() > 0
    assert temporal_loss(noisy, prev, flow, torch.zeros_like(mask)).item() == 0


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_dis_recovers_a_known_translation_within_a_pixel(scale):
    prev = texture(96, 128, 0)
    shift = np.float32([[1, 0, 2.5], [0, 1, -1.5]])  # cur(p) = prev(p - (2.5, -1.5))
    cur = cv2.warpAffine(prev, shift, (128, 96), borderMode=cv2.BORDER_REFLECT)
    flow_to_prev = FlowEstimator(preset="ultrafast", scale=scale)(prev, cur)
    assert flow_to_prev.shape == (96, 128, 2) and flow_to_prev.dtype == np.float32
    inner = flow_to_prev[10:-10, 10:-10]
    err = np.linalg.norm(inner - np.array([-2.5, 1.5], np.float32), axis=2)
    assert np.median(err) < 0.5 and (err < 1).mean() > 0.95


def test_occlusion_mask_marks_the_disoccluded_strip_behind_a_moving_object():
    # exact flows for a square moving 8 px right: strip x in [40, 48) of the current frame was hidden
    h, w = 96, 128
    flow_to_prev = np.zeros((h, w, 2), np.float32)
    flow_to_prev[32:64, 48:80, 0] = -8  # the square now at 48..80 was at 40..72
    flow_to_next = np.zeros((h, w, 2), np.float32)
    flow_to_next[32:64, 40:72, 0] = 8
    mask = occlusion_mask(flow_to_prev, flow_to_next)
    assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
    assert mask[32:64, 40:48].max() == 0  # disoccluded background
    assert mask[:28].min() == 1 and mask[34:62, 50:78].min() == 1  # static background, object interior
    only_fb = occlusion_mask(flow_to_prev, flow_to_next, motion_boundaries=False)
    assert only_fb[32:64, 40:48].max() == 0 and only_fb[32:64, 48].min() == 1
    assert occlusion_mask(flow_to_prev, None)[32:64, 47].max() == 0  # motion boundary (forward difference)


def test_occlusion_mask_distrusts_flow_that_leaves_the_frame():
    flow_to_prev = np.zeros((10, 20, 2), np.float32)
    flow_to_prev[..., 0] = -3  # camera panned: the left 3 columns have no past
    mask = occlusion_mask(flow_to_prev)
    assert mask[:, :2].max() == 0 and mask[:, 4:].min() == 1


def test_dis_flow_and_mask_find_a_disocclusion():
    prev, cur = moving_square(40), moving_square(48)
    est = FlowEstimator()
    flow_to_prev, flow_to_next = est.flows_between(est.prepare(prev), est.prepare(cur), both=True)
    mask = cv2.resize(occlusion_mask(flow_to_prev, flow_to_next), (128, 96), interpolation=cv2.INTER_NEAREST)
    assert mask[34:62, 41:47].mean() < 0.3  # the revealed strip
    assert mask[:20].mean() > 0.8  # static background far from the object


def test_resize_flow_rescales_vectors():
    flow = np.ones((10, 20, 2), np.float32)
    big = resize_flow(flow, 40, 30)
    assert big.shape == (30, 40, 2) and np.allclose(big[..., 0], 2) and np.allclose(big[..., 1], 3)


def test_flo_files_round_trip_and_bad_ones_are_refused(tmp_path):
    flow = np.random.default_rng(0).normal(0, 3, (7, 11, 2)).astype(np.float32)
    write_flo(tmp_path / "a.flo", flow)
    assert np.array_equal(read_flo(tmp_path / "a.flo"), flow)
    (tmp_path / "b.flo").write_bytes(b"GIF8" + b"\0" * 20)
    with pytest.raises(ValueError, match="expected a .flo file"):
        read_flo(tmp_path / "b.flo")


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="expected DIS preset one of ultrafast, fast, medium, got 'slow'"):
        FlowEstimator(preset="slow")
    with pytest.raises(ValueError, match=r"expected flow scale in \(0, 1\], got 2"):
        FlowEstimator(scale=2)
    with pytest.raises(ValueError, match="expected two frames of one size"):
        FlowEstimator()(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))


def test_raft_without_its_weights_says_what_to_do(monkeypatch):
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match=r"could not load RAFT weights .*URLError.*use the DIS flow backend"):
        FlowEstimator(backend="raft", device="cpu")


def test_raft_backend_pads_normalizes_and_crops(monkeypatch):
    seen = []

    def fake_raft(x1, x2):  # stands in for torchvision's RAFT: records inputs, returns a known flow
        seen.append((tuple(x1.shape), float(x1.min()), float(x1.max())))
        n, _, h, w = x1.shape
        flow = torch.zeros(n, 2, h, w)
        flow[:, 0] = torch.arange(w).float()  # dx = column index, so cropping can be checked
        flow[:, 1] = 1.5
        return [flow * 0, flow]  # RAFT returns every refinement; the last is used
    monkeypatch.setattr(flow_mod, "load_raft", lambda name, device: fake_raft)
    est = FlowEstimator(backend="raft", scale=1.0, device="cpu")
    prev, cur = texture(60, 84, 0), texture(60, 84, 1)
    flow_to_prev = est(prev, cur)
    (shape, lo, hi), = seen
    assert shape == (1, 3, 128, 128) and -1 <= lo and hi <= 1  # >= 128 px and multiples of 8, in [-1, 1]
    assert flow_to_prev.shape == (60, 84, 2) and flow_to_prev.dtype == np.float32
    assert np.allclose(flow_to_prev[0, :, 0], np.arange(84)) and np.allclose(flow_to_prev[..., 1], 1.5)


def test_dis_follows_sintel_alley_1_motion():
    # The shared Sintel ground truth (flows 1->2 .. 5->6) does not cover the shared RGB frames (16-25),
    # so the GT motion is applied to real frame 16: cur = warp(frame16, gt) has flow_to_prev = gt exactly.
    frame = cv2.imread(str(shared_path("video/sintel_alley_1_frames/frame_0016.png")))[:, :, ::-1]
    gt = read_flo(shared_path("video/sintel_alley_1_gt_flow/frame_0005.flo"))  # the largest of the five
    prev = cv2.resize(np.ascontiguousarray(frame), (640, 272), interpolation=cv2.INTER_AREA)  # Sintel's aspect
    gt = resize_flow(gt, 640, 272)
    cur = warp(prev, gt)
    assert endpoint_error(np.zeros_like(gt), gt) > 1.9  # the motion is real: zero flow is 2 px off
    epe = endpoint_error(FlowEstimator()(prev, cur), gt)  # measured 0.81 px
    assert epe < 1.0, f"DIS ultrafast at half size: EPE {epe:.2f} px on Sintel motion at 640x272"
    epe = endpoint_error(FlowEstimator(scale=1.0)(prev, cur), gt)  # measured 0.46 px
    assert epe < 0.6, f"DIS ultrafast at full size: EPE {epe:.2f} px on Sintel motion at 640x272"


def test_max_width_keeps_the_flow_grid_the_same_size_for_larger_frames():
    est = FlowEstimator(scale=0.5, max_width=320)
    assert est.prepare(np.zeros((360, 640, 3), np.uint8)).shape == (180, 320)
    assert est.prepare(np.zeros((720, 1280, 3), np.uint8)).shape == (180, 320)
    assert est.prepare(np.zeros((100, 200, 3), np.uint8)).shape == (50, 100)
    # a 720p shift is still recovered through the smaller grid, in full-size pixels
    prev = cv2.resize(texture(180, 320, 4), (1280, 720), interpolation=cv2.INTER_CUBIC)
    cur = np.roll(prev, 8, axis=1)
    flow_to_prev = est(prev, cur)
    assert flow_to_prev.shape == (720, 1280, 2)
    assert abs(np.median(flow_to_prev[100:-100, 100:-100, 0]) + 8) < 1.0
    with pytest.raises(ValueError, match="max width"):
        FlowEstimator(max_width=4)

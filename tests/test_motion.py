"""Synthetic motion for the temporal loss: the flow is exact, the mask drops what came from outside, and
the pair is reproducible from the generator."""
from __future__ import annotations

import dataclasses

import torch

from livestyle.config import MotionConfig
from livestyle.flow import warp_tensor
from livestyle.motion import inside_mask, moved_pair, random_flow

STILL = MotionConfig(shift_px=0, rotate_deg=0, scale=0, elastic_px=0, noise=0, brightness=0)


def smooth_batch(n: int = 2, h: int = 40, w: int = 48) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    coarse = torch.rand((n, 3, 6, 7), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)


def test_no_motion_no_noise_gives_the_same_frames_and_a_full_mask():
    x = smooth_batch()
    moved, flow_to_prev, mask = moved_pair(x, STILL, torch.Generator().manual_seed(0))
    assert torch.allclose(moved, x, atol=1e-5)
    assert flow_to_prev.abs().max() < 1e-5 and bool((mask == 1).all())


def test_a_pure_shift_is_a_constant_flow_and_moves_the_picture_by_that_much():
    cfg = dataclasses.replace(STILL, shift_px=5.0)
    flow = random_flow(3, 20, 30, cfg, torch.Generator().manual_seed(0))
    for i in range(3):  # the same displacement at every pixel, up to 5 px per axis, not all zero
        assert torch.allclose(flow[i], flow[i, :, :1, :1].expand_as(flow[i]), atol=1e-4)
    assert flow.abs().max() <= 5.0 and flow.abs().max() > 0.5
    x = smooth_batch(1, 40, 48)
    shift = torch.zeros(1, 2, 40, 48)
    shift[:, 0] = 3.0  # each pixel comes from 3 px to its right: the picture moves 3 px left
    moved = warp_tensor(x, shift)
    assert torch.allclose(moved[..., :-3], x[..., 3:], atol=1e-5)
    mask = inside_mask(shift)
    assert bool((mask[..., :-3] == 1).all()) and bool((mask[..., -3:] == 0).all())


def test_rotation_zoom_and_elastic_motion_stay_within_bounds_and_are_smooth():
    cfg = MotionConfig(shift_px=0, rotate_deg=2.0, scale=0.03, elastic_px=1.5, noise=0, brightness=0)
    flow = random_flow(8, 64, 64, cfg, torch.Generator().manual_seed(3))
    # corners move at most r*(angle + zoom) + a few elastic std
    assert flow.abs().max() < 45 * (0.035 + 0.03) + 6
    assert (flow[..., 1:, :] - flow[..., :-1, :]).abs().max() < 0.5  # no tearing between neighbours


def test_the_pair_is_reproducible_from_the_generator_and_noise_brightness_change_it():
    x = smooth_batch()
    a = moved_pair(x, MotionConfig(), torch.Generator().manual_seed(7))
    b = moved_pair(x, MotionConfig(), torch.Generator().manual_seed(7))
    c = moved_pair(x, MotionConfig(), torch.Generator().manual_seed(8))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    moved, flow_to_prev, mask = a
    assert moved.min() >= 0 and moved.max() <= 1
    clean = warp_tensor(x, flow_to_prev)
    diff = (moved - clean)[mask.expand_as(moved) > 0]
    assert 0.005 < diff.std() < 0.1  # sensor noise of std 0.02 plus a brightness gain of up to 5%


def test_an_identity_network_has_only_the_noise_as_temporal_loss_and_the_reverse_flow_would_not():
    """The flow direction of the pair is the one the loss (flow.temporal_loss) expects."""
    from livestyle.flow import temporal_loss
    x = smooth_batch(4, 64, 64)
    cfg = MotionConfig(shift_px=6, rotate_deg=2, scale=0.03, elastic_px=1.5, noise=0.0, brightness=0.0)
    moved, flow_to_prev, mask = moved_pair(x, cfg, torch.Generator().manual_seed(0))
    right = temporal_loss(moved, x, flow_to_prev, mask).item()
    wrong = temporal_loss(moved, x, -flow_to_prev, mask).item()
    assert right < 1e-6 and wrong > 100 * max(right, 1e-7)

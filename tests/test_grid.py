"""The grid score on pictures whose answer is known: noise has no period, a drawn grid has one."""
from __future__ import annotations

import numpy as np
import pytest

from livestyle.grid import PERIODS, grid_score, grid_scores


def test_noise_scores_about_one_at_every_period():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    scores = grid_scores(noise)
    assert all(0.3 < scores[p] < 3.0 for p in PERIODS), scores


def test_a_drawn_8px_grid_scores_far_above_one_at_8_and_16_but_not_at_periods_it_lacks():
    rng = np.random.default_rng(1)
    img = rng.integers(60, 196, (360, 640, 3)).astype(np.float64)
    img[::8, :] += 40  # a faint line every 8 px, under noise three times stronger
    img[:, ::8] += 40
    frame = np.clip(img, 0, 255).astype(np.uint8)
    scores = grid_scores(frame)
    assert all(scores[p] > 50 for p in PERIODS), scores  # lines every 8 px repeat every 2, 4 and 16 px too


def test_a_smooth_photo_like_picture_scores_low():
    # a smooth scene with edges at arbitrary places: no period
    yy, xx = np.mgrid[0:300, 0:500].astype(np.float64)
    lum = 128 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0) + 40 * (xx + 0.7 * yy > 333)
    rng = np.random.default_rng(2)
    frame = np.clip(lum[..., None] + rng.normal(0, 3, (300, 500, 3)), 0, 255).astype(np.uint8)
    assert max(grid_scores(frame).values()) < 3.0


def test_real_photos_score_about_one_in_the_median():
    from conftest import shared_path
    from livestyle.images import read_image

    names = ["bsds500_test_159002.jpg", "coco_train2017_000000000113.jpg", "imagenet_n02110806_basenji.jpg",
             "urban100_069.jpg", "sunhays80_026.jpg"]
    scores = [grid_scores(read_image(str(shared_path(f"content/{n}")))) for n in names]
    medians = {p: float(np.median([s[p] for s in scores])) for p in PERIODS}
    assert max(medians.values()) < 3.0, medians


def test_a_texture_tile_repeated_every_8px_scores_high_at_8_and_not_at_a_period_it_lacks():
    rng = np.random.default_rng(3)
    tile = rng.normal(0, 20, (8, 8))  # what a network locked to its stride stamps everywhere
    scene = rng.normal(128, 30, (360, 640))  # plus detail of its own, larger than the tile
    frame = np.clip(scene + np.tile(tile, (45, 80)), 0, 255).astype(np.uint8)
    assert grid_score(frame, 8) > 30
    assert grid_score(frame, 3) < 3.0  # 8 and 3 share no period


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3)])
def test_pictures_smaller_than_a_block_score_nan(shape):
    assert np.isnan(grid_score(np.zeros(shape, np.uint8), 16))


def test_the_grid_loss_is_the_grid_score_made_differentiable():
    import torch

    from livestyle.losses import grid_loss

    rng = np.random.default_rng(0)
    noise = rng.random((2, 3, 128, 128), dtype=np.float32)
    tiled = noise.copy()
    tiled[:, :, ::4, ::4] += 0.3  # a pattern every 4 px
    assert grid_loss(torch.from_numpy(noise)).item() < 1.5
    x = torch.from_numpy(tiled).requires_grad_()
    loss = grid_loss(x, (4,))
    metric = np.median([grid_score((np.clip(t.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8), 4) for t in tiled])
    assert loss.item() > 50 and 0.5 < loss.item() / metric < 2
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

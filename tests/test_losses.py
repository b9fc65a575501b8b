"""Perceptual losses: exact small values, zero for identical inputs, inputs left alone."""
from __future__ import annotations

from collections import namedtuple

import pytest
import torch

from livestyle.losses import content_loss, gram_matrix, style_loss, tv_loss

Feats = namedtuple("Feats", ["relu1_2", "relu2_2"])


def test_gram_matrix_of_a_known_tensor():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2 channels [1, 2] and [3, 4], H=1, W=2
    g = gram_matrix(f)
    # F F^T = [[1+4, 3+8], [3+8, 9+16]] divided by C*H*W = 4
    assert torch.allclose(g, torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)


def test_gram_matrix_is_float32_under_bf16_autocast_and_symmetric():
    f = torch.rand(2, 8, 5, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(f.bfloat16())
    assert g.dtype == torch.float32 and g.shape == (2, 8, 8)
    assert torch.allclose(g, g.transpose(1, 2))


def test_each_loss_is_zero_for_identical_inputs():
    torch.manual_seed(0)
    feats = Feats(torch.rand(2, 4, 8, 8), torch.rand(2, 6, 4, 4))
    targets = {name: gram_matrix(getattr(feats, name)) for name in Feats._fields}
    assert content_loss(feats.relu2_2, feats.relu2_2.clone()).item() == 0
    assert style_loss(feats, targets, {"relu1_2": 1.0, "relu2_2": 3.0}).item() == 0
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0


def test_style_loss_weights_layers_and_broadcasts_one_target_over_the_batch():
    torch.manual_seed(0)
    feats = Feats(torch.rand(2, 4, 8, 8), torch.rand(2, 6, 4, 4))
    target = {"relu1_2": torch.zeros(1, 4, 4), "relu2_2": torch.zeros(1, 6, 6)}
    g1, g2 = gram_matrix(feats.relu1_2), gram_matrix(feats.relu2_2)
    expected = 2.0 * g1.pow(2).mean() + 0.5 * g2.pow(2).mean()
    assert torch.allclose(style_loss(feats, target, {"relu1_2": 2.0, "relu2_2": 0.5}), expected)


def test_style_loss_uses_one_target_per_sample_for_mixed_style_batches():
    torch.manual_seed(0)
    feats = Feats(torch.rand(2, 4, 8, 8), torch.rand(2, 6, 4, 4))
    per_sample = {"relu1_2": gram_matrix(feats.relu1_2)}  # (2, C, C): each sample its own target
    assert style_loss(feats, per_sample, {"relu1_2": 1.0}).item() == 0
    swapped = {"relu1_2": per_sample["relu1_2"].flip(0)}
    assert style_loss(feats, swapped, {"relu1_2": 1.0}).item() > 0


def test_tv_loss_of_a_known_image():
    img = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    # vertical differences 0, horizontal differences 1 and 1 -> 0 + mean(1, 1)
    assert tv_loss(img).item() == pytest.approx(1.0)


def test_losses_leave_their_inputs_unchanged():
    x = torch.rand(1, 3, 8, 8)
    before = x.clone()
    tv_loss(x), content_loss(x, x * 0.5), gram_matrix(x)
    assert torch.equal(x, before)


def test_the_gram_of_channels_last_features_equals_the_nchw_one():
    f = torch.rand(2, 8, 6, 5)
    assert torch.allclose(gram_matrix(f.contiguous(memory_format=torch.channels_last)), gram_matrix(f), atol=1e-6)

"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016) on VGG features, plus total variation.

All take features of float images in [0, 1] (the VGG convention is applied inside vgg.py) and return
scalar tensors; none changes its inputs. Content and style losses are zero for identical inputs,
total variation for a constant image.

Weights and layers are options of TrainConfig (content_weight, style_weight, tv_weight, content_layer,
style_layers), where their defaults and the measurements behind them are written down.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) features -> (N, C, C) Gram matrices divided by C*H*W (fast_neural_style's
    normalisation, so the value does not grow with image size). Computed in float32.

    For channels_last features, (N, HW, C) is a view and the gradient comes back in the features' own
    layout; the (N, C, HW) reshape would copy them and its gradient then meets the conv's NHWC one in a
    slow mixed-layout add (measured on this CPU at 512x341, bf16 Gatys iteration: 1.58 s vs 1.94 s)."""
    n, c, h, w = f.shape
    with torch.autocast(f.device.type, enabled=False):
        if c > 1 and f.is_contiguous(memory_format=torch.channels_last):
            x = f.permute(0, 2, 3, 1).reshape(n, h * w, c).float()  # (N, HW, C)
            return torch.bmm(x.transpose(1, 2), x) / (c * h * w)  # (N, C, C)
        x = f.float().reshape(n, c, h * w)  # (N, C, HW)
        return torch.bmm(x, x.transpose(1, 2)) / (c * h * w)  # (N, C, C)


def content_loss(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference (Johnson et al.'s feature reconstruction loss)."""
    return F.mse_loss(f.float(), target.float())


def style_loss(feats, target_grams: dict[str, torch.Tensor], layer_weights: dict[str, float]) -> torch.Tensor:
    """sum over layers of weight * MSE(Gram(features), target Gram). `feats` has the layers as attributes
    (`feats.relu2_2`); each target is (1, C, C) for one style or (N, C, C), one row per sample."""
    total = 0.0
    for name, weight in layer_weights.items():
        g = gram_matrix(getattr(feats, name))  # (N, C, C)
        total = total + weight * F.mse_loss(g, target_grams[name].expand_as(g))
    return total


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertical and horizontal neighbours (smooths speckle)."""
    dy = img[:, :, 1:, :] - img[:, :, :-1, :]
    dx = img[:, :, :, 1:] - img[:, :, :, :-1]
    return dy.float().pow(2).mean() + dx.float().pow(2).mean()

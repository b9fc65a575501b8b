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


def content_loss(f: torch.Tensor, target: torch.Tensor, *, normalized: bool = False) -> torch.Tensor:
    """Mean squared feature difference (Johnson et al.'s feature reconstruction loss). `normalized`:
    each sample's MSE divided by its target's mean squared activation, so 1 = an error as large as the
    features themselves at any layer (the content distance of `livestyle eval`)."""
    if not normalized:
        return F.mse_loss(f.float(), target.float())
    return content_distance(f, target).mean()


def content_distance(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) MSE of features to target / mean square of target, per sample."""
    f, target = f.float(), target.float()
    return (f - target).pow(2).flatten(1).mean(1) / target.pow(2).flatten(1).mean(1).clamp_min(1e-12)


def gram_distance(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) mean((G - G_target)^2) / mean(G_target^2) for Grams (N, C, C) and targets (1 or N, C, C): the
    Gram distance of one layer, independent of the layer's scale (0 = the painting's statistics)."""
    target = target.expand_as(g)
    return (g - target).pow(2).flatten(1).mean(1) / target.pow(2).flatten(1).mean(1).clamp_min(1e-30)


def style_loss(feats, target_grams: dict[str, torch.Tensor], layer_weights: dict[str, float], *,
               normalized: bool = False) -> torch.Tensor:
    """sum over layers of weight * MSE(Gram(features), target Gram). `feats` has the layers as attributes
    (`feats.relu2_2`); each target is (1, C, C) for one style or (N, C, C), one row per sample.
    `normalized`: each layer's term is its gram_distance instead (mean over the batch), so every layer
    contributes by how far its statistics are from the painting's and not by its raw scale (with the
    Caffe VGG the relu4_3 Gram MSE is ~1e-5 of relu1_2's)."""
    total = 0.0
    for name, weight in layer_weights.items():
        g = gram_matrix(getattr(feats, name))  # (N, C, C)
        if normalized:
            total = total + weight * gram_distance(g, target_grams[name]).mean()
        else:
            total = total + weight * F.mse_loss(g, target_grams[name].expand_as(g))
    return total


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertical and horizontal neighbours (smooths speckle)."""
    dy = img[:, :, 1:, :] - img[:, :, :-1, :]
    dx = img[:, :, :, 1:] - img[:, :, :, :-1]
    return dy.float().pow(2).mean() + dx.float().pow(2).mean()


def grid_loss(img: torch.Tensor, periods: tuple[int, ...] = (2, 4, 8)) -> torch.Tensor:
    """The grid score of livestyle.grid (~1 without a period, far above with a grid), differentiable, averaged
    over the batch and `periods`: the variance of the high-passed luminance's mean at each of the P x P
    positions of a P x P block, times the number of blocks, over the variance of the high-pass (held fixed,
    so the network lowers the pattern rather than adding detail to hide it)."""
    lum = (img.float() * img.new_tensor([0.299, 0.587, 0.114], dtype=torch.float32)[None, :, None, None]).sum(1, keepdim=True)
    hp = (lum - F.avg_pool2d(F.pad(lum, (1, 1, 1, 1), mode="reflect"), 3, stride=1))[:, 0]  # (N, H, W)
    var = hp.flatten(1).var(1).detach() + 1e-8
    total = img.new_zeros((), dtype=torch.float32)
    for p in periods:
        rows, cols = hp.shape[1] // p, hp.shape[2] // p
        means = hp[:, :rows * p, :cols * p].reshape(-1, rows, p, cols, p).mean(dim=(1, 3))  # (N, P, P)
        total = total + (means.flatten(1).var(1, unbiased=False) * (rows * cols) / var).mean()
    return total / len(periods)

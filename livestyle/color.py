"""Colour-space helpers on float (N, 3, H, W) RGB tensors in [0, 1]."""
from __future__ import annotations

import torch

# ITU-R BT.601 full range, as JPEG uses
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114],
                              [-0.168736, -0.331264, 0.5],
                              [0.5, -0.418688, -0.081312]])
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    m = _RGB_TO_YCBCR.to(x.device, x.dtype)
    y = torch.einsum("ij,njhw->nihw", m, x)  # (N, 3, H, W): Y, Cb, Cr
    return y + torch.tensor([0.0, 0.5, 0.5], device=x.device, dtype=x.dtype)[None, :, None, None]


def ycbcr_to_rgb(y: torch.Tensor) -> torch.Tensor:
    m = _YCBCR_TO_RGB.to(y.device, y.dtype)
    y = y - torch.tensor([0.0, 0.5, 0.5], device=y.device, dtype=y.dtype)[None, :, None, None]
    return torch.einsum("ij,njhw->nihw", m, y).clamp(0, 1)


def transfer_luminance(content: torch.Tensor, styled: torch.Tensor) -> torch.Tensor:
    """Keep the content's colours and take only the styled image's luminance (Gatys et al. 2016,
    "Preserving Color in Neural Artistic Style Transfer", luminance-only transfer)."""
    ycc = rgb_to_ycbcr(content)
    y_styled = rgb_to_ycbcr(styled)[:, :1]
    return ycbcr_to_rgb(torch.cat([y_styled, ycc[:, 1:]], dim=1))

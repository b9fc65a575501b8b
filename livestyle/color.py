"""Colour-space helpers: luminance-only transfer on numpy frames (the frame step, no torch) and on
float (N, 3, H, W) RGB tensors in [0, 1] (Gatys, training; torch imported where used)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# ITU-R BT.601 full range, as JPEG uses
_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                          [-0.168736, -0.331264, 0.5],
                          [0.5, -0.418688, -0.081312]], dtype=np.float64)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_OFFSET = np.array([0.0, 0.5, 0.5])


def keep_colors(content: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """float (..., 3) RGB in [0, 1], channels last: the content's colours (Cb, Cr) with the styled image's
    luminance (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer"), clipped to [0, 1].
    A linear map: RGB out = RGB content + (Y styled - Y content) * (column of Y in the inverse matrix),
    which is (1, 1, 1) for BT.601, so the luminance difference is added to every channel."""
    luma = _RGB_TO_YCBCR[0].astype(np.float32)
    dy = styled @ luma - content @ luma  # (...,)
    return np.clip(content + dy[..., None], 0.0, 1.0)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    import torch

    m = torch.as_tensor(_RGB_TO_YCBCR, device=x.device, dtype=x.dtype)
    y = torch.einsum("ij,njhw->nihw", m, x)  # (N, 3, H, W): Y, Cb, Cr
    return y + torch.as_tensor(_OFFSET, device=x.device, dtype=x.dtype)[None, :, None, None]


def ycbcr_to_rgb(y: torch.Tensor) -> torch.Tensor:
    import torch

    m = torch.as_tensor(_YCBCR_TO_RGB, device=y.device, dtype=y.dtype)
    y = y - torch.as_tensor(_OFFSET, device=y.device, dtype=y.dtype)[None, :, None, None]
    return torch.einsum("ij,njhw->nihw", m, y).clamp(0, 1)


def transfer_luminance(content: torch.Tensor, styled: torch.Tensor) -> torch.Tensor:
    """Keep the content's colours and take only the styled image's luminance (Gatys et al. 2016,
    "Preserving Color in Neural Artistic Style Transfer", luminance-only transfer)."""
    import torch

    ycc = rgb_to_ycbcr(content)
    y_styled = rgb_to_ycbcr(styled)[:, :1]
    return ycbcr_to_rgb(torch.cat([y_styled, ycc[:, 1:]], dim=1))

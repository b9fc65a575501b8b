"""Where the network runs and in which precision: one decision for stylizing, training and Gatys."""
from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else is checked and passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"expected --device auto, cpu, cuda or cuda:N, got {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (torch {torch.__version__}); use cpu")
    return dev


def fast_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether bf16 runs natively here: a CUDA GPU that supports it, or a CPU whose oneDNN has bf16
    kernels (AVX512-BF16 or AMX). A CPU with plain AVX-512 says no: oneDNN would emulate bf16 there,
    slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()))

"""Benchmarks: network speed of livestyle's StyleNet against the Johnson et al. reference layout,
measured in the same run, plus end-to-end video throughput. Reported as medians over repeats,
because the cores of a shared machine are noisy. Random weights are fine for timing."""
from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass

import torch

from .config import NetConfig
from .model import StyleNet, conv_gflops, count_params

REFERENCE = NetConfig()  # Johnson et al. 2016 / pytorch examples fast_neural_style at full width


@dataclass
class NetTiming:
    name: str
    width: int
    height: int
    mode: str  # eager | channels_last | bf16 | compile | compile+bf16
    ms_per_frame: float  # median over repeats
    ms_spread: float  # (max - min) / median over repeats, a noise indicator
    gflop: float
    params: int

    @property
    def fps(self) -> float:
        return 1000.0 / self.ms_per_frame


def busy_cores(sample_s: float = 0.5) -> float:
    """How many cores other processes keep busy, from /proc/stat over `sample_s` (Linux only; 0 elsewhere)."""
    def read():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals), idle
    try:
        t0, i0 = read()
        time.sleep(sample_s)
        t1, i1 = read()
    except OSError:
        return 0.0
    busy = 1 - (i1 - i0) / max(1, t1 - t0)
    return busy * (os.cpu_count() or 1)


def prepare(net: StyleNet, mode: str, device: torch.device):
    """The callable to time for one mode; compile modes compile here (outside the timing)."""
    net = net.to(device).eval()
    if "channels_last" in mode or "bf16" in mode or "compile" in mode:
        net = net.to(memory_format=torch.channels_last)
    fn = net
    if "compile" in mode:
        fn = torch.compile(net, dynamic=False)
    use_bf16 = "bf16" in mode

    def run(x, style):
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()
        with torch.inference_mode(), ctx:
            return fn(x, style)
    return run


def time_network(name: str, cfg: NetConfig, width: int, height: int, *, mode: str = "eager",
                 device: str = "cpu", batch: int = 1, repeats: int = 5, iters: int = 5) -> NetTiming:
    torch.manual_seed(0)
    dev = torch.device(device)
    net = StyleNet(NetConfig(**{**cfg.__dict__, "n_styles": max(2, cfg.n_styles)}))
    run = prepare(net, mode, dev)
    x = torch.rand(batch, 3, height, width, device=dev)
    if "channels_last" in mode or "bf16" in mode or "compile" in mode:
        x = x.contiguous(memory_format=torch.channels_last)
    style = torch.tensor([0.5, 0.5] + [0.0] * (net.n_styles - 2), device=dev)
    for _ in range(2):  # warm-up (and compilation)
        run(x, style)
    samples = []
    for _ in range(repeats):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(iters):
            run(x, style)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1000 / (iters * batch))
    med = statistics.median(samples)
    return NetTiming(name, width, height, mode, med, (max(samples) - min(samples)) / med,
                     conv_gflops(cfg, width, height), count_params(net))

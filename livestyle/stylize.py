"""Stylizing frames with a loaded model: device placement, precision, compilation, strength and
colour preservation. Shared by `image`, `video` and `webcam`; knows nothing about files or windows.

Speed on a CPU comes from three things measured by `livestyle bench` (640x360, 2 threads):
bf16 (oneDNN's AVX-512-BF16 kernels, ~2x), channels_last, and torch.compile (fuses instance
norm, ReLU and padding, which eager runs as separate memory passes; another ~2.5x on top of bf16).
Compilation takes seconds per input size, so by default it runs in a background thread while frames
go through the eager network, and the compiled one takes over when it is ready: a live stream never
waits for it. The style mix is a tensor input, so changing it never recompiles.

Reduced precision is an explicitly cast copy of the network (bf16 on CPU, fp16 on CUDA), not autocast:
autocast keeps a process-wide cast cache behind a mutex, and an eager autocast region in one thread
deadlocks against torch.compile tracing under autocast in another (seen here: main thread in
clear_autocast_cache waiting for the GIL, compile thread holding the GIL waiting for the mutex).
The explicit copy is as accurate (CIN mixes its tables in float32) and faster in eager mode.
"""
from __future__ import annotations

import copy
import logging
import threading

import numpy as np
import torch

from .color import transfer_luminance
from .config import StylizeConfig
from .frames import frames_to_tensor, tensor_to_frames
from .model import StyleNet, resolve_device

log = logging.getLogger(__name__)

MIN_COMPILE_AREA = 128 * 128  # below this, compiling costs more than it can save


def cpu_has_fast_bf16() -> bool:
    cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends.cpu, "get_cpu_capability") else ""
    return torch.backends.mkldnn.is_available() and cap.startswith("AVX512") or "AMX" in cap


class Stylizer:
    """`stylizer(frames, mix)` -> stylized frames. `mix` is (n_styles,) for all frames or
    (N, n_styles) for one mix per frame (schedules)."""

    def __init__(self, net: StyleNet, cfg: StylizeConfig):
        assert cfg.precision in ("auto", "fp32", "bf16", "fp16"), cfg.precision
        assert cfg.compile in ("auto", "on", "off"), cfg.compile
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        self.dtype = self._pick_dtype(cfg.precision)
        self.channels_last = self.dtype is not None  # oneDNN / cuDNN reduced precision prefers NHWC
        self.net = net.to(self.device).eval()
        self.run_net = self.net  # what actually runs: the net itself, or a reduced-precision copy
        if self.dtype is not None:
            self.run_net = copy.deepcopy(self.net).to(self.dtype).to(memory_format=torch.channels_last)
        self._compiled: dict[tuple, object] = {}  # (N, H, W) -> compiled callable, once ready
        self._compiling: set[tuple] = set()
        self._lock = threading.Lock()

    def _pick_dtype(self, precision: str):
        if precision == "fp32":
            return None
        if self.device.type == "cuda":
            return torch.bfloat16 if precision == "bf16" else torch.float16
        if precision in ("bf16", "fp16") or cpu_has_fast_bf16():
            return torch.bfloat16
        return None

    # -- compilation ------------------------------------------------------------------------

    def _compile_for(self, x: torch.Tensor, mix: torch.Tensor) -> None:
        key = tuple(x.shape[:1]) + tuple(x.shape[2:])
        fn = torch.compile(self.run_net, dynamic=False)
        try:
            with torch.inference_mode():
                fn(x, mix)  # compiles for this shape
        except Exception as e:  # a missing compiler toolchain etc.: eager keeps working
            log.warning("torch.compile failed (%s); staying with the eager network", str(e).splitlines()[0][:200])
            return
        with self._lock:
            self._compiled[key] = fn
        log.info("compiled network for %s", key)

    def _runner(self, x: torch.Tensor, mix: torch.Tensor):
        mode = self.cfg.compile
        if mode == "off" or (mode == "auto" and x.shape[2] * x.shape[3] < MIN_COMPILE_AREA):
            return self.run_net
        key = tuple(x.shape[:1]) + tuple(x.shape[2:])
        with self._lock:
            if key in self._compiled:
                return self._compiled[key]
            start = key not in self._compiling
            self._compiling.add(key)
        if mode == "on":
            self._compile_for(x, mix)
            return self._compiled.get(key, self.run_net)
        if start:
            threading.Thread(target=self._compile_for, args=(x.clone(), mix.clone()), daemon=True,
                             name=f"livestyle-compile-{key}").start()
        return self.run_net

    def warm_up(self, width: int, height: int, batch: int = 1) -> None:
        """Compile ahead for a frame size (blocking), e.g. before a live stream opens its window."""
        x = torch.rand(batch, 3, height, width, device=self.device)
        mix = torch.full((self.net.n_styles,), 1.0 / self.net.n_styles, device=self.device)
        if self.cfg.compile != "off":
            with self._lock:
                self._compiling.add((batch, height, width))
            self._compile_for(self._layout(x), mix)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None:
            x = x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # -- stylizing --------------------------------------------------------------------------

    @torch.inference_mode()
    def stylize_tensor(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """float (N, 3, H, W) in [0, 1] -> same shape, stylized, strength and colour applied."""
        mix = mix.to(self.device, torch.float32)
        xin = self._layout(x)
        run = self._runner(xin, mix)
        styled = run(xin, mix).float()
        if self.cfg.preserve_color:
            styled = transfer_luminance(x, styled)
        s = self.cfg.strength
        if s != 1.0:
            styled = x + s * (styled - x)  # 0 -> input, 1 -> full style
        return styled

    def __call__(self, frames: list[np.ndarray], mix: torch.Tensor) -> list[np.ndarray]:
        if not frames:
            return []
        n = len(frames)
        full = self.cfg.batch_size
        if self.cfg.compile != "off" and 1 < n < full:
            # the last batch of a clip is shorter: pad it to the compiled batch size (repeating the last
            # frame) rather than compiling the network again for one batch
            frames = frames + [frames[-1]] * (full - n)
            if mix.dim() == 2:
                mix = torch.cat([mix, mix[-1:].expand(full - n, -1)])
        x = frames_to_tensor(frames, self.device)  # (N, 3, H, W)
        return tensor_to_frames(self.stylize_tensor(x, mix))[:n]

"""The network run by torch (the extra `livestyle[torch]`): device placement, precision and compilation.
A runner of stylize.Stylizer, as ortnet.OrtNet is; stylize.py decides which one runs.

Speed on a CPU comes from three things measured by `livestyle bench` (640x360, 2 threads):
bf16 (oneDNN's AVX-512-BF16 kernels, ~2x), channels_last, and torch.compile (fuses instance
norm, ReLU and padding, which eager runs as separate memory passes; another ~2.5x on top of bf16).
Compilation takes seconds per input size (15-30 s with an empty cache), so compile="auto" compiles only
where it pays: a video long enough to amortise it (transcode.py sets `compile_pays`), before its first
frame. Never in a background thread beside eager frames: torch.fx's tracing patches every module's
__call__ process-wide while it runs, so an eager call of the same network in another thread ends up in
the tracer (torch 2.14: "module is not installed as a submodule", a crashed webcam) or worse, in the
graph. The live loop therefore runs eagerly unless asked (`--compile on`: each size compiled before its
first frame). The style mix is a tensor input, so changing it never recompiles.

Reduced precision is an explicitly cast copy of the network (bf16 on CPU, fp16 on CUDA), not autocast:
autocast keeps a process-wide cast cache behind a mutex, and an eager autocast region in one thread
deadlocks against torch.compile tracing under autocast in another (seen here: main thread in
clear_autocast_cache waiting for the GIL, compile thread holding the GIL waiting for the mutex).
The explicit copy is as accurate (CIN mixes its tables in float32) and faster in eager mode.
"""
from __future__ import annotations

import copy
import logging
import os
import sys
import threading
from pathlib import Path

import numpy as np
import torch

from .config import StylizeConfig
from .device import fast_bf16, resolve_device
from .model import StyleNet

log = logging.getLogger(__name__)

MIN_COMPILE_AREA = 128 * 128  # below this, compiling costs more than it can save
_COMPILE_LOCK = threading.Lock()


def compile_cache_dir() -> Path:
    """The user's cache folder for compiled kernels: $XDG_CACHE_HOME/livestyle/inductor (~/.cache on Linux,
    ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "livestyle" / "inductor"


class FramesNet(torch.nn.Module):
    """uint8 (N, H, W, 3) RGB frames in, the same out: the conversions around the network as part of
    one graph, so torch.compile fuses them into the first and last layers instead of four separate
    passes over the frame (NHWC uint8 permuted is already channels_last, so the input needs no copy)."""

    def __init__(self, net: StyleNet, dtype: torch.dtype):
        super().__init__()
        self.net, self.dtype = net, dtype

    def forward(self, frames: torch.Tensor, mix: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).to(self.dtype) * (1.0 / 255.0)  # (N, 3, H, W), channels_last strides
        y = self.net(x, mix, small)
        y8 = (y.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return y8.permute(0, 2, 3, 1).contiguous()  # (N, H, W, 3)


class TorchRunner:
    """`frames(frames, mixes, small)` -> stylized uint8 frames; `floats(frames, mixes, small)` -> the network's
    float32 (N, H, W, 3) output in [0, 1]. `mixes` is float32 numpy (N, n_styles); `small` the weight of the
    small rows (StyleNet.forward), a tensor input like the mix, so changing it never recompiles."""

    backend = "torch"

    def __init__(self, net: StyleNet, cfg: StylizeConfig):
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
        self._modules = {"float": self.run_net, "uint8": FramesNet(self.run_net, self.dtype or torch.float32)}
        self.compile_pays = False  # compile="auto" compiles only when this is set (a long video: transcode.py)
        self._compiled: dict[tuple, object] = {}  # (kind, *shape) -> compiled callable, once ready
        self._lock = threading.Lock()

    def _pick_dtype(self, precision: str):
        if precision == "fp32":
            return None
        if self.device.type == "cuda":
            return torch.bfloat16 if precision == "bf16" else torch.float16
        if precision in ("bf16", "fp16") or fast_bf16(self.device):
            return torch.bfloat16
        return None

    def set_threads(self, n: int) -> None:
        torch.set_num_threads(n)

    # -- compilation ------------------------------------------------------------------------

    def _compile_for(self, kind: str, x: torch.Tensor, mix: torch.Tensor, small: torch.Tensor) -> None:
        # Inductor's caches (compiled kernels, FX graphs) in the user's cache folder rather than /tmp, so
        # they survive a reboot: a warm cache compiles in seconds instead of tens of seconds
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
        key = (kind,) + tuple(x.shape)
        fn = torch.compile(self._modules[kind], dynamic=False)
        try:
            # one compilation at a time in the process: torch.fx tracing is not thread-safe (two background
            # compiles at once failed with "module is not installed as a submodule")
            with _COMPILE_LOCK, torch.inference_mode():
                fn(x, mix, small)  # compiles for this shape
        except Exception as e:  # a missing compiler toolchain etc.: eager keeps working
            log.warning("torch.compile failed (%s); staying with the eager network", str(e).splitlines()[0][:200])
            return
        with self._lock:
            self._compiled[key] = fn
        log.info("compiled network for %s", key)

    def _runner(self, kind: str, x: torch.Tensor, mix: torch.Tensor, small: torch.Tensor):
        """What runs `kind` ("float": the network on layout tensors; "uint8": frames in, frames out) on
        x's shape: the compiled callable (compiled now, blocking, the first time when compiling is on or pays),
        else the eager module."""
        eager = self._modules[kind]
        h, w = (x.shape[2], x.shape[3]) if kind == "float" else (x.shape[1], x.shape[2])
        mode = self.cfg.compile
        if mode == "off":
            return eager
        key = (kind,) + tuple(x.shape)
        with self._lock:
            if key in self._compiled:
                return self._compiled[key]
        if mode == "auto" and (h * w < MIN_COMPILE_AREA or not self.compile_pays):
            return eager
        self._compile_for(kind, x, mix, small)  # before this size's first frame (module docstring: no background)
        with self._lock:
            self._compiled.setdefault(key, eager)  # a failed compile stays eager, without trying again
            return self._compiled[key]

    def warm_up(self, width: int, height: int, batch: int, n_styles: int, *, frames_path: bool = True) -> None:
        """Compile ahead for a frame size (blocking), e.g. before a stream opens its window."""
        if self.cfg.compile == "off":
            return
        mix = torch.full((batch, n_styles), 1.0 / n_styles, device=self.device)
        small = torch.zeros(batch, device=self.device)
        if frames_path:
            kind, x = "uint8", torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8, device=self.device)
        else:
            kind, x = "float", self._layout(torch.rand(batch, 3, height, width, device=self.device))
        self._compile_for(kind, x, mix, small)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None:
            x = x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # -- running ----------------------------------------------------------------------------

    def _padded(self, frames: list[np.ndarray], mix: np.ndarray, small: float):
        """The last batch of a clip is shorter: pad it to the compiled batch size (repeating the last frame)
        rather than compiling the network again for one batch. Returns (frames, mix, small) tensors."""
        n, full = len(frames), self.cfg.batch_size
        if self.cfg.compile != "off" and 1 < n < full:
            frames = frames + [frames[-1]] * (full - n)
            mix = np.concatenate([mix, np.repeat(mix[-1:], full - n, axis=0)])
        mix = torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32)).to(self.device)
        return frames, mix, torch.full((len(frames),), float(small), device=self.device)

    @torch.inference_mode()
    def frames(self, frames: list[np.ndarray], mix: np.ndarray, small: float = 0.0) -> list[np.ndarray]:
        n = len(frames)
        frames, mix, sm = self._padded(frames, mix, small)
        x8 = torch.from_numpy(np.stack(frames)).to(self.device)  # (N, H, W, 3) uint8
        out = self._runner("uint8", x8, mix, sm)(x8, mix, sm).cpu().numpy()  # (N, H, W, 3) uint8
        return [np.ascontiguousarray(f) for f in out[:n]]

    @torch.inference_mode()
    def floats(self, frames: list[np.ndarray], mix: np.ndarray, small: float = 0.0) -> np.ndarray:
        n = len(frames)
        frames, mix, sm = self._padded(frames, mix, small)
        x = torch.from_numpy(np.stack(frames)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        xin = self._layout(x)
        y = self._runner("float", xin, mix, sm)(xin, mix, sm).float().clamp(0.0, 1.0)
        return y[:n].permute(0, 2, 3, 1).cpu().numpy()  # (N, H, W, 3)

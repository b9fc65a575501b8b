"""Stylizing frames with a loaded model: device placement, precision, compilation, strength and
colour preservation. Shared by `image`, `video` and `webcam`; knows nothing about files or windows.

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

ONNX Runtime (livestyle.ortnet) runs the network instead when the model comes with an ONNX export of exactly
its weights (the shipped models do), the device is a CPU without native bf16 and compiling neither is asked
for nor pays: on the 2-core AVX2 CPU it takes the full network's 640x360 frame in 239 ms against 314 ms
eager, with no compile and one session for every frame size.

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
import time

import cv2
import numpy as np
import torch

from .color import transfer_luminance
from .config import StylizeConfig, TemporalConfig
from .frames import frames_to_tensor, tensor_to_frames
from .model import StyleNet
from .device import fast_bf16, resolve_device

log = logging.getLogger(__name__)

MIN_COMPILE_AREA = 128 * 128  # below this, compiling costs more than it can save
# A clip shorter than this is stylized eagerly with compile="auto": at 640x360 on the 2-core AVX-512-BF16 CPU
# the compiled network saves 31 ms a frame (bf16 eager 53.1 ms, compiled 22.0 ms, `livestyle bench`) and a
# compile with an empty cache took 15.7 s, so it pays only after ~500 frames; on the 2-core AVX2 CPU (fp32)
# it saves 140 ms a frame (262 -> 122 ms) for a 30 s compile, ~215 frames.
AUTO_COMPILE_MIN_FRAMES = 600
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

    def forward(self, frames: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).to(self.dtype) * (1.0 / 255.0)  # (N, 3, H, W), channels_last strides
        y = self.net(x, mix)
        y8 = (y.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return y8.permute(0, 2, 3, 1).contiguous()  # (N, H, W, 3)


class Stylizer:
    """`stylizer(frames, mix)` -> stylized frames. `mix` is (n_styles,) for all frames or
    (N, n_styles) for one mix per frame (schedules)."""

    def __init__(self, net: StyleNet, cfg: StylizeConfig, onnx: str | os.PathLike | None = None):
        """`onnx`: an ONNX export of `net` (livestyle.export); with backend "auto" or "onnxruntime" on a CPU,
        ONNX Runtime runs it when its weights fingerprint matches `net`'s."""
        assert cfg.precision in ("auto", "fp32", "bf16", "fp16"), cfg.precision
        assert cfg.compile in ("auto", "on", "off"), cfg.compile
        assert cfg.backend in ("auto", "torch", "onnxruntime"), cfg.backend
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
        self.ort = self._load_ort(onnx)  # ortnet.OrtNet, or None: torch runs the network
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

    def _load_ort(self, onnx):
        cfg = self.cfg
        if cfg.backend == "torch":
            return None
        why = None
        if self.device.type != "cpu":
            why = f"the device is {self.device}, ONNX Runtime runs on the CPU here"
        elif cfg.precision in ("bf16", "fp16"):
            why = f"--precision {cfg.precision} asks for torch's reduced precision"
        elif self.dtype is not None and cfg.backend == "auto":
            why = "this CPU runs bf16 natively, where torch is faster"
        elif onnx is None:
            why = "this model has no ONNX export beside it (livestyle export)"
        if why is None:
            from . import ortnet
            runner = ortnet.load(onnx, self.net, threads=cfg.threads or torch.get_num_threads())
            if runner is not None:
                log.info("network: ONNX Runtime (%s)", onnx)
                return runner
            why = f"{onnx} cannot be used (onnxruntime missing, or exported from other weights)"
        if cfg.backend == "onnxruntime":
            raise ValueError(f"--backend onnxruntime: {why}")
        return None

    def set_threads(self, n: int) -> None:
        """CPU threads for the network from the next frame on (the live loop under load)."""
        torch.set_num_threads(n)
        if self.ort is not None:
            self.ort.threads = n

    def _use_ort(self) -> bool:
        """ONNX Runtime runs the network unless torch.compile is asked for or pays (a long video: on the 2-core
        AVX2 CPU the full network compiled takes 122 ms a 640x360 frame, under ONNX Runtime 207 ms)."""
        if self.ort is None:
            return False
        if self.cfg.backend == "onnxruntime":
            return True
        return not (self.cfg.compile == "on" or (self.cfg.compile == "auto" and self.compile_pays))

    @property
    def backend(self) -> str:
        return "onnxruntime" if self._use_ort() else "torch"

    # -- compilation ------------------------------------------------------------------------

    def _compile_for(self, kind: str, x: torch.Tensor, mix: torch.Tensor) -> None:
        # Inductor's caches (compiled kernels, FX graphs) in the user's cache folder rather than /tmp, so
        # they survive a reboot: a warm cache compiles in seconds instead of tens of seconds
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
        key = (kind,) + tuple(x.shape)
        fn = torch.compile(self._modules[kind], dynamic=False)
        try:
            # one compilation at a time in the process: torch.fx tracing is not thread-safe (two background
            # compiles at once failed with "module is not installed as a submodule")
            with _COMPILE_LOCK, torch.inference_mode():
                fn(x, mix)  # compiles for this shape
        except Exception as e:  # a missing compiler toolchain etc.: eager keeps working
            log.warning("torch.compile failed (%s); staying with the eager network", str(e).splitlines()[0][:200])
            return
        with self._lock:
            self._compiled[key] = fn
        log.info("compiled network for %s", key)

    def _runner(self, kind: str, x: torch.Tensor, mix: torch.Tensor):
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
        self._compile_for(kind, x, mix)  # before this size's first frame (module docstring: no background)
        with self._lock:
            self._compiled.setdefault(key, eager)  # a failed compile stays eager, without trying again
            return self._compiled[key]

    def _frames_path(self, strength: float | None = None, preserve_color: bool | None = None) -> bool:
        """Frames go through the fused uint8 module unless strength or colour preservation need the
        float input afterwards."""
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        return strength == 1.0 and not preserve_color

    def warm_up(self, width: int, height: int, batch: int = 1) -> None:
        """Compile ahead for a frame size (blocking), e.g. before a stream opens its window."""
        mix = torch.full((self.net.n_styles,), 1.0 / self.net.n_styles, device=self.device)
        if self._use_ort():
            self.ort.run_frames(np.zeros((batch, height, width, 3), np.uint8), mix.expand(batch, -1).numpy())
            return
        if self.cfg.compile == "off":
            return
        if self._frames_path():
            kind, x = "uint8", torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8, device=self.device)
        else:
            kind, x = "float", self._layout(torch.rand(batch, 3, height, width, device=self.device))
        self._compile_for(kind, x, mix)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None:
            x = x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # -- stylizing --------------------------------------------------------------------------

    @torch.inference_mode()
    def stylize_tensor(self, x: torch.Tensor, mix: torch.Tensor, *, strength: float | None = None,
                       preserve_color: bool | None = None) -> torch.Tensor:
        """float (N, 3, H, W) in [0, 1] -> same shape, stylized, strength and colour applied (per call, or
        the config's when None)."""
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        x = x.to(self.device)
        mix = mix.to(self.device, torch.float32)
        if self._use_ort():
            styled = torch.from_numpy(self.ort.run(x.float().numpy(), mix.expand(x.shape[0], -1).numpy()))
            return self._finish(x, styled, strength, preserve_color)
        xin = self._layout(x)
        run = self._runner("float", xin, mix)
        styled = run(xin, mix).float()
        return self._finish(x, styled, strength, preserve_color)

    @staticmethod
    def _finish(x, styled, strength, preserve_color):
        if preserve_color:
            styled = transfer_luminance(x, styled)
        if strength != 1.0:
            styled = x + strength * (styled - x)  # 0 -> input, 1 -> full style
        return styled

    def __call__(self, frames: list[np.ndarray], mix: torch.Tensor, *, strength: float | None = None,
                 preserve_color: bool | None = None) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB frames -> stylized frames; `strength` and `preserve_color` per call
        (None: the config's)."""
        if not frames:
            return []
        n = len(frames)
        full = self.cfg.batch_size
        if self.cfg.compile != "off" and 1 < n < full and not self._use_ort():
            # the last batch of a clip is shorter: pad it to the compiled batch size (repeating the last
            # frame) rather than compiling the network again for one batch
            frames = frames + [frames[-1]] * (full - n)
            if mix.dim() == 2:
                mix = torch.cat([mix, mix[-1:].expand(full - n, -1)])
        if not self._frames_path(strength, preserve_color):
            x = frames_to_tensor(frames, self.device)  # (N, 3, H, W)
            return tensor_to_frames(self.stylize_tensor(x, mix, strength=strength, preserve_color=preserve_color))[:n]
        if self._use_ort():
            mix = mix.float().cpu()
            out = self.ort.run_frames(np.stack(frames), mix.expand(len(frames), -1).numpy())
            return [np.ascontiguousarray(f) for f in out[:n]]
        with torch.inference_mode():
            x8 = torch.from_numpy(np.stack(frames)).to(self.device)  # (N, H, W, 3) uint8
            mix = mix.to(self.device, torch.float32)
            out = self._runner("uint8", x8, mix)(x8, mix).cpu().numpy()  # (N, H, W, 3) uint8
        return [np.ascontiguousarray(f) for f in out[:n]]


class StreamStylizer:
    """One frame step, the same for `video`, `webcam`, `bench`, the tools and the Python API: the network
    (the fused uint8 graph whenever strength is 1 and colours are not kept), strength, colour preservation,
    then temporal coherence along optical flow (temporal.TemporalStabilizer), in that order.

        step = StreamStylizer.for_model(model, StylizeConfig(), TemporalConfig(weight=0.6))
        for frames, times_s in batches:                      # consecutive uint8 (H, W, 3) RGB frames
            out = step(frames, mix, times_s=times_s)         # mix: (n_styles,) or (N, n_styles)

    Frames must come in display order, one stream per StreamStylizer (coherence carries the previous
    output along); `reset()` starts a new stream. `strength`, `preserve_color` and `temporal` may change
    from call to call (live keys); `temporal_s` adds up the time spent in coherence."""

    def __init__(self, net: StyleNet, cfg: StylizeConfig, temporal: TemporalConfig | None = None, *,
                 onnx: str | os.PathLike | None = None):
        from .temporal import TemporalStabilizer

        self.cfg = cfg
        self.stylizer = Stylizer(net, cfg, onnx)
        self.stabilizer = TemporalStabilizer(temporal) if temporal is not None and temporal.weight > 0 else None
        self.temporal_s = 0.0

    @classmethod
    def for_model(cls, model, cfg: StylizeConfig, temporal: TemporalConfig | None = None) -> "StreamStylizer":
        """The frame step for a loaded model file (modelfile.ModelFile), with its ONNX export when one lies
        beside it: the one way the CLI, the Python API, bench and the tools build it, so they all run the
        same runtime for the same model."""
        from .ortnet import onnx_beside
        return cls(model.net, cfg, temporal, onnx=onnx_beside(model.path))

    @property
    def backend(self) -> str:
        """What runs the network: "onnxruntime" or "torch"."""
        return self.stylizer.backend

    @property
    def n_styles(self) -> int:
        return self.stylizer.net.n_styles

    def warm_up(self, width: int, height: int, batch: int = 1) -> None:
        self.stylizer.warm_up(width, height, batch)

    def reset(self) -> None:
        if self.stabilizer is not None:
            self.stabilizer.reset()

    def __call__(self, frames: list[np.ndarray], mix: torch.Tensor, *, times_s: list[float] | None = None,
                 strength: float | None = None, preserve_color: bool | None = None,
                 temporal: bool = True, scale: float = 1.0, carry: bool = False) -> list[np.ndarray]:
        """`scale` < 1 runs the network on frames shrunk by that factor a side and enlarges its output back
        (adaptive resolution when frames fall behind); strength, colour and coherence stay at full size.
        `carry` (one frame, coherence on): show the previous output moved along the optical flow instead of
        running the network (TemporalStabilizer.carry), when there is history to carry; else as usual."""
        if carry and temporal and self.stabilizer is not None and len(frames) == 1:
            t0 = time.perf_counter()
            carried = self.stabilizer.carry(frames[0], mix=mix if mix.dim() == 1 else mix[0],
                                            time_s=times_s[0] if times_s else None)
            self.temporal_s += time.perf_counter() - t0
            if carried is not None:
                return [carried]
        if scale < 1.0:
            styled = self._scaled(frames, mix, scale, strength, preserve_color)
        else:
            styled = self.stylizer(frames, mix, strength=strength, preserve_color=preserve_color)
        if self.stabilizer is None:
            return styled
        if not temporal:  # switched off live: drop the history so switching on again starts clean
            self.stabilizer.reset()
            return styled
        t0 = time.perf_counter()
        mixes = [mix[i] if mix.dim() == 2 else mix for i in range(len(frames))]
        out = self.stabilizer.process(frames, styled, mixes=mixes, times_s=times_s)
        self.temporal_s += time.perf_counter() - t0
        return out

    def _scaled(self, frames, mix, scale, strength, preserve_color) -> list[np.ndarray]:
        h, w = frames[0].shape[:2]
        sw, sh = max(16, round(w * scale)), max(16, round(h * scale))
        small = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in frames]
        styled = [cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
                  for f in self.stylizer(small, mix, strength=1.0, preserve_color=False)]
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        if strength == 1.0 and not preserve_color:
            return styled
        x, y = frames_to_tensor(frames), frames_to_tensor(styled)
        if preserve_color:
            y = transfer_luminance(x, y)
        return tensor_to_frames(x + strength * (y - x))

"""Stylizing frames with a loaded model: which runtime runs the network, strength and colour
preservation, temporal coherence. Shared by `image`, `video`, `webcam`, bench, the tools and the Python API;
knows nothing about files or windows. No torch at import: the light install runs without it.

Two runtimes run the network (a runner each, the same interface):
- ONNX Runtime (ortnet.OrtNet) runs the model's ONNX export when one lies beside the model file and was
  exported from exactly its weights (the shipped models have one). On a CPU without native bf16 it is the
  fastest way (the 2-core AVX2 CPU: the full network's 640x360 frame in 239 ms against 314 ms eager torch),
  with no compile and one session for every frame size; without torch it is the only way.
- torch (torchnet.TorchRunner, the extra `livestyle[torch]`): CUDA, bf16 on CPUs that run it natively, and
  torch.compile where it pays (a long video: AUTO_COMPILE_MIN_FRAMES).
The choice is made once, when the Stylizer is built (`backend` says which), except that a video long enough
for torch.compile to pay switches to it before its first frame (transcode.py sets `compile_pays`).
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, wait

import cv2
import numpy as np

from .color import keep_colors
from .config import StylizeConfig, TemporalConfig, small_weight
from .device import TORCH_EXTRA, default_threads, needs_torch, resolve_device

log = logging.getLogger(__name__)

# A clip shorter than this is stylized eagerly with compile="auto": at 640x360 on the 2-core AVX-512-BF16 CPU
# the compiled network saves 31 ms a frame (bf16 eager 53.1 ms, compiled 22.0 ms, `livestyle bench`) and a
# compile with an empty cache took 15.7 s, so it pays only after ~500 frames; on the 2-core AVX2 CPU (fp32)
# it saves 140 ms a frame (262 -> 122 ms) for a 30 s compile, ~215 frames.
AUTO_COMPILE_MIN_FRAMES = 600


def to_frames(y: np.ndarray) -> list[np.ndarray]:
    """float (N, H, W, 3) in [0, 1] -> uint8 (H, W, 3) frames, rounded half up (as the runners round)."""
    return list(np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8))


def finish(x: np.ndarray, styled: np.ndarray, strength: float, preserve_color: bool) -> np.ndarray:
    """Colour preservation, then strength, on float (N, H, W, 3) in [0, 1]: x the input, styled the network's."""
    if preserve_color:
        styled = keep_colors(x, styled)
    if strength != 1.0:
        styled = x + np.float32(strength) * (styled - x)  # 0 -> input, 1 -> full style
    return styled


class Stylizer:
    """`stylizer(frames, mix)` -> stylized frames. `mix` is (n_styles,) for all frames or (N, n_styles) for
    one mix per frame (schedules), float numpy (a CPU torch tensor is taken too).

    `net` is the torch StyleNet, or None where torch is not installed: then `n_styles` and the `fingerprint`
    of the file's weights (modelfile.load_model) go with `onnx`, which ONNX Runtime runs."""

    def __init__(self, net, cfg: StylizeConfig, onnx: str | os.PathLike | None = None, *,
                 n_styles: int | None = None, fingerprint: str = ""):
        """`onnx`: an ONNX export of `net` (livestyle.export); with backend "auto" or "onnxruntime" on a CPU,
        ONNX Runtime runs it when its weights fingerprint matches `net`'s."""
        assert cfg.precision in ("auto", "fp32", "bf16", "fp16"), cfg.precision
        assert cfg.compile in ("auto", "on", "off"), cfg.compile
        assert cfg.backend in ("auto", "torch", "onnxruntime"), cfg.backend
        self.cfg = cfg
        self.n_styles = net.n_styles if net is not None else n_styles
        self.torch = None  # torchnet.TorchRunner, when torch is installed
        if net is not None:
            from .torchnet import TorchRunner
            self.torch = TorchRunner(net, cfg)
        else:
            self._check_light(cfg)
        self.ort = self._load_ort(net, onnx, fingerprint)  # ortnet.OrtNet, or None: torch runs the network

    @staticmethod
    def _check_light(cfg: StylizeConfig) -> None:
        """Without torch, what only torch does is one clear line naming the extra."""
        resolve_device(cfg.device)
        for flag, value, torch_only in (("--backend", cfg.backend, ("torch",)), ("--compile", cfg.compile, ("on",)),
                                        ("--precision", cfg.precision, ("bf16", "fp16"))):
            if value in torch_only:
                needs_torch(f"{flag} {value}")

    def _load_ort(self, net, onnx, fingerprint: str):
        cfg = self.cfg
        if cfg.backend == "torch":
            return None
        why = None
        device = self.torch.device if self.torch is not None else resolve_device(cfg.device)
        if device.type != "cpu":
            why = f"the device is {device}, ONNX Runtime runs on the CPU here"
        elif cfg.precision in ("bf16", "fp16"):
            why = f"--precision {cfg.precision} asks for torch's reduced precision"
        elif self.torch is not None and self.torch.dtype is not None and cfg.backend == "auto":
            why = "this CPU runs bf16 natively, where torch is faster"
        elif onnx is None:
            why = "this model has no ONNX export beside it (livestyle export)"
        if why is None:
            from . import ortnet
            if net is not None:
                fingerprint = ortnet.net_fingerprint(net)
            runner = ortnet.load(onnx, fingerprint, threads=cfg.threads or default_threads())
            if runner is not None:
                log.info("network: ONNX Runtime (%s)", onnx)
                return runner
            why = f"{onnx} cannot be used (onnxruntime missing, or exported from other weights)"
        if cfg.backend == "onnxruntime":
            raise ValueError(f"--backend onnxruntime: {why}")
        if self.torch is None:
            raise ValueError(f"{why}; without torch only ONNX Runtime can run it ({TORCH_EXTRA} runs it in torch)")
        return None

    @property
    def compile_pays(self) -> bool:
        return self.torch is not None and self.torch.compile_pays

    @compile_pays.setter
    def compile_pays(self, value: bool) -> None:
        if self.torch is not None:
            self.torch.compile_pays = value

    def _use_ort(self) -> bool:
        """ONNX Runtime runs the network unless torch.compile is asked for or pays (a long video: on the 2-core
        AVX2 CPU the full network compiled takes 122 ms a 640x360 frame, under ONNX Runtime 207 ms)."""
        if self.ort is None:
            return False
        if self.torch is None or self.cfg.backend == "onnxruntime":
            return True
        return not (self.cfg.compile == "on" or (self.cfg.compile == "auto" and self.torch.compile_pays))

    @property
    def runner(self):
        """What runs the network now: ortnet.OrtNet or torchnet.TorchRunner."""
        return self.ort if self._use_ort() else self.torch

    @property
    def backend(self) -> str:
        return self.runner.backend

    @property
    def device(self):
        return self.runner.device

    def set_threads(self, n: int) -> None:
        """CPU threads for the network from the next frame on (the live loop under load)."""
        for runner in (self.torch, self.ort):
            if runner is not None:
                runner.set_threads(n)

    def _frames_path(self, strength: float | None = None, preserve_color: bool | None = None) -> bool:
        """Frames go straight through the network (uint8 in, uint8 out) unless strength or colour
        preservation need its float output afterwards."""
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        return strength == 1.0 and not preserve_color

    def warm_up(self, width: int, height: int, batch: int = 1) -> None:
        """Ready the network for a frame size (blocking: a compile when torch compiles), e.g. before a stream
        opens its window."""
        if self._use_ort():
            self.ort.warm_up(width, height, batch, self.n_styles)
        else:
            self.torch.warm_up(width, height, batch, self.n_styles, frames_path=self._frames_path())

    def __call__(self, frames: list[np.ndarray], mix, *, strength: float | None = None,
                 preserve_color: bool | None = None, small: float = 0.0) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB frames -> stylized frames; `strength` and `preserve_color` per call
        (None: the config's); `small`: the weight of the network's small rows (config.small_weight of the
        scale the frames were shrunk by; a network without them ignores it)."""
        if not frames:
            return []
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        mix = np.asarray(mix, dtype=np.float32)
        mixes = np.repeat(mix[None], len(frames), axis=0) if mix.ndim == 1 else mix
        run = self.runner
        if self._frames_path(strength, preserve_color):
            return run.frames(frames, mixes, small)
        x = np.stack(frames).astype(np.float32) * np.float32(1.0 / 255.0)
        return to_frames(finish(x, run.floats(frames, mixes, small), strength, preserve_color))


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

    def __init__(self, net, cfg: StylizeConfig, temporal: TemporalConfig | None = None, *,
                 onnx: str | os.PathLike | None = None, n_styles: int | None = None, fingerprint: str = ""):
        from .temporal import TemporalStabilizer

        self.cfg = cfg
        self.stylizer = Stylizer(net, cfg, onnx, n_styles=n_styles, fingerprint=fingerprint)
        self.stabilizer = TemporalStabilizer(temporal) if temporal is not None and temporal.weight > 0 else None
        self.temporal_s = 0.0
        self._beside = None  # one worker thread: the optical flow of a frame while the network runs on it

    @classmethod
    def for_model(cls, model, cfg: StylizeConfig, temporal: TemporalConfig | None = None) -> "StreamStylizer":
        """The frame step for a loaded model file (modelfile.ModelFile), with its ONNX export when one lies
        beside it: the one way the CLI, the Python API, bench and the tools build it, so they all run the
        same runtime for the same model. Without torch (model.net None) ONNX Runtime runs the export."""
        from .ortnet import onnx_beside
        return cls(model.net, cfg, temporal, onnx=onnx_beside(model.path), n_styles=model.n_styles,
                   fingerprint=model.fingerprint)

    @property
    def backend(self) -> str:
        """What runs the network: "onnxruntime" or "torch"."""
        return self.stylizer.backend

    @property
    def n_styles(self) -> int:
        return self.stylizer.n_styles

    def warm_up(self, width: int, height: int, batch: int = 1) -> None:
        self.stylizer.warm_up(width, height, batch)

    def reset(self) -> None:
        if self.stabilizer is not None:
            self.stabilizer.reset()

    def __call__(self, frames: list[np.ndarray], mix, *, times_s: list[float] | None = None,
                 strength: float | None = None, preserve_color: bool | None = None,
                 temporal: bool = True, scale: float = 1.0, carry: bool = False) -> list[np.ndarray]:
        """`scale` < 1 runs the network on frames shrunk by that factor a side and enlarges its output back
        (adaptive resolution when frames fall behind); strength, colour and coherence stay at full size.
        `carry` (one frame, coherence on): show the previous output moved along the optical flow instead of
        running the network (TemporalStabilizer.carry), when there is history to carry; else as usual.
        `mix`: float (n_styles,) or (N, n_styles)."""
        mix = np.asarray(mix, dtype=np.float32)
        if carry and temporal and self.stabilizer is not None and len(frames) == 1:
            t0 = time.perf_counter()
            carried = self.stabilizer.carry(frames[0], mix=mix if mix.ndim == 1 else mix[0],
                                            time_s=times_s[0] if times_s else None)
            self.temporal_s += time.perf_counter() - t0
            if carried is not None:
                return [carried]
        ahead = None
        if self.stabilizer is not None and temporal:  # the flow needs only the inputs: beside the network
            if self._beside is None:
                self._beside = ThreadPoolExecutor(1, thread_name_prefix="livestyle-flow")
            ahead = self._beside.submit(self.stabilizer.look_ahead, frames[0])
        try:
            if scale < 1.0:
                styled = self._scaled(frames, mix, scale, strength, preserve_color)
            else:
                styled = self.stylizer(frames, mix, strength=strength, preserve_color=preserve_color)
        finally:  # never leave the flow running (an error in the network is what gets raised)
            t0 = time.perf_counter()
            if ahead is not None:
                wait([ahead])
            self.temporal_s += time.perf_counter() - t0
        ahead = ahead.result() if ahead is not None else None  # an error in the flow is raised here
        if self.stabilizer is None:
            return styled
        if not temporal:  # switched off live: drop the history so switching on again starts clean
            self.stabilizer.reset()
            return styled
        t0 = time.perf_counter()
        mixes = [mix[i] if mix.ndim == 2 else mix for i in range(len(frames))]
        out = self.stabilizer.process(frames, styled, mixes=mixes, times_s=times_s, ahead=ahead)
        self.temporal_s += time.perf_counter() - t0
        return out

    def _scaled(self, frames, mix, scale, strength, preserve_color) -> list[np.ndarray]:
        h, w = frames[0].shape[:2]
        sw, sh = max(16, round(w * scale)), max(16, round(h * scale))
        small = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in frames]
        # the network's small rows where it has them: strokes sized for a copy that is enlarged after
        styled = [cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
                  for f in self.stylizer(small, mix, strength=1.0, preserve_color=False, small=small_weight(scale))]
        strength = self.cfg.strength if strength is None else strength
        preserve_color = self.cfg.preserve_color if preserve_color is None else preserve_color
        if strength == 1.0 and not preserve_color:
            return styled
        x = np.stack(frames).astype(np.float32) * np.float32(1.0 / 255.0)
        y = np.stack(styled).astype(np.float32) * np.float32(1.0 / 255.0)
        return to_frames(finish(x, y, strength, preserve_color))

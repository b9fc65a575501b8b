"""The network run by ONNX Runtime, from the model's ONNX export (livestyle.export), on a CPU.

Why: on a 2-core AVX2 CPU ONNX Runtime runs the live network (model.ARCHS["live"]) at 640x360 in ~32 ms
against ~44 ms for eager torch, with no compile at all: the session is ready in a fraction of a second,
for every frame size (H and W are dynamic in the export), so the live loop's adaptive resolution costs
nothing and nothing traces the network in the process (see stylize.py on torch.compile beside eager
frames). `livestyle bench --modes eager,onnxruntime` measures it.

An ONNX file is used only when it was exported from exactly these weights: the export records a
fingerprint of the weights (`weights_sha256`) in its metadata and `load` checks it, so a stale file next
to a retrained model is never run. The shipped model has its export beside it
(weights/livestyle.onnx, written by `livestyle export`).

Threads: one session per thread count, made on first use (a few ms for the live network); the live loop
drops to fewer threads while other processes keep cores busy (device.LoadWatcher).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from .device import CPU

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

FINGERPRINT_KEY = "weights_sha256"


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def weights_fingerprint(state: Mapping[str, np.ndarray]) -> str:
    """sha256 of a network's config-free weights (names, shapes, float32 bytes), 16 hex digits: from the
    arrays of a model file (no torch) or, through net_fingerprint, from a network in memory."""
    h = hashlib.sha256()
    for name, value in sorted(state.items()):
        t = np.ascontiguousarray(value, dtype=np.float32)
        h.update(name.encode())
        h.update(str(tuple(int(d) for d in t.shape)).encode())
        h.update(t.tobytes())
    return h.hexdigest()[:16]


def net_fingerprint(net: torch.nn.Module) -> str:
    """weights_fingerprint of a torch network's weights as they are now (a retrained net differs)."""
    return weights_fingerprint({k: v.detach().float().cpu().numpy() for k, v in net.state_dict().items()})


def onnx_beside(model_path: str | Path | None) -> Path | None:
    """The ONNX file that goes with a model file: the same name with .onnx, when it exists."""
    if not model_path:
        return None
    p = Path(model_path).with_suffix(".onnx")
    return p if p.is_file() else None


class OrtNet:
    """`run_frames(frames, mix)`: uint8 (N, H, W, 3) RGB -> the same, stylized; `run(x, mix)`: float NCHW
    numpy in [0, 1] -> the same. `mix` is (N, n_styles) float32.

    Also a network runner for stylize.Stylizer (as torchnet.TorchRunner is): `frames` and `floats` on
    lists of frames, `set_threads`, `warm_up`."""

    backend = "onnxruntime"
    device = CPU
    compile_pays = False  # nothing to compile: the same session runs every frame size

    def __init__(self, path: str | Path, *, threads: int, spin: bool = True):
        self.path, self.spin = str(path), spin
        self._sessions: dict[int, object] = {}
        self.threads = threads
        # fails here, not at the first frame, if the file is unusable. frames_io: an export that takes and gives
        # uint8 frames (livestyle.export); False for one written before, float32 NCHW in [0, 1] in and out
        inputs = self.session(threads).get_inputs()
        self.frames_io = inputs[0].type == "tensor(uint8)"
        # small: the export of a network with small rows (NetConfig.small_rows) takes their weight per frame
        self.takes_small = any(i.name == "small" for i in inputs)

    def session(self, threads: int):
        if threads not in self._sessions:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            opts.log_severity_level = 3
            # spinning threads answer the next frame at once on idle cores but take CPU from everything
            # else in the process (capture, flow) and from other programs: off unless asked
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
            self._sessions[threads] = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def metadata(self) -> dict[str, str]:
        return dict(self.session(self.threads).get_modelmeta().custom_metadata_map)

    def _run_floats(self, x: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """An export written before the frames export: float32 (N, 3, H, W) in [0, 1] -> the same, stylized."""
        s = self.session(self.threads)
        return s.run(None, {"image": np.ascontiguousarray(x, dtype=np.float32),
                            "mix": np.ascontiguousarray(mix, dtype=np.float32)})[0]

    def run_frames(self, frames: np.ndarray, mix: np.ndarray, small: float = 0.0) -> np.ndarray:
        """uint8 (N, H, W, 3) -> the same, stylized; `small`: the weight of the small rows, where the network
        has them (StyleNet.forward)."""
        if self.frames_io:
            feed = {"frames": np.ascontiguousarray(frames, dtype=np.uint8),
                    "mix": np.ascontiguousarray(mix, dtype=np.float32)}
            if self.takes_small:
                feed["small"] = np.full(len(frames), small, np.float32)
            return self.session(self.threads).run(None, feed)[0]
        x = frames.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1.0 / 255.0)
        y = self._run_floats(x, mix)
        y8 = np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)  # round half up, as the frames export rounds
        return np.ascontiguousarray(y8.transpose(0, 2, 3, 1))


    # -- as a runner of stylize.Stylizer ---------------------------------------------------------

    def frames(self, frames: list[np.ndarray], mix: np.ndarray, small: float = 0.0) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB frames, (N, n_styles) mixes -> stylized uint8 frames."""
        return list(self.run_frames(np.stack(frames), mix, small))

    def floats(self, frames: list[np.ndarray], mix: np.ndarray, small: float = 0.0) -> np.ndarray:
        """uint8 frames -> the network's float32 (N, H, W, 3) output in [0, 1] (before rounding to uint8, with
        an export written before the frames export; a frames export gives its uint8 frames as floats)."""
        if self.frames_io:
            return self.run_frames(np.stack(frames), mix, small).astype(np.float32) * np.float32(1.0 / 255.0)
        x = np.stack(frames).transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1.0 / 255.0)
        return np.clip(self._run_floats(x, mix), 0.0, 1.0).transpose(0, 2, 3, 1)

    def set_threads(self, n: int) -> None:
        self.threads = n

    def warm_up(self, width: int, height: int, batch: int, n_styles: int) -> None:
        mix = np.full((batch, n_styles), 1.0 / n_styles, np.float32)
        self.run_frames(np.zeros((batch, height, width, 3), np.uint8), mix)


def load(path: str | Path, fingerprint: str, *, threads: int, spin: bool = False) -> OrtNet | None:
    """An OrtNet for `path` if onnxruntime is installed and the file was exported from the weights whose
    weights_fingerprint is `fingerprint`; else None (logged: the caller runs torch, or says why it cannot)."""
    if not available():
        log.info("onnxruntime is not installed: the network runs in torch")
        return None
    try:
        runner = OrtNet(path, threads=threads, spin=spin)
        meta = runner.metadata()
    except Exception as e:  # a damaged or foreign file: torch keeps working
        log.warning("%s could not be loaded by ONNX Runtime (%s); running torch", path, str(e).splitlines()[0][:200])
        return None
    want = fingerprint
    if meta.get(FINGERPRINT_KEY) != want:
        log.warning("%s was exported from other weights (fingerprint %s, the model's %s); running torch",
                    path, meta.get(FINGERPRINT_KEY), want)
        return None
    return runner

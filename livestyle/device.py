"""Where the network runs and in which precision: one decision for stylizing, training and Gatys.

torch is optional (the light install runs the network in ONNX Runtime on the CPU): `have_torch()` says
whether it can be imported, and without it the only device is the CPU (`CPU`)."""
from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

TORCH_EXTRA = "pip install 'livestyle[torch]'"


@functools.cache
def have_torch() -> bool:
    """Whether torch can be imported (it is an extra: `livestyle[torch]`)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def needs_torch(what: str) -> None:
    """Raise one line naming the extra when `what` needs torch and it is not installed."""
    if not have_torch():
        raise ValueError(f"{what} needs torch, which this installation does not have: {TORCH_EXTRA}")


class CpuDevice:
    """The CPU, where there is no torch: has the `type` and str() of torch.device("cpu")."""

    type = "cpu"

    def __str__(self) -> str:
        return "cpu"

    __repr__ = __str__


CPU = CpuDevice()


def cpu_count() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_threads() -> int:
    """The CPU threads a network runs on by default: torch's count when torch is loaded, else every core."""
    import sys
    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    return cpu_count()


def resolve_device(name: str = "auto"):
    """'auto' -> CUDA when available, else CPU; anything else is checked and passed to torch. Without torch:
    the CPU (CPU), and a CUDA device is a ValueError naming the extra."""
    if not have_torch():
        if name in ("auto", "cpu"):
            return CPU
        raise ValueError(f"--device {name} needs torch, which this installation does not have: {TORCH_EXTRA}")
    import torch

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
    slower than float32. False without torch."""
    if not have_torch():
        return False
    import torch

    device = torch.device(str(device))
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()))


class LoadWatcher:
    """How many cores other processes keep busy (a video call, a browser), sampled in a background thread
    every `period_s` from /proc/stat minus this process's own CPU time, and the torch thread count that
    fits the rest: on the 2-core machine, with one core kept busy, 2 threads ran the live loop at 2.2 fps
    (every parallel region waits for the thread the other process preempts) and 1 thread at 15.4 fps
    (`livestyle bench --live-seconds 30 --load 1`, with --threads 2 and 1). Linux only; elsewhere it
    leaves the thread count alone."""

    def __init__(self, period_s: float = 2.0, first_s: float = 0.1):
        import threading

        self.cores = cpu_count()
        self.max_threads = default_threads()
        self.others = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period_s,), daemon=True, name="livestyle-load")
        # a first reading over `first_s` before returning, so a loaded machine gets its thread count before the
        # first frame rather than a period later (2 threads beside a busy core: ~0.4 s a frame on 2 cores)
        prev = self._sample() if self.cores > 1 else None
        if prev is not None:
            import time
            time.sleep(first_s)
            self._update(prev, self._sample())
            self._thread.start()

    @staticmethod
    def _sample():
        """(total ticks, idle ticks, ticks of this process and its descendants: torch.compile's workers
        are our own work, not other load)."""
        try:
            with open("/proc/stat") as f:
                vals = [int(v) for v in f.readline().split()[1:]]
            me, parent, ticks = os.getpid(), {}, {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # it ended meanwhile
                parent[int(entry)] = int(fields[1])
                ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
        except (OSError, ValueError, IndexError):
            return None

        def ours(pid: int) -> bool:
            for _ in range(16):
                if pid == me:
                    return True
                pid = parent.get(pid, 0)
                if pid <= 1:
                    return False
            return False
        return sum(vals), vals[3] + vals[4], sum(t for pid, t in ticks.items() if ours(pid))

    def _update(self, prev, cur) -> bool:
        if prev is None or cur is None:
            return False
        total, idle, own = (c - p for c, p in zip(cur, prev))
        if total > 0 and own >= 0:  # own < 0: a worker of ours ended and took its ticks along; skip
            self.others = max(0.0, (total - idle - own) / total * self.cores)
        return True

    def _run(self, period_s: float) -> None:
        prev = self._sample()
        while not self._stop.wait(period_s):
            cur = self._sample()
            if not self._update(prev, cur):
                return
            prev = cur

    def threads(self) -> int:
        """Threads for the next frames: the cores other processes leave free, at least one."""
        return max(1, min(self.max_threads, self.cores - round(self.others)))

    def close(self) -> None:
        self._stop.set()

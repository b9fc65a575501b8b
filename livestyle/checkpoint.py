"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a `torch.save`d dict of tensors and plain Python values only, so it loads with
`torch.load(weights_only=True)`, which never unpickles arbitrary objects:
  format     "livestyle.checkpoint/1"
  config     TrainConfig fields (arch as a dict)
  step       training steps done
  seconds    training time so far (all resumes together)
  model      StyleNet state dict;  optimizer  Adam state dict
  rng        one entry per rank: {"torch": ByteTensor, "cuda": [ByteTensor] | None, "numpy": [...], "python": (...)}
  styles     [{"name", "source", "path"}] of every style in the net (base styles first)
  n_base_styles   styles that came from --base (frozen)

The finished model is not a checkpoint: it is the safetensors file written by modelfile.save_stylenet.
Checkpoints are written to a temporary file in the same folder and renamed over the old one, so a
crash or a full disk while saving leaves the previous checkpoint intact.
"""
from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import numpy as np
import torch

from .atomic import reserve_temp

FORMAT = "livestyle.checkpoint/1"
FILE_NAME = "checkpoint.pt"
REQUIRED = ("config", "step", "model", "optimizer", "rng", "styles")


def rng_state() -> dict:
    """This process's RNG states (torch, CUDA, numpy, python) as weights_only-loadable values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write `state` (plus the format tag) atomically; OS errors become one-line RuntimeErrors."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        tmp = reserve_temp(path, suffix=".tmp")
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch.save reports a failed write as RuntimeError ("enforce fail")
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
        else:
            why = "the write failed (is the disk full?)"
        raise RuntimeError(f"no checkpoint was saved to {path}: {why}; the previous checkpoint (if any) "
                           "is unchanged") from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise


def resolve_checkpoint_path(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a checkpoint folder holding checkpoint.pt."""
    path = Path(path)
    return path / FILE_NAME if path.is_dir() else path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and check a checkpoint; FileNotFoundError / one-line ValueError naming the file and the problem."""
    path = resolve_checkpoint_path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path} is not a readable livestyle checkpoint (damaged, or not saved by "
                         f"`livestyle train`): {first[:200]}") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} is not a livestyle checkpoint: expected a dict, got {type(ckpt).__name__}")
    if ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a livestyle checkpoint (format {ckpt.get('format')!r}, expected {FORMAT!r}; "
                         f"keys: {', '.join(map(str, list(ckpt)[:6]))})")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise ValueError(f"{path} has no {missing[0]!r} entry (keys: {', '.join(map(str, ckpt))}); "
                         "was it saved by livestyle?")
    return ckpt

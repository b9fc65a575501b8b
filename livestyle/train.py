"""Training a multi-style CIN StyleNet with VGG perceptual losses: `train(cfg) -> model path`.

The loop is one function, top to bottom, as in nanoGPT's train.py; what it sets up is train_setup.py.
One process, or N under `torchrun --nproc_per_node=N -m livestyle train ...` (DistributedDataParallel: NCCL on GPUs, gloo on
CPUs; rank 0 writes checkpoints, previews and the model; each rank reads its own shard of the photos;
rank r seeds its own randomness with seed + r).

Batches mix styles (cfg.batch_styles = "mixed"): sample i of step t gets style (t*B + i) mod n_styles,
so every step updates every style's CIN rows and the shared convs see all styles at once. Measured
here (2 styles, width-16 net, 128 px, batch 4, 100 steps, Caffe VGG16, same seed; loss of 16 held-out
crops through both styles afterwards): mixed 3.57 vs one style per batch 3.90 (content + style + tv,
style 0.80/1.44 vs 1.16/1.62), at the same ~0.25 s/step: a per-sample style matrix costs one
(N, n_styles) x (n_styles, C) product per CIN layer. Dumoulin et al. use one style per batch; with a
few styles and small CPU batches, mixing gives the shared convs less one-sided gradients.

Adding styles to a trained model (cfg.base, Dumoulin et al. sec. 4): the new styles' gamma/beta rows
are appended to every CondInstanceNorm table (initialised to the mean of the old rows) and are the
only thing that trains; the old rows get zero gradient, so Adam leaves them bit-identical, and
every conv is frozen (requires_grad False).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import signal
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import check_output_path
from .checkpoint import FILE_NAME, load_checkpoint, rng_state, save_checkpoint
from .config import TrainConfig
from .data import ImageFolder, parse_style_specs, read_name_list
from .device import resolve_device
from .flow import temporal_loss
from .losses import content_loss, grid_loss, style_loss, tv_loss
from .modelfile import save_stylenet
from .motion import moved_pair
from .train_setup import (  # noqa: F401 (resume_config, config_*: the public names of training stay here)
    MIN_IMAGE_SIZE, Network, TrainingInterrupted, build_network, check_checkpoint_dir, check_config, checkpoint_dir,
    config_from_dict, config_to_dict, dist_env, restore, resume_config, settle_small_rows, shift_loss, smaller_copy,
    style_indices, style_targets, training_record, use_bf16, write_preview)
from .vgg import load_vgg

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, *, progress: Callable[[dict], None] | None = None) -> str:
    """Train (or resume, or add styles to a model) and write the model file; returns its path.

    `progress(event)` is called on rank 0 with dicts: {"event": "start", "step", "steps"},
    {"event": "step", "step", "steps", "content", "style", "tv", "temporal", "ms_per_step"},
    {"event": "checkpoint" | "preview" | "done", "step", "path"}."""
    import torch.distributed as dist

    progress = progress or (lambda event: None)
    rank, world, local_rank = dist_env()
    ddp = world > 1
    device = resolve_device(cfg.device)
    if ddp and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if ddp:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    threads = torch.get_num_threads()
    if device.type == "cpu" and (cfg.threads or ddp):  # DDP: share the cores, or OpenMP oversubscribes them
        import os
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(cfg.threads or max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    try:
        return _train(cfg, progress, device, rank, world)
    finally:
        torch.set_num_threads(threads)
        if ddp and dist.is_initialized():
            dist.destroy_process_group()


class LossNetwork:
    """VGG and the paintings' Gram targets: `losses(model, x, idx, style, step)` runs the network on the batch
    and returns its weighted losses {"content", "style", "tv", "temporal"} (temporal also holds the shift
    consistency and grid terms), and "scale" (the smaller copy's content and style) when that is on."""

    def __init__(self, cfg: TrainConfig, specs: list[tuple[str, str]], device: torch.device, *, rank: int):
        self.cfg, self.device, self.rank = cfg, device, rank
        self.normalized = cfg.loss_norm == "target"
        self.format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        layers = tuple(dict.fromkeys([*cfg.style_layers, cfg.content_layer]))
        self.vgg = load_vgg(layers, path=cfg.vgg, convention=cfg.vgg_convention).to(device, memory_format=self.format)
        self.targets = style_targets(cfg, specs, self.vgg, device)  # {layer: (n_new, C, C)}

    def _generator(self, step: int, salt: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed((self.cfg.seed * 1_000_003 + self.rank) * 10_000_019 + step + salt)

    def __call__(self, model, x: torch.Tensor, idx: torch.Tensor, style: torch.Tensor, step: int) -> dict:
        cfg = self.cfg
        if cfg.temporal_weight > 0:  # the batch and a moved copy through the net together
            x_moved, flow_to_prev, mask = moved_pair(x, cfg.motion, self._generator(step))
            y, y_moved = model(torch.cat((x, x_moved)), torch.cat((style, style))).chunk(2)
            temporal = cfg.temporal_weight * temporal_loss(y_moved.float(), y.float(), flow_to_prev, mask)
        else:
            y = model(x, style)  # (B, 3, S, S) float32 in [0, 1]
            temporal = torch.zeros((), device=self.device)
        if cfg.shift_weight > 0:
            temporal = temporal + cfg.shift_weight * shift_loss(model, x, y, style, cfg.shift_max_px,
                                                                self._generator(step, 7))
        if cfg.grid_weight > 0:
            temporal = temporal + cfg.grid_weight * grid_loss(y)
        feats_y = self.vgg(y.contiguous(memory_format=self.format))
        with torch.no_grad():  # the content target needs VGG only up to its layer
            feats_x = self.vgg(x.contiguous(memory_format=self.format), (cfg.content_layer,))
        terms = {**self.perceptual(feats_y, feats_x, idx), "tv": cfg.tv_weight * tv_loss(y), "temporal": temporal}
        if cfg.scale_weight > 0:
            y_small = smaller_copy(model, x, style, cfg.scale_range, self._generator(step, 11))
            small = self.perceptual(self.vgg(y_small.contiguous(memory_format=self.format)), feats_x, idx)
            terms["scale"] = cfg.scale_weight * (small["content"] + small["style"])
        return terms

    def perceptual(self, feats_y, feats_x, idx: torch.Tensor) -> dict:
        """The weighted content and style losses of output features `feats_y` (photo features `feats_x`)."""
        cfg, layer = self.cfg, self.cfg.content_layer
        return {"content": cfg.content_weight * content_loss(getattr(feats_y, layer), getattr(feats_x, layer),
                                                             normalized=self.normalized),
                "style": cfg.style_weight * style_loss(feats_y, {k: g[idx] for k, g in self.targets.items()},
                                                       cfg.style_layers, normalized=self.normalized)}


@contextlib.contextmanager
def ctrl_c_requests():
    """{"requested": bool}: Ctrl-C sets it (the step finishes, a checkpoint is written, the run stops); a
    second Ctrl-C interrupts at once."""
    stop = {"requested": False}
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum, frame):
        stop["requested"] = True
        signal.signal(signal.SIGINT, old_handler)
    old_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, old_handler)


class StepLog:
    """Mean losses over `every` steps, one log line each (as nanoGPT logs)."""

    def __init__(self, every: int, temporal: bool):
        self.every, self.temporal = every, temporal
        self._reset()

    def _reset(self) -> None:
        self.sums, self.n, self.t0 = dict.fromkeys(("content", "style", "tv", "temporal"), 0.0), 0, time.perf_counter()

    def add(self, step: int, steps: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1
        if step % self.every == 0 or step == steps:
            m = {k: v / self.n for k, v in self.sums.items()}
            log.info("step %d: content %.3g, style %.3g, tv %.3g%s%s, %.0f ms/step", step, m["content"], m["style"],
                     m["tv"], f", temporal {m['temporal']:.3g}" if self.temporal else "",
                     f", scale {m['scale']:.3g}" if "scale" in m else "",
                     1000 * (time.perf_counter() - self.t0) / self.n)
            self._reset()


def _optimize(optimizer, loss: torch.Tensor, cfg: TrainConfig, step: int, network: Network) -> None:
    for group in optimizer.param_groups:  # linear warm-up: Adam's first steps move every weight by ~lr
        group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if network.n_old:  # old styles' rows: zero gradient, so Adam leaves them exactly as they were
        for p in network.trainable():
            if p.grad is not None:  # None: small rows that no smaller-copy term reached
                p.grad[:network.n_old] = 0
    optimizer.step()


def _check_outputs(cfg: TrainConfig, out: Path, *, resuming: bool) -> None:
    try:
        check_output_path(out, overwrite=cfg.overwrite or resuming)
    except ValueError as e:
        raise ValueError(f"{e}, or --resume to continue its run" if out.is_file() else str(e)) from None
    check_checkpoint_dir(checkpoint_dir(cfg))
    check_config(cfg)


def _agree(flags: list[bool], device: torch.device, ddp: bool) -> list[bool]:
    """The flags as every rank sees them: set on one rank, set on all (they stop, save and end at one step)."""
    t = torch.tensor([float(f) for f in flags], device=device)
    if ddp:
        import torch.distributed as dist
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v > 0) for v in t]


@dataclasses.dataclass
class _Files:
    """What a run writes: its checkpoint (`save`) and its model file with the training record (`write_model`)."""

    cfg: TrainConfig
    network: Network
    optimizer: torch.optim.Optimizer
    losses: LossNetwork
    data: ImageFolder
    exclude: set[str]
    specs: list[tuple[str, str]]
    out: Path
    ckpt_path: Path
    device: torch.device
    bf16: bool
    world: int
    progress: Callable[[dict], None]

    def save(self, at_step: int, seconds: float) -> None:
        import torch.distributed as dist

        states = [None] * self.world
        if self.world > 1:
            dist.all_gather_object(states, rng_state())
        else:
            states = [rng_state()]
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        net = self.network
        save_checkpoint(self.ckpt_path, {
            "config": config_to_dict(self.cfg), "step": at_step, "seconds": seconds, "model": net.net.state_dict(),
            "optimizer": self.optimizer.state_dict(), "rng": states, "n_base_styles": net.n_old,
            "styles": [{**dataclasses.asdict(s), "path": net.style_images.get(s.name, "")} for s in net.styles]})
        self.progress({"event": "checkpoint", "step": at_step, "path": str(self.ckpt_path)})

    def write_model(self, at_step: int, seconds: float, values: dict[str, float]) -> None:
        """The model file from the weights as they are now, with its training record."""
        cfg, net = self.cfg, self.network
        final = values if values and math.isfinite(sum(values.values())) else {}
        if cfg.temporal_weight <= 0:
            final = {k: v for k, v in final.items() if k != "temporal"}
        settle_small_rows(net, cfg)
        record = training_record(cfg, net, steps=at_step, seconds=seconds, world=self.world, device=self.device,
                                 bf16=self.bf16, holdout=self.exclude, skipped=len(self.data.skipped),
                                 vgg_source=dataclasses.asdict(self.losses.vgg.source), final_losses=final,
                                 trained=[n for n, _ in self.specs])
        save_stylenet(self.out, net.net.cpu(), net.styles, presets=net.presets, training=record)
        net.net.to(self.device)
        self.progress({"event": "done", "step": at_step, "path": str(self.out)})


def _train(cfg: TrainConfig, progress, device: torch.device, rank: int, world: int) -> str:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    ddp, master = world > 1, rank == 0
    ckpt = load_checkpoint(cfg.resume) if cfg.resume else None
    ckpt_path, out = checkpoint_dir(cfg) / FILE_NAME, Path(cfg.out)
    _check_outputs(cfg, out, resuming=ckpt is not None)
    bf16 = use_bf16(cfg, device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext

    # data, styles and the network (checked before the slower VGG load), then the loss network
    exclude = read_name_list(cfg.holdout) if cfg.holdout else set()
    data = ImageFolder(cfg.content_dir, size_px=cfg.image_size, seed=cfg.seed, rank=rank, world_size=world,
                       exclude=exclude)
    specs = parse_style_specs(cfg.styles)
    network = build_network(cfg, specs, device)
    net, n_styles = network.net, len(network.styles)
    optimizer = torch.optim.Adam(network.trainable(), lr=cfg.lr)
    torch.manual_seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    step, seconds_before = restore(cfg, ckpt, network, optimizer, rank=rank, world=world) if ckpt else (0, 0.0)
    del ckpt
    losses = LossNetwork(cfg, specs, device, rank=rank)  # last: every check above is said before VGG loads
    model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None) if ddp else net

    files = _Files(cfg, network, optimizer, losses, data, exclude, specs, out, ckpt_path, device, bf16, world,
                   progress)
    save, write_model = files.save, files.write_model

    preview = data.preview_photo(device) if master and cfg.preview_every else None
    t_start = last_ckpt = time.perf_counter()
    steplog, values = StepLog(cfg.log_every, cfg.temporal_weight + cfg.shift_weight + cfg.grid_weight > 0), {}
    if master:
        log.info("training %d style(s) %s for %d steps at %d px, batch %d x %d rank(s), %s%s, VGG %s",
                 len(specs), ", ".join(n for n, _ in specs), cfg.steps, cfg.image_size, cfg.batch_size, world,
                 device, " bf16" if bf16 else "", losses.vgg.source.origin)
        progress({"event": "start", "step": step, "steps": cfg.steps})
    with ctrl_c_requests() as stop:
        while step < cfg.steps:
            t0 = time.perf_counter()
            x = data.batch(step, cfg.batch_size, device)  # (B, 3, S, S)
            idx = style_indices(step, cfg.batch_size, len(specs), cfg.batch_styles, rank, world).to(device)
            style = F.one_hot(idx + network.n_old, n_styles).float()  # (B, n_styles)
            with autocast():
                terms = losses(model, x, idx, style, step)
            _optimize(optimizer, sum(terms.values()), cfg, step, network)
            step += 1
            values = {k: v.item() for k, v in terms.items()}
            if not math.isfinite(sum(values.values())):
                raise RuntimeError(f"loss became {sum(values.values())} at step {step}; lower --lr or the loss weights")
            if master:
                progress({"event": "step", "step": step, "steps": cfg.steps, **values,
                          "ms_per_step": 1000 * (time.perf_counter() - t0)})
                steplog.add(step, cfg.steps, values)
            if preview is not None and (step % cfg.preview_every == 0 or (cfg.preview_latest and step == 1)):
                path = ckpt_path.parent / ("preview.png" if cfg.preview_latest else f"preview_{step:06d}.png")
                # a model with added styles shows just those (and the photo); a new model every style
                write_preview(path, preview, net, list(range(network.n_old, n_styles)), autocast)
                progress({"event": "preview", "step": step, "path": str(path)})
            interrupted, checkpoint_due, spent = _agree(
                [stop["requested"], time.perf_counter() - last_ckpt >= cfg.checkpoint_every_s,
                 cfg.deadline is not None and time.time() >= cfg.deadline], device, ddp)
            if interrupted:
                save(step, seconds_before + time.perf_counter() - t_start)
                if cfg.model_on_interrupt and master:
                    write_model(step, seconds_before + time.perf_counter() - t_start, values)
                raise TrainingInterrupted(step, str(ckpt_path))
            if spent:
                break  # the time budget is spent (on any rank): finish as at the last step
            if checkpoint_due and step < cfg.steps:
                try:
                    save(step, seconds_before + time.perf_counter() - t_start)
                except RuntimeError as e:  # e.g. a full disk: say so, keep training, try again next interval
                    log.error("%s; training goes on, next try in %.0f s", e, cfg.checkpoint_every_s)
                last_ckpt = time.perf_counter()

    seconds = seconds_before + time.perf_counter() - t_start
    try:
        save(step, seconds)  # lets a later --resume --steps N train further
    except RuntimeError as e:  # the model file below matters more
        log.error("%s", e)
    if data.skipped and master:
        log.warning("skipped %d unreadable image(s) in %s", len(data.skipped), cfg.content_dir)
    if master:
        write_model(step, seconds, values)
        log.info("wrote %s (%d styles) after %d steps, %.0f s", out, n_styles, step, seconds)
    if ddp:
        dist.barrier()
    return str(out)

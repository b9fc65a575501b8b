"""Training a multi-style CIN StyleNet with VGG perceptual losses: `train(cfg) -> model path`.

The loop is one function, top to bottom, as in nanoGPT's train.py. One process, or N under
`torchrun --nproc_per_node=N -m livestyle train ...` (DistributedDataParallel: NCCL on GPUs, gloo on
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

import dataclasses
import logging
import math
import os
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

from .atomic import atomic_write_bytes, check_output_path
from .checkpoint import FILE_NAME, load_checkpoint, resolve_checkpoint_path, rng_state, save_checkpoint, set_rng_state
from .config import MotionConfig, NetConfig, TrainConfig
from .data import ImageFolder, load_style_image, parse_style_specs, read_name_list
from .flow import temporal_loss
from .frames import tensor_to_frame
from .images import encode_image
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .motion import moved_pair
from .model import CondInstanceNorm, StyleNet
from .device import fast_bf16, resolve_device
from .vgg import load_vgg
from .modelfile import StyleInfo, load_stylenet, save_stylenet

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 32  # training crops smaller than this leave VGG's deeper layers (and the style loss) a pixel or none

# Fields that change what is being learned; a resume that overrides them gets a warning.
_MODEL_FIELDS = ("styles", "content_dir", "base", "arch", "image_size", "style_size", "batch_size", "lr",
                 "warmup_steps", "content_weight", "style_weight", "tv_weight", "content_layer", "style_layers",
                 "loss_norm", "holdout", "batch_styles", "vgg", "vgg_convention", "seed", "temporal_weight", "motion",
                 "shift_weight", "shift_max_px")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the current step finished and a checkpoint was written."""

    def __init__(self, step: int, checkpoint: str):
        super().__init__(f"interrupted at step {step}; checkpoint {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


def checkpoint_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else Path(cfg.out).with_suffix(".ckpt")


def check_checkpoint_dir(folder: Path) -> None:
    """Before any training: the checkpoint folder must be a folder (or creatable) and writable."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint folder {folder} is a file; expected a folder (--checkpoint-dir DIR)")
    parent = folder if folder.is_dir() else folder.parent
    if not parent.is_dir():
        raise ValueError(f"checkpoint folder {folder}: {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"checkpoint folder {folder} is not writable")


def config_to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"deadline"}  # a deadline was that command's
    d = {k: v for k, v in d.items() if k in known}
    return TrainConfig(**{**d, "arch": NetConfig(**d.get("arch", {})), "motion": MotionConfig(**d.get("motion", {}))})


def resume_config(path: str, overrides: dict) -> TrainConfig:
    """The config saved in checkpoint `path`, with `overrides` (the options given again) applied."""
    saved = config_from_dict(load_checkpoint(path)["config"])
    changed = [k for k in overrides if k in _MODEL_FIELDS and overrides[k] != getattr(saved, k)]
    if changed:
        log.warning("resuming with changed %s (the checkpoint was trained with other values)", ", ".join(changed))
    return dataclasses.replace(saved, **overrides, resume=str(path))


def use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.bf16 if cfg.bf16 is not None else fast_bf16(device)


def _dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _cin_params(net: StyleNet) -> list[torch.nn.Parameter]:
    return [p for m in net.modules() if isinstance(m, CondInstanceNorm) for p in (m.gamma, m.beta)]


def _extend_styles(base: StyleNet, n_new: int, init_row: int | None = None) -> StyleNet:
    """A copy of `base` with n_new more CIN rows, each a copy of row `init_row` (an existing style to
    start from) or the mean of the old rows."""
    net = StyleNet(dataclasses.replace(base.cfg, n_styles=base.n_styles + n_new))
    state = {}
    for k, v in base.state_dict().items():
        if k.endswith((".gamma", ".beta")):
            start = v.mean(0, keepdim=True) if init_row is None else v[init_row:init_row + 1]
            v = torch.cat([v, start.expand(n_new, -1)])  # (n_old + n_new, C)
        state[k] = v
    net.load_state_dict(state)
    return net


def _style_indices(step: int, batch: int, n_styles: int, mode: str, rank: int, world: int) -> torch.Tensor:
    """Style of each sample of this rank's batch at `step`: (B,) long, balanced over the run."""
    first = (step * world + rank) * batch
    if mode == "mixed":
        return (torch.arange(batch) + first) % n_styles
    if mode == "single":
        return torch.full((batch,), (step * world + rank) % n_styles)
    raise ValueError(f"expected batch_styles 'mixed' or 'single', got {mode!r}")


def shift_loss(model, x: torch.Tensor, y: torch.Tensor, style: torch.Tensor, max_px: int,
               g: torch.Generator) -> torch.Tensor:
    """MSE between the output of x cropped by (dy, dx) in 1..max_px and y (the output of x) cropped alike,
    away from the borders: a texture locked to the network's stride moves with the crop and pays."""
    dy, dx = (int(v) for v in torch.randint(1, max_px + 1, (2,), generator=g))
    y_shifted = model(x[:, :, dy:, dx:], style)  # (B, 3, S - dy, S - dx)
    m = max_px + 1
    return F.mse_loss(y_shifted[:, :, m:-m, m:-m].float(), y[:, :, dy + m:-m, dx + m:-m].float())


def _write_preview(path: Path, photo: torch.Tensor, net: StyleNet, style_ids: list[int], autocast) -> None:
    """[photo | style 1 | style 2 | ...] side by side, one PNG."""
    with torch.no_grad(), autocast():
        outs = [net(photo, i).float() for i in style_ids]
    strip = torch.cat([photo.float()] + outs, dim=3)  # (1, 3, S, S * (1 + n))
    atomic_write_bytes(path, encode_image(tensor_to_frame(strip), ".png"))


def train(cfg: TrainConfig, *, progress: Callable[[dict], None] | None = None) -> str:
    """Train (or resume, or add styles to a model) and write the model file; returns its path.

    `progress(event)` is called on rank 0 with dicts: {"event": "start", "step", "steps"},
    {"event": "step", "step", "steps", "content", "style", "tv", "temporal", "ms_per_step"},
    {"event": "checkpoint" | "preview" | "done", "step", "path"}."""
    import torch.distributed as dist

    progress = progress or (lambda event: None)
    rank, world, local_rank = _dist_env()
    ddp = world > 1
    device = resolve_device(cfg.device)
    if ddp and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if ddp:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    master = rank == 0
    threads = torch.get_num_threads()
    if device.type == "cpu" and (cfg.threads or ddp):  # DDP: share the cores, or OpenMP oversubscribes them
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(cfg.threads or max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    try:
        return _train(cfg, progress, device, rank, world, master)
    finally:
        torch.set_num_threads(threads)
        if ddp and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, progress, device: torch.device, rank: int, world: int, master: bool) -> str:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    ddp = world > 1
    ckpt = load_checkpoint(cfg.resume) if cfg.resume else None
    ckpt_path = checkpoint_dir(cfg) / FILE_NAME
    out = Path(cfg.out)
    try:
        check_output_path(out, overwrite=cfg.overwrite or ckpt is not None)
    except ValueError as e:
        raise ValueError(f"{e}, or --resume to continue its run" if out.is_file() else str(e)) from None
    check_checkpoint_dir(checkpoint_dir(cfg))
    bf16 = use_bf16(cfg, device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext
    vgg_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

    # data and styles (checked before the slower VGG load), loss network, Gram targets
    exclude = read_name_list(cfg.holdout) if cfg.holdout else set()
    data = ImageFolder(cfg.content_dir, size_px=cfg.image_size, seed=cfg.seed, rank=rank, world_size=world,
                       exclude=exclude)
    if cfg.image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"--image-size: expected at least {MIN_IMAGE_SIZE} px (VGG's relu4_3 lies 3 poolings down), "
                         f"got {cfg.image_size}")
    if cfg.loss_norm not in ("none", "target"):
        raise ValueError(f"expected loss_norm 'none' or 'target', got {cfg.loss_norm!r}")
    normalized = cfg.loss_norm == "target"
    specs = parse_style_specs(cfg.styles)
    style_size = cfg.style_size or cfg.image_size
    style_imgs = [load_style_image(path, max_side_px=style_size, device=device) for _, path in specs]
    style_layers = dict(cfg.style_layers)
    vgg_layers = tuple(dict.fromkeys([*style_layers, cfg.content_layer]))
    vgg = load_vgg(vgg_layers, path=cfg.vgg, convention=cfg.vgg_convention).to(device, memory_format=vgg_format)
    targets: dict[str, list[torch.Tensor]] = {name: [] for name in style_layers}
    for img in style_imgs:
        with torch.no_grad():
            feats = vgg(img)
        for name in style_layers:
            targets[name].append(gram_matrix(getattr(feats, name))[0])  # (C, C)
    target_grams = {name: torch.stack(g) for name, g in targets.items()}  # (n_new, C, C)

    # the network: new, or a trained one with rows appended for the new styles
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    base_styles, presets, base_record = [], {}, {}
    if cfg.base:
        base = load_stylenet(cfg.base)
        base_styles, presets, base_record = base.styles, base.presets, base.training
        clash = sorted({s.name for s in base_styles} & {n for n, _ in specs})
        if clash:
            raise ValueError(f"{cfg.base} already has style(s) {clash}; pick other names with --add-style NAME=PATH")
        names = [s.name for s in base_styles]
        if cfg.init_style is not None and cfg.init_style not in names:
            raise ValueError(f"init style {cfg.init_style!r} is not in {cfg.base} (styles: {', '.join(names)})")
        net = _extend_styles(base.net, len(specs), names.index(cfg.init_style) if cfg.init_style else None)
    else:
        net = StyleNet(dataclasses.replace(cfg.arch, n_styles=len(specs)))
    n_old = len(base_styles)
    net = net.to(device).train()
    if n_old:
        for p in net.parameters():
            p.requires_grad_(False)
        for p in _cin_params(net):
            p.requires_grad_(True)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    styles = base_styles + [StyleInfo(name, cfg.style_sources.get(name) or os.path.basename(path))
                            for name, path in specs]
    style_images = {**base_record.get("style_images", {}), **{n: os.path.abspath(p) for n, p in specs}}

    step, seconds_before = 0, 0.0
    torch.manual_seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    if ckpt:
        if [s["name"] for s in ckpt["styles"]] != [s.name for s in styles]:
            raise ValueError(f"{cfg.resume}: checkpoint has styles {[s['name'] for s in ckpt['styles']]}, "
                             f"this run has {[s.name for s in styles]}")
        try:
            net.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise ValueError(f"{cfg.resume}: checkpoint does not fit this network: {str(e).splitlines()[0]}") from None
        step, seconds_before = int(ckpt["step"]), float(ckpt.get("seconds", 0.0))
        if len(ckpt["rng"]) == world:
            set_rng_state(ckpt["rng"][rank])
        else:
            log.warning("checkpoint has RNG states of %d ranks, this run has %d: reseeding", len(ckpt["rng"]), world)
        log.info("resumed from %s at step %d", resolve_checkpoint_path(cfg.resume), step)
    del ckpt
    model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None) if ddp else net

    def save(at_step: int, seconds: float) -> None:
        states = [None] * world
        if ddp:
            dist.all_gather_object(states, rng_state())
        else:
            states = [rng_state()]
        if master:
            save_checkpoint(ckpt_path, {
                "config": config_to_dict(cfg), "step": at_step, "seconds": seconds, "model": net.state_dict(),
                "optimizer": optimizer.state_dict(), "rng": states, "n_base_styles": n_old,
                "styles": [{**dataclasses.asdict(s), "path": style_images.get(s.name, "")} for s in styles]})
            progress({"event": "checkpoint", "step": at_step, "path": str(ckpt_path)})

    def write_model(at_step: int, seconds: float) -> None:
        """The model file from the weights as they are now, with its training record."""
        record = {
            "command": cfg.command, "steps": at_step, "seconds": round(seconds, 1), "world_size": world,
            "device": str(device), "bf16": bf16, "image_size": cfg.image_size, "style_size": style_size,
            "batch_size": cfg.batch_size, "lr": cfg.lr, "warmup_steps": cfg.warmup_steps,
            "batch_styles": cfg.batch_styles,
            "content_weight": cfg.content_weight, "style_weight": cfg.style_weight, "tv_weight": cfg.tv_weight,
            "temporal_weight": cfg.temporal_weight, "motion": dataclasses.asdict(cfg.motion),
            "shift_weight": cfg.shift_weight, "shift_max_px": cfg.shift_max_px,
            "content_layer": cfg.content_layer, "style_layers": style_layers, "loss_norm": cfg.loss_norm,
            "holdout": sorted(exclude), "vgg": dataclasses.asdict(vgg.source),
            "content_dir": os.path.abspath(cfg.content_dir), "skipped_images": len(data.skipped),
            "style_images": style_images,
            "final_losses": ({"content": c, "style": s, "tv": t, **({"temporal": tc} if cfg.temporal_weight > 0 else {})}
                             if math.isfinite(c + s + t) else {}),
        }
        if cfg.base:
            record.update(base=os.path.abspath(cfg.base), base_training=base_record,
                          trained_styles=[n for n, _ in specs])
        save_stylenet(out, net.cpu(), styles, presets=presets, training=record)
        net.to(device)
        progress({"event": "done", "step": at_step, "path": str(out)})

    # Ctrl-C: finish the step, checkpoint, stop. A second Ctrl-C interrupts at once.
    stop = {"requested": False}
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            stop["requested"] = True
            signal.signal(signal.SIGINT, old_handler)
        old_handler = signal.signal(signal.SIGINT, on_sigint)

    preview = data.preview_photo(device) if master and cfg.preview_every else None
    t_start = last_ckpt = time.perf_counter()
    c = s = t = tc = float("nan")
    sums, n_sum, t_log = {"content": 0.0, "style": 0.0, "tv": 0.0, "temporal": 0.0}, 0, time.perf_counter()
    if master:
        log.info("training %d style(s) %s for %d steps at %d px, batch %d x %d rank(s), %s%s, VGG %s",
                 len(specs), ", ".join(n for n, _ in specs), cfg.steps, cfg.image_size, cfg.batch_size, world,
                 device, " bf16" if bf16 else "", vgg.source.origin)
        progress({"event": "start", "step": step, "steps": cfg.steps})
    try:
        while step < cfg.steps:
            t0 = time.perf_counter()
            x = data.batch(step, cfg.batch_size, device)  # (B, 3, S, S)
            idx = _style_indices(step, cfg.batch_size, len(specs), cfg.batch_styles, rank, world).to(device)
            style = F.one_hot(idx + n_old, n_old + len(specs)).float()  # (B, n_styles)
            with autocast():
                if cfg.temporal_weight > 0:  # the batch and a moved copy through the net together
                    g = torch.Generator().manual_seed((cfg.seed * 1_000_003 + rank) * 10_000_019 + step)
                    x_moved, flow_to_prev, mask = moved_pair(x, cfg.motion, g)
                    y, y_moved = model(torch.cat((x, x_moved)), torch.cat((style, style))).chunk(2)
                    loss_tc = cfg.temporal_weight * temporal_loss(y_moved.float(), y.float(), flow_to_prev, mask)
                else:
                    y = model(x, style)  # (B, 3, S, S) float32 in [0, 1]
                    loss_tc = torch.zeros((), device=device)
                if cfg.shift_weight > 0:
                    g = torch.Generator().manual_seed((cfg.seed * 1_000_003 + rank) * 10_000_019 + step + 7)
                    loss_tc = loss_tc + cfg.shift_weight * shift_loss(model, x, y, style, cfg.shift_max_px, g)
                feats_y = vgg(y.contiguous(memory_format=vgg_format))
                with torch.no_grad():  # the content target needs VGG only up to its layer
                    feats_x = vgg(x.contiguous(memory_format=vgg_format), (cfg.content_layer,))
                loss_c = cfg.content_weight * content_loss(getattr(feats_y, cfg.content_layer),
                                                           getattr(feats_x, cfg.content_layer), normalized=normalized)
                loss_s = cfg.style_weight * style_loss(feats_y, {k: g[idx] for k, g in target_grams.items()},
                                                       style_layers, normalized=normalized)
                loss_t = cfg.tv_weight * tv_loss(y)
            loss = loss_c + loss_s + loss_t + loss_tc
            for group in optimizer.param_groups:  # linear warm-up: Adam's first steps move every weight by ~lr
                group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if n_old:  # old styles' rows: zero gradient, so Adam leaves them exactly as they were
                for p in params:
                    p.grad[:n_old] = 0
            optimizer.step()
            step += 1

            c, s, t, tc = loss_c.item(), loss_s.item(), loss_t.item(), loss_tc.item()
            if not math.isfinite(c + s + t + tc):
                raise RuntimeError(f"loss became {c + s + t + tc} at step {step}; lower --lr or the loss weights")
            ms = 1000 * (time.perf_counter() - t0)
            sums["content"] += c; sums["style"] += s; sums["tv"] += t; sums["temporal"] += tc; n_sum += 1  # noqa: E702
            if master:
                progress({"event": "step", "step": step, "steps": cfg.steps, "content": c, "style": s, "tv": t,
                          "temporal": tc, "ms_per_step": ms})
            if master and (step % cfg.log_every == 0 or step == cfg.steps):
                ms_avg = 1000 * (time.perf_counter() - t_log) / n_sum
                log.info("step %d: content %.3g, style %.3g, tv %.3g%s, %.0f ms/step", step,
                         sums["content"] / n_sum, sums["style"] / n_sum, sums["tv"] / n_sum,
                         f", temporal {sums['temporal'] / n_sum:.3g}" if cfg.temporal_weight + cfg.shift_weight > 0 else "", ms_avg)
                sums, n_sum, t_log = dict.fromkeys(sums, 0.0), 0, time.perf_counter()
            if master and preview is not None and (step % cfg.preview_every == 0 or (cfg.preview_latest and step == 1)):
                path = ckpt_path.parent / ("preview.png" if cfg.preview_latest else f"preview_{step:06d}.png")
                ckpt_path.parent.mkdir(parents=True, exist_ok=True)
                # a model with added styles shows just those (and the photo); a new model every style
                _write_preview(path, preview, net, list(range(n_old, n_old + len(specs))), autocast)
                progress({"event": "preview", "step": step, "path": str(path)})
            spent = cfg.deadline is not None and time.time() >= cfg.deadline
            flags = torch.tensor([float(stop["requested"]),
                                  float(time.perf_counter() - last_ckpt >= cfg.checkpoint_every_s),
                                  float(bool(spent))], device=device)
            if ddp:  # every rank stops, saves and ends at the same step
                dist.all_reduce(flags, op=dist.ReduceOp.MAX)
            if flags[0] > 0:
                save(step, seconds_before + time.perf_counter() - t_start)
                if cfg.model_on_interrupt and master:
                    write_model(step, seconds_before + time.perf_counter() - t_start)
                raise TrainingInterrupted(step, str(ckpt_path))
            if flags[2] > 0:
                break  # the time budget is spent (on any rank): finish as at the last step
            if flags[1] > 0 and step < cfg.steps:
                try:
                    save(step, seconds_before + time.perf_counter() - t_start)
                except RuntimeError as e:  # e.g. a full disk: say so, keep training, try again next interval
                    log.error("%s; training goes on, next try in %.0f s", e, cfg.checkpoint_every_s)
                last_ckpt = time.perf_counter()
    finally:
        if old_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, old_handler)

    seconds = seconds_before + time.perf_counter() - t_start
    try:
        save(step, seconds)  # lets a later --resume --steps N train further
    except RuntimeError as e:  # the model file below matters more
        log.error("%s", e)
    if data.skipped and master:
        log.warning("skipped %d unreadable image(s) in %s", len(data.skipped), cfg.content_dir)
    if master:
        write_model(step, seconds)
        log.info("wrote %s (%d styles) after %d steps, %.0f s", out, len(styles), step, seconds)
    if ddp:
        dist.barrier()
    return str(out)

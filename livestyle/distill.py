"""Distillation: a smaller, faster network learns to reproduce a trained model's styles.

`livestyle distill` trains the `live` network (model.ARCHS) to output what the shipped model outputs, for
every style, on random crops of the content photos: the teacher's picture is the target, so no VGG and no
painting is needed, and a step costs one teacher forward and one small student forward/backward. The loss is
L1 on the pixels plus L1 on the horizontal and vertical differences (the strokes' edges: pixel L1 alone
lets a small network blur them).

Batches mix styles as `livestyle train` does (sample i of step t gets style (t*B + i) mod n_styles), and a
quarter of the samples get a random blend of two styles, so the student learns the mixes the live keys make
and not only the corners of the simplex. The student keeps the teacher's style names, sources and presets,
so `--styles monet` means the same painting with either model.

Resumable: the checkpoint (student, optimizer, step) is written every `checkpoint_every_s` seconds and at
the end; `resume=True` continues from it.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import ImageFolder, read_name_list
from .model import StyleNet, parse_arch
from .modelfile import load_stylenet, save_stylenet

log = logging.getLogger(__name__)


COMPILE_MIN_STEPS = 200  # the teacher's compile (~60 s) saves ~0.5 s a step: it pays after ~120 steps


@dataclass
class DistillConfig:
    teacher: str  # model file whose styles are learned
    content_dir: str  # photos (random crops)
    out: str  # the student's model file
    arch: str = "live"  # the student's network (model.parse_arch)
    holdout: str | None = None  # file of photo names to leave out (tools/holdout_photos.txt)
    image_size: int = 256  # crop side
    batch_size: int = 8
    lr: float = 2e-3  # Adam; cosine decay to 5 % over `steps`
    steps: int = 3000
    blend_fraction: float = 0.25  # samples that get a random blend of two styles
    edge_weight: float = 1.0  # weight of the L1 on pixel differences
    seed: int = 0
    threads: int | None = None
    checkpoint: str | None = None  # default: OUT with .distill.pt
    checkpoint_every_s: float = 300.0
    resume: bool = False
    deadline: float | None = None  # time.time() at which to stop (checkpoint written; resume later)
    compile_teacher: bool = True  # torch.compile the teacher's forward (2x on a 2-core CPU: 1.13 -> 0.57 s
    #   for 8 crops of 256 px, ~60 s to compile) when >= COMPILE_MIN_STEPS steps remain; eager if it fails


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, edge_weight: float) -> torch.Tensor:
    loss = F.l1_loss(student, teacher)
    if edge_weight:
        dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
        dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
        loss = loss + edge_weight * (F.l1_loss(dx(student), dx(teacher)) + F.l1_loss(dy(student), dy(teacher)))
    return loss


def step_mix(step: int, batch: int, n_styles: int, blend_fraction: float, rng: np.random.Generator) -> torch.Tensor:
    """(batch, n_styles) style weights of a step: one-hot cycling through the styles, some rows blended."""
    mix = torch.zeros(batch, n_styles)
    for i in range(batch):
        a = (step * batch + i) % n_styles
        if n_styles > 1 and rng.random() < blend_fraction:
            b = int(rng.integers(0, n_styles - 1))
            b = b + 1 if b >= a else b
            w = float(rng.uniform(0.2, 0.8))
            mix[i, a], mix[i, b] = w, 1.0 - w
        else:
            mix[i, a] = 1.0
    return mix


def checkpoint_path(cfg: DistillConfig) -> Path:
    return Path(cfg.checkpoint) if cfg.checkpoint else Path(cfg.out).with_suffix(".distill.pt")


def distill(cfg: DistillConfig, progress: Callable[[int, int, float], None] | None = None) -> str:
    """Train the student; returns the model path (written when `steps` are done; on a deadline only
    the checkpoint is written and the path of the checkpoint is returned)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    teacher_model = load_stylenet(cfg.teacher)
    teacher = teacher_model.net.float().eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    n = teacher.n_styles
    scfg = dataclasses.replace(parse_arch(cfg.arch), n_styles=n)
    student = StyleNet(scfg)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    exclude = read_name_list(cfg.holdout) if cfg.holdout else set()
    photos = ImageFolder(cfg.content_dir, size_px=cfg.image_size, seed=cfg.seed, exclude=exclude)
    ckpt_path = checkpoint_path(cfg)
    start, seconds = 0, 0.0
    if cfg.resume and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path)
        student.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        set_rng_state(ck["rng"])
        start, seconds = int(ck["step"]), float(ck.get("seconds", 0.0))
        log.info("resumed %s at step %d", ckpt_path, start)
    teacher_fn = teacher
    if cfg.compile_teacher and cfg.steps - start >= COMPILE_MIN_STEPS:
        try:
            teacher_fn = torch.compile(teacher, dynamic=False)
            with torch.inference_mode():
                size = (cfg.batch_size, 3, cfg.image_size, cfg.image_size)
                teacher_fn(torch.rand(size), torch.full((cfg.batch_size, n), 1.0 / n))  # compiles for the crops' shape
        except Exception as e:  # no compiler toolchain: eager
            log.warning("could not compile the teacher (%s); running it eagerly", str(e).splitlines()[0][:200])
            teacher_fn = teacher

    def save(step: int) -> None:
        save_checkpoint(ckpt_path, {"config": dataclasses.asdict(cfg), "step": step, "model": student.state_dict(),
                                    "optimizer": opt.state_dict(), "rng": rng_state(), "styles": teacher_model.style_names,
                                    "seconds": seconds})

    student.train()
    last_save = time.time()
    step = start
    loss_avg = None
    while step < cfg.steps:
        if cfg.deadline is not None and time.time() >= cfg.deadline:
            save(step)
            return str(ckpt_path)
        t0 = time.perf_counter()
        lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = photos.batch(step, cfg.batch_size)
        mix = step_mix(step, cfg.batch_size, n, cfg.blend_fraction, np.random.default_rng([cfg.seed, step]))
        with torch.inference_mode():
            target = teacher_fn(x, mix)
        # clone: an inference-mode tensor cannot enter autograd, a copy made outside inference mode can
        loss = distill_loss(student(x, mix), target.clone(), cfg.edge_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seconds += time.perf_counter() - t0
        loss_avg = loss.item() if loss_avg is None else 0.95 * loss_avg + 0.05 * loss.item()
        if progress:
            progress(step, cfg.steps, loss_avg)
        if time.time() - last_save >= cfg.checkpoint_every_s:
            save(step)
            last_save = time.time()
    save(step)
    student.eval()
    teacher_record = teacher_model.training if isinstance(teacher_model.training, dict) else {}
    # the paintings the teacher learned are the student's too (livestyle eval scores against them)
    training = {"distilled_from": Path(cfg.teacher).name, "style_images": teacher_record.get("style_images", {}),
                "teacher_training": teacher_record,
                "distill": {**dataclasses.asdict(cfg), "steps_done": step, "seconds": round(seconds, 1)}}
    save_stylenet(cfg.out, student, teacher_model.styles, presets=teacher_model.presets, training=training)
    return cfg.out

"""Small rows: each style's conditional-instance-norm rows for a smaller copy of the frame
(NetConfig.small_rows), so the live loop's lower network scales keep the look.

Why: when the webcam falls behind, the live loop runs the network on a copy 75 % a side (or less) and
enlarges its output. The same rows paint strokes of the same size in pixels, so after the enlargement they
are a third larger and softer: at 75 % the shipped network's texture ratio was 1.3-2.1x its full-size one
(mean 1.65x, 16 held-out photos). Training the whole network on smaller copies as well (TrainConfig
.scale_weight) improved both sizes alike and left the ratio where it was: a network that is not told the
scale learns one stroke size. A second table of rows, chosen by the scale (config.small_weight), is told.

How: the network's convs and its full-size rows stay frozen; only the small rows train (Adam), from copies
of the full-size rows, on the smaller-copy term of training (train_setup.smaller_copy: the crop shrunk to
SMALL_ROWS_SCALE a side, stylized with the small rows, enlarged back bilinearly as the live loop does, and
scored by the content and style losses of the model's own recipe against the full-size photo and
painting). Full-size output is bit-identical before and after: those rows and convs do not change.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from typing import Callable

import torch
import torch.nn.functional as F

from .atomic import check_output_path
from .config import SMALL_ROWS_SCALE, NetConfig, TrainConfig
from .model import CondInstanceNorm, StyleNet

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SmallRowsConfig:
    """`train_small_rows`: how long and on what. The losses' layers and weights are the model's own
    (its training record)."""

    steps: int = 3000
    lr: float = 1e-2  # Adam on the rows only (a few thousand numbers, starting from the full-size rows), cosine
    #   down to a tenth of it by the last step
    batch_size: int = 4
    image_size: int = 256  # the training crops, as the model was trained
    scale: float = SMALL_ROWS_SCALE  # the copy's scale a side (the rows are taken whole at and below it)
    grid_weight: float = 2.0  # the grid penalty (losses.grid_loss) on the network's output at the copy's size,
    #   where a stride grid would lie (P = 4 there is 16/3 px after the enlargement, periodic every 16 px)
    enlarged_grid_weight: float = 0.25  # and on the enlarged output: the resampling's own 4-px phase pattern,
    #   which sharper strokes show more (at 2.0 it cost most of what the rows gained in texture)
    content_dir: str | None = None  # default: the model's training photos (its record)
    vgg: str | None = None
    vgg_convention: str | None = None
    device: str = "auto"
    bf16: bool | None = None  # None: where the CPU or GPU runs it natively
    seed: int = 0
    overwrite: bool = False
    command: str = ""  # what ran it, for the model's training record
    only: tuple[str, ...] = ()  # train just these styles' small rows (the others get no gradient: unchanged)
    style_weight: float | None = None  # None: the model's own (its record)


def with_small_rows(net: StyleNet) -> StyleNet:
    """`net` with small rows (copies of its full-size rows) if it has none; else `net` itself."""
    if net.cfg.small_rows:
        return net
    out = StyleNet(dataclasses.replace(net.cfg, small_rows=True))
    state = dict(net.state_dict())
    for k, v in net.state_dict().items():
        if k.endswith((".gamma", ".beta")):
            state[f"{k}_small"] = v.clone()
    out.load_state_dict(state)
    return out


def small_params(net: StyleNet) -> list[torch.nn.Parameter]:
    return [p for m in net.modules() if isinstance(m, CondInstanceNorm) and hasattr(m, "gamma_small")
            for p in (m.gamma_small, m.beta_small)]


def train_small_rows(model_path: str, out: str, cfg: SmallRowsConfig | None = None, *,
                     progress: Callable[[dict], None] | None = None) -> str:
    """Train the small rows of the model at `model_path` (added first if it has none) and write the model
    with them to `out`; returns `out`. `progress(event)`: {"event": "step", "step", "steps", "loss",
    "ms_per_step"} after each step."""
    from .data import ImageFolder
    from .device import resolve_device
    from .evaluate import style_images_for
    from .modelfile import load_stylenet, save_stylenet
    from .losses import grid_loss
    from .train import LossNetwork
    from .train_setup import smaller_copy_at, style_indices, use_bf16

    import os

    cfg = cfg or SmallRowsConfig()
    if not 0.0 < cfg.scale < 1.0:
        raise ValueError(f"scale: expected a fraction in (0, 1), got {cfg.scale:g}")
    if cfg.steps < 1:
        raise ValueError(f"steps: expected at least 1, got {cfg.steps}")
    if os.path.exists(out) and os.path.exists(model_path) and os.path.samefile(out, model_path):
        raise ValueError(f"{out} is the model being trained; write the result to another file")
    check_output_path(out, overwrite=cfg.overwrite)
    progress = progress or (lambda event: None)
    device = resolve_device(cfg.device)
    model = load_stylenet(model_path)
    record = model.training if isinstance(model.training, dict) else {}
    paintings = style_images_for(model, None)
    content_dir = cfg.content_dir or record.get("content_dir")
    if not content_dir:
        raise ValueError(f"{model_path} does not record its training photos; pass the content folder")
    recipe = {k: record[k] for k in ("style_size", "content_weight", "style_weight", "content_layer", "loss_norm")
              if k in record}
    if "style_layers" in record:
        recipe["style_layers"] = dict(record["style_layers"])
    if cfg.style_weight is not None:
        recipe["style_weight"] = cfg.style_weight
    unknown = [n for n in cfg.only if n not in model.style_names]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a style of {model_path} (styles: {', '.join(model.style_names)})")
    chosen = torch.tensor([model.style_names.index(n) for n in cfg.only] or range(len(model.style_names)))
    tcfg = TrainConfig(styles=[f"{n}={p}" for n, p in paintings.items()], content_dir=content_dir,
                       image_size=cfg.image_size, batch_size=cfg.batch_size, lr=cfg.lr, vgg=cfg.vgg,
                       vgg_convention=cfg.vgg_convention, device=cfg.device, seed=cfg.seed, bf16=cfg.bf16,
                       arch=NetConfig(), **recipe)
    specs = list(paintings.items())
    net = with_small_rows(model.net).to(device).train()
    for p in net.parameters():
        p.requires_grad_(False)
    params = small_params(net)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    data = ImageFolder(content_dir, size_px=cfg.image_size, seed=cfg.seed, exclude=set(record.get("holdout", [])))
    losses = LossNetwork(tcfg, specs, device, rank=0)
    bf16 = use_bf16(tcfg, device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    n = len(specs)
    log.info("training the small rows of %d styles at scale %.2f for %d steps, %s%s", len(chosen), cfg.scale,
             cfg.steps, device, " bf16" if bf16 else "")
    t_start = time.perf_counter()
    loss_value = float("nan")
    for step in range(cfg.steps):
        t0 = time.perf_counter()
        x = data.batch(step, cfg.batch_size, device)
        idx = chosen[style_indices(step, cfg.batch_size, len(chosen), "mixed", 0, 1)].to(device)
        style = F.one_hot(idx, n).float()
        with autocast():
            y, y_small = smaller_copy_at(net, x, style, cfg.scale)
            with torch.no_grad():
                feats_x = losses.vgg(x, (tcfg.content_layer,))
            terms = losses.perceptual(losses.vgg(y), feats_x, idx)
            loss = terms["content"] + terms["style"]
            if cfg.grid_weight > 0:
                loss = loss + cfg.grid_weight * grid_loss(y_small)
            if cfg.enlarged_grid_weight > 0:
                loss = loss + cfg.enlarged_grid_weight * grid_loss(y)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * (0.55 + 0.45 * math.cos(math.pi * step / max(1, cfg.steps - 1)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise RuntimeError(f"loss became {loss_value} at step {step + 1}; lower the learning rate")
        progress({"event": "step", "step": step + 1, "steps": cfg.steps, "loss": loss_value,
                  "ms_per_step": 1000 * (time.perf_counter() - t0)})
    seconds = time.perf_counter() - t_start
    trained = {"steps": cfg.steps, "seconds": round(seconds, 1), "scale": cfg.scale, "lr": cfg.lr,
               "grid_weight": cfg.grid_weight, "enlarged_grid_weight": cfg.enlarged_grid_weight,
               "batch_size": cfg.batch_size, "image_size": cfg.image_size, "device": str(device), "bf16": bf16,
               "final_loss": loss_value, "command": cfg.command, "styles": list(cfg.only) or "all",
               "style_weight": tcfg.style_weight}
    # a list of runs: a second one continues from the rows the first left
    runs = record.get("small_rows", []) if model.net.cfg.small_rows else []
    runs = [runs] if isinstance(runs, dict) else list(runs)
    save_stylenet(out, net.cpu().eval(), model.styles, presets=model.presets,
                  training={**record, "small_rows": [*runs, trained]})
    log.info("wrote %s: small rows after %d steps, %.0f s", out, cfg.steps, seconds)
    return out

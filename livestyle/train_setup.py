"""What `livestyle train` sets up around its loop (train.py): the configuration checks, the network (new,
or a trained one with rows added for new styles), the loss network with the paintings' Gram targets, a
checkpoint to resume from, and the record written into the model file. Each is one function, so the loop
in train.py reads on its own."""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .atomic import atomic_write_bytes
from .checkpoint import load_checkpoint, resolve_checkpoint_path, set_rng_state
from .config import MotionConfig, NetConfig, TrainConfig, small_weight
from .data import load_style_image
from .device import fast_bf16
from .frames import tensor_to_frame
from .images import encode_image
from .losses import gram_matrix
from .model import CondInstanceNorm, StyleNet
from .modelfile import StyleInfo, load_stylenet

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 32  # training crops smaller than this leave VGG's deeper layers (and the style loss) a pixel or none

# Fields that change what is being learned; a resume that overrides them gets a warning.
_MODEL_FIELDS = ("styles", "content_dir", "base", "arch", "image_size", "style_size", "batch_size", "lr",
                 "warmup_steps", "content_weight", "style_weight", "tv_weight", "content_layer", "style_layers",
                 "loss_norm", "holdout", "batch_styles", "vgg", "vgg_convention", "seed", "temporal_weight", "motion",
                 "shift_weight", "shift_max_px", "grid_weight", "scale_weight", "scale_range")


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


def check_config(cfg: TrainConfig) -> None:
    """The values no flag parser can judge alone, before anything loads."""
    if cfg.image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"--image-size: expected at least {MIN_IMAGE_SIZE} px (VGG's relu4_3 lies 3 poolings down), "
                         f"got {cfg.image_size}")
    if cfg.loss_norm not in ("none", "target"):
        raise ValueError(f"expected loss_norm 'none' or 'target', got {cfg.loss_norm!r}")
    lo, hi = cfg.scale_range
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"--scale-range: expected 0 < MIN <= MAX <= 1, got {lo:g},{hi:g}")


def config_to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"deadline"}  # a deadline was that command's
    d = {k: v for k, v in d.items() if k in known}
    if "scale_range" in d:  # a list in the checkpoint's JSON-like record
        d["scale_range"] = tuple(d["scale_range"])
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


def dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


# -- the network ---------------------------------------------------------------------------------------

@dataclass
class Network:
    """The network being trained, its styles and what goes into its model file."""

    net: StyleNet
    styles: list[StyleInfo]  # every style of the model, old (from `base`) then new
    n_old: int = 0  # styles that came with `base` and stay as they are
    presets: dict = field(default_factory=dict)
    base_record: dict = field(default_factory=dict)
    style_images: dict[str, str] = field(default_factory=dict)  # style name -> painting path

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]


def _cin_params(net: StyleNet) -> list[torch.nn.Parameter]:
    """Every CIN table: the full-size rows and, where the network has them, the small rows."""
    return [p for m in net.modules() if isinstance(m, CondInstanceNorm)
            for p in (m.gamma, m.beta, getattr(m, "gamma_small", None), getattr(m, "beta_small", None)) if p is not None]


def settle_small_rows(network: Network, cfg: TrainConfig) -> None:
    """New styles of a network with small rows (NetConfig.small_rows) that no smaller-copy term trained
    (scale_weight 0) take their full-size rows as their small rows: the same look at every scale, rather
    than the rows of the style they started from."""
    if not network.net.cfg.small_rows or cfg.scale_weight > 0:
        return
    with torch.no_grad():
        for m in network.net.modules():
            if isinstance(m, CondInstanceNorm):
                m.gamma_small[network.n_old:] = m.gamma[network.n_old:]
                m.beta_small[network.n_old:] = m.beta[network.n_old:]


def extend_styles(base: StyleNet, n_new: int, init_row: int | None = None) -> StyleNet:
    """A copy of `base` with n_new more CIN rows, each a copy of row `init_row` (an existing style to
    start from) or the mean of the old rows."""
    net = StyleNet(dataclasses.replace(base.cfg, n_styles=base.n_styles + n_new))
    state = {}
    for k, v in base.state_dict().items():
        if k.endswith((".gamma", ".beta", ".gamma_small", ".beta_small")):
            start = v.mean(0, keepdim=True) if init_row is None else v[init_row:init_row + 1]
            v = torch.cat([v, start.expand(n_new, -1)])  # (n_old + n_new, C)
        state[k] = v
    net.load_state_dict(state)
    return net


def build_network(cfg: TrainConfig, specs: list[tuple[str, str]], device: torch.device) -> Network:
    """A new network for the styles `specs` (name, painting), or `cfg.base` with rows appended for them,
    where only those rows train (Dumoulin et al. sec. 4): every conv and the old rows are frozen."""
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
        net = extend_styles(base.net, len(specs), names.index(cfg.init_style) if cfg.init_style else None)
    else:
        net = StyleNet(dataclasses.replace(cfg.arch, n_styles=len(specs)))
    net = net.to(device).train()
    if base_styles:
        for p in net.parameters():
            p.requires_grad_(False)
        for p in _cin_params(net):
            p.requires_grad_(True)
    styles = base_styles + [StyleInfo(name, cfg.style_sources.get(name) or os.path.basename(path))
                            for name, path in specs]
    style_images = {**base_record.get("style_images", {}), **{n: os.path.abspath(p) for n, p in specs}}
    return Network(net, styles, len(base_styles), presets, base_record, style_images)


def restore(cfg: TrainConfig, ckpt: dict, network: Network, optimizer, *, rank: int, world: int) -> tuple[int, float]:
    """Weights, optimizer and random state from a checkpoint of this run; (step, seconds trained so far)."""
    have = [s["name"] for s in ckpt["styles"]]
    if have != [s.name for s in network.styles]:
        raise ValueError(f"{cfg.resume}: checkpoint has styles {have}, this run has {[s.name for s in network.styles]}")
    try:
        network.net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise ValueError(f"{cfg.resume}: checkpoint does not fit this network: {str(e).splitlines()[0]}") from None
    if len(ckpt["rng"]) == world:
        set_rng_state(ckpt["rng"][rank])
    else:
        log.warning("checkpoint has RNG states of %d ranks, this run has %d: reseeding", len(ckpt["rng"]), world)
    step = int(ckpt["step"])
    log.info("resumed from %s at step %d", resolve_checkpoint_path(cfg.resume), step)
    return step, float(ckpt.get("seconds", 0.0))


# -- the losses' targets -------------------------------------------------------------------------------

def style_targets(cfg: TrainConfig, specs: list[tuple[str, str]], vgg, device: torch.device) -> dict[str, torch.Tensor]:
    """{style layer: (n_new, C, C)}: each painting's Gram matrices at `cfg.style_size` px."""
    style_size = cfg.style_size or cfg.image_size
    targets: dict[str, list[torch.Tensor]] = {name: [] for name in cfg.style_layers}
    for _, path in specs:
        with torch.no_grad():
            feats = vgg(load_style_image(path, max_side_px=style_size, device=device))
        for name in cfg.style_layers:
            targets[name].append(gram_matrix(getattr(feats, name))[0])  # (C, C)
    return {name: torch.stack(g) for name, g in targets.items()}


def style_indices(step: int, batch: int, n_styles: int, mode: str, rank: int, world: int) -> torch.Tensor:
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


def smaller_copy(model, x: torch.Tensor, style: torch.Tensor, scale_range: tuple[float, float],
                 g: torch.Generator) -> torch.Tensor:
    """The network's output for x shrunk by a random factor in `scale_range` a side (antialiased), enlarged
    back to x's size (bilinear): what the live loop shows when it runs the network on a smaller copy (with the
    network's small rows, where it has them: config.small_weight of the factor)."""
    lo, hi = scale_range
    s = lo + (hi - lo) * float(torch.rand((), generator=g))
    return smaller_copy_at(model, x, style, s)[0]


def smaller_copy_at(model, x: torch.Tensor, style: torch.Tensor, s: float) -> tuple[torch.Tensor, torch.Tensor]:
    """smaller_copy at factor `s`: (the output enlarged back to x's size, the network's output on the copy)."""
    h, w = x.shape[-2:]
    size = (max(MIN_IMAGE_SIZE, round(h * s)), max(MIN_IMAGE_SIZE, round(w * s)))
    small = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    y_small = model(small, style, small_weight(s))
    return F.interpolate(y_small, size=(h, w), mode="bilinear", align_corners=False), y_small


# -- what is written -----------------------------------------------------------------------------------

def write_preview(path: Path, photo: torch.Tensor, net: StyleNet, style_ids: list[int], autocast) -> None:
    """[photo | style 1 | style 2 | ...] side by side, one PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), autocast():
        outs = [net(photo, i).float() for i in style_ids]
    strip = torch.cat([photo.float()] + outs, dim=3)  # (1, 3, S, S * (1 + n))
    atomic_write_bytes(path, encode_image(tensor_to_frame(strip), ".png"))


def training_record(cfg: TrainConfig, network: Network, *, steps: int, seconds: float, world: int,
                    device: torch.device, bf16: bool, holdout: set[str], vgg_source: dict, skipped: int,
                    final_losses: dict, trained: list[str]) -> dict:
    """The model file's record of how it was trained."""
    record = {
        "command": cfg.command, "steps": steps, "seconds": round(seconds, 1), "world_size": world,
        "device": str(device), "bf16": bf16, "image_size": cfg.image_size,
        "style_size": cfg.style_size or cfg.image_size, "batch_size": cfg.batch_size, "lr": cfg.lr,
        "warmup_steps": cfg.warmup_steps, "batch_styles": cfg.batch_styles,
        "content_weight": cfg.content_weight, "style_weight": cfg.style_weight, "tv_weight": cfg.tv_weight,
        "temporal_weight": cfg.temporal_weight, "motion": dataclasses.asdict(cfg.motion),
        "shift_weight": cfg.shift_weight, "shift_max_px": cfg.shift_max_px, "grid_weight": cfg.grid_weight,
        "scale_weight": cfg.scale_weight, "scale_range": list(cfg.scale_range),
        "content_layer": cfg.content_layer, "style_layers": dict(cfg.style_layers), "loss_norm": cfg.loss_norm,
        "holdout": sorted(holdout), "vgg": vgg_source, "content_dir": os.path.abspath(cfg.content_dir),
        "skipped_images": skipped, "style_images": network.style_images, "final_losses": final_losses,
    }
    if cfg.base:
        record.update(base=os.path.abspath(cfg.base), base_training=network.base_record, trained_styles=trained)
    return record

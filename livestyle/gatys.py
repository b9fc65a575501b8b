"""Optimisation-based style transfer: the output's pixels are optimised against VGG content and style
losses (Gatys et al. 2016, "Image Style Transfer Using Convolutional Neural Networks"), and for video
each frame also against the warped previous output(s) (Ruder et al. 2016, "Artistic style transfer
for videos"). The slow, best-quality path; the feed-forward StyleNet is the fast one.

`optimize(content, styles, cfg)` -> float (1, 3, H, W) in [0, 1] at the content's size.
`gatys_video.gatys_video(in_path, out_path, styles, cfg)` -> VideoSummary; resumable per frame.

What makes it fast (tools/experiments/bench_gatys.py, 512x341, one thread of a shared 2-core AVX-512 CPU):
- The VGG module and losses are the training mode's (vgg.py, losses.py); VGG stops at the deepest
  layer asked for (relu5_1; running on to relu5_3 would cost 3% more).
- Style Grams are computed once per style and scale (and, for video, once per clip); the content
  target once per stage; a temporal target (the warped previous output) once per frame.
- bf16 autocast with channels_last for VGG where the CPU has AVX512-BF16/AMX (oneDNN), Grams and losses
  in fp32, and a Gram that reads channels_last features in place (losses.gram_matrix): 0.78 s per iteration against
  2.55 s for fp32 NCHW (bf16 NCHW 1.61 s, fp32 channels_last 2.05 s, a Gram that copies NHWC features 1.12 s).
  The loss per iteration does not suffer: at 128 px bf16 ends 1.5% above fp32 after 40 iterations;
  at 512 px fp32 L-BFGS (ours and the reference alike) overshoots around iteration 10 (loss x300) and
  is back by ~30, which bf16 did not do in four runs (53 iterations to the reference's 100-iteration
  loss). torch.compile of VGG was slower (0.91 s, and 26 s to compile), so it is off.
- Coarse to fine (`cfg.scales`): 50 iterations at 1/4 and 1/2 size, where one costs ~1/16 and ~1/4 as
  much, then the full size starts from the upsampled result and gets to a given loss in ~2.5x fewer
  iterations than from the content.
Together: the reference's loss after 100 iterations (214 s) reached in 29 s (0.14x).

The per-frame video driver (work folder, resume, flow and temporal targets) is gatys_video.py; it
reuses this optimiser's state across frames.
"""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from typing import Callable

import torch
import torch.nn.functional as F

from .color import rgb_to_ycbcr, transfer_luminance
from .config import GatysConfig
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .vgg import VGGFeatures, load_vgg

log = logging.getLogger(__name__)

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "net")
PRESERVE_COLOR = (None, "luminance", "histogram")
MIN_SIDE_PX = 16  # a stage smaller than this is skipped: VGG pools 4 times before relu5_1
Progress = Callable[[dict], None]


def check_config(cfg: GatysConfig) -> None:
    """One-line errors for settings that cannot work, before anything slow starts."""
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"expected optimizer one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    if cfg.init not in INITS:
        raise ValueError(f"expected init one of {', '.join(INITS)}, got {cfg.init!r}")
    if cfg.init == "net" and not (cfg.init_weights and cfg.init_style):
        raise ValueError("init 'net' needs a model file and a style: --weights FILE --init-style NAME")
    if cfg.preserve_color not in PRESERVE_COLOR:
        raise ValueError(f"expected preserve-color luminance or histogram, got {cfg.preserve_color!r}")
    if not cfg.scales or any(not 0 < s <= 1 for s in cfg.scales) or list(cfg.scales) != sorted(cfg.scales):
        raise ValueError(f"expected scales rising in (0, 1], e.g. 0.25,0.5,1, got {cfg.scales}")
    if cfg.iterations < 1 or cfg.coarse_iterations < 0:
        raise ValueError(f"expected iterations >= 1 and coarse iterations >= 0, got {cfg.iterations} "
                         f"and {cfg.coarse_iterations}")
    if not cfg.style_layers:
        raise ValueError("expected at least one style layer")
    if any(j < 1 for j in cfg.temporal_frames):
        raise ValueError(f"expected temporal frames >= 1 (1 = the previous frame), got {cfg.temporal_frames}")


def use_bf16(cfg: GatysConfig, device: torch.device) -> bool:
    from .device import fast_bf16
    return cfg.bf16 if cfg.bf16 is not None else fast_bf16(device)


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Area-like (antialiased bilinear) when shrinking, bilinear when enlarging. (N, C, height, width)."""
    if x.shape[-2:] == (height, width):
        return x
    shrink = height * width < x.shape[-2] * x.shape[-1]
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink)


def stage_sizes(height: int, width: int, scales) -> list[tuple[int, int]]:
    """(h, w) of each stage, coarse to fine; stages under MIN_SIDE_PX are dropped, the last is full size."""
    sizes = []
    for s in scales:
        h, w = max(1, round(height * s)), max(1, round(width * s))
        if min(h, w) >= MIN_SIDE_PX and (h, w) not in sizes:
            sizes.append((h, w))
    if not sizes or sizes[-1] != (height, width):
        sizes.append((height, width))
    return sizes


# ---- losses in the layout VGG runs in ------------------------------------------------------------

# ---- colour -------------------------------------------------------------------------------------

def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y of YCbCr repeated in 3 channels: the grey image VGG sees in luminance-only transfer."""
    return rgb_to_ycbcr(x)[:, :1].expand(-1, 3, -1, -1)  # (N, 3, H, W)


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance with the content's mean and standard deviation (Gatys et al. 2016, sec. 3)."""
    ys, yc = rgb_to_ycbcr(style)[:, :1], rgb_to_ycbcr(content)[:, :1]
    y = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1)


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Linear colour transfer: the style's pixels get the content's colour mean and covariance,
    x' = A (x - mu_s) + mu_c with A = Sigma_c^1/2 Sigma_s^-1/2 (Gatys et al. 2016, sec. 2, after
    Hertzmann's Image Analogies)."""
    def stats(x):
        p = x[0].reshape(3, -1).double()  # (3, HW)
        mu = p.mean(1, keepdim=True)
        cov = torch.cov(p) + 1e-5 * torch.eye(3, dtype=p.dtype)
        return p, mu, cov

    def sqrtm(c, power):
        vals, vecs = torch.linalg.eigh(c)
        return vecs @ torch.diag(vals.clamp_min(1e-8) ** power) @ vecs.T

    ps, mu_s, cov_s = stats(style)
    _, mu_c, cov_c = stats(content)
    a = sqrtm(cov_c, 0.5) @ sqrtm(cov_s, -0.5)
    out = a @ (ps - mu_s) + mu_c  # (3, HW)
    return out.float().reshape(style.shape).clamp(0, 1)


# ---- init ---------------------------------------------------------------------------------------

def network_init(content: torch.Tensor, weights_path: str, style: str) -> torch.Tensor:
    """A livestyle model's output for `content` as a warm start: (1, 3, H, W) in [0, 1]."""
    from .modelfile import load_stylenet, parse_mix

    model = load_stylenet(weights_path, device=content.device)
    mix = parse_mix(style, model)
    with torch.inference_mode():
        return model.net(content, torch.from_numpy(mix).to(content.device)).float().clamp(0, 1)


def noise_like(x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(x.shape, generator=g).to(x.device)


# ---- the optimiser -------------------------------------------------------------------------------

class GatysOptimizer:
    """Holds the VGG network and the style targets, so that several images (video frames) of one size
    share them: `GatysOptimizer(styles, cfg).run(content)`. Style Grams are cached per stage size.

    `styles` are float (1, 3, H, W) images in [0, 1] at any size (resized per stage to `style_scale`
    x the stage's longest side); `weights` blend them (normalised to sum 1). Blending the target
    Grams equals summing the weighted per-style losses up to a constant, so one target per layer."""

    def __init__(self, styles: list[torch.Tensor], cfg: GatysConfig, *, weights: list[float] | None = None,
                 vgg: VGGFeatures | None = None):
        check_config(cfg)
        if not styles:
            raise ValueError("expected at least one style image")
        for s in styles:
            if not (s.dim() == 4 and s.shape[:2] == (1, 3)):
                raise ValueError(f"expected style images float (1, 3, H, W), got {tuple(s.shape)}")
        weights = [1.0] * len(styles) if weights is None else [float(w) for w in weights]
        if len(weights) != len(styles) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"expected {len(styles)} style weights >= 0 with a positive sum, got {weights}")
        self.cfg = cfg
        from .device import resolve_device
        self.device = resolve_device(cfg.device)
        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        self.weights = [w / sum(weights) for w in weights]
        self.styles = [s.to(self.device, torch.float32) for s in styles]
        self.layers = tuple(dict.fromkeys([*cfg.style_layers, cfg.content_layer]))
        if vgg is None:
            vgg = load_vgg(self.layers, path=cfg.vgg, convention=cfg.vgg_convention)
        self.bf16 = use_bf16(cfg, self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.vgg = vgg.to(self.device, memory_format=self.memory_format)
        self._vgg_run = self.vgg
        if cfg.compile:
            self._vgg_run = torch.compile(self.vgg, dynamic=False)
        self._grams: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
        self.color_reference: torch.Tensor | None = None  # what the styles' colours are matched to

    def features(self, x: torch.Tensor, layers: tuple[str, ...] | None = None):
        """VGG features of float (N, 3, H, W) in [0, 1], in the fast layout and precision."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()
        with autocast:
            x = x.contiguous(memory_format=self.memory_format)
            return (self._vgg_run if layers is None else self.vgg)(x, layers)

    def style_grams(self, height: int, width: int) -> dict[str, torch.Tensor]:
        """Blended target Gram per style layer for an output of (height, width), computed once."""
        key = (height, width)
        if key not in self._grams:
            side = max(1, round(self.cfg.style_scale * max(height, width)))
            layers = tuple(self.cfg.style_layers)
            total = {}
            with torch.no_grad():
                for style, w in zip(self.styles, self.weights):
                    sh, sw = style.shape[-2:]
                    k = side / max(sh, sw)
                    s = resize(style, max(1, round(sh * k)), max(1, round(sw * k)))
                    if self.cfg.preserve_color == "luminance":
                        s = match_luminance(s, self.color_reference) if self.color_reference is not None else luminance(s)
                    elif self.cfg.preserve_color == "histogram" and self.color_reference is not None:
                        s = match_histogram(s, self.color_reference)
                    feats = self.features(s, layers)
                    for name in layers:
                        g = gram_matrix(getattr(feats, name))  # (1, C, C) fp32
                        total[name] = total.get(name, 0) + w * g
            self._grams[key] = total
            log.debug("style Grams for %dx%d (style side %d px)", width, height, side)
        return self._grams[key]

    def run(self, content: torch.Tensor, *, init: torch.Tensor | None = None, scales=None,
            iterations: int | None = None, temporal: list[tuple[torch.Tensor, torch.Tensor]] = (),
            progress: Progress | None = None) -> torch.Tensor:
        """Optimise an image of content's size. `init` replaces cfg.init (e.g. a warped previous frame);
        `temporal` is a list of (target (1, 3, H, W), mask (1, 1, H, W)) at content's size, each adding
        temporal_weight x mean(mask x (x - target)**2) (Ruder et al. eq. 7, the warp done beforehand)."""
        cfg = self.cfg
        if not (content.dim() == 4 and content.shape[:2] == (1, 3)):
            raise ValueError(f"expected content float (1, 3, H, W) in [0, 1], got {tuple(content.shape)}")
        content = content.to(self.device, torch.float32)
        height, width = content.shape[-2:]
        if cfg.preserve_color and self.color_reference is None:
            # fixed at the first image, so that the targets (and a video's colours) stay put
            self.color_reference = content
        rgb_content = content
        if cfg.preserve_color == "luminance":
            content = luminance(content)
            init = luminance(init) if init is not None else None
            temporal = [(luminance(t), m) for t, m in temporal]
        if init is None:
            init = {"content": lambda: content, "noise": lambda: noise_like(content, cfg.seed),
                    "net": lambda: network_init(rgb_content, cfg.init_weights, cfg.init_style)}[cfg.init]()
            if cfg.preserve_color == "luminance" and cfg.init == "net":
                init = luminance(init)
        sizes = stage_sizes(height, width, cfg.scales if scales is None else scales)
        counts = [cfg.coarse_iterations] * (len(sizes) - 1) + [iterations or cfg.iterations]
        total, done = sum(counts), 0
        x = init.detach().to(self.device, torch.float32)
        for stage, ((h, w), n_iter) in enumerate(zip(sizes, counts)):
            x = resize(x, h, w).clamp(0, 1)
            if progress:
                progress({"event": "stage", "stage": stage, "stages": len(sizes), "width": w, "height": h,
                          "iterations": n_iter})
            if n_iter == 0:
                continue
            stage_temporal = [(resize(t, h, w), resize(m, h, w)) for t, m in temporal]
            x = self._optimize_stage(x, resize(content, h, w), self.style_grams(h, w), stage_temporal, n_iter,
                                     stage, len(sizes), done, total, progress)
            done += n_iter
        x = x.clamp(0, 1)
        if cfg.preserve_color == "luminance":
            x = transfer_luminance(rgb_content, x)
        return x.detach()

    def _optimize_stage(self, x, content, grams, temporal, n_iter, stage, stages, done, total, progress):
        cfg = self.cfg
        with torch.no_grad():
            content_target = getattr(self.features(content, (cfg.content_layer,)), cfg.content_layer)
            content_target = content_target.float()  # once per stage, never per iteration
        x = x.detach().clone().requires_grad_(True)
        lbfgs = cfg.optimizer == "lbfgs"

        def make_optimizer():
            if lbfgs:
                # max_iter=1 per step: one loss + gradient evaluation per step, the history kept in the
                # optimiser's state across steps, so progress can be reported per iteration
                return torch.optim.LBFGS([x], lr=cfg.lr or 1.0, max_iter=1, history_size=100)
            return torch.optim.Adam([x], lr=cfg.lr or 0.02)

        opt = make_optimizer()
        parts = {}

        def closure():
            opt.zero_grad(set_to_none=True)
            feats = self.features(x)
            c = cfg.content_weight * content_loss(getattr(feats, cfg.content_layer), content_target)
            s = cfg.style_weight * style_loss(feats, grams, cfg.style_layers)
            t = cfg.tv_weight * tv_loss(x) if cfg.tv_weight else x.new_zeros(())
            loss = c + s + t
            tl = x.new_zeros(())
            for target, mask in temporal:
                tl = tl + cfg.temporal_weight * (mask * (x - target) ** 2).mean()
            loss = loss + tl
            loss.backward()
            x.grad = x.grad.contiguous()  # channels_last comes back from VGG; L-BFGS flattens with view()
            parts.update(loss=loss.detach(), content=c.detach(), style=s.detach(), tv=t.detach(),
                         temporal=tl.detach())
            return loss

        t0 = time.perf_counter()
        for i in range(1, n_iter + 1):
            # L-BFGS without a line search, as jcjohnson/neural-style and the PyTorch tutorial run it. In
            # fp32 at 512 px its first steps overshoot (the loss x300 around iteration 10, back by ~30);
            # undoing such a step and restarting the history was tried and made it worse (the fresh
            # history overshoots again), and strong Wolfe costs extra evaluations per iteration
            opt.step(closure)
            with torch.no_grad():
                # keep pixels in [0, 1] after every step, as the PyTorch tutorial does in its closure:
                # L-BFGS does not know, but unclamped runs ended 2x higher in loss after clipping at
                # the end (tools/experiments/bench_gatys.py, 128 px, 20 iterations)
                x.clamp_(0, 1)
            if progress:
                event = {"event": "iteration", "stage": stage, "stages": stages, "iteration": i,
                         "iterations": n_iter, "done": done + i, "total": total,
                         "seconds": time.perf_counter() - t0, **{k: float(v) for k, v in parts.items()}}
                progress(event)
                if cfg.save_every and (done + i) % cfg.save_every == 0:
                    progress({**event, "event": "snapshot", "image": x.detach().clamp(0, 1)})
        log.info("stage %d/%d %dx%d: %d iterations in %.1f s, loss %.4g (content %.4g, style %.4g, tv %.4g, "
                 "temporal %.4g)", stage + 1, stages, x.shape[-1], x.shape[-2], n_iter,
                 time.perf_counter() - t0, *(float(parts[k]) for k in ("loss", "content", "style", "tv", "temporal")))
        return x.detach()


def optimize(content: torch.Tensor, styles: list[torch.Tensor], cfg: GatysConfig, *,
             weights: list[float] | None = None, init: torch.Tensor | None = None,
             progress: Progress | None = None, vgg: VGGFeatures | None = None) -> torch.Tensor:
    """Gatys et al. style transfer of `content` (float (1, 3, H, W) in [0, 1], at the output size) with
    `styles` blended by `weights`. Returns float (1, 3, H, W) in [0, 1]. `vgg` overrides the loss
    network (tests pass a random one; otherwise vgg.py's loader, never random weights)."""
    return GatysOptimizer(styles, cfg, weights=weights, vgg=vgg).run(content, init=init, progress=progress)

"""StyleNet: a feed-forward image transformation network whose normalization layers are
conditional instance normalization (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation
for Artistic Style"): one gamma and beta per style per channel.

A style mix is a convex combination of the styles; it mixes the gamma/beta tables, so a blend costs
one small matrix product per call and nothing per pixel. The layout starts from Johnson et al. 2016
(pytorch/examples fast_neural_style `transformer_net.py`); widths and depth come from NetConfig.

Input and output are float (N, 3, H, W) in [0, 1], any H and W: the net pads to a multiple of its
total stride by reflection and crops back, so the output is exactly the input size and not shifted.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import NetConfig


class CondInstanceNorm(nn.Module):
    """Instance norm with per-style affine parameters, selected or mixed by a weight vector. With
    `small_rows`, a second table (gamma_small, beta_small) holds each style's rows for a smaller copy of the
    frame (NetConfig.small_rows); a style vector twice as wide weighs both tables (StyleNet.forward)."""

    def __init__(self, channels: int, n_styles: int, small_rows: bool = False):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))
        if small_rows:
            self.gamma_small = nn.Parameter(torch.ones(n_styles, channels))
            self.beta_small = nn.Parameter(torch.zeros(n_styles, channels))
        self.eps = 1e-5

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # style: (N, n_styles) convex weights, one row per sample; (N, 2 n_styles): the full-size rows' weights
        # then the small rows'. The tables are mixed in float32 whatever the activations' dtype (bf16/fp16)
        g, b = self.gamma, self.beta
        if style.shape[1] != g.shape[0]:
            g, b = torch.cat([g, self.gamma_small]), torch.cat([b, self.beta_small])
        gamma = (style.float() @ g.float()).to(x.dtype)[:, :, None, None]  # (N, C, 1, 1)
        beta = (style.float() @ b.float()).to(x.dtype)[:, :, None, None]  # (N, C, 1, 1)
        x = F.instance_norm(x, eps=self.eps)
        return x * gamma + beta


class ConvLayer(nn.Module):
    """Padded conv; optional CIN and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, cfg: NetConfig, *, norm: bool = True,
                 relu: bool = True, groups: int = 1):
        super().__init__()
        # reflection is a separate pass over the tensor; zeros are the conv's own padding (no extra pass)
        self.pad = kernel // 2 if cfg.padding == "reflect" else 0
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0 if self.pad else kernel // 2, groups=groups)
        self.blur = stride > 1 and cfg.antialias  # low-pass before the stride drops pixels (Zhang 2019)
        self.norm = CondInstanceNorm(cout, cfg.n_styles, cfg.small_rows) if norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.blur:
            c = x.shape[1]
            k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
            k = (k[:, None] * k[None, :] / 16).expand(c, 1, 3, 3)  # (C, 1, 3, 3) binomial, depthwise
            x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c)
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x, style)
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    """Two convs with CIN and a skip (He et al. 2016, as used by Johnson et al.). With
    `cfg.separable`, each dense 3x3 becomes depthwise 3x3 + pointwise 1x1 (MobileNet)."""

    def __init__(self, channels: int, cfg: NetConfig):
        super().__init__()
        k = cfg.inner_kernel
        if cfg.separable:
            self.layers = nn.ModuleList([
                ConvLayer(channels, channels, k, 1, cfg, norm=False, relu=False, groups=channels),
                ConvLayer(channels, channels, 1, 1, cfg),
                ConvLayer(channels, channels, k, 1, cfg, norm=False, relu=False, groups=channels),
                ConvLayer(channels, channels, 1, 1, cfg, relu=False),
            ])
        else:
            self.layers = nn.ModuleList([
                ConvLayer(channels, channels, k, 1, cfg),
                ConvLayer(channels, channels, k, 1, cfg, relu=False),
            ])

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        y = x
        for layer in self.layers:
            y = layer(y, style)
        return x + y


class UpsampleConv(nn.Module):
    """x2 upsampling then conv. Nearest-neighbour + conv avoids the checkerboard artefacts of
    transposed convs (ref: http://distill.pub/2016/deconv-checkerboard/)."""

    def __init__(self, cin: int, cout: int, cfg: NetConfig):
        super().__init__()
        self.mode = cfg.upsample
        if self.mode == "transpose":
            self.up = nn.ConvTranspose2d(cin, cout, 3, 2, padding=1, output_padding=1)
            self.norm = CondInstanceNorm(cout, cfg.n_styles, cfg.small_rows)
        else:
            self.conv = ConvLayer(cin, cout, cfg.inner_kernel, 1, cfg)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.mode == "transpose":
            return F.relu(self.norm(self.up(x), style))
        if self.mode == "bilinear":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x, style)


class StyleNet(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        assert cfg.n_styles >= 1 and cfg.n_downsample >= 0 and cfg.upsample in ("nearest", "bilinear", "transpose")
        assert cfg.head_stride in (1, 2)
        self.cfg = cfg
        # channels at each resolution level: doubling per downsampling, capped at max_width
        ch = [cfg.base_width * cfg.width_factor**i for i in range(cfg.n_downsample + 1)]
        if cfg.max_width:
            ch = [min(c, cfg.max_width) for c in ch]
        assert cfg.shuffle >= 1
        io_ch = 3 * cfg.shuffle**2  # channels in and out: the frame's pixels folded into depth by `shuffle`
        self.head = ConvLayer(io_ch, ch[0], cfg.outer_kernel, cfg.head_stride, cfg)
        self.down = nn.ModuleList()
        for i in range(cfg.n_downsample):
            self.down.append(ConvLayer(ch[i], ch[i + 1], cfg.inner_kernel, 2, cfg))
        self.res = nn.ModuleList([ResidualBlock(ch[-1], cfg) for _ in range(cfg.n_res_blocks)])
        self.up = nn.ModuleList()
        for i in reversed(range(cfg.n_downsample)):
            self.up.append(UpsampleConv(ch[i + 1], ch[i], cfg))
        self.tail = ConvLayer(ch[0], io_ch, cfg.outer_kernel, 1, cfg, norm=False, relu=False)

    @property
    def n_styles(self) -> int:
        return self.cfg.n_styles

    def style_vector(self, style: torch.Tensor | int | None, batch: int) -> torch.Tensor:
        """(N, n_styles) float weights from a style index, a (n_styles,) mix or a (N, n_styles) batch."""
        n = self.cfg.n_styles
        device = self.head.conv.weight.device
        if style is None:
            assert n == 1, "a model with several styles needs a style index or mix"
            style = 0
        if isinstance(style, int):
            assert 0 <= style < n, f"style index {style} outside 0..{n - 1}"
            style = F.one_hot(torch.tensor(style), n)
        style = torch.as_tensor(style, dtype=torch.float32, device=device)
        if style.dim() == 1:
            style = style.expand(batch, n)
        assert style.shape == (batch, n), f"style weights {tuple(style.shape)} != ({batch}, {n})"
        return style

    def forward(self, x: torch.Tensor, style: torch.Tensor | int | None = None,
                small: torch.Tensor | float | None = None) -> torch.Tensor:
        """`small`: how much of the small rows to take (config.small_weight of the copy's scale), a float or
        (N,) weights in [0, 1]; ignored by a network without them (NetConfig.small_rows)."""
        n, _, h, w = x.shape
        s = self.style_vector(style, n)
        if small is not None and self.cfg.small_rows:  # both tables' weights: (1 - t) full rows, t small rows
            t = torch.as_tensor(small, dtype=torch.float32, device=s.device).reshape(-1, 1).expand(n, 1)
            s = torch.cat([s * (1.0 - t), s * t], dim=1)  # (N, 2 n_styles)
        # pad bottom/right only (cropping the same sides keeps alignment): first, by replication, up to the
        # smallest size every padded conv takes (>= 2 at the lowest resolution; only tiny inputs), then by
        # reflection to a multiple of the total stride. While exporting, both pads are always in the graph
        # (a zero pad is a no-op), so torch.export and ONNX keep H and W dynamic (livestyle.export);
        # otherwise a pad of nothing is skipped (one copy of the frame less).
        f = self.cfg.shuffle
        stride = f * self.cfg.head_stride * 2**self.cfg.n_downsample
        min_side = -(-max(f * self.cfg.outer_kernel, 2 * stride, self.cfg.margin + 1) // stride) * stride
        eh, ew = torch.sym_max(min_side - h, 0), torch.sym_max(min_side - w, 0)
        exporting = torch.compiler.is_exporting()
        if exporting or eh or ew:
            x = F.pad(x, (0, ew, 0, eh), mode="replicate")
        m = self.cfg.margin  # the frame reflected around it (every side >= min_side > m by now), cropped after
        if m:
            x = F.pad(x, (m, m, m, m), mode="reflect")
        ph, pw = (-(h + eh + 2 * m)) % stride, (-(w + ew + 2 * m)) % stride
        if exporting or ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        if f > 1:
            x = F.pixel_unshuffle(x, f)
        y = self.head(x, s)
        skips = []
        for layer in self.down:
            skips.append(y)
            y = layer(y, s)
        for block in self.res:
            y = block(y, s)
        for layer in self.up:
            y = layer(y, s)
            if self.cfg.skips:  # U-Net: the same level of the way down, added (Ronneberger et al. 2015)
                y = y + skips.pop()
        if self.cfg.head_stride > 1:  # back to full size smoothly: the tail's conv makes the detail
            y = F.interpolate(y, scale_factor=self.cfg.head_stride, mode="bilinear", align_corners=False)
        y = self.tail(y, s)
        if f > 1:
            y = F.pixel_shuffle(y, f)
        # sigmoid keeps the output in [0, 1] without clipping gradients (Dumoulin et al. use sigmoid too)
        return torch.sigmoid(y[:, :, m:m + h, m:m + w].float())


# The named architectures: "fast" is the shipped one (weights/README.md says how it was chosen), "johnson"
# the reference `livestyle bench` times it against, "faster" a narrower candidate.
ARCHS = {
    "johnson": NetConfig(),  # Johnson et al. 2016 (the NetConfig defaults): the reference of `livestyle bench`
    "fast": NetConfig(base_width=16, max_width=64, n_downsample=3, outer_kernel=5),
    "faster": NetConfig(base_width=8, max_width=64, n_downsample=3, outer_kernel=5),
    # the webcam's network (livestyle.distill learns it from the shipped one): no conv at full resolution
    # (4x4 space-to-depth in, depth-to-space out) and separable residual blocks; 1.8 GFLOP at 640x360
    "live": NetConfig(base_width=32, max_width=64, n_downsample=1, outer_kernel=3, shuffle=4, separable=True),
    # one network for video and webcam (weights/README.md, "How the network was chosen"): the first conv
    # halves the frame, 8 channels at half size, 32 at a quarter, 64 in three dense residual blocks at an
    # eighth; bilinear x2 + conv on the way up, U-Net skips, and one 8 -> 3 conv at full size: no 2x2 copies
    # and no space-to-depth blocks for a grid to lock to. Zero padding (the convs' own): ONNX Runtime runs it
    # 27.3 against 33.0 ms at 640x360 (reflection pads leave its blocked layout for a copy each); the shipped
    # weights learned with reflection for 7,500 steps and with zeros for the last 1,000 (weights/README.md);
    # an 8-px reflected margin keeps the zeros' edge effect outside the picture
    "one": NetConfig(base_width=8, width_factor=4, max_width=64, n_downsample=2, n_res_blocks=3, outer_kernel=3,
                     upsample="bilinear", head_stride=2, skips=True, padding="zeros", margin=8),
}


def parse_arch(spec: str) -> NetConfig:
    """A preset name ('fast', 'johnson', ...) or 'key=value,...' over NetConfig fields, optionally
    starting from a preset: 'fast,n_res_blocks=3'."""
    import dataclasses
    fields = {f.name: f.type for f in dataclasses.fields(NetConfig)}
    base = NetConfig()
    overrides = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if "=" not in part:
            if part not in ARCHS:
                raise ValueError(f"unknown architecture {part!r}; expected one of {', '.join(ARCHS)} "
                                 "or key=value over NetConfig fields")
            base = ARCHS[part]
            continue
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in fields:
            raise ValueError(f"unknown NetConfig field {key!r} in --arch; expected one of {', '.join(fields)}")
        current = getattr(NetConfig(), key)
        try:
            if isinstance(current, bool):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError
                overrides[key] = value.lower() in ("1", "true", "yes")
            elif isinstance(current, int):
                overrides[key] = int(value)
            else:
                overrides[key] = value
        except ValueError:
            raise ValueError(f"--arch {key}={value!r}: expected {type(current).__name__}") from None
    return NetConfig(**{**base.__dict__, **overrides})


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def conv_gflops(cfg: NetConfig, width: int, height: int) -> float:
    """Multiply-adds x2 of the convolutions for one frame: what the bench table reports."""
    net = StyleNet(NetConfig(**{**cfg.__dict__, "n_styles": 1}))
    total = 0
    hooks = []

    def hook(module, inp, out):
        nonlocal total
        k = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        total += 2 * out.numel() * k

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        net(torch.zeros(1, 3, height, width))
    for h in hooks:
        h.remove()
    return total / 1e9

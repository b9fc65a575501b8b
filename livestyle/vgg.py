"""VGG loss network with named features: `vgg(x).relu2_2`.

Input is always our float RGB (N, 3, H, W) in [0, 1]. Each weight set keeps its own input convention,
and the conversion happens here and nowhere else:
  "torchvision"  RGB in 0..1, minus ImageNet mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225]
                 (torchvision's VGG16_Weights / VGG19_Weights)
  "caffe"        BGR in 0..255 minus the mean [103.939, 116.779, 123.68] (B, G, R), no std
                 (the original Simonyan & Zisserman weights, used by Johnson et al.; ../shared/data/vgg)

Weights come from a local file (`--vgg PATH` or $LIVESTYLE_VGG: a `torch.save`d dict in torchvision's
`vgg16().features` key layout, `features.0.weight` ... or `0.weight` ...) or from torchvision's published
ImageNet weights, which torchvision downloads once into its cache. Without either we raise and say
where to get them: a random VGG would train a network that learns nothing useful, so it is only ever
built on request (`VGGFeatures(..., random_weights=True)`, for unit tests).

Only the layers up to the deepest one requested are built and run (fast_neural_style's vgg.py stops
at relu4_3 too).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from collections import namedtuple
from dataclasses import dataclass

from pathlib import Path

import torch
import torch.nn as nn

log = logging.getLogger(__name__)

# torchvision's `make_layers` configurations ("M" = 2x2 max pool)
_ARCHS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}
CONVENTIONS = ("caffe", "torchvision")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
ENV_VAR = "LIVESTYLE_VGG"
TORCHVISION_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}  # torchvision's ImageNet weights


def torchvision_cache(arch: str = "vgg16") -> Path:
    """Where torchvision keeps (and looks for) its published weights file for `arch`."""
    import torch.hub
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILES[arch]


def where_to_get(arch: str = "vgg16") -> str:
    return (f"put torchvision's {TORCHVISION_FILES[arch]} in {torchvision_cache(arch).parent} (torchvision downloads "
            f"it there when online), or pass --vgg PATH / set {ENV_VAR}=PATH to a VGG16 or VGG19 `features` "
            "state dict in torchvision's key layout (a .pth file; caffe or torchvision input convention)")


WHERE_TO_GET = where_to_get()


def check_available(path: str | None = None, arch: str = "vgg16") -> None:
    """Before any work that needs VGG: a local file that exists, or torchvision's weights cached, or a
    download that works (tried now, quietly). One line naming every way to provide it when none does."""
    path = path or os.environ.get(ENV_VAR) or None
    if path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"VGG weights not found: {path}; {where_to_get(arch)}")
        return
    if torchvision_cache(arch).is_file():
        return
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            # torch.hub's "Downloading ..." line (stdout) and progress bar (stderr)
            _torchvision_weights(arch)
    except Exception as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise RuntimeError(f"no VGG16 weights for the perceptual loss (offline? {reason}): {where_to_get(arch)}") from None


def layer_names(arch: str) -> list[str]:
    """Name of every module of `features` in order: conv1_1, relu1_1, ..., pool1, conv2_1, ..."""
    names, block, i = [], 1, 1
    for v in _ARCHS[arch]:
        if v == "M":
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            i += 1
    return names


@dataclass
class VggSource:
    """Where the weights came from, recorded with every trained model."""

    arch: str  # "vgg16" | "vgg19"
    convention: str  # "caffe" | "torchvision"
    origin: str  # file path, or "torchvision:VGG16_Weights.IMAGENET1K_V1", or "random"


class VGGFeatures(nn.Module):
    """Frozen VGG `features` prefix. `vgg(x)` returns a namedtuple of the layers given here;
    `vgg(x, ("relu2_2",))` computes just enough for those (e.g. the content target)."""

    def __init__(self, layers: tuple[str, ...] | list[str], *, arch: str = "vgg16", convention: str = "caffe",
                 state_dict: dict[str, torch.Tensor] | None = None, random_weights: bool = False,
                 origin: str = ""):
        super().__init__()
        if arch not in _ARCHS:
            raise ValueError(f"expected VGG arch vgg16 or vgg19, got {arch!r}")
        if convention not in CONVENTIONS:
            raise ValueError(f"expected VGG convention caffe or torchvision, got {convention!r}")
        if state_dict is None and not random_weights:
            raise ValueError(f"VGGFeatures needs weights: {WHERE_TO_GET}")
        names = layer_names(arch)
        unknown = [n for n in layers if n not in names]
        if unknown or not layers:
            raise ValueError(f"unknown VGG layers {unknown} for {arch}; expected names like relu2_2 "
                             f"(available: {', '.join(n for n in names if n.startswith('relu'))})")
        self.layers = tuple(layers)
        self.names = names[:max(names.index(n) for n in layers) + 1]
        modules, cin = [], 3
        for v in _ARCHS[arch]:
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*modules[:len(self.names)])
        if state_dict is not None:
            self._load(state_dict, origin)
        self.source = VggSource(arch, convention, "random" if state_dict is None else origin)
        if convention == "caffe":  # RGB 0..1 -> BGR 0..255 - mean: y = x[bgr] * 255 - mean
            scale, shift, flip = torch.full((3,), 255.0), -torch.tensor(_CAFFE_MEAN_BGR), True
        else:  # (x - mean) / std
            std, mean = torch.tensor(_IMAGENET_STD), torch.tensor(_IMAGENET_MEAN)
            scale, shift, flip = 1 / std, -mean / std, False
        self.flip = flip
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()
        self._outputs = {}

    def _load(self, state: dict[str, torch.Tensor], origin: str) -> None:
        state = {k.removeprefix("features."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
        own = self.features.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"{origin or 'VGG weights'}: expected a VGG `features` state dict in torchvision's key "
                             f"layout (features.0.weight, ...), missing {missing[:3]} (has {sorted(state)[:3]})")
        for k, v in own.items():
            if state[k].shape != v.shape:
                raise ValueError(f"{origin or 'VGG weights'}: {k} has shape {tuple(state[k].shape)}, "
                                 f"expected {tuple(v.shape)}")
        self.features.load_state_dict({k: state[k].float() for k in own})

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always frozen (no dropout/bn here, but keep it honest)

    def outputs_type(self, layers: tuple[str, ...]):
        if layers not in self._outputs:
            self._outputs[layers] = namedtuple("VggOutputs", layers)
        return self._outputs[layers]

    def forward(self, x: torch.Tensor, layers: tuple[str, ...] | None = None):
        layers = self.layers if layers is None else tuple(layers)
        assert x.dim() == 4 and x.shape[1] == 3, f"expected (N, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}"
        if self.flip:
            x = x.flip(1)  # RGB -> BGR
        h = x * self.scale + self.shift
        wanted, out = set(layers), {}
        last = max(self.names.index(n) for n in layers)
        for name, module in zip(self.names[:last + 1], self.features):
            h = module(h)
            if name in wanted:
                # the ReLU after a conv runs in place: keep a copy of a requested pre-activation
                out[name] = h.clone() if name.startswith("conv") else h
        return self.outputs_type(layers)(**out)


def _torchvision_weights(arch: str) -> dict[str, torch.Tensor]:
    """torchvision's published ImageNet weights, the normal torchvision way (cached download)."""
    import torchvision.models as tvm

    weights = {"vgg16": tvm.VGG16_Weights.IMAGENET1K_V1, "vgg19": tvm.VGG19_Weights.IMAGENET1K_V1}[arch]
    model = getattr(tvm, arch)(weights=weights)
    return model.features.state_dict()


def _guess_convention(path: str) -> str | None:
    name = os.path.basename(path).lower()
    if "caffe" in name:
        return "caffe"
    if "torchvision" in name or "pytorch" in name:
        return "torchvision"
    return None


def load_vgg(layers: tuple[str, ...] | list[str], *, path: str | None = None, convention: str | None = None,
             arch: str | None = None) -> VGGFeatures:
    """The loss network: from `path` (or $LIVESTYLE_VGG) when given, else torchvision's published weights.

    A local file's convention is `convention` when given, else read from the file name ("caffe",
    "torchvision"/"pytorch"), else an error asking for --vgg-convention. Its arch (vgg16/vgg19) is
    read from the number of conv layers."""
    given_by = "--vgg" if path else ENV_VAR
    path = path or os.environ.get(ENV_VAR) or None
    if path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"VGG weights not found: {path} (from {given_by}); {WHERE_TO_GET}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"{path}: not a VGG weights file readable with torch.load(weights_only=True) "
                             f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        if not isinstance(state, dict):
            raise ValueError(f"{path}: expected a dict of tensors (a VGG features state dict), "
                             f"got {type(state).__name__}")
        n_convs = sum(1 for k in state if str(k).endswith(".weight") and getattr(state[k], "dim", lambda: 0)() == 4)
        arch = arch or {13: "vgg16", 16: "vgg19"}.get(n_convs)
        if arch is None:
            raise ValueError(f"{path}: expected the 13 conv layers of VGG16 or 16 of VGG19, found {n_convs}")
        convention = convention or _guess_convention(path)
        if convention is None:
            raise ValueError(f"{path}: cannot tell the input convention of these VGG weights from the file name; "
                             "pass --vgg-convention caffe (BGR 0..255 minus mean) or torchvision "
                             "(RGB, ImageNet mean/std)")
        log.info("VGG: %s (%s, %s convention)", path, arch, convention)
        return VGGFeatures(layers, arch=arch, convention=convention, state_dict=state, origin=os.path.abspath(path))
    arch = arch or "vgg16"
    if convention not in (None, "torchvision"):
        raise ValueError(f"--vgg-convention {convention} needs --vgg PATH; "
                         "torchvision's own weights are torchvision convention")
    try:
        state = _torchvision_weights(arch)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RuntimeError(f"no VGG weights for the perceptual loss: no --vgg/{ENV_VAR} file, and torchvision's "
                           f"{arch.upper()}_Weights could not be loaded ({reason}); {WHERE_TO_GET}") from None
    name = f"torchvision:{arch.upper()}_Weights.IMAGENET1K_V1"
    log.info("VGG: %s", name)
    return VGGFeatures(layers, arch=arch, convention="torchvision", state_dict=state, origin=name)

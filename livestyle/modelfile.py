"""The model file: one safetensors file holds the StyleNet weights and, in its JSON metadata, the
NetConfig, the style names with their sources, preset mixes and how it was trained.

safetensors (not torch.save/pickle) so that loading a file from a stranger can never run code: the
format is a JSON header plus raw tensor bytes, and the loader refuses anything else.

Metadata keys (all values are JSON strings):
  format    "livestyle.stylenet/1"
  config    NetConfig fields
  styles    [{"name": "monet_impression_sunrise", "source": "Claude Monet, Impression, Sunrise, 1872"}, ...]
  presets   {"monet": {"monet_impression_sunrise": 0.34, ...}, ...}   short names -> mixes
  training  free-form record of how it was trained (command, steps, hours, loss weights, ...)
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_output
from .config import NetConfig

if TYPE_CHECKING:  # torch is an extra: without it a model file loads as metadata for ONNX Runtime (load_model)
    import torch

    from .model import StyleNet

FORMAT = "livestyle.stylenet/1"
DEFAULT_MODEL_NAME = "livestyle.safetensors"
ENV_WEIGHTS_DIR = "LIVESTYLE_WEIGHTS_DIR"


def shipped_weights_dir() -> Path:
    """The folder of the shipped model: weights/ at the top of a source checkout (an editable install
    reads it in place), or the package's `livestyle/shipped/` in a wheel, where pyproject.toml maps it."""
    checkout = Path(__file__).resolve().parent.parent / "weights"
    if (checkout / DEFAULT_MODEL_NAME).is_file():
        return checkout
    return Path(__file__).resolve().parent / "shipped"


def user_weights_dir() -> Path:
    """Where the user's own models live (`livestyle add-style` writes there): $LIVESTYLE_WEIGHTS_DIR,
    else the platform's user data folder (~/.local/share/livestyle, ~/Library/Application Support/
    livestyle, %LOCALAPPDATA%\\livestyle)."""
    if os.environ.get(ENV_WEIGHTS_DIR):
        return Path(os.environ[ENV_WEIGHTS_DIR])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "livestyle"


@dataclass
class StyleInfo:
    name: str  # identifier used on the command line: lowercase, no spaces
    source: str = ""  # one line: artist, title, year (and where the picture came from)


@dataclass
class ModelFile:
    """A loaded model file: the net plus what the metadata says about it. `net` is None where torch is not
    installed (load_model): ONNX Runtime then runs the export beside the file, checked by `fingerprint`."""

    net: StyleNet | None
    styles: list[StyleInfo]
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    path: str = ""
    fingerprint: str = ""  # ortnet.weights_fingerprint of the file's weights, when loaded without torch

    @property
    def style_names(self) -> list[str]:
        return [s.name for s in self.styles]

    @property
    def n_styles(self) -> int:
        return len(self.styles)


def weights_dirs() -> list[Path]:
    """Where models are looked for: the user's folder first, then the shipped model's."""
    return [user_weights_dir(), shipped_weights_dir()]


def find_models() -> list[Path]:
    """Every *.safetensors model in the weights folders, in a stable order."""
    found = []
    for d in weights_dirs():
        if d.is_dir():
            found.extend(sorted(d.glob("*.safetensors")))
    return found


def default_model_path() -> Path:
    """The model used when --weights is not given. Raises with a plain explanation when no trained
    model exists yet: a random-weight network is never presented as a style."""
    for d in weights_dirs():
        p = d / DEFAULT_MODEL_NAME
        if p.is_file():
            return p
    searched = ", ".join(str(d) for d in weights_dirs())
    raise FileNotFoundError(
        f"no trained model found (looked for {DEFAULT_MODEL_NAME} in {searched}); "
        "train one with `livestyle train` and pass it with --weights FILE")


def save_stylenet(path: str | os.PathLike, net: StyleNet, styles: list[StyleInfo], *,
                  presets: dict[str, dict[str, float]] | None = None, training: dict | None = None) -> None:
    """Write the model file atomically: a temporary file in the same folder, renamed when complete."""
    from safetensors.torch import save_file

    assert len(styles) == net.n_styles, f"{len(styles)} style names for a net with {net.n_styles} styles"
    meta = {
        "format": FORMAT,
        "config": json.dumps(dataclasses.asdict(net.cfg)),
        "styles": json.dumps([dataclasses.asdict(s) for s in styles]),
        "presets": json.dumps(presets or {}),
        "training": json.dumps(training or {}),
    }
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_output(path, overwrite=True, suffix=".tmp") as tmp:
        try:
            save_file(tensors, tmp, metadata=meta)
        except Exception as e:  # safetensors' own error type for a failed write (a full disk, say)
            raise OSError(f"could not write the model file {path}: {str(e).splitlines()[0] if str(e) else e!r}") from None


def read_metadata(path: str | os.PathLike) -> dict:
    """The parsed metadata of a model file, checked; raises ValueError naming the file and the problem."""
    from safetensors import safe_open

    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; expected a livestyle model file (.safetensors)")
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error type for anything that is not its format
        with open(path, "rb") as fh:
            head = fh.read(2)
        hint = " (it looks like a pickle/torch.save file, which livestyle never loads)" if head[:1] == b"\x80" or head == b"PK" else ""
        raise ValueError(f"{path} is not a livestyle model file: expected safetensors, "
                         f"could not read it{hint}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is a safetensors file but not a livestyle model "
                         f"(format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        return {k: json.loads(meta[k]) for k in ("config", "styles", "presets", "training")}
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: damaged livestyle metadata ({e})") from None


def read_model_info(path: str | os.PathLike) -> tuple[NetConfig, list[StyleInfo], dict[str, dict[str, float]]]:
    """A model file's config, styles and presets, checked, without loading the weights."""
    meta = read_metadata(path)
    known = {f.name for f in dataclasses.fields(NetConfig)}
    unknown = set(meta["config"]) - known if isinstance(meta["config"], dict) else set()
    if unknown:
        raise ValueError(f"{path}: config has fields this livestyle does not know: {sorted(unknown)}; "
                         "was it saved by a newer version?")
    cfg = _checked_config(path, meta["config"])
    styles = _checked_styles(path, meta["styles"])
    if len(styles) != cfg.n_styles:
        raise ValueError(f"{path}: metadata lists {len(styles)} styles but config says n_styles={cfg.n_styles}")
    return cfg, styles, _checked_presets(path, meta["presets"], [s.name for s in styles])


def load_model(path: str | os.PathLike, *, device="cpu") -> ModelFile:
    """The model file for stylizing: its network on `device` (load_stylenet) where torch is installed, else
    its metadata and the fingerprint of its weights, for ONNX Runtime to run the export beside it (the light
    install: no torch)."""
    from .device import have_torch

    if have_torch():
        return load_stylenet(path, device=device)
    from safetensors.numpy import load_file

    from .ortnet import weights_fingerprint

    cfg, styles, presets = read_model_info(path)
    meta = read_metadata(path)
    state = load_file(str(path))
    for k, v in state.items():
        if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
            raise ValueError(f"{path}: tensor {k} holds NaN or infinite weights; the file is damaged")
    return ModelFile(net=None, styles=styles, presets=presets, training=meta["training"], path=str(path),
                     fingerprint=weights_fingerprint(state))


def load_stylenet(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> ModelFile:
    """Load a model file onto `device`. Never unpickles: safetensors only. Needs torch (`load_model` does not)."""
    import torch
    from safetensors.torch import load_file

    from .model import StyleNet

    cfg, styles, presets = read_model_info(path)
    meta = read_metadata(path)
    try:
        net = StyleNet(cfg)
    except (RuntimeError, MemoryError) as e:
        raise ValueError(f"{path}: the network its config describes cannot be built here "
                         f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    state = load_file(str(path), device="cpu")
    missing, unexpected = set(net.state_dict()) - set(state), set(state) - set(net.state_dict())
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match its config (missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]})")
    for k, v in net.state_dict().items():
        if state[k].shape != v.shape:
            raise ValueError(f"{path}: tensor {k} has shape {tuple(state[k].shape)}, config needs {tuple(v.shape)}")
        if state[k].is_floating_point() and not torch.isfinite(state[k]).all():
            raise ValueError(f"{path}: tensor {k} holds NaN or infinite weights; the file is damaged")
    net.load_state_dict(state)
    net.eval().to(device)
    return ModelFile(net=net, styles=styles, presets=presets, training=meta["training"], path=str(path))


# Bounds on what a model file may ask for before anything is allocated: far above any livestyle network
# (the shipped one is base_width 16, max_width 64), far below what would exhaust memory.
_CONFIG_LIMITS = {"n_styles": (1, 10_000), "base_width": (1, 512), "max_width": (0, 1024), "n_downsample": (0, 6),
                  "n_res_blocks": (0, 64), "outer_kernel": (1, 31), "inner_kernel": (1, 15),
                  "shuffle": (1, 8), "head_stride": (1, 2), "width_factor": (1, 8)}
_CONFIG_CHOICES = {"upsample": ("nearest", "bilinear", "transpose"), "padding": ("reflect", "zeros")}


def _checked_config(path, raw: dict) -> NetConfig:
    """NetConfig from a file's metadata, every field of the right type and within bounds."""
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: damaged livestyle metadata (config is {type(raw).__name__}, expected an object)")
    defaults = NetConfig()
    for name, value in raw.items():
        want = type(getattr(defaults, name))
        ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
        if not ok:
            raise ValueError(f"{path}: config field {name} should be {want.__name__}, got {value!r}")
        if name in _CONFIG_LIMITS and not _CONFIG_LIMITS[name][0] <= value <= _CONFIG_LIMITS[name][1]:
            lo, hi = _CONFIG_LIMITS[name]
            raise ValueError(f"{path}: config field {name} should be {lo}..{hi}, got {value}")
        if name in _CONFIG_CHOICES and value not in _CONFIG_CHOICES[name]:
            raise ValueError(f"{path}: config field {name} should be one of {_CONFIG_CHOICES[name]}, got {value!r}")
    return NetConfig(**raw)


def _checked_styles(path, raw) -> list[StyleInfo]:
    known = {f.name for f in dataclasses.fields(StyleInfo)}
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ValueError(f"{path}: damaged livestyle metadata (styles should be a list of objects)")
    for s in raw:
        extra = sorted(set(s) - known)
        if extra or not isinstance(s.get("name"), str) or not isinstance(s.get("source", ""), str):
            raise ValueError(f"{path}: style entry {s!r} should have a name and a source (text) only"
                             + (f", got also {extra}" if extra else ""))
    return [StyleInfo(**s) for s in raw]


def _checked_presets(path, raw, names: list[str]) -> dict[str, dict[str, float]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: damaged livestyle metadata (presets should be an object)")
    for short, mix in raw.items():
        if not isinstance(mix, dict) or not mix:
            raise ValueError(f"{path}: preset {short!r} should map style names to weights, got {mix!r}")
        for style, w in mix.items():
            if style not in names:
                raise ValueError(f"{path}: preset {short!r} names style {style!r}, which the model does not have "
                                 f"(styles: {', '.join(names)})")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"{path}: preset {short!r} gives {style!r} the weight {w!r}; expected a number >= 0")
    return raw


# ---- style names and mixes ------------------------------------------------------------------

def _unknown_style(name: str, model: ModelFile) -> ValueError:
    choices = model.style_names + sorted(model.presets)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown style {name!r} in {model.path or 'the model'}{hint} "
                      f"(available: {', '.join(choices)})")


def style_vector(name: str, model: ModelFile) -> np.ndarray:
    """float32 (n_styles,) one-hot or preset mix for one style name or preset short name."""
    names = model.style_names
    vec = np.zeros(len(names), np.float32)
    key = name.strip().lower()
    if key in names:
        vec[names.index(key)] = 1.0
        return vec
    if key in model.presets:
        for style, w in model.presets[key].items():
            vec[names.index(style)] += float(w)
        return vec / vec.sum()
    raise _unknown_style(name, model)


def parse_mix(spec: str, model: ModelFile) -> np.ndarray:
    """A mix from 'a', 'a,b' (equal) or 'a:0.7,b:0.3' (weights, normalised to sum 1); '+' also separates."""
    parts = [p for p in spec.replace("+", ",").split(",") if p.strip()]
    if not parts:
        raise ValueError(f"expected a style mix like 'monet' or 'monet:0.7,vangogh:0.3', got {spec!r}")
    total = np.zeros(model.n_styles, np.float32)
    for part in parts:
        name, _, w = part.partition(":")
        try:
            weight = float(w) if w.strip() else 1.0
        except ValueError:
            raise ValueError(f"expected a number after ':' in style mix {spec!r}, got {w!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"expected a finite style weight >= 0 after {name.strip()!r}: in {spec!r}, got {w.strip()!r}")
        total += weight * style_vector(name, model)
    if total.sum() <= 0:
        raise ValueError(f"style mix {spec!r} has no positive weight")
    return total / total.sum()

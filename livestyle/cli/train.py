"""`livestyle train`: flags -> TrainConfig -> train.train(), with a progress bar."""
from __future__ import annotations

import argparse
import logging
import math
import sys

from .common import EXIT_INTERRUPTED, info, non_negative_float, positive_float, positive_int


_TRAIN_FIELDS = ("styles", "content_dir", "out", "overwrite", "checkpoint_dir", "image_size", "style_size",
                 "batch_size", "steps", "lr", "warmup_steps", "content_weight", "style_weight", "tv_weight", "temporal_weight", "shift_weight", "grid_weight",
                 "scale_weight", "scale_range",
                 "batch_styles", "vgg", "vgg_convention", "device", "threads", "seed", "log_every", "preview_every",
                 "checkpoint_every_s", "content_layer", "loss_norm", "holdout")


def _scale_range(spec: str) -> tuple[float, float]:
    """'0.5,0.9' -> (0.5, 0.9)."""
    try:
        lo, hi = (float(v) for v in spec.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX like 0.5,0.9, got {spec!r}") from None
    if not 0.0 < lo <= hi <= 1.0:
        raise argparse.ArgumentTypeError(f"expected 0 < MIN <= MAX <= 1, got {spec!r}")
    return lo, hi


def _style_layers(spec: str) -> dict[str, float]:
    """'relu1_2,relu2_2:0.5' -> {'relu1_2': 1.0, 'relu2_2': 0.5}: VGG layers with optional weights."""
    from ..vgg import layer_names

    known = set(layer_names("vgg19"))
    out = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, weight = part.partition(":")
        if name not in known or not name.startswith("relu"):
            raise ValueError(f"--style-layers: expected VGG layers like relu1_2,relu4_3[:WEIGHT], got {name!r}")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            w = float("nan")
        if not (math.isfinite(w) and w > 0):
            raise ValueError(f"--style-layers: expected a positive weight after {name}:, got {weight!r}")
        out[name] = w
    if not out:
        raise ValueError("--style-layers: expected at least one layer, e.g. relu1_2,relu2_2,relu3_3,relu4_3")
    return out


def _train_overrides(args) -> dict:
    """TrainConfig fields for the options given on the command line (the others keep their defaults,
    or on --resume the checkpoint's values)."""
    import json

    from ..model import parse_arch

    given = vars(args)
    o = {k: given[k] for k in _TRAIN_FIELDS if k in given}
    if "styles" in o:
        o["styles"] = [p for p in o["styles"].split(",") if p.strip()]
    if "add_style" in given:
        if "base" not in given:
            raise ValueError("--add-style needs --base MODEL (the model to add the style to)")
        if "styles" in o:
            raise ValueError("with --base, give the new styles with --add-style NAME=PATH, not --styles")
        o["styles"] = [p for spec in given["add_style"] for p in spec.split(",") if p.strip()]
    if "base" in given:
        if "add_style" not in given and "resume" not in given:
            raise ValueError("--base needs --add-style NAME=PATH (the style to add)")
        o["base"] = given["base"]
    if "arch" in given:
        if "base" in given:
            raise ValueError("--arch cannot change a --base model's network; leave it out")
        if "n_styles" in given["arch"]:
            raise ValueError("--arch n_styles=...: the number of styles comes from --styles")
        o["arch"] = parse_arch(given["arch"])
    if "style_layers" in given:
        o["style_layers"] = _style_layers(given["style_layers"])
    if "bf16" in given:
        o["bf16"] = {"auto": None, "on": True, "off": False}[given["bf16"]]
    if "style_sources" in given:
        try:
            with open(given["style_sources"], encoding="utf-8") as f:
                sources = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"--style-sources {given['style_sources']}: expected JSON "
                             f"{{\"name\": \"artist, title, year\"}}, got invalid JSON ({e})") from None
        if not (isinstance(sources, dict) and all(isinstance(v, str) for v in sources.values())):
            raise ValueError(f"--style-sources {given['style_sources']}: expected a JSON object of style name -> "
                             "one-line source string")
        o["style_sources"] = {k.lower(): " ".join(v.split()) for k, v in sources.items()}
    return o


def run(args) -> int:
    import dataclasses
    import shlex

    from tqdm import tqdm

    from ..checkpoint import FILE_NAME, resolve_checkpoint_path
    from ..config import TrainConfig
    from ..train import TrainingInterrupted, checkpoint_dir, resume_config, train

    overrides = _train_overrides(args)
    parts = ["livestyle", "train"]
    for k, v in vars(args).items():
        if k in ("func", "command", "verbose"):
            continue
        for value in (v if isinstance(v, list) else [v]):
            flag = "--content" if k == "content_dir" else f"--{k.replace('_', '-')}"
            parts += [flag] + ([] if value is True or value == "" else [shlex.quote(str(value))])
    command = " ".join(parts)
    if getattr(args, "resume", None) is not None:
        ckpt = args.resume or (str(checkpoint_dir(TrainConfig(**{k: v for k, v in overrides.items()
                                                                    if k in ("out", "checkpoint_dir")})) / FILE_NAME)
                               if "out" in overrides or "checkpoint_dir" in overrides else None)
        if not ckpt:
            raise ValueError("--resume needs a checkpoint: --resume CKPT, or --out FILE of the run to continue")
        cfg = resume_config(str(resolve_checkpoint_path(ckpt)), overrides)
        cfg = dataclasses.replace(cfg, command=cfg.command + f"; resumed: {command}")
    else:
        missing = [flag for flag, key in (("--styles (or --base with --add-style)", "styles"),
                                           ("--content DIR", "content_dir"), ("--out FILE", "out"))
                   if key not in overrides]
        if missing:
            raise ValueError(f"livestyle train needs {', '.join(missing)}")
        cfg = TrainConfig(**overrides, command=command)

    bar = None

    def progress(e: dict) -> None:
        nonlocal bar
        if e["event"] == "start":
            bar = tqdm(total=e["steps"], initial=e["step"], unit="step", dynamic_ncols=True, file=sys.stderr)
        elif e["event"] == "step" and bar is not None:
            temporal = f", temporal {e['temporal']:.3g}" if e.get("temporal") else ""
            bar.set_postfix_str(f"content {e['content']:.3g}, style {e['style']:.3g}, tv {e['tv']:.3g}{temporal}, "
                                f"{e['ms_per_step'] / 1000:.2f} s/step", refresh=False)
            bar.update(e["step"] - bar.n)

    class _TqdmHandler(logging.Handler):  # log lines above the bar instead of through it
        def emit(self, record):
            tqdm.write(f"livestyle: {record.getMessage()}", file=sys.stderr)

    pkg_log = logging.getLogger("livestyle")
    handler, old_level, old_propagate = _TqdmHandler(), pkg_log.level, pkg_log.propagate
    pkg_log.addHandler(handler)
    pkg_log.setLevel(logging.INFO)
    pkg_log.propagate = False
    try:
        path = train(cfg, progress=progress)
    except TrainingInterrupted as e:
        if bar is not None:
            bar.close()
        info(f"livestyle: interrupted after step {e.step}; checkpoint saved to {e.checkpoint}; "
             f"continue with `livestyle train --resume {e.checkpoint}`")
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
        pkg_log.removeHandler(handler)
        pkg_log.setLevel(old_level)
        pkg_log.propagate = old_propagate
    info(f"wrote {path}")
    return 0



def add_parser(sub) -> None:
    s = sub.add_parser("train", argument_default=argparse.SUPPRESS,
                       help="train a multi-style network on photos (VGG perceptual losses); resumable",
                       description="Train a multi-style CIN network. Ctrl-C checkpoints and stops; --resume "
                       "continues. Runs under `torchrun --nproc_per_node=N -m livestyle train ...` as well.")
    s.add_argument("--styles", metavar="SPEC", help="style images, one style each: a folder, or a comma list of "
                   "[name=]path (name from the file name)")
    s.add_argument("--content", dest="content_dir", metavar="DIR", help="folder of training photos")
    s.add_argument("--out", metavar="FILE", help="model file to write (.safetensors)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    s.add_argument("--style-sources", metavar="FILE", help="JSON {style name: 'artist, title, year'} "
                   "(default: the file name)")
    s.add_argument("--image-size", type=positive_int, metavar="PX", help="training crop size (default 256)")
    s.add_argument("--style-size", type=positive_int, metavar="PX", help="longest side of the style images "
                   "for their Gram targets (default: --image-size)")
    s.add_argument("--batch-size", type=positive_int, help="photos per step and process (default 4)")
    s.add_argument("--steps", type=positive_int, help="training steps in all (default 2000)")
    s.add_argument("--lr", type=positive_float, help="Adam learning rate (default 1e-3)")
    s.add_argument("--warmup-steps", type=int, metavar="N", help="raise the lr linearly over N steps (default 0; "
                   "use ~10%% of the steps with --lr above 3e-3)")
    s.add_argument("--content-weight", type=non_negative_float, help="default 1e-5 (relu2_2 MSE, Caffe VGG scale)")
    s.add_argument("--style-weight", type=non_negative_float, help="default 1e-5 (Gram MSE, relu1_2..relu3_3)")
    s.add_argument("--tv-weight", type=non_negative_float, help="default 10 (total variation of the output)")
    s.add_argument("--style-layers", metavar="L[:W],...", help="VGG layers of the style loss with optional "
                   "weights (default relu1_2,relu2_2,relu3_3)")
    s.add_argument("--content-layer", metavar="LAYER", help="VGG layer of the content loss (default relu2_2)")
    s.add_argument("--loss-norm", choices=("none", "target"), help="none (default): raw MSEs; target: each "
                   "style layer's Gram MSE / the painting's mean squared Gram, the content MSE / the photo's "
                   "mean squared feature, so every layer counts")
    s.add_argument("--holdout", metavar="FILE", help="text file of photo names (one a line) never used for "
                   "training: the evaluation set")
    s.add_argument("--temporal-weight", type=non_negative_float, metavar="W", help="temporal loss on synthetically "
                   "moved copies of the photos (stabler video without --temporal; default 0 = off; costs ~1.5x "
                   "per step)")
    s.add_argument("--shift-weight", type=non_negative_float, metavar="W", help="shift consistency: the batch "
                   "moved by 1-7 px must stylize to the same picture moved alike, so textures cannot lock to the "
                   "network's stride (default 0: off)")
    s.add_argument("--grid-weight", type=non_negative_float, metavar="W", help="grid penalty: the grid score of the "
                   "outputs (what `livestyle eval` reports, periods 2-8) as a loss (default 0: off)")
    s.add_argument("--scale-weight", type=non_negative_float, metavar="W", help="smaller copies: the batch shrunk "
                   "by a random factor of --scale-range, stylized and enlarged back, gets the content and style "
                   "losses too, so the look holds when the live loop runs the network smaller (default 0: off)")
    s.add_argument("--scale-range", type=_scale_range, metavar="MIN,MAX", help="factors a side for --scale-weight "
                   "(default 0.5,0.9)")
    s.add_argument("--arch", metavar="K=V,...", help="network: a preset or key=value over NetConfig fields, "
                   "e.g. base_width=16,n_res_blocks=3,separable=1 (default: NetConfig())")
    s.add_argument("--batch-styles", choices=("mixed", "single"), help="styles within a batch (default mixed)")
    s.add_argument("--vgg", metavar="PATH", help="local VGG16/19 features weights (default $LIVESTYLE_VGG, "
                   "else torchvision's download)")
    s.add_argument("--vgg-convention", choices=("caffe", "torchvision"),
                   help="input convention of --vgg (default: from its file name)")
    s.add_argument("--bf16", choices=("auto", "on", "off"), help="bf16 autocast (default auto: on with "
                   "AVX512-BF16/AMX or CUDA)")
    s.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    s.add_argument("--threads", type=positive_int, help="CPU threads per process")
    s.add_argument("--seed", type=int, help="default 0")
    s.add_argument("--checkpoint-dir", metavar="DIR", help="default: <out>.ckpt/ beside --out")
    s.add_argument("--checkpoint-every-s", type=non_negative_float, metavar="S", help="seconds between checkpoints "
                   "(default 300)")
    s.add_argument("--preview-every", type=int, metavar="N", help="steps between preview PNGs in the "
                   "checkpoint folder (default 200, 0 = none)")
    s.add_argument("--log-every", type=positive_int, metavar="N", help="steps between log lines (default 50)")
    s.add_argument("--resume", nargs="?", const="", metavar="CKPT", help="continue from a checkpoint (file or "
                   "folder; default: the one of --out); options given again override the saved ones")
    s.add_argument("--base", metavar="MODEL", help="add styles to this model: only the new styles' CIN rows train")
    s.add_argument("--add-style", action="append", metavar="NAME=PATH", help="style to add to --base (repeatable)")
    s.set_defaults(func=run)

"""`livestyle gatys`: Gatys et al. optimisation of one image; its options are shared with `video --method gatys`."""
from __future__ import annotations

import argparse
import math
import os
import sys

from .common import check_input_output, info, non_negative_float, positive_float, positive_int


def float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 0.25,0.5,1, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one number, got {text!r}")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers >= 0, got {text!r}")
    return values


def layer_weights(text: str) -> dict[str, float]:
    """'relu1_1,relu2_1:0.5' -> {'relu1_1': 1.0, 'relu2_1': 0.5}"""
    out = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, w = part.partition(":")
        try:
            out[name.strip()] = float(w) if w.strip() else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected LAYER[:WEIGHT],..., e.g. relu1_1,relu2_1:0.5, got {text!r}") from None
    if not out:
        raise argparse.ArgumentTypeError(f"expected at least one layer, got {text!r}")
    return out


def add_gatys_options(p: argparse.ArgumentParser, *, video: bool = False) -> None:
    """Options of `gatys`; with video=True the ones `video --method gatys` needs beyond its own
    (--max-side, --preserve-color, --weights, --device, --threads and --overwrite are the video command's)."""
    from ..config import GatysConfig
    d = GatysConfig()
    p.add_argument("--style-weights", type=float_list, metavar="W1,W2,...", help="blend weights of the styles, "
                   "normalised to sum 1 (default: equal)")
    p.add_argument("--iterations", type=positive_int, help=f"iterations at full size (default {d.iterations})")
    p.add_argument("--coarse-iterations", type=int, metavar="N", help="iterations at each coarser scale "
                   f"(default {d.coarse_iterations})")
    p.add_argument("--scales", type=float_list, metavar="S1,S2,...", help="coarse to fine, fractions of the "
                   f"output size (default {','.join(f'{s:g}' for s in d.scales)}; 1 = single scale)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), help="default lbfgs")
    p.add_argument("--lr", type=positive_float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", choices=("content", "noise", "net"), help="start from the content (default), "
                   "seeded noise, or a livestyle network's output (--weights FILE --init-style NAME)")
    p.add_argument("--init-style", metavar="NAME", help="--init net: style, preset or mix of the --weights model")
    p.add_argument("--content-weight", type=non_negative_float, help=f"default {d.content_weight:g}")
    p.add_argument("--style-weight", type=non_negative_float, help=f"default {d.style_weight:g}")
    p.add_argument("--tv-weight", type=non_negative_float, help=f"default {d.tv_weight:g}")
    p.add_argument("--content-layer", help=f"default {d.content_layer}")
    p.add_argument("--style-layers", type=layer_weights, metavar="L[:W],...",
                   help=f"default {','.join(d.style_layers)} (weight 1 each)")
    p.add_argument("--style-scale", type=positive_float, help="style image size relative to the output (default 1)")
    p.add_argument("--save-every", type=positive_int, metavar="N", help="write OUT's name + .iterNNNN every N "
                   "iterations (at the current stage's size)")
    p.add_argument("--vgg", metavar="PATH", help="VGG weights (default $LIVESTYLE_VGG, else torchvision's)")
    p.add_argument("--vgg-convention", choices=("caffe", "torchvision"), help="of --vgg (default: from its name)")
    if not video:  # the video command has --precision and --compile for these
        p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto", help="bf16 autocast for VGG "
                       "(default auto: on with AVX512-BF16/AMX or CUDA)")
        p.add_argument("--compile-vgg", action="store_true", help="torch.compile the VGG prefix")
    p.add_argument("--no-channels-last", action="store_true", help="keep VGG in NCHW")
    p.add_argument("--seed", type=int, help="noise init seed (default 0)")
    if video:
        p.add_argument("--temporal-weight", type=non_negative_float, help=f"temporal loss weight (default {d.temporal_weight:g}; "
                       "0 = frames independent)")
        p.add_argument("--long-term", type=lambda t: tuple(int(v) for v in t.split(",")), metavar="J1,J2,...",
                       help="earlier frames tied by the temporal loss, e.g. 1,2,4 (default 1: short-term only)")
        p.add_argument("--video-iterations", type=positive_int, help="iterations for frames after the first "
                       "(default --iterations)")
        p.add_argument("--no-resume", action="store_true", help="start over instead of reusing finished frames")
        p.add_argument("--keep-frames", action="store_true", help="keep OUT.gatys-frames/ after writing the video")
        return
    p.add_argument("--weights", metavar="FILE", help="--init net: livestyle model file (.safetensors)")
    p.add_argument("--max-side", type=positive_int, metavar="PX", help=f"output's longest side (default {d.max_side_px})")
    p.add_argument("--preserve-color", choices=("luminance", "histogram"), help="keep the content's colours: "
                   "luminance-only transfer, or style colours matched to the content (Gatys et al. 2016)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def gatys_config(args):
    """GatysConfig from the `gatys` options (or `video --method gatys`: --preserve-color there is a flag)."""
    from ..config import GatysConfig
    get = lambda name: getattr(args, name, None)  # noqa: E731
    fields = {"iterations": get("iterations"), "coarse_iterations": get("coarse_iterations"), "scales": get("scales"),
              "optimizer": get("optimizer"), "lr": get("lr"), "init": get("init"), "init_weights": get("weights"),
              "init_style": get("init_style"), "content_weight": get("content_weight"),
              "style_weight": get("style_weight"), "tv_weight": get("tv_weight"), "content_layer": get("content_layer"),
              "style_layers": get("style_layers"), "style_scale": get("style_scale"), "max_side_px": get("max_side"),
              "vgg": get("vgg"), "vgg_convention": get("vgg_convention"), "device": get("device"),
              "threads": get("threads"), "seed": get("seed"), "save_every": get("save_every"),
              "temporal_weight": get("temporal_weight"), "temporal_frames": get("long_term"),
              "video_iterations": get("video_iterations")}
    pc = get("preserve_color")
    fields["preserve_color"] = "luminance" if pc is True else (pc or None)
    fields["bf16"] = {"on": True, "off": False, "bf16": True, "fp32": False}.get(get("bf16") or get("precision"))
    fields["channels_last"] = not get("no_channels_last")
    fields["compile"] = bool(get("compile_vgg")) or get("compile") == "on"
    cfg = GatysConfig(**{k: v for k, v in fields.items() if v is not None})
    if cfg.init == "net" and not (cfg.init_weights and cfg.init_style):
        raise ValueError("--init net needs --weights FILE (a livestyle model) and --init-style NAME")
    if cfg.init != "net" and (get("init_style") or get("weights")):
        raise ValueError("--weights and --init-style are for --init net (a livestyle network's output as the start)")
    return cfg


def read_styles(spec: str, weights) -> list:
    """Style images from 'a.jpg,b.jpg' as float (1, 3, H, W) tensors; checks the weights' count."""
    from ..frames import frame_to_tensor
    from ..images import read_image
    paths = [s.strip() for s in spec.split(",") if s.strip()]
    if not paths:
        raise ValueError(f"expected one or more style images separated by commas, got {spec!r}")
    if weights is not None and len(weights) != len(paths):
        raise ValueError(f"--style-weights has {len(weights)} weights but {len(paths)} style images were given")
    images = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"style image not found: {path}")
        images.append(frame_to_tensor(read_image(path)))
    return images


class GatysBar:
    """tqdm rendering of gatys progress events: iterations with loss values and ETA; for video an
    outer bar over frames (per-frame time and ETA)."""

    def __init__(self, snapshot_to: str | None = None):
        self.bar = self.frames_bar = None
        self.snapshot_to = snapshot_to

    def __call__(self, e: dict) -> None:
        from tqdm import tqdm
        kind = e["event"]
        if kind == "iteration":
            if self.bar is None or e["done"] == 1 and self.bar.n:
                if self.bar is not None:
                    self.bar.close()
                desc = f"frame {e['frame']}" if "frame" in e else "gatys"
                self.bar = tqdm(total=e["total"], unit="it", desc=desc, dynamic_ncols=True, file=sys.stderr,
                                leave=self.frames_bar is None)
            temporal = f", temporal {e['temporal']:.3g}" if e.get("temporal") else ""
            self.bar.set_postfix_str(f"stage {e['stage'] + 1}/{e['stages']}, loss {e['loss']:.4g} (content "
                                     f"{e['content']:.3g}, style {e['style']:.3g}, tv {e['tv']:.3g}{temporal})",
                                     refresh=False)
            self.bar.update(e["done"] - self.bar.n)
        elif kind == "snapshot" and self.snapshot_to:
            from ..atomic import atomic_write_bytes
            from ..frames import tensor_to_frame
            from ..images import encode_image
            stem, ext = os.path.splitext(self.snapshot_to)
            frame = f".frame{e['frame']:06d}" if "frame" in e else ""
            atomic_write_bytes(f"{stem}{frame}.iter{e['done']:04d}{ext}", encode_image(tensor_to_frame(e["image"]), ext))
        elif kind == "frame":
            if self.frames_bar is None:
                self.frames_bar = tqdm(total=e["frames"], unit="frame", desc="frames", dynamic_ncols=True,
                                       file=sys.stderr, position=0)
            if e["resumed"]:
                self.frames_bar.set_postfix_str("reading finished frames", refresh=False)
            elif e["mean_s"] is not None:
                eta = f", ETA {e['eta_s'] / 60:.1f} min" if e["eta_s"] is not None else ""
                self.frames_bar.set_postfix_str(f"{e['seconds']:.1f} s/frame (mean {e['mean_s']:.1f}){eta}",
                                                refresh=False)
            self.frames_bar.update(e["frame"] + 1 - self.frames_bar.n)

    def close(self) -> None:
        for bar in (self.bar, self.frames_bar):
            if bar is not None:
                bar.close()


def run(args) -> int:
    import time

    import numpy as np

    from ..atomic import atomic_write_bytes
    from ..frames import frame_to_tensor, tensor_to_frame
    from ..images import encode_image, fit_size, read_image, resize_frame
    from ..gatys import check_config, optimize

    cfg = gatys_config(args)
    check_config(cfg)
    check_input_output(args.content, args.output, args.overwrite)
    for style in args.styles.split(","):
        if os.path.exists(args.output) and os.path.exists(style.strip()) and os.path.samefile(style.strip(), args.output):
            raise ValueError(f"output {args.output} is a style image; livestyle never writes over its input")
    ext = os.path.splitext(args.output)[1].lower()
    if not ext:
        raise ValueError(f"output {args.output} has no extension; expected .png, .jpg, .webp, .bmp or .tif")
    try:  # an unknown extension fails now, not after minutes (OpenCV 5 raises cv2.error, not ValueError)
        encode_image(np.zeros((2, 2, 3), np.uint8), ext)
    except Exception:
        raise ValueError(f"cannot write images of type {ext!r}; use .png, .jpg, .webp, .bmp or .tif") from None
    styles = read_styles(args.styles, args.style_weights)
    frame = read_image(args.content)
    w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px)
    content = frame_to_tensor(resize_frame(frame, w, h))
    bar = GatysBar(snapshot_to=args.output if cfg.save_every else None)
    t0 = time.perf_counter()
    try:
        styled = optimize(content, styles, cfg, weights=args.style_weights and list(args.style_weights), progress=bar)
    finally:
        bar.close()
    atomic_write_bytes(args.output, encode_image(tensor_to_frame(styled), ext), overwrite=args.overwrite)
    info(f"wrote {args.output} ({w}x{h}) in {time.perf_counter() - t0:.1f} s")
    return 0



def add_parser(sub) -> None:
    s = sub.add_parser("gatys", help="optimise one image against VGG content and style losses (Gatys et al.; "
                       "slow, best quality)",
                       description="Gatys et al. 2016 style transfer by optimising the output's pixels: L-BFGS, "
                       "coarse to fine, bf16 VGG where the CPU has it. Minutes per 512 px image on a CPU.")
    s.add_argument("content", help="content image")
    s.add_argument("styles", metavar="STYLE[,STYLE2...]", help="style image(s), blended by --style-weights")
    s.add_argument("output", help="output image (.png, .jpg, ...)")
    add_gatys_options(s)
    s.set_defaults(func=run)

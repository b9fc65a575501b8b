"""Command line: argparse subcommands, each building configs and calling one library function.
The only module that prints. Bad input -> `livestyle: error: ...` on stderr and exit code 2."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user-facing error raised inside the CLI layer."""


def _err(msg: str) -> None:
    print(f"livestyle: error: {msg}", file=sys.stderr)


def _warn(msg: str) -> None:
    print(f"livestyle: warning: {msg}", file=sys.stderr)


def _info(msg: str) -> None:
    print(msg, file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse that keeps its usage errors on one line with our prefix."""

    def error(self, message: str):
        _err(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


# ---- shared option parsing ------------------------------------------------------------------

def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {text!r}") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"size must be 1..16384 on each side, got {text!r}")
    return w, h


def _unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", metavar="FILE", help="model file (.safetensors); default: weights/livestyle.safetensors")
    p.add_argument("--styles", metavar="A[,B...]", help="styles to use (see `livestyle styles`); "
                   "several are blended equally unless --mix gives weights")
    p.add_argument("--mix", metavar="A:0.7,B:0.3", help="blend weights for the styles (normalised to sum 1)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")


def _add_stylize_options(p: argparse.ArgumentParser) -> None:
    _add_model_options(p)
    p.add_argument("--max-side", type=_positive_int, metavar="PX", help="shrink so the longest side is at most PX")
    p.add_argument("--size", type=_parse_size, metavar="WxH", help="exact output size")
    p.add_argument("--strength", type=_unit_float, default=1.0, help="0 = input, 1 = full style (default 1)")
    p.add_argument("--preserve-color", action="store_true",
                   help="stylize luminance only and keep the input's colours (Gatys et al. 2016)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: all cores)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="auto: bf16 on CPUs with AVX-512/AMX, fp16 on CUDA (default auto)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                   help="torch.compile: auto compiles in the background while eager frames flow (default)")


def _stylize_config(args):
    from .config import StylizeConfig
    return StylizeConfig(device=args.device, strength=args.strength, preserve_color=args.preserve_color,
                         max_side_px=args.max_side, size=args.size, threads=args.threads,
                         batch_size=getattr(args, "batch_size", None) or 4,
                         precision=args.precision, compile=args.compile)


def _load_model(args):
    """Model file from --weights or the default; refuses a random network."""
    from .model import resolve_device
    from .weights import default_model_path, load_stylenet
    path = args.weights or default_model_path()
    return load_stylenet(path, device=resolve_device(args.device))


def _mix_from_args(args, model):
    from .weights import parse_mix
    if args.mix:
        if args.styles:
            chosen = {s.strip().lower() for s in args.styles.split(",")}
            named = {p.partition(":")[0].strip().lower() for p in args.mix.split(",")}
            if not named <= chosen:
                raise ValueError(f"--mix names {sorted(named - chosen)} that are not in --styles {args.styles}")
        return parse_mix(args.mix, model)
    if not args.styles:
        raise ValueError(f"expected --styles (one or more of: {', '.join(model.style_names + sorted(model.presets))})")
    return parse_mix(args.styles, model)


def _check_output(in_path: str, out_path: str, overwrite: bool) -> None:
    """Never write over the input; refuse an existing output unless --overwrite; folder must be writable."""
    if not os.path.exists(in_path):
        raise FileNotFoundError(f"input not found: {in_path}")
    if os.path.exists(out_path) and os.path.samefile(in_path, out_path):
        raise ValueError(f"output {out_path} is the input file; livestyle never writes over its input")
    if os.path.exists(out_path) and not overwrite:
        raise ValueError(f"output {out_path} exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output folder {folder} is not writable")


# ---- styles -----------------------------------------------------------------------------------

def _cmd_styles(args) -> int:
    from .weights import find_models, read_metadata
    paths = [Path(args.weights)] if args.weights else find_models()
    if not paths:
        _info("no trained models found in weights/; train one with `livestyle train`")
        return 0
    for path in paths:
        meta = read_metadata(path)
        print(f"{path}  ({len(meta['styles'])} styles)")
        for s in meta["styles"]:
            print(f"  {s['name']:<40} {s.get('source', '')}")
        for name, mix in sorted(meta["presets"].items()):
            parts = " + ".join(f"{k} {v:.2f}" for k, v in mix.items())
            print(f"  {name:<40} preset: {parts}")
    return 0


# ---- image ------------------------------------------------------------------------------------

def _cmd_image(args) -> int:
    import time

    from .frames import encode_image, fit_size, read_image, resize_frame
    from .stylize import Stylizer

    _check_output(args.input, args.output, args.overwrite)
    ext = os.path.splitext(args.output)[1].lower()
    if not ext:
        raise ValueError(f"output {args.output} has no extension; expected .png, .jpg, .webp, .bmp or .tif")
    frame = read_image(args.input)
    model = _load_model(args)
    mix = _mix_from_args(args, model)
    cfg = _stylize_config(args)
    w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px, size=cfg.size)
    if w * h > 8192 * 8192:
        raise ValueError(f"{args.input}: {w}x{h} is too large to stylize at once; pass --max-side")
    frame = resize_frame(frame, w, h)
    t0 = time.perf_counter()
    styled = Stylizer(model.net, cfg)([frame], mix)[0]
    data = encode_image(styled, ext)
    from .atomic import atomic_write_bytes
    atomic_write_bytes(args.output, data)
    _info(f"wrote {args.output} ({w}x{h}) in {time.perf_counter() - t0:.2f} s")
    return 0


# ---- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="livestyle", description="Real-time multi-style video and webcam style transfer.")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("styles", help="list the available styles and where they come from")
    s.add_argument("--weights", metavar="FILE", help="list the styles of this model file only")
    s.set_defaults(func=_cmd_styles)

    s = sub.add_parser("image", help="stylize one image")
    s.add_argument("input", help="input image")
    s.add_argument("output", help="output image (.png, .jpg, ...)")
    _add_stylize_options(s)
    s.set_defaults(func=_cmd_image)

    # >>> video (owned by the video I/O work)
    # <<< video
    # >>> train / eval (owned by the training work)
    # <<< train / eval
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="livestyle: %(levelname)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, RuntimeError, CliError) as e:
        if args.verbose:
            raise
        _err(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

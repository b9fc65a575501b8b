"""What every command shares: messages and exit codes, option types, the model, mix, stylize and
temporal options, the input/output check, the progress bar. Only the CLI prints."""
from __future__ import annotations

import argparse
import os
import sys

from ..atomic import check_output_path
from ..bundled import demo_clip

EXIT_USAGE = 2


EXIT_INTERRUPTED = 130


DEMO_CLIP = demo_clip()


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


def err(msg: str) -> None:
    print(f"livestyle: error: {msg}", file=sys.stderr)


def warn(msg: str) -> None:
    print(f"livestyle: warning: {msg}", file=sys.stderr)


def info(msg: str) -> None:
    print(msg, file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse that keeps its usage errors on one line with our prefix."""

    def error(self, message: str):
        err(f"{message} (see `{self.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {text!r}") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"size must be 1..16384 on each side, got {text!r}")
    return w, h


def unit_float(text: str) -> float:
    from ..checks import unit
    try:
        return unit(float(text), name="value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}") from None


def number(kind: type, *, minimum: float, strict: bool, what: str):
    """An argparse type: a number of `kind` that is > (strict) or >= `minimum` (checks.number, which the
    Python API uses too)."""
    from ..checks import number as checked

    def parse(text: str):
        try:
            return checked(kind(text), name="value", minimum=minimum, strict=strict, integer=kind is int)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    return parse


positive_int = number(int, minimum=1, strict=False, what="a positive integer")


positive_float = number(float, minimum=0.0, strict=True, what="a number > 0")


non_negative_float = number(float, minimum=0.0, strict=False, what="a number >= 0")


non_negative_int = number(int, minimum=0, strict=False, what="an integer >= 0")


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", metavar="FILE", help="model file (.safetensors); default: weights/livestyle.safetensors")
    p.add_argument("--styles", metavar="A[,B...]", help="styles to use (see `livestyle styles`); "
                   "several are blended equally unless --mix gives weights")
    p.add_argument("--mix", metavar="A:0.7,B:0.3", help="blend weights for the styles (normalised to sum 1)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")


def add_stylize_options(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    p.add_argument("--max-side", type=positive_int, metavar="PX", help="shrink so the longest side is at most PX")
    p.add_argument("--size", type=parse_size, metavar="WxH", help="exact output size")
    p.add_argument("--strength", type=unit_float, default=1.0, help="0 = input, 1 = full style (default 1)")
    p.add_argument("--preserve-color", action="store_true",
                   help="stylize luminance only and keep the input's colours (Gatys et al. 2016)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--threads", type=positive_int, help="CPU threads for the network (default: all cores)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="auto: bf16 on CPUs with AVX-512/AMX, fp16 on CUDA (default auto)")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="what runs the network on a CPU: auto (default) takes ONNX Runtime when the model has an ONNX "
                   "export beside it (the shipped model does) and torch otherwise")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                   help="torch.compile: auto compiles first where it pays (videos of 600+ frames), else eager (default); on: "
                   "compile every frame size before its first frame (seconds with a warm cache, 15-30 s without)")


def stylize_config(args):
    from ..config import StylizeConfig
    return StylizeConfig(device=args.device, strength=args.strength, preserve_color=args.preserve_color,
                         max_side_px=args.max_side, size=args.size, threads=args.threads,
                         batch_size=getattr(args, "batch_size", None) or default_batch(args.device),
                         precision=args.precision, compile=args.compile, backend=args.backend)


def default_batch(device: str) -> int:
    """Frames per network call: 1 on a CPU, where a batch of 4 at 640x360 costs twice as much per frame
    (its activations overflow the caches; measured 23 vs 45 ms/frame), 4 on CUDA."""
    from ..device import resolve_device
    return 4 if resolve_device(device).type == "cuda" else 1


def load_model(args):
    """Model file from --weights or the default; refuses a random network."""
    from ..device import resolve_device
    from ..modelfile import default_model_path, load_model as load
    path = args.weights or default_model_path()
    return load(path, device=resolve_device(args.device))


def mix_from_args(args, model):
    from ..modelfile import parse_mix
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


# Every option that names a file or folder a command reads, and every one that names a file it writes:
# `check_no_input_written` holds them against each other once, before any command starts its work.
INPUT_ARGS = ("input", "inputs", "camera", "weights", "teacher", "styles", "photos", "painting", "content", "content_dir",
              "base", "vgg", "holdout", "resume", "style_sources", "add_style", "clip", "gt_flow", "init_weights")
OUTPUT_ARGS = ("output", "out", "record", "json", "sheet")


def named_paths(value) -> list[str]:
    """The existing files and folders an option's value names: a path, or a list like NAME=PATH,PATH."""
    values = value if isinstance(value, (list, tuple)) else [value]
    found = []
    for v in values:
        if not isinstance(v, str) or not v:
            continue
        for part in dict.fromkeys([v, *v.split(",")]):
            for candidate in dict.fromkeys([part.strip(), part.partition("=")[2].strip()]):
                if candidate and os.path.exists(candidate):
                    found.append(candidate)
    return found


def check_no_input_written(args) -> None:
    """No output of the command may be one of its inputs, or a file inside an input folder, whatever
    --overwrite says (livestyle never writes over what it reads)."""
    from ..atomic import writes_over

    if getattr(args, "command", None) == "eval-temporal":  # reads its OUTPUT argument, writes nothing
        return
    inputs = [p for name in INPUT_ARGS for p in named_paths(getattr(args, name, None))]
    for name in OUTPUT_ARGS:
        out = getattr(args, name, None)
        if not isinstance(out, str) or out in ("", "-"):
            continue
        for inp in inputs:
            if writes_over(out, inp):
                flag = name if name in ("output",) else "--" + name.replace("_", "-")
                what = "a file inside " if os.path.isdir(inp) and not os.path.samefile(out, inp) else ""
                raise ValueError(f"{flag} {out} is {what}an input of this command ({inp}); livestyle never writes "
                                 "over what it reads, --overwrite or not")


def check_input_output(in_path: str, out_path: str, overwrite: bool) -> None:
    """The input exists and is a file; the output passes atomic.check_output_path (never the input, no
    silent replace)."""
    if not os.path.exists(in_path):
        raise FileNotFoundError(f"input not found: {in_path}")
    if os.path.isdir(in_path):
        raise ValueError(f"input {in_path} is a folder; expected a file")
    check_output_path(out_path, overwrite=overwrite, input_path=in_path)


def add_file_command(sub, name: str, *, help: str, input_help: str, output_help: str) -> argparse.ArgumentParser:
    """A command that stylizes one file into another (`image`, `video`): its two paths and the shared options."""
    s = sub.add_parser(name, help=help)
    s.add_argument("input", help=input_help)
    s.add_argument("output", help=output_help)
    add_stylize_options(s)
    return s


def temporal_config(args):
    """Temporal coherence for live and file video (see livestyle/temporal.py); None when off."""
    from ..config import TemporalConfig
    return TemporalConfig(weight=args.temporal) if args.temporal > 0 else None


def progress_bar(unit: str, desc: str | None = None):
    """A tqdm bar on stderr with rate and ETA (off when stderr is not a terminal), with
    `update_to(done, total)` for library progress callbacks."""
    from tqdm import tqdm

    # delay: nothing is drawn in the first second, so bad input found at the start stays one line
    bar = tqdm(unit=unit, desc=desc, dynamic_ncols=True, file=sys.stderr, disable=None, delay=1.0)

    def update_to(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    bar.update_to = update_to
    return bar

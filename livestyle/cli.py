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
DEMO_CLIP = Path(__file__).resolve().parent.parent / "samples" / "demo.mp4"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


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


def _number(kind: type, *, minimum: float, strict: bool, what: str):
    """An argparse type: a number of `kind` that is > (strict) or >= `minimum`."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or v < minimum or (strict and v == minimum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    return parse


_positive_float = _number(float, minimum=0.0, strict=True, what="a number > 0")
_non_negative_float = _number(float, minimum=0.0, strict=False, what="a number >= 0")
_non_negative_int = _number(int, minimum=0, strict=False, what="an integer >= 0")


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
                         batch_size=getattr(args, "batch_size", None) or _default_batch(args.device),
                         precision=args.precision, compile=args.compile)


def _default_batch(device: str) -> int:
    """Frames per network call: 1 on a CPU, where a batch of 4 at 640x360 costs twice as much per frame
    (its activations overflow the caches; measured 23 vs 45 ms/frame), 4 on CUDA."""
    from .model import resolve_device
    return 4 if resolve_device(device).type == "cuda" else 1


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
    _check_output_path(out_path, overwrite=overwrite)


def _check_output_path(path: str, *, overwrite: bool) -> None:
    """An output may replace an existing file only with --overwrite; its folder must exist and be writable."""
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"output {path} exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
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


# ---- bench ------------------------------------------------------------------------------------

def _cmd_bench(args) -> int:
    import json

    import torch

    from . import bench

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    busy = bench.busy_cores()
    cores = os.cpu_count() or 1
    if busy > 0.5:
        _warn(f"{busy:.1f} of {cores} cores are busy with other work: timings will be slow and noisy")
    cfg = bench.parse_arch(args.arch)
    if args.clip and not args.no_e2e and not os.path.isfile(args.clip):  # before minutes of timing
        raise FileNotFoundError(f"--clip: input not found: {args.clip}")
    resolutions = args.resolution or [(640, 360)]
    modes = args.modes.split(",")
    ref_modes = tuple(args.reference_modes.split(","))
    say = (lambda m: None) if args.json else (lambda m: _info(m))
    rows = []
    for _ in range(args.runs):
        rows.extend(bench.network_table(cfg, args.arch, resolutions, modes=modes, device=args.device,
                                        repeats=args.repeats, reference_modes=ref_modes, progress=say))
    summary = bench.summarize(rows, resolutions, modes, ref_modes)
    e2e = []
    clip = args.clip or (str(DEMO_CLIP) if DEMO_CLIP.exists() else None)
    if clip and not args.no_e2e:
        for side in args.e2e_max_side:
            say(f"end to end on {clip} at max side {side} (decode, stylize, temporal {args.temporal}, encode), "
                f"{args.e2e_runs} run(s)")
            e2e.append(bench.end_to_end(clip, cfg, device=args.device, max_side_px=side, temporal=args.temporal,
                                        runs=args.e2e_runs, pipelined=args.pipeline,
                                        warm_compile=any("compile" in m for m in modes)))
    targets = bench.targets_report(summary, e2e)
    if args.json:
        out = {**summary[0], "threads": threads, "busy_cores": round(busy, 2), "arch": args.arch,
               "per_resolution": summary, "end_to_end_fps": e2e[0]["fps"] if e2e else None,
               "end_to_end": e2e, "targets": targets}
        print(json.dumps(out, indent=1))
        return 0
    print(f"threads {threads}, other load {busy:.1f} cores; medians of {args.repeats} repeats x {args.runs} run(s)")
    print(f"{'network':<10} {'resolution':>10} {'mode':>13} {'ms/frame':>9} {'fps':>7} {'GFLOP':>7} {'params':>9}")
    for r in bench.median_rows(rows):
        print(f"{r.name:<10} {r.width:>5}x{r.height:<4} {r.mode:>13} {r.ms_per_frame:9.1f} {r.fps:7.1f} "
              f"{r.gflop:7.2f} {r.params / 1e6:8.3f}M")
    for s in summary:
        print(f"{s['resolution']}: livestyle {s['livestyle_fps']:.1f} fps ({s['livestyle_mode']}) vs reference "
              f"{s['reference_fps']:.1f} fps ({s['reference_mode']}): {s['ratio']:.1f}x")
    for e in e2e:
        print(f"end to end {e['clip']} {e['resolution']}: {e['fps']:.1f} fps over {e['frames']} frames, median of "
              f"{e['runs']} (network {e['network_ms_per_frame']:.1f} ms/frame, temporal {e['temporal_ms_per_frame']:.1f} "
              f"ms/frame; decode and encode busy {e['decode_share']:.0%} and {e['encode_share']:.0%} of the time"
              f"{', in their own threads' if e['pipelined'] else ''})")
    for name, t in targets.items():
        print(f"target {name}: {t['value']:g} vs >= {t['target']:g}: {'met' if t['met'] else 'NOT met'}")
    return 0


# ---- webcam -----------------------------------------------------------------------------------

def _open_video_sink(path: str, width: int, height: int, *, stream: bool = False):
    """A recording (temporary file renamed on close) or a live stream, with millisecond timestamps."""
    from fractions import Fraction

    from .atomic import reserve_temp

    from .sinks import VideoFileSink
    from .webcam import MS, TimedSink

    if stream:
        scheme = path.split("://", 1)[0].lower()
        fmt = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts", "tcp": "mpegts"}.get(scheme)
        if fmt is None:
            raise ValueError(f"expected a stream URL starting with rtmp://, srt://, udp:// or tcp://, got {path!r}")
        return TimedSink(VideoFileSink(path, width, height, rate=Fraction(30), time_base=MS, format=fmt,
                                       crf=23, low_latency=True))
    _check_output_path(path, overwrite=False)
    ext = os.path.splitext(path)[1]
    tmp = reserve_temp(os.path.abspath(path), suffix=f".partial{ext or '.mp4'}")
    fmt = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}.get(ext.lower(), "mp4")
    try:
        sink = VideoFileSink(tmp, width, height, rate=Fraction(30), time_base=MS, format=fmt, crf=20)
    except BaseException:
        os.unlink(tmp)
        raise
    return TimedSink(sink, final_path=path, tmp_path=tmp)


def _cmd_webcam(args) -> int:
    import time

    from .capture import LiveSource
    from .controls import ControlState, Controls, StyleMix
    from .stylize import Stylizer
    from .webcam import LiveOptions, parse_keys, run_live
    from .weights import style_weights

    keys = parse_keys(args.keys) if args.keys else None
    if args.record:
        _check_output_path(args.record, overwrite=False)
    model = _load_model(args)
    if not args.styles:
        raise ValueError(f"expected --styles (up to 9 of: {', '.join(model.style_names + sorted(model.presets))})")
    names = [n.strip() for n in args.styles.split(",") if n.strip()]
    if len(names) > 9:
        raise ValueError(f"keys 1-9 pick styles, so --styles takes at most 9 names, got {len(names)}")
    vectors = [style_weights(n, model) for n in names]
    cfg = _stylize_config(args)
    cfg.batch_size = 1
    stylizer = Stylizer(model.net, cfg)
    state = ControlState(strength=args.strength, preserve_color=args.preserve_color,
                         temporal=args.temporal > 0, side_by_side=args.side_by_side, overlay=not args.no_overlay)
    controls = Controls(StyleMix(vectors, morph_s=args.morph_s), state)

    def stylize(x, mix):
        stylizer.cfg.strength, stylizer.cfg.preserve_color = state.strength, state.preserve_color
        return stylizer.stylize_tensor(x, mix)

    stabilizer = None
    if args.temporal > 0:
        stabilizer = _make_stabilizer(args)
    opts = LiveOptions(max_side_px=args.max_side, window=not args.no_window, record_path=args.record,
                       max_frames=args.max_frames, duration_s=args.duration, snapshot_dir=args.snapshot_dir,
                       style_names=names)
    with LiveSource(args.camera, size=args.size, fps=args.fps, loop=args.loop) as source:
        info = source.info
        _info(f"capturing {info.source}: {info.width}x{info.height} at {info.fps:.1f} fps"
              + (" (file played as a live camera)" if info.is_file else "")
              + (f"; asked for {args.size[0]}x{args.size[1]}" if args.size and (info.width, info.height) != tuple(args.size) else ""))
        extra = []
        if args.stream:
            from .frames import fit_size
            w, h = fit_size(info.width, info.height, max_side_px=args.max_side, even=True)
            extra.append(_open_video_sink(args.stream, w, h, stream=True))
        if args.virtual_camera:
            from .frames import fit_size
            from .sinks import VirtualCamSink
            w, h = fit_size(info.width, info.height, max_side_px=args.max_side, even=True)
            extra.append(VirtualCamSink(w, h, fps=info.fps))
        t0 = time.monotonic()
        stats = run_live(source, stylize, controls, opts, stabilizer=stabilizer,
                         open_recorder=lambda p, w, h: _open_video_sink(p, w, h), extra_sinks=extra,
                         scripted_keys=keys)
    for path in stats.snapshots:
        _info(f"snapshot {path}")
    for path in stats.recordings:
        if path:
            _info(f"recorded {path}")
    lat = stats.latency_median_ms()
    _info(f"{stats.frames} frames in {time.monotonic() - t0:.1f} s, {stats.fps:.1f} fps, "
          f"median latency {lat:.0f} ms, {stats.dropped} stale frames dropped")
    if stats.error:
        _err(stats.error + ("; recordings were finalized" if stats.recordings else ""))
        return EXIT_USAGE
    return 0


def _make_stabilizer(args):
    """Temporal coherence for live and file video (see livestyle/temporal.py)."""
    from .config import TemporalConfig
    from .temporal import TemporalStabilizer
    return TemporalStabilizer(TemporalConfig(weight=args.temporal))


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


# ---- video ------------------------------------------------------------------------------------

def _cmd_video_gatys(args) -> int:
    """`video --method gatys`: Gatys optimisation per frame with Ruder et al.'s temporal loss (slow)."""
    from .config import VideoConfig
    from .gatys import check_config, gatys_video
    from .transcode import VideoInterrupted

    _check_output(args.input, args.output, args.overwrite)
    if args.schedule or args.mix or args.strength != 1.0:
        raise ValueError("--method gatys takes no --schedule, --mix or --strength; blend styles with --style-weights")
    if not args.styles:
        raise ValueError("--method gatys needs --styles STYLE_IMAGE[,STYLE_IMAGE...] (image files, not style names)")
    if args.preset not in X264_PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(X264_PRESETS)}, got {args.preset!r}")
    cfg = _gatys_config(args)
    check_config(cfg)
    styles = _read_styles(args.styles, args.style_weights)
    bar = _GatysBar(snapshot_to=os.path.splitext(args.output)[0] + ".png" if cfg.save_every else None)
    vcfg = VideoConfig(codec=args.codec, crf=args.crf, preset=args.preset, overwrite=args.overwrite,
                       pipelined=args.pipeline)
    try:
        s = gatys_video(args.input, args.output, styles, cfg,
                        weights=list(args.style_weights) if args.style_weights else None, size=args.size,
                        video_cfg=vcfg, resume=not args.no_resume, keep_frames=args.keep_frames, progress=bar)
    except VideoInterrupted as e:
        bar.close()
        _info(f"livestyle: {e}; run the same command again to continue from the finished frames")
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    _info(f"wrote {args.output} ({s.width}x{s.height}, {s.frames} frames) in {s.seconds:.1f} s")
    return 0


def _cmd_video(args) -> int:
    from .config import VideoConfig
    if args.method == "gatys":
        return _cmd_video_gatys(args)
    from .stylize import Stylizer
    from .transcode import VideoInterrupted, stylize_video

    _check_output(args.input, args.output, args.overwrite)
    if not 0 <= args.crf <= 63:
        raise ValueError(f"--crf must be 0..51 for x264/x265 (0..63 for VP9/AV1), got {args.crf}")
    model = _load_model(args)
    if args.schedule:
        from .schedule import parse_schedule
        if args.styles or args.mix:
            raise ValueError("--schedule chooses the styles over time; leave out --styles and --mix")
        mix_at = parse_schedule(args.schedule, model).mix_at  # (N, n_styles) per batch
    else:
        mix = _mix_from_args(args, model)  # (n_styles,) for every frame
        mix_at = lambda times_s: mix  # noqa: E731
    cfg = _stylize_config(args)
    stylizer = Stylizer(model.net, cfg)
    stabilizer = _make_stabilizer(args) if args.temporal > 0 else None

    def process(frames, times_s):
        # always consecutive frames in order, so the stabilizer can carry the previous output along
        mix = mix_at(times_s)
        styled = stylizer(frames, mix)
        if stabilizer is None:
            return styled
        mixes = [mix[i] if mix.dim() == 2 else mix for i in range(len(frames))]
        return stabilizer.process(frames, styled, mixes=mixes, times_s=times_s)

    from tqdm import tqdm
    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc="stylizing", dynamic_ncols=True, disable=None)
        bar.update(done - bar.n)

    if args.preset not in X264_PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(X264_PRESETS)}, got {args.preset!r}")
    vcfg = VideoConfig(codec=args.codec, crf=args.crf, preset=args.preset, overwrite=args.overwrite,
                       pipelined=args.pipeline)
    try:
        s = stylize_video(args.input, args.output, process, video_cfg=vcfg, stylize_cfg=cfg, progress=progress)
    except VideoInterrupted as e:
        if bar is not None:
            bar.close()
        _info(f"livestyle: {e}")
        return EXIT_INTERRUPTED
    if bar is not None:
        bar.close()
    if s.skipped_frames:
        _warn(f"skipped {s.skipped_frames} corrupt frames")
    if s.ended_early or (s.frames_expected and s.frames + s.skipped_frames < s.frames_expected):
        _warn(f"{args.input} ended early: read {s.frames + s.skipped_frames} of the {s.frames_expected} frames "
              "its header lists (truncated file?)")
    audio = f"; audio: {', '.join(s.audio)}" if s.audio else "; no audio"
    _info(f"wrote {args.output} ({s.width}x{s.height}, {s.frames} frames{audio}) in {s.seconds:.1f} s, "
          f"{s.fps:.2f} fps; decode {s.decode_s:.1f} s, network {s.network_s:.1f} s, encode {s.encode_s:.1f} s")
    return 0


# ---- train / eval ----------------------------------------------------------------------------

_TRAIN_FIELDS = ("styles", "content_dir", "out", "overwrite", "checkpoint_dir", "image_size", "style_size",
                 "batch_size", "steps", "lr", "warmup_steps", "content_weight", "style_weight", "tv_weight", "temporal_weight",
                 "batch_styles", "vgg", "vgg_convention", "device", "threads", "seed", "log_every", "preview_every",
                 "checkpoint_every_s")


def _train_overrides(args) -> dict:
    """TrainConfig fields for the options given on the command line (the others keep their defaults,
    or on --resume the checkpoint's values)."""
    import json

    from .bench import parse_arch

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


def _cmd_train(args) -> int:
    import dataclasses
    import shlex

    from tqdm import tqdm

    from .checkpoint import FILE_NAME, resolve_checkpoint_path
    from .config import TrainConfig
    from .train import TrainingInterrupted, checkpoint_dir, resume_config, train

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
        _info(f"livestyle: interrupted after step {e.step}; checkpoint saved to {e.checkpoint}; "
              f"continue with `livestyle train --resume {e.checkpoint}`")
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
        pkg_log.removeHandler(handler)
        pkg_log.setLevel(old_level)
        pkg_log.propagate = old_propagate
    _info(f"wrote {path}")
    return 0


def _cmd_eval(args) -> int:
    import json

    from .data import parse_style_specs
    from .evaluate import evaluate, scores_to_dict
    from .weights import default_model_path

    model = args.weights or str(default_model_path())
    styles = dict(parse_style_specs(args.styles.split(","))) if args.styles else None
    if args.sheet:
        folder = os.path.dirname(os.path.abspath(args.sheet))
        if not os.path.isdir(folder):
            raise ValueError(f"--sheet folder {folder} does not exist")
    scores = evaluate(model, args.photos, styles=styles, limit=args.limit, max_side_px=args.max_side,
                      device=args.device, vgg=args.vgg, vgg_convention=args.vgg_convention, sheet=args.sheet,
                      gatys_photos=args.gatys, gatys_iterations=args.gatys_iterations)
    report = scores_to_dict(scores, model=model, photos_dir=args.photos, max_side_px=args.max_side,
                            style_distance="Gram loss output/photo (1 = unchanged, lower = more stylized)",
                            content_distance="relu3_3 MSE to the photo / photo relu3_3 energy (0 = same)")
    if args.json and args.json != "-":
        from .atomic import atomic_write_bytes
        atomic_write_bytes(args.json, (json.dumps(report, indent=1) + "\n").encode())
    if args.json == "-":
        print(json.dumps(report, indent=1))
        return 0
    print(f"{model}: {scores[0].photos} photos at <= {args.max_side} px")
    gatys = scores[0].gatys_photos
    print(f"{'style':<36} {'style dist':>10} {'content dist':>12}"
          + (f"   gatys ({gatys} photos): {'style':>6} {'content':>8}" if gatys else ""))
    for s in scores:
        print(f"{s.name:<36} {s.style_distance:10.3f} {s.content_distance:12.3f}"
              + (f"   {'':>18}{s.gatys_style_distance:6.3f} {s.gatys_content_distance:8.3f}" if gatys else ""))
    print("style dist: Gram loss of output / of the photo (lower = more stylized); "
          "content dist: relu3_3 MSE / photo energy (lower = more content kept)")
    if args.sheet:
        _info(f"wrote contact sheet {args.sheet}")
    return 0


# ---- eval-temporal ----------------------------------------------------------------------------

def _cmd_eval_temporal(args) -> int:
    """Warping error (Lai et al. 2018) of a stylized video, of its input (the floor), and with
    ground-truth flows where they apply. Flow: DIS medium, full resolution, on the input frames."""
    import json

    import numpy as np

    from .metrics import gt_flows_for, metric_flows, pair_warping_errors, read_frames

    if args.gt_flow and not os.path.isdir(args.gt_flow):
        raise NotADirectoryError(f"--gt-flow {args.gt_flow} is not a folder of .flo files")
    out_frames, out_numbers = read_frames(args.output, max_frames=args.max_frames, size=args.size)
    h, w = out_frames[0].shape[:2]
    if args.input:
        in_frames, in_numbers = read_frames(args.input, max_frames=args.max_frames, size=(w, h))
    else:
        in_frames, in_numbers = out_frames, out_numbers
        _warn("no --input: flow comes from the output frames themselves, so flicker that moves like "
              "motion goes unseen; pass the video the output was made from")
    n = min(len(in_frames), len(out_frames))
    if len(in_frames) != len(out_frames):
        _warn(f"input has {len(in_frames)} frames and output {len(out_frames)}; comparing the first {n}")
    if n < 2:
        raise ValueError(f"expected at least 2 frames, got {n} in {args.output}")
    in_frames, out_frames, in_numbers = in_frames[:n], out_frames[:n], in_numbers[:n]
    flows, masks = metric_flows(in_frames)
    in_error = float(np.mean(pair_warping_errors(in_frames, flows, masks))) if args.input else None
    result = {"output": args.output, "input": args.input, "frames": n, "size": f"{w}x{h}",
              "flow": "DIS medium preset, full resolution, on the input frames; forward-backward + "
                      "motion-boundary mask (Ruder et al. 2016)",
              "warping_error_output": float(np.mean(pair_warping_errors(out_frames, flows, masks))),
              "warping_error_input": in_error,
              "trusted_fraction": float(np.mean([m.mean() for m in masks]))}
    if args.gt_flow:
        numbers = in_numbers if args.input else out_numbers[:n]
        gt = gt_flows_for(numbers, args.gt_flow, (w, h))
        pairs = [(numbers[i], numbers[i + 1]) for i, g in enumerate(gt) if g is not None]
        result["gt_pairs"] = pairs
        result["gt_pairs_total"] = n - 1
        if pairs:
            result["warping_error_output_gt"] = float(np.mean(pair_warping_errors(out_frames, gt, [None] * len(gt))))
            if args.input:
                result["warping_error_input_gt"] = float(np.mean(pair_warping_errors(in_frames, gt, [None] * len(gt))))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"warping error (Lai et al. 2018), {n} frames {w}x{h}, {n - 1} pairs; "
          f"flow: DIS medium on the {'input' if args.input else 'output'} frames, "
          f"{result['trusted_fraction']:.0%} of pixels trusted")
    print(f"  output {result['warping_error_output']:.5f}")
    if args.input:
        ratio = result["warping_error_output"] / max(result["warping_error_input"], 1e-12)
        print(f"  input  {result['warping_error_input']:.5f}  (the floor: flow errors and lighting; "
              f"output is {ratio:.1f}x)")
    if args.gt_flow:
        if result["gt_pairs"]:
            first, last = result["gt_pairs"][0][0], result["gt_pairs"][-1][0]
            print(f"  with ground-truth flows from {args.gt_flow} ({len(pairs)} of {n - 1} pairs, frames "
                  f"{first}..{last + 1}; motion-boundary mask only):")
            print(f"    output {result['warping_error_output_gt']:.5f}")
            if args.input:
                print(f"    input  {result['warping_error_input_gt']:.5f}")
        else:
            from .metrics import frame_number
            known = sorted(x for x in numbers if x is not None)
            span = f"frames {known[0]}..{known[-1]}" if known else "frames without numbers in their names"
            flo = sorted(k for k in (frame_number(p) for p in Path(args.gt_flow).glob("*.flo")) if k is not None)
            flo_span = f"flows from frames {flo[0]}..{flo[-1]}" if flo else "no numbered .flo files"
            print(f"  ground-truth flows apply to none of the {n - 1} pairs: {span}, {flo_span} "
                  f"in {args.gt_flow} (NNNN.flo is the flow from frame NNNN to NNNN+1)")
    return 0


# ---- gatys ------------------------------------------------------------------------------------

def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 0.25,0.5,1, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one number, got {text!r}")
    return values


def _layer_weights(text: str) -> dict[str, float]:
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


def _add_gatys_options(p: argparse.ArgumentParser, *, video: bool = False) -> None:
    """Options of `gatys`; with video=True the ones `video --method gatys` needs beyond its own
    (--max-side, --preserve-color, --weights, --device, --threads and --overwrite are the video command's)."""
    from .config import GatysConfig
    d = GatysConfig()
    p.add_argument("--style-weights", type=_float_list, metavar="W1,W2,...", help="blend weights of the styles, "
                   "normalised to sum 1 (default: equal)")
    p.add_argument("--iterations", type=_positive_int, help=f"iterations at full size (default {d.iterations})")
    p.add_argument("--coarse-iterations", type=int, metavar="N", help="iterations at each coarser scale "
                   f"(default {d.coarse_iterations})")
    p.add_argument("--scales", type=_float_list, metavar="S1,S2,...", help="coarse to fine, fractions of the "
                   f"output size (default {','.join(f'{s:g}' for s in d.scales)}; 1 = single scale)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), help="default lbfgs")
    p.add_argument("--lr", type=float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    p.add_argument("--init", choices=("content", "noise", "net"), help="start from the content (default), "
                   "seeded noise, or a livestyle network's output (--weights FILE --init-style NAME)")
    p.add_argument("--init-style", metavar="NAME", help="--init net: style, preset or mix of the --weights model")
    p.add_argument("--content-weight", type=float, help=f"default {d.content_weight:g}")
    p.add_argument("--style-weight", type=float, help=f"default {d.style_weight:g}")
    p.add_argument("--tv-weight", type=float, help=f"default {d.tv_weight:g}")
    p.add_argument("--content-layer", help=f"default {d.content_layer}")
    p.add_argument("--style-layers", type=_layer_weights, metavar="L[:W],...",
                   help=f"default {','.join(d.style_layers)} (weight 1 each)")
    p.add_argument("--style-scale", type=float, help="style image size relative to the output (default 1)")
    p.add_argument("--save-every", type=_positive_int, metavar="N", help="write OUT's name + .iterNNNN every N "
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
        p.add_argument("--temporal-weight", type=float, help=f"temporal loss weight (default {d.temporal_weight:g}; "
                       "0 = frames independent)")
        p.add_argument("--long-term", type=lambda t: tuple(int(v) for v in t.split(",")), metavar="J1,J2,...",
                       help="earlier frames tied by the temporal loss, e.g. 1,2,4 (default 1: short-term only)")
        p.add_argument("--video-iterations", type=_positive_int, help="iterations for frames after the first "
                       "(default --iterations)")
        p.add_argument("--no-resume", action="store_true", help="start over instead of reusing finished frames")
        p.add_argument("--keep-frames", action="store_true", help="keep OUT.gatys-frames/ after writing the video")
        return
    p.add_argument("--weights", metavar="FILE", help="--init net: livestyle model file (.safetensors)")
    p.add_argument("--max-side", type=_positive_int, metavar="PX", help=f"output's longest side (default {d.max_side_px})")
    p.add_argument("--preserve-color", choices=("luminance", "histogram"), help="keep the content's colours: "
                   "luminance-only transfer, or style colours matched to the content (Gatys et al. 2016)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _gatys_config(args):
    """GatysConfig from the `gatys` options (or `video --method gatys`: --preserve-color there is a flag)."""
    from .config import GatysConfig
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


def _read_styles(spec: str, weights) -> list:
    """Style images from 'a.jpg,b.jpg' as float (1, 3, H, W) tensors; checks the weights' count."""
    from .frames import frame_to_tensor, read_image
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


class _GatysBar:
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
            from .atomic import atomic_write_bytes
            from .frames import encode_image, tensor_to_frame
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


def _cmd_gatys(args) -> int:
    import time

    import numpy as np

    from .atomic import atomic_write_bytes
    from .frames import encode_image, fit_size, frame_to_tensor, read_image, resize_frame, tensor_to_frame
    from .gatys import check_config, optimize

    cfg = _gatys_config(args)
    check_config(cfg)
    _check_output(args.content, args.output, args.overwrite)
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
    styles = _read_styles(args.styles, args.style_weights)
    frame = read_image(args.content)
    w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px)
    content = frame_to_tensor(resize_frame(frame, w, h))
    bar = _GatysBar(snapshot_to=args.output if cfg.save_every else None)
    t0 = time.perf_counter()
    try:
        styled = optimize(content, styles, cfg, weights=args.style_weights and list(args.style_weights), progress=bar)
    finally:
        bar.close()
    atomic_write_bytes(args.output, encode_image(tensor_to_frame(styled), ext), overwrite=args.overwrite)
    _info(f"wrote {args.output} ({w}x{h}) in {time.perf_counter() - t0:.1f} s")
    return 0


# ---- parser -----------------------------------------------------------------------------------

def _key_help() -> str:
    from .controls import KEY_HELP
    return KEY_HELP


def build_parser() -> argparse.ArgumentParser:
    from .config import TemporalConfig  # dataclasses only: cheap to import
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

    s = sub.add_parser("webcam", help="live camera in, stylized preview out; keys switch and blend styles",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="keys:\n" + _key_help())
    s.add_argument("--camera", default="0", help="device index, /dev/video path, video file or stream URL (default 0)")
    s.add_argument("--loop", action="store_true", help="loop a video file used as the camera")
    s.add_argument("--fps", type=_positive_float, help="frame rate to ask the camera for (what it gives is read back)")
    s.add_argument("--record", metavar="FILE", help="record the stylized stream from the start (r toggles)")
    s.add_argument("--stream", metavar="URL", help="send the stylized stream to rtmp://, srt:// or udp://")
    s.add_argument("--virtual-camera", action="store_true", help="send to a v4l2loopback virtual camera (pyvirtualcam)")
    s.add_argument("--no-window", action="store_true", help="no preview window (headless)")
    s.add_argument("--side-by-side", action="store_true", help="show the camera image beside the stylized one")
    s.add_argument("--no-overlay", action="store_true", help="start without the fps/style overlay (o toggles)")
    s.add_argument("--temporal", type=_unit_float, default=TemporalConfig().weight,
                   help=f"temporal coherence weight 0..1 (0 = off; default {TemporalConfig().weight:g})")
    s.add_argument("--morph-s", type=_non_negative_float, default=0.5, help="seconds a style switch takes (default 0.5)")
    s.add_argument("--keys", metavar="K@T,...", help="scripted keys, e.g. '2@1.5,b@2,3@40f,q@5' (seconds or frames)")
    s.add_argument("--max-frames", type=_positive_int, help="stop after N frames")
    s.add_argument("--duration", type=_positive_float, metavar="S", help="stop after S seconds")
    s.add_argument("--snapshot-dir", default=".", help="folder for snapshots (s) and recordings (r)")
    _add_stylize_options(s)
    s.set_defaults(func=_cmd_webcam, max_side=640)  # the network runs at <= 640 px unless --max-side says otherwise

    s = sub.add_parser("bench", help="time livestyle's network against the reference in the same run")
    s.add_argument("--arch", default="fast", help="network to time: fast (shipped), faster, johnson, or key=value,...")
    s.add_argument("--resolution", type=_parse_size, action="append", metavar="WxH",
                   help="frame size (repeatable; default 640x360)")
    s.add_argument("--modes", default="compile+bf16", help="comma list of eager, channels_last, bf16, compile, "
                   "compile+bf16 (default compile+bf16, what `livestyle video` uses on this kind of CPU)")
    s.add_argument("--reference-modes", default="eager", help="modes for the reference network (default eager)")
    s.add_argument("--repeats", type=_positive_int, default=5, help="timed repeats per row (median reported)")
    s.add_argument("--runs", type=_positive_int, default=1, help="repeat the whole table (medians across runs)")
    s.add_argument("--clip", metavar="VIDEO", help="clip for the end-to-end timing (decode, stylize, temporal "
                   "coherence, encode; default samples/demo.mp4)")
    s.add_argument("--no-e2e", action="store_true", help="skip the end-to-end timing")
    s.add_argument("--e2e-max-side", type=_positive_int, nargs="+", default=[640, 1280], metavar="PX",
                   help="end to end at these sizes (longest side; default 640 1280, i.e. 640x360 and 1280x720 "
                   "for a 16:9 clip)")
    s.add_argument("--e2e-runs", type=_positive_int, default=3, help="end-to-end runs per size; the median is "
                   "reported (default 3)")
    s.add_argument("--pipeline", action="store_true", help="end to end with decode and encode in their own "
                   "threads (video --pipeline)")
    s.add_argument("--temporal", type=_unit_float, default=TemporalConfig().weight,
                   help=f"temporal coherence weight end to end (default {TemporalConfig().weight:g})")
    s.add_argument("--device", default="cpu")
    s.add_argument("--threads", type=_positive_int)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_cmd_bench)

    # >>> video (owned by the video I/O work)
    s = sub.add_parser("video", help="stylize a video file (keeps frame rate, timestamps and audio)")
    s.add_argument("input", help="input video (MP4, MOV, MKV, WebM, ...)")
    s.add_argument("output", help="output video; .mp4 gets H.264 + the input's audio")
    _add_stylize_options(s)
    s.add_argument("--crf", type=int, default=18, help="quality for x264/x265/VP9/AV1: lower is better, bigger "
                   "(default 18, visually lossless)")
    s.add_argument("--codec", default="libx264", help="video encoder (default libx264; e.g. libx265, libvpx-vp9)")
    s.add_argument("--preset", default="veryfast", help="x264/x265 speed preset: ultrafast ... veryslow "
                   "(default veryfast; slower presets give smaller files at the same --crf)")
    s.add_argument("--batch-size", type=_positive_int, help="frames per network call (default 1 on a CPU, "
                   "4 on CUDA)")
    s.add_argument("--pipeline", action="store_true", help="decode and encode in threads beside the network "
                   "(helps with spare cores; on 2 cores it was slower)")
    s.add_argument("--temporal", type=_unit_float, default=TemporalConfig().weight,
                   help="temporal coherence: weight of the previous stylized frame warped along optical flow, 0..1 "
                   f"(0 = off, per-frame; default {TemporalConfig().weight:g})")
    s.add_argument("--method", choices=("network", "gatys"), default="network", help="network: the feed-forward "
                   "network (fast, default); gatys: optimise every frame against VGG losses with a temporal loss "
                   "(Ruder et al. 2016; minutes per frame, --styles then names style images)")
    s.add_argument("--schedule", metavar="T:MIX,...", help="morph between styles along the clip, e.g. "
                   "0:monet,10s:vangogh (TIME in seconds; MIX a style, preset or a:0.7+b:0.3)")
    gatys_group = s.add_argument_group("--method gatys")
    _add_gatys_options(gatys_group, video=True)
    s.set_defaults(func=_cmd_video)
    # <<< video
    # >>> train / eval (owned by the training work)
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
    s.add_argument("--image-size", type=_positive_int, metavar="PX", help="training crop size (default 256)")
    s.add_argument("--style-size", type=_positive_int, metavar="PX", help="longest side of the style images "
                   "for their Gram targets (default: --image-size)")
    s.add_argument("--batch-size", type=_positive_int, help="photos per step and process (default 4)")
    s.add_argument("--steps", type=_positive_int, help="training steps in all (default 2000)")
    s.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    s.add_argument("--warmup-steps", type=int, metavar="N", help="raise the lr linearly over N steps (default 0; "
                   "use ~10%% of the steps with --lr above 3e-3)")
    s.add_argument("--content-weight", type=float, help="default 1e-5 (relu2_2 MSE, Caffe VGG scale)")
    s.add_argument("--style-weight", type=float, help="default 1e-5 (Gram MSE, relu1_2..relu3_3)")
    s.add_argument("--tv-weight", type=float, help="default 10 (total variation of the output)")
    s.add_argument("--temporal-weight", type=_non_negative_float, metavar="W", help="temporal loss on synthetically "
                   "moved copies of the photos (stabler video without --temporal; default 0 = off; costs ~1.5x "
                   "per step)")
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
    s.add_argument("--threads", type=_positive_int, help="CPU threads per process")
    s.add_argument("--seed", type=int, help="default 0")
    s.add_argument("--checkpoint-dir", metavar="DIR", help="default: <out>.ckpt/ beside --out")
    s.add_argument("--checkpoint-every-s", type=float, metavar="S", help="seconds between checkpoints "
                   "(default 300)")
    s.add_argument("--preview-every", type=int, metavar="N", help="steps between preview PNGs in the "
                   "checkpoint folder (default 200, 0 = none)")
    s.add_argument("--log-every", type=_positive_int, metavar="N", help="steps between log lines (default 50)")
    s.add_argument("--resume", nargs="?", const="", metavar="CKPT", help="continue from a checkpoint (file or "
                   "folder; default: the one of --out); options given again override the saved ones")
    s.add_argument("--base", metavar="MODEL", help="add styles to this model: only the new styles' CIN rows train")
    s.add_argument("--add-style", action="append", metavar="NAME=PATH", help="style to add to --base (repeatable)")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("eval", help="quality report: style and content distances per style, contact sheet")
    s.add_argument("photos", help="folder of photos")
    s.add_argument("--weights", metavar="FILE", help="model file (default weights/livestyle.safetensors)")
    s.add_argument("--limit", type=_positive_int, metavar="N", help="use the first N photos")
    s.add_argument("--styles", metavar="NAME=PATH,...", help="style images (default: the model's training record)")
    s.add_argument("--max-side", type=_positive_int, default=256, metavar="PX", help="photo size (default 256)")
    s.add_argument("--sheet", metavar="FILE", help="write a contact sheet (rows photos, columns styles)")
    s.add_argument("--gatys", type=_non_negative_int, default=0, metavar="N", help="also optimise the first N photos per style "
                   "with Gatys et al. and score them the same way: what the losses can reach (slow)")
    s.add_argument("--gatys-iterations", type=_positive_int, default=100, help="Gatys iterations at full size")
    s.add_argument("--json", nargs="?", const="-", metavar="FILE", help="JSON report to FILE, or to stdout instead "
                   "of the table")
    s.add_argument("--device", default="auto")
    s.add_argument("--vgg", metavar="PATH", help="VGG weights (default $LIVESTYLE_VGG, else torchvision's)")
    s.add_argument("--vgg-convention", choices=("caffe", "torchvision"))
    s.set_defaults(func=_cmd_eval)
    # <<< train / eval
    # >>> gatys (optimisation mode)
    s = sub.add_parser("gatys", help="optimise one image against VGG content and style losses (Gatys et al.; "
                       "slow, best quality)",
                       description="Gatys et al. 2016 style transfer by optimising the output's pixels: L-BFGS, "
                       "coarse to fine, bf16 VGG where the CPU has it. Minutes per 512 px image on a CPU.")
    s.add_argument("content", help="content image")
    s.add_argument("styles", metavar="STYLE[,STYLE2...]", help="style image(s), blended by --style-weights")
    s.add_argument("output", help="output image (.png, .jpg, ...)")
    _add_gatys_options(s)
    s.set_defaults(func=_cmd_gatys)
    # <<< gatys
    s = sub.add_parser("eval-temporal", help="flicker metric: warping error of a stylized video (Lai et al. 2018)")
    s.add_argument("output", metavar="OUTPUT", help="stylized video file or folder of frames")
    s.add_argument("--input", metavar="INPUT", help="the video or frames it was made from; flow is computed on "
                   "these (default: on the output itself)")
    s.add_argument("--gt-flow", metavar="DIR", help="folder of ground-truth .flo files, NNNN.flo = flow from frame "
                   "NNNN to NNNN+1 (Sintel); used for the pairs whose frame numbers match")
    s.add_argument("--max-frames", type=_positive_int, metavar="N", help="use the first N frames")
    s.add_argument("--size", type=_parse_size, metavar="WxH", help="resize frames first (e.g. 640x360)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_cmd_eval_temporal)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="livestyle: %(levelname)s: %(message)s")
    # torch.compile's C++ toolchain probe warns about CUDA_HOME on CPU-only machines: not our user's concern
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
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

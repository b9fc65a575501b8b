"""`livestyle video`: a video file through the frame step (or Gatys optimisation), timestamps and audio kept."""
from __future__ import annotations

import os

from .common import (
    EXIT_INTERRUPTED, X264_PRESETS, add_file_command, check_input_output, info, load_model,
    mix_from_args, non_negative_int, positive_int, progress_bar, stylize_config, temporal_config,
    unit_float, warn)
from .gatys import GatysBar, add_gatys_options, gatys_config, read_styles


def run_gatys(args) -> int:
    """`video --method gatys`: Gatys optimisation per frame with Ruder et al.'s temporal loss (slow)."""
    from ..config import VideoConfig
    from ..gatys import check_config
    from ..gatys_video import gatys_video

    check_input_output(args.input, args.output, args.overwrite)
    if args.schedule or args.mix or args.strength != 1.0:
        raise ValueError("--method gatys takes no --schedule, --mix or --strength; blend styles with --style-weights")
    if not args.styles:
        raise ValueError("--method gatys needs --styles STYLE_IMAGE[,STYLE_IMAGE...] (image files, not style names)")
    if args.preset not in X264_PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(X264_PRESETS)}, got {args.preset!r}")
    cfg = gatys_config(args)
    check_config(cfg)
    styles = read_styles(args.styles, args.style_weights)
    bar = GatysBar(snapshot_to=os.path.splitext(args.output)[0] + ".png" if cfg.save_every else None)
    vcfg = VideoConfig(codec=args.codec, crf=args.crf, preset=args.preset, overwrite=args.overwrite,
                       pipelined=args.pipeline)
    s = _until_interrupted(bar, lambda: gatys_video(
        args.input, args.output, styles, cfg, weights=list(args.style_weights) if args.style_weights else None,
        size=args.size, video_cfg=vcfg, resume=not args.no_resume, keep_frames=args.keep_frames, progress=bar),
        "; run the same command again to continue from the finished frames")
    if s is None:
        return EXIT_INTERRUPTED
    info(f"wrote {args.output} ({s.width}x{s.height}, {s.frames} frames) in {s.seconds:.1f} s")
    return 0


def _until_interrupted(bar, job, note: str = ""):
    """job() under the progress bar; after Ctrl-C (transcode.VideoInterrupted: what was encoded is kept) its
    line, and None."""
    from ..transcode import VideoInterrupted
    try:
        return job()
    except VideoInterrupted as e:
        bar.close()
        info(f"livestyle: {e}{note}")
        return None
    finally:
        bar.close()


def run(args) -> int:
    from ..config import VideoConfig
    if args.method == "gatys":
        return run_gatys(args)
    from ..stylize import StreamStylizer
    from ..transcode import stylize_video

    check_input_output(args.input, args.output, args.overwrite)
    model = load_model(args)
    if args.schedule:
        from ..schedule import parse_schedule
        if args.styles or args.mix:
            raise ValueError("--schedule chooses the styles over time; leave out --styles and --mix")
        mix_at = parse_schedule(args.schedule, model).mix_at  # (N, n_styles) per batch
    else:
        mix_at = mix_from_args(args, model)  # (n_styles,) for every frame
    if args.preset not in X264_PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(X264_PRESETS)}, got {args.preset!r}")
    vcfg = VideoConfig(codec=args.codec, crf=args.crf, preset=args.preset, overwrite=args.overwrite,
                       pipelined=args.pipeline)
    step = StreamStylizer.for_model(model, stylize_config(args), temporal_config(args))
    bar = progress_bar("frame", "stylizing")
    s = _until_interrupted(bar, lambda: stylize_video(args.input, args.output, step, mix_at, video_cfg=vcfg,
                                                      progress=bar.update_to))
    if s is None:
        return EXIT_INTERRUPTED
    if s.skipped_frames:
        warn(f"skipped {s.skipped_frames} corrupt frames")
    if s.ended_early or (s.frames_expected and s.frames + s.skipped_frames < s.frames_expected):
        warn(f"{args.input} ended early: read {s.frames + s.skipped_frames} of the {s.frames_expected} frames "
             "its header lists (truncated file?)")
    audio = f"; audio: {', '.join(s.audio)}" if s.audio else "; no audio"
    # the network and its runtime in the summary, not before: bad input must stay one line
    info(f"wrote {args.output} ({s.width}x{s.height}, {s.frames} frames{audio}) in {s.seconds:.1f} s, "
         f"{s.fps:.2f} fps; decode {s.decode_s:.1f} s, network {s.network_s:.1f} s "
         f"({os.path.basename(model.path)}, {step.backend}), encode {s.encode_s:.1f} s")
    return 0



def add_parser(sub) -> None:
    import argparse

    from ..config import TemporalConfig, VideoConfig  # dataclasses only: cheap to import
    s = add_file_command(sub, "video", help="stylize a video file (keeps frame rate, timestamps and audio)",
                         input_help="input video (MP4, MOV, MKV, WebM, ...)",
                         output_help="output video; .mp4 gets H.264 + the input's audio")
    s.add_argument("--crf", type=non_negative_int, default=18, help="quality for x264/x265/VP9/AV1: lower is better, bigger "
                   "(default 18, visually lossless)")
    s.add_argument("--codec", default="libx264", help="video encoder (default libx264; e.g. libx265, libvpx-vp9)")
    s.add_argument("--preset", default="veryfast", help="x264/x265 speed preset: ultrafast ... veryslow "
                   "(default veryfast; slower presets give smaller files at the same --crf)")
    s.add_argument("--batch-size", type=positive_int, help="frames per network call (default 1 on a CPU, "
                   "4 on CUDA)")
    s.add_argument("--pipeline", action=argparse.BooleanOptionalAction, default=VideoConfig().pipelined,
                   help="decode and encode in threads beside the network (default on: 8-10 %% faster on 2 cores "
                   "with the shipped network)")
    s.add_argument("--temporal", type=unit_float, default=TemporalConfig().weight,
                   help="temporal coherence: weight of the previous stylized frame warped along optical flow, 0..1 "
                   f"(0 = off, per-frame; default {TemporalConfig().weight:g})")
    s.add_argument("--method", choices=("network", "gatys"), default="network", help="network: the feed-forward "
                   "network (fast, default); gatys: optimise every frame against VGG losses with a temporal loss "
                   "(Ruder et al. 2016; minutes per frame, --styles then names style images)")
    s.add_argument("--schedule", metavar="T:MIX,...", help="morph between styles along the clip, e.g. "
                   "0:monet,10s:vangogh (TIME in seconds; MIX a style, preset or a:0.7+b:0.3)")
    gatys_group = s.add_argument_group("--method gatys")
    add_gatys_options(gatys_group, video=True)
    s.set_defaults(func=run)

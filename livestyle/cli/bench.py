"""`livestyle bench`: speed of the network, end to end, against the reference in the same run."""
from __future__ import annotations

import os

from .common import (
    DEMO_CLIP, info, non_negative_float, non_negative_int, parse_size, positive_int, unit_float, warn)


def run(args) -> int:
    import dataclasses
    import json

    import torch

    from .. import bench
    from ..model import parse_arch

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    model_path = None  # the end-to-end timing runs this model file through video's own frame step
    if args.arch == "shipped":
        from ..modelfile import default_model_path, read_model_info
        model_path = str(default_model_path())
        cfg = read_model_info(model_path)[0]
    else:
        cfg = parse_arch(args.arch)
    if args.clip and not args.no_e2e and not os.path.isfile(args.clip):  # before minutes of timing
        raise FileNotFoundError(f"--clip: input not found: {args.clip}")
    resolutions = args.resolution or [(640, 360)]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ref_modes = tuple(m.strip() for m in args.reference_modes.split(",") if m.strip())
    for flag, asked in (("--modes", modes), ("--reference-modes", ref_modes)):
        unknown = [m for m in asked if m not in ("auto", *bench.MODES)]
        if unknown or not asked:
            raise ValueError(f"{flag}: expected a comma list of auto, {', '.join(bench.MODES)}, "
                             f"got {unknown or 'none'}")
    modes, ref_modes = bench.resolve_modes(modes, args.device), tuple(bench.resolve_modes(list(ref_modes), args.device))
    busy = bench.busy_cores()  # said once the options are known to be good: bad input stays one line
    if busy > 0.5:
        warn(f"{busy:.1f} of {os.cpu_count() or 1} cores are busy with other work: timings will be slow and noisy")
    say = (lambda m: None) if args.json else (lambda m: info(m))
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
                                        runs=args.e2e_runs, pipelined=args.pipeline, model_path=model_path,
                                        warm_compile=any("compile" in m for m in modes)))
    if clip and not args.no_e2e and args.load:
        side = args.e2e_max_side[0]
        say(f"end to end at max side {side} with {args.load} busy-loop process(es)")
        with bench.busy_load(args.load):
            loaded = bench.end_to_end(clip, cfg, device=args.device, max_side_px=side, temporal=args.temporal,
                                      runs=args.e2e_runs, pipelined=args.pipeline, model_path=model_path,
                                      warm_compile=any("compile" in m for m in modes))
        e2e.append({**loaded, "load": args.load})
    live_runs = {}
    if clip and args.live_seconds:
        from ..modelfile import default_model_path
        live_model = default_model_path() if args.live_net == "shipped" else None
        for n in ([0, args.load] if args.load else [0]):
            label = "idle" if n == 0 else f"load {n}"
            say(f"webcam on {clip} looped, {args.live_seconds:g} s from the start, {label}"
                + (f" ({n} busy-loop process{'es' if n > 1 else ''})" if n else ""))
            with bench.busy_load(n):
                live_runs[label] = bench.live(clip, cfg, seconds=args.live_seconds, temporal=args.temporal,
                                              max_side_px=args.live_max_side, target_fps=args.target_fps,
                                              device=args.device, model_path=live_model and str(live_model))
    targets = bench.targets_report(summary, [e for e in e2e if not e.get("load")], live_runs)
    if args.json:
        out = {**summary[0], "threads": threads, "busy_cores": round(busy, 2), "arch": args.arch,
               "per_resolution": summary, "end_to_end_fps": e2e[0]["fps"] if e2e else None,
               "end_to_end": e2e, "live": live_runs, "targets": targets,
               "rows": [{**dataclasses.asdict(r), "fps": round(r.fps, 2)} for r in bench.median_rows(rows)]}
        print(json.dumps(out, indent=1))
        return 0
    print(f"threads {threads}, other load {busy:.1f} cores; medians of {args.repeats} repeats x {args.runs} run(s)")
    print(f"{'network':<10} {'resolution':>10} {'mode':>13} {'ms/frame':>9} {'fps':>7} {'1st frame':>10} "
          f"{'GFLOP':>7} {'params':>9}")
    for r in bench.median_rows(rows):
        print(f"{r.name:<10} {r.width:>5}x{r.height:<4} {r.mode:>13} {r.ms_per_frame:9.1f} {r.fps:7.1f} "
              f"{r.first_frame_ms / 1000:9.2f}s {r.gflop:7.2f} {r.params / 1e6:8.3f}M")
    for s in summary:
        print(f"{s['resolution']}: livestyle {s['livestyle_fps']:.1f} fps ({s['livestyle_mode']}) vs reference "
              f"{s['reference_fps']:.1f} fps ({s['reference_mode']}): {s['ratio']:.1f}x")
    for e in e2e:
        print(f"end to end {e['clip']} {e['resolution']} ({e['model']}, {e['backend']}){' with load ' + str(e['load']) if e.get('load') else ''}: {e['fps']:.1f} fps over {e['frames']} frames, median of "
              f"{e['runs']} (network {e['network_ms_per_frame']:.1f} ms/frame, temporal {e['temporal_ms_per_frame']:.1f} "
              f"ms/frame; decode and encode busy {e['decode_share']:.0%} and {e['encode_share']:.0%} of the time"
              f"{', in their own threads' if e['pipelined'] else ''})")
    for label, r in live_runs.items():
        print(f"webcam {label} {r['resolution']} ({r['model']}, {r['backend']}): {r['frames']} frames in {r['seconds']:.1f} s, {r['fps']:.1f} fps, median latency "
              f"{r['latency_median_ms']:.0f} ms, first frame after {r['first_frame_s']:.2f} s; network scale shares "
              f"{r['scale_share']}, carried along the flow {r['carried_share']:.0%}")
    for name, t in targets.items():
        print(f"target {name}: {t['value']:g} vs {'<=' if 'latency' in name or 'first' in name else '>='} {t['target']:g}: "
              f"{'met' if t['met'] else 'NOT met'}")
    return 0



def add_parser(sub) -> None:
    import argparse

    from ..config import TemporalConfig, VideoConfig  # dataclasses only: cheap to import
    s = sub.add_parser("bench", help="time livestyle's network against the reference in the same run")
    s.add_argument("--arch", default="shipped", help="network to time: shipped (default: the shipped model's "
                   "network, and end to end the model itself through `video`'s frame step), one, fast, live, "
                   "faster, johnson, or key=value,... (random weights)")
    s.add_argument("--resolution", type=parse_size, action="append", metavar="WxH",
                   help="frame size (repeatable; default 640x360)")
    s.add_argument("--modes", default="auto", help="comma list of auto, eager, channels_last, bf16, compile, "
                   "compile+bf16, onnxruntime (default auto: the runtime `livestyle video` picks on this machine, "
                   "ONNX Runtime on a CPU without native bf16, bf16 on one with it)")
    s.add_argument("--reference-modes", default="auto", help="modes for the Johnson et al. reference network "
                   "(default auto, the same runtime as ours)")
    s.add_argument("--repeats", type=positive_int, default=5, help="timed repeats per row (median reported)")
    s.add_argument("--runs", type=positive_int, default=1, help="repeat the whole table (medians across runs)")
    s.add_argument("--clip", metavar="VIDEO", help="clip for the end-to-end timing (decode, stylize, temporal "
                   "coherence, encode; default samples/demo.mp4)")
    s.add_argument("--no-e2e", action="store_true", help="skip the end-to-end timing")
    s.add_argument("--e2e-max-side", type=positive_int, nargs="+", default=[640, 1280], metavar="PX",
                   help="end to end at these sizes (longest side; default 640 1280, i.e. 640x360 and 1280x720 "
                   "for a 16:9 clip)")
    s.add_argument("--e2e-runs", type=positive_int, default=3, help="end-to-end runs per size; the median is "
                   "reported (default 3)")
    s.add_argument("--pipeline", action=argparse.BooleanOptionalAction, default=VideoConfig().pipelined,
                   help="end to end with decode and encode in their own threads, as `video` (default: video's)")
    s.add_argument("--temporal", type=unit_float, default=TemporalConfig().weight,
                   help=f"temporal coherence weight end to end (default {TemporalConfig().weight:g})")
    s.add_argument("--live-seconds", type=non_negative_float, default=0.0, metavar="S", help="also time the "
                   "webcam on --clip looped, S seconds from the start (the issue's measure: 40; default 0 = not)")
    s.add_argument("--live-max-side", type=positive_int, default=640, metavar="PX", help="the webcam timing's "
                   "output size, longest side (default 640, the webcam's; 1280 for 720p live)")
    s.add_argument("--live-net", choices=["shipped", "arch"], default="shipped",
                   help="the webcam timing's model: shipped (default: the shipped model, as `webcam` runs it, with "
                   "its ONNX export), arch (random weights of --arch)")
    s.add_argument("--load", type=non_negative_int, default=0, metavar="N", help="repeat the end-to-end and webcam "
                   "timings with N busy-loop processes keeping N cores busy, idle and loaded in one run")
    s.add_argument("--target-fps", type=non_negative_float, help="the webcam timing's adaptive resolution target "
                   "(default: the clip's frame rate, at most 24, as `webcam` does; 0 = off, always full size)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--threads", type=positive_int)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run)

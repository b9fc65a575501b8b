"""`livestyle batch`: pictures and videos (files or folders) into DIR, one model load, resumable; each input
fails alone (exit 1 when some did), on one machine or on Ray (`--ray`)."""
from __future__ import annotations

import os
import time

from .common import (EXIT_INTERRUPTED, X264_PRESETS, add_stylize_options, info, non_negative_int, positive_int,
                     progress_bar, stylize_config, temporal_config, unit_float)

EXIT_SOME_FAILED = 1


def run(args) -> int:
    import json

    from ..batch import BatchSpec, check_mix, frames_expected, join_shots, plan_jobs, run_batch, split_shots, summary
    from ..config import VideoConfig
    from ..modelfile import default_model_path

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a file; expected a folder for the outputs")
    if args.preset not in X264_PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(X264_PRESETS)}, got {args.preset!r}")
    if args.mix and args.styles:
        raise ValueError("batch takes --styles with or without weights (a:0.7,b:0.3); leave out --mix")
    styles = args.mix or args.styles
    if not styles:
        raise ValueError("expected --styles (see `livestyle styles`)")
    spec = BatchSpec(model_path=str(args.weights or default_model_path()), styles=styles,
                     stylize=stylize_config(args), temporal=temporal_config(args),
                     video=VideoConfig(codec=args.codec, crf=args.crf, preset=args.preset, overwrite=args.overwrite))
    check_mix(spec)
    ray_module = None
    if args.ray is not None:
        from ..batch_ray import ray_module as need_ray
        ray_module = need_ray()  # the missing extra is one line, before any work
    jobs = plan_jobs(args.inputs, args.out)
    run_jobs, groups = split_shots(jobs, spec) if args.split_shots else (jobs, {})
    todo = [j for j in run_jobs if args.overwrite or not os.path.exists(j.output)]
    bar = progress_bar("frame", f"{len(jobs)} inputs")
    bar.total = sum(frames_expected(j) for j in todo)
    t0 = time.perf_counter()
    try:
        if ray_module is not None:
            from ..batch_ray import run_ray
            outcomes = run_ray(run_jobs, spec, args.out, address=args.ray or None, workers=args.workers,
                               progress=bar.update)
        else:
            outcomes = run_batch(run_jobs, spec, workers=args.workers or 1, progress=bar.update)
        if groups:
            outcomes = join_shots(jobs, outcomes, groups, args.overwrite)
    except KeyboardInterrupt:
        bar.close()
        info("livestyle: interrupted; finished outputs are kept, run the same command again to do the rest")
        return EXIT_INTERRUPTED
    bar.close()
    report = summary(outcomes, time.perf_counter() - t0)
    for o in outcomes:
        if o.status == "failed":
            info(f"livestyle: error: {o.error if o.input in o.error else f'{o.input}: {o.error}'}")
    info(f"{report['done']} done, {report['skipped']} skipped (already there), {report['failed']} failed; "
         f"{report['frames']} frames in {report['seconds']:.1f} s ({report['fps']:.2f} fps) -> {args.out}")
    if args.json:
        from ..atomic import atomic_write_bytes
        atomic_write_bytes(args.json, json.dumps(report, indent=2).encode(), overwrite=True)
    return EXIT_SOME_FAILED if report["failed"] else 0


def add_parser(sub) -> None:
    from ..config import TemporalConfig
    s = sub.add_parser("batch", help="stylize many pictures and videos (files or folders) into a folder, resumable")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="pictures, videos, or folders of them")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder; outputs mirror the inputs' names")
    add_stylize_options(s)
    s.add_argument("--temporal", type=unit_float, default=TemporalConfig().weight,
                   help=f"temporal coherence for videos, 0..1 (default {TemporalConfig().weight:g})")
    s.add_argument("--crf", type=non_negative_int, default=18, help="video quality (default 18)")
    s.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    s.add_argument("--preset", default="veryfast", help="x264/x265 speed preset (default veryfast)")
    s.add_argument("--workers", type=positive_int, metavar="N",
                   help="N processes share the cores (each with cores/N network threads); with --ray, N actors")
    s.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray (pip install 'livestyle[cluster]'): a cluster's address, or none for a local "
                   "Ray on this machine; --out must be storage every node sees")
    s.add_argument("--split-shots", action="store_true", help="spread a long video over the workers: cut at its "
                   "scene cuts, each shot stylized on its own, joined without re-encoding (the frames of one run)")
    s.add_argument("--json", metavar="FILE", help="write the summary (each input's outcome) as JSON")
    s.set_defaults(func=run)

"""`livestyle webcam`: a live source through the frame step to a window, recording, stream or virtual camera."""
from __future__ import annotations

import argparse
import os

from .common import (
    EXIT_USAGE, add_stylize_options, check_output_path, err, info, load_model, non_negative_float,
    positive_float, positive_int, stylize_config, temporal_config, unit_float)


def key_help() -> str:
    from ..keys import KEY_HELP
    return KEY_HELP


def run(args) -> int:
    import time

    from ..capture import LiveSource
    from ..controls import ControlState
    from ..images import fit_size
    from ..live import LiveOptions, LiveSession, parse_keys
    from ..live_outputs import Recorder, WindowSink, display_problem, open_stream
    from ..sinks import container_for

    if args.mix:
        raise ValueError("webcam takes no --mix: keys 1-9 pick one of --styles, b then a number and [ ] blend "
                         "two of them live")
    keys = parse_keys(args.keys) if args.keys else None
    if not os.path.isdir(args.snapshot_dir):
        raise ValueError(f"--snapshot-dir {args.snapshot_dir}: expected an existing folder for snapshots and "
                         "recordings, " + ("got a file" if os.path.exists(args.snapshot_dir) else "it does not exist"))
    if args.record:
        container_for(args.record)
        check_output_path(args.record, overwrite=args.overwrite)
    names = [n.strip() for n in (args.styles or "").split(",") if n.strip()]
    if len(names) > 9:
        raise ValueError(f"keys 1-9 pick styles, so --styles takes at most 9 names, got {len(names)}")
    show = not args.no_window
    if show:  # before anything loads: without a display OpenCV's window aborts the process
        problem = display_problem()
        if problem and not (args.record or args.stream or args.virtual_camera):
            raise ValueError(f"{problem}, so no preview window can open; pass --no-window with --record FILE, "
                             "--stream URL or --virtual-camera")
        if problem:
            info(f"{problem}: running without a preview window")
            show = False
    # the camera next, then the network: a missing camera is said at once, not after the model loads
    with LiveSource(args.camera, size=args.size, fps=args.fps, loop=args.loop) as source:
        cam = source.info
        model = load_model(args)
        if not names:
            raise ValueError(f"expected --styles (up to 9 of: {', '.join(model.style_names + sorted(model.presets))})")
        state = ControlState(strength=args.strength, preserve_color=args.preserve_color,
                             temporal=args.temporal > 0, side_by_side=args.side_by_side, overlay=not args.no_overlay)
        opts = LiveOptions(max_side_px=args.max_side, record_path=args.record, max_frames=args.max_frames,
                           duration_s=args.duration, snapshot_dir=args.snapshot_dir, style_names=names,
                           target_fps=args.target_fps)
        session = LiveSession.create(model, names, opts, stylize=stylize_config(args),
                                     temporal=temporal_config(args), state=state, morph_s=args.morph_s)
        step = session.step
        w, h = fit_size(cam.width, cam.height, max_side_px=args.max_side, even=True)
        outputs = []
        try:
            if args.stream:
                outputs.append(open_stream(args.stream, w, h))
            if args.virtual_camera:
                from ..sinks import VirtualCamSink
                outputs.append(VirtualCamSink(w, h, fps=cam.fps))
        except BaseException:
            for out in outputs:
                out.close()
            raise
        # said once every input and output is open: bad input stays one line
        info(f"network: {os.path.basename(model.path)} ({step.backend})")
        info(f"capturing {cam.source}: {cam.width}x{cam.height} at {cam.fps:.1f} fps"
             + (" (file played as a live camera)" if cam.is_file else "")
             + (f"; asked for {args.size[0]}x{args.size[1]}" if args.size and (cam.width, cam.height) != tuple(args.size) else ""))
        t0 = time.monotonic()
        stats = session.run(source, window=WindowSink() if show else None,
                            recorder=Recorder(overwrite=args.overwrite), outputs=outputs, scripted_keys=keys)
    for path in stats.snapshots:
        info(f"snapshot {path}")
    for path in stats.recordings:
        info(f"recorded {path}")
    lat = stats.latency_median_ms()
    scales = sorted(set(stats.scales))
    info(f"{stats.frames} frames in {time.monotonic() - t0:.1f} s, {stats.fps:.1f} fps, "
         f"median latency {lat:.0f} ms, {stats.dropped} stale frames dropped, first frame after "
         f"{stats.first_frame_s or 0:.2f} s" + (f", network scale {scales[0]:.2f}-{scales[-1]:.2f}" if len(scales) > 1 else "")
         + (f", {stats.carried} frames carried along the flow" if stats.carried else ""))
    if stats.error:
        err(stats.error + ("; recordings were finalized" if stats.recordings else ""))
        return EXIT_USAGE
    return 0



def add_parser(sub) -> None:
    from ..config import TemporalConfig  # dataclasses only: cheap to import
    s = sub.add_parser("webcam", help="live camera in, stylized preview out; keys switch and blend styles",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="keys:\n" + key_help())
    s.add_argument("--camera", default="0", help="device index, /dev/video path, video file or stream URL (default 0)")
    s.add_argument("--loop", action="store_true", help="loop a video file used as the camera")
    s.add_argument("--fps", type=positive_float, help="frame rate to ask the camera for (what it gives is read back)")
    s.add_argument("--record", metavar="FILE", help="record the stylized stream from the start (r toggles)")
    s.add_argument("--stream", metavar="URL", help="send the stylized stream to rtmp://, srt:// or udp://")
    s.add_argument("--virtual-camera", action="store_true", help="send to a v4l2loopback virtual camera (pyvirtualcam)")
    s.add_argument("--no-window", action="store_true", help="no preview window (headless)")
    s.add_argument("--side-by-side", action="store_true", help="show the camera image beside the stylized one")
    s.add_argument("--no-overlay", action="store_true", help="start without the fps/style overlay (o toggles)")
    s.add_argument("--temporal", type=unit_float, default=TemporalConfig().weight,
                   help=f"temporal coherence weight 0..1 (0 = off; default {TemporalConfig().weight:g})")
    s.add_argument("--morph-s", type=non_negative_float, default=0.5, help="seconds a style switch takes (default 0.5)")
    s.add_argument("--target-fps", type=non_negative_float, metavar="FPS", help="when frames fall behind this rate, "
                   "run the network on every other frame only (the frames between: the last output carried along "
                   "the optical flow), then on a smaller copy (75%%, 50%% a side); back up when there is room "
                   "(default: the camera's rate, at most 24; 0 = every frame at full size)")
    s.add_argument("--keys", metavar="K@T,...", help="scripted keys, e.g. '2@1.5,b@2,3@40f,q@5' (seconds or frames)")
    s.add_argument("--max-frames", type=positive_int, help="stop after N frames")
    s.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    s.add_argument("--snapshot-dir", default=".", help="folder for snapshots (s) and recordings (r)")
    add_stylize_options(s)
    s.set_defaults(func=run, max_side=640)  # the network runs at <= 640 px unless --max-side says otherwise

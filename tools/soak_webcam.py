"""Soak benchmark of the live mode (not a test): a looping file as the camera, headless, for a long
time; reports memory (RSS) growth and fps drift per window.

    python tools/soak_webcam.py --minutes 10 [--clip samples/demo.mp4] [--styles monet,vangogh]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> int:
    from livestyle.capture import LiveSource
    from livestyle.config import TemporalConfig
    from livestyle.live import LiveOptions, LiveSession, parse_keys
    from livestyle.modelfile import default_model_path, load_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--clip", default=os.path.join(os.path.dirname(__file__), "..", "samples", "demo.mp4"))
    p.add_argument("--styles", default="monet,vangogh")
    p.add_argument("--weights", help="a model file (default: what `livestyle webcam --styles ...` runs)")
    p.add_argument("--window-s", type=float, default=30.0, help="report interval")
    p.add_argument("--warmup-s", type=float, default=60.0, help="leave the first seconds (compilation) out of "
                   "the growth and drift numbers")
    p.add_argument("--json", help="write the per-window records here")
    args = p.parse_args(argv)

    names = args.styles.split(",")
    # the model `livestyle webcam --styles ...` runs, with the webcam's defaults: the governor at the camera's
    # rate, coherence on
    model = load_model(args.weights or default_model_path())
    duration = args.minutes * 60
    session = LiveSession.create(model, names, LiveOptions(duration_s=duration, style_names=names),
                                 temporal=TemporalConfig())
    # switch styles every few seconds all the time: a switch must not leak or stall
    keys = parse_keys(",".join(f"{1 + i % len(names)}@{3 * i + 1}" for i in range(int(duration / 3))))
    records, window = [], {"t0": time.monotonic(), "n0": 0}

    def on_frame(stats):
        now = time.monotonic()
        if now - window["t0"] >= args.window_s:
            lat = list(stats.latencies_ms)[-200:]
            records.append({"t_s": round(now - start, 1), "rss_mb": round(rss_mb(), 1),
                            "fps": round((stats.frames - window["n0"]) / (now - window["t0"]), 2),
                            "latency_ms_median": round(float(np.median(lat)), 1), "frames": stats.frames,
                            "dropped": stats.dropped})
            print(json.dumps(records[-1]), file=sys.stderr, flush=True)
            window.update(t0=now, n0=stats.frames)

    start = time.monotonic()
    with LiveSource(args.clip, loop=True) as src:
        stats = session.run(src, scripted_keys=keys, on_frame=on_frame)
    steady = [r for r in records if r["t_s"] > args.warmup_s] or records
    summary = {"minutes": args.minutes, "model": os.path.basename(model.path), "backend": session.step.backend,
               "frames": stats.frames, "fps_mean": round(stats.fps, 2),
               "rss_first_window_mb": steady[0]["rss_mb"], "rss_last_window_mb": steady[-1]["rss_mb"],
               "rss_growth_mb": round(steady[-1]["rss_mb"] - steady[0]["rss_mb"], 1),
               "fps_first_window": steady[0]["fps"], "fps_last_window": steady[-1]["fps"],
               "fps_drift_pct": round(100 * (steady[-1]["fps"] / steady[0]["fps"] - 1), 1),
               "rss_min_mb": min(r["rss_mb"] for r in steady), "rss_max_mb": max(r["rss_mb"] for r in steady),
               "fps_min": min(r["fps"] for r in steady), "fps_max": max(r["fps"] for r in steady),
               "latency_ms_median_last": steady[-1]["latency_ms_median"], "style_switches": len(stats.keys)}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "windows": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput of `livestyle batch` on this machine: 4 clips in one process (all cores as network threads),
with --workers 2 (cores shared out), and under a local Ray (--ray, 2 CPUs); then what a --split-shots run
costs on the driver (finding the cuts, joining), for the 1-hour-film estimate in docs/performance.md.

    python tools/bench_batch.py [--clip samples/demo.mp4] [--max-side 320] [--json runs/bench_batch.json]

Every run goes through the command line (`livestyle batch`), as a user runs it, in a subprocess timed whole.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "livestyle", "batch", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"livestyle batch {' '.join(args)} failed:\n{r.stderr}")
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", default=str(ROOT / "samples" / "demo.mp4"))
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--max-side", type=int, default=320)
    p.add_argument("--styles", default="monet")
    p.add_argument("--ray", action="store_true", help="also under a local Ray (needs livestyle[cluster])")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()

    from livestyle.sources import VideoFileSource
    with VideoFileSource(args.clip, max_side_px=args.max_side) as s:
        n = sum(1 for _ in s)
    work = Path(tempfile.mkdtemp(prefix="bench_batch."))
    try:
        clips = work / "clips"
        clips.mkdir()
        for i in range(args.copies):
            shutil.copy(args.clip, clips / f"clip{i}{Path(args.clip).suffix}")
        common = ["--styles", args.styles, "--max-side", str(args.max_side)]
        runs = {"one process, 2 threads": [str(clips), "--out", str(work / "a"), *common],
                "--workers 2 (1 thread each)": [str(clips), "--out", str(work / "b"), "--workers", "2", *common]}
        if args.ray:
            runs["--ray (local, 2 CPUs)"] = [str(clips), "--out", str(work / "c"), "--ray", "--workers", "2", *common]
        frames = n * args.copies
        rows = {}
        for name, a in runs.items():
            seconds = timed(a)
            rows[name] = {"seconds": round(seconds, 2), "fps": round(frames / seconds, 2)}
        base = rows["one process, 2 threads"]["fps"]
        for r in rows.values():
            r["vs one process"] = round(r["fps"] / base, 3)

        # the driver's share of --split-shots: finding the shots (decode + the stabilizer's flow) and joining
        from livestyle.config import StylizeConfig, TemporalConfig
        from livestyle.shots import find_shots, join
        t0 = time.perf_counter()
        shots = find_shots(args.clip, StylizeConfig(max_side_px=args.max_side), TemporalConfig())
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        join(args.clip, [str(work / "a" / "clips" / "clip0.mp4")], str(work / "joined.mp4"))
        join_s = time.perf_counter() - t0
        out = {"clip": os.path.basename(args.clip), "frames per clip": n, "clips": args.copies,
               "max side": args.max_side, "runs": rows, "shots found": len(shots),
               "find shots fps": round(n / scan_s, 1), "join fps": round(n / join_s, 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

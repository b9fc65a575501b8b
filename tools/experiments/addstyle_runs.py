"""Recipe runs for `livestyle add-style` (issue "any painting in minutes"): each run adds one painting
with a time budget counted from the start, as the command does, into a fresh user folder, then scores
only the new style on the held-out photos (`livestyle eval --only NAME --holdout`). One JSON line per
run on stdout. Run on idle cores: the budget is wall time.

    python tools/experiments/addstyle_runs.py PAINTING NAME --runs 256x4@5e-3 128x4@2e-2 --minutes 5 [--content DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("painting")
    ap.add_argument("name")
    ap.add_argument("--runs", nargs="+", default=["256x4@5e-3"], help="SIZExBATCH@LR[/STYLE_WEIGHT] per run")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--content", help="training photos (default: add-style's built-in set)")
    ap.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "content"))
    ap.add_argument("--holdout", default=str(ROOT / "tools" / "holdout_photos.txt"))
    ap.add_argument("--not-from", default="", help="styles not to start from, e.g. the shipped style of the same "
                    "painting when comparing against it")
    ap.add_argument("--keep", help="folder to keep each run's user folder in (default: a temporary one)")
    args = ap.parse_args()

    from livestyle.addstyle import AddStyleConfig, default_content, plan
    from livestyle.evaluate import EvalConfig, evaluate
    from livestyle.train import train

    base = Path(args.keep or tempfile.mkdtemp(prefix="addstyle-runs-"))
    # the built-in set, made once up front (the command makes it on its first run, a few seconds)
    content = args.content or default_content(base / "content")
    for spec in args.runs:
        size_batch, _, lr_sw = spec.partition("@")
        lr, _, sw = lr_sw.partition("/")
        size, _, batch = size_batch.partition("x")
        folder = base / spec.replace("@", "_").replace("/", "_")
        os.environ["LIVESTYLE_WEIGHTS_DIR"] = str(folder)
        started = time.time()
        cfg = AddStyleConfig(painting=args.painting, name=args.name, minutes=args.minutes, content_dir=content,
                             image_size=int(size), batch_size=int(batch) if batch else AddStyleConfig.batch_size,
                             lr=float(lr) if lr else AddStyleConfig.lr, style_weight=float(sw) if sw else AddStyleConfig.style_weight,
                             started_at=started, not_from=tuple(n for n in args.not_from.split(",") if n),
                             holdout=args.holdout if args.content else None)
        train_cfg, chosen = plan(cfg)
        steps = {}
        path = train(train_cfg, progress=lambda e: steps.update(n=e.get("step", 0)))
        wall = time.time() - started
        score = evaluate(path, args.photos,
            EvalConfig(holdout=args.holdout, only=[chosen["name"]], styles={chosen["name"]: args.painting}))[0]
        print(json.dumps({"run": spec, "minutes": args.minutes, "wall_s": round(wall, 1), "steps": steps.get("n"),
                          "closest": chosen["closest"], "content": args.content or "built-in",
                          "texture_ratio": round(score.texture_ratio, 3), "gram_ratio": round(score.gram_ratio, 3),
                          "content_distance": round(score.content_distance, 3), "model": path}), flush=True)


if __name__ == "__main__":
    main()

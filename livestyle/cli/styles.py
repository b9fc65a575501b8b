"""`livestyle styles`: the styles of the shipped model and the user's, with sources."""
from __future__ import annotations

from pathlib import Path

from .common import info, warn


def run(args) -> int:
    from ..modelfile import find_models, read_model_info
    paths = [Path(args.weights)] if args.weights else find_models()
    if not paths:
        info("no trained models found; train one with `livestyle train` or add a painting with `livestyle add-style`")
        return 0
    for path in paths:
        try:
            _, styles, presets = read_model_info(path)
        except (ValueError, OSError) as e:
            if args.weights:
                raise
            warn(f"skipping {str(e).splitlines()[0]}")  # one bad file must not hide the good ones
            continue
        print(f"{path}  ({len(styles)} styles)")
        for s in styles:
            print(f"  {s.name:<40} {s.source}")
        for name, mix in sorted(presets.items()):
            parts = " + ".join(f"{k} {v:.2f}" for k, v in mix.items())
            print(f"  {name:<40} preset: {parts}")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("styles", help="list the available styles and where they come from")
    s.add_argument("--weights", metavar="FILE", help="list the styles of this model file only")
    s.set_defaults(func=run)

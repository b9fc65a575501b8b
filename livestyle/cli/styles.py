"""`livestyle styles`: the styles of the shipped model and the user's, with sources."""
from __future__ import annotations

from pathlib import Path

from .common import info


def run(args) -> int:
    from ..weights import find_models, read_metadata
    paths = [Path(args.weights)] if args.weights else find_models()
    if not paths:
        info("no trained models found in weights/; train one with `livestyle train`")
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



def add_parser(sub) -> None:
    s = sub.add_parser("styles", help="list the available styles and where they come from")
    s.add_argument("--weights", metavar="FILE", help="list the styles of this model file only")
    s.set_defaults(func=run)

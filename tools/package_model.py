"""Make a trained model the shipped one: copy it to weights/ with the short-name presets
(tools/style_presets.json: short name -> {style: weight}) that apply to its styles, plus notes.

    python tools/package_model.py runs/x.safetensors weights/livestyle.safetensors [--note "..."]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from livestyle.modelfile import load_stylenet, save_stylenet

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--presets", default=str(HERE / "style_presets.json"))
    p.add_argument("--note", default="", help="added to the training record as 'note'")
    args = p.parse_args(argv)
    model = load_stylenet(args.model)
    presets = {}
    for short, mix in json.loads(Path(args.presets).read_text()).items():
        if all(name in model.style_names for name in mix):
            presets[short] = mix
        else:
            print(f"preset {short!r} skipped: {sorted(set(mix) - set(model.style_names))} not in the model",
                  file=sys.stderr)
    training = dict(model.training)
    if args.note:
        training["note"] = args.note
    save_stylenet(args.out, model.net, model.styles, presets=presets, training=training)
    print(f"wrote {args.out}: {len(model.styles)} styles, presets {sorted(presets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

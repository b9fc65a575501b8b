"""Train the shipped model: every public-domain painting of ../shared/data/styles (tools/style_files.json,
sources in tools/style_sources.json) with the recipe of weights/README.md, the temporal loss for the last
steps, and a resumable checkpoint mirrored to weights/wip/ (one file, replaced each time) so that the run
survives a new machine: commit that file, and on a fresh checkout this tool resumes from it.

    python tools/train_shipped.py --steps 4000 --temporal-from 3600        # start, or resume
    python tools/train_shipped.py --package                                 # -> weights/livestyle.safetensors

Phases, each resumed from the checkpoint the one before left: without the temporal loss up to
--temporal-from, with it up to --steps, then --grid-steps more with the grid penalty, then --scale-steps more
with smaller copies (--scale-weight) and, with --padding zeros, the convs' own zero padding (the weights
carry over; the shipped model's exact commands are in weights/README.md).

Last, the small rows (livestyle.small_rows): each style's rows for the live loop's copy at 75 % a side, trained
with everything else frozen, on a packaged model:

    python tools/train_shipped.py --small-rows 3000 --from weights/livestyle.safetensors --out runs/small.safetensors

Runs in the foreground with the usual progress bar; Ctrl-C checkpoints (and mirrors) first.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RUN = ROOT / "runs" / "shipped"
OUT = RUN / "livestyle.safetensors"
CKPT = RUN / "livestyle.ckpt" / "checkpoint.pt"
WIP = ROOT / "weights" / "wip" / "shipped.ckpt.pt"

# the recipe (weights/README.md, "How the recipe was chosen" and "How the network was chosen")
RECIPE = dict(arch="one,padding=reflect", image_size=256, style_size=512, batch_size=4, lr=2e-3, warmup_steps=100,
              loss_norm="target", style_layers={"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0},
              content_layer="relu3_3", content_weight=1.0, style_weight=4.0, tv_weight=10.0, shift_weight=300.0,
              seed=0)
TEMPORAL_WEIGHT = 100.0
GRID_WEIGHT = 0.05
SCALE_WEIGHT = 1.0


def mirror(path: Path) -> None:
    """Copy the checkpoint to weights/wip/ atomically (a hidden temporary file, then a rename)."""
    WIP.parent.mkdir(parents=True, exist_ok=True)
    tmp = WIP.with_name(f".{WIP.name}.tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, WIP)


def main(argv=None) -> int:
    from livestyle.model import parse_arch
    from livestyle.config import TrainConfig
    from livestyle.train import TrainingInterrupted, resume_config, train

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--temporal-from", type=int, default=3600, help="steps before the temporal loss starts")
    p.add_argument("--grid-steps", type=int, default=0, help="then this many steps more with the grid penalty "
                   f"(--grid-weight, default {GRID_WEIGHT:g}) beside the temporal loss")
    p.add_argument("--grid-weight", type=float, default=None)
    p.add_argument("--scale-steps", type=int, default=0, help="then this many steps more with smaller copies "
                   f"(--scale-weight, default {SCALE_WEIGHT:g}) beside the temporal loss and the grid penalty")
    p.add_argument("--scale-weight", type=float, default=SCALE_WEIGHT)
    p.add_argument("--padding", choices=("reflect", "zeros"), default=None, help="the scale phase's conv padding "
                   "(the network's parameters are the same; zeros is what ONNX Runtime runs fastest), zeros with the "
                   "reflected margin of model.ARCHS['one']")
    p.add_argument("--small-rows", type=int, default=0, metavar="STEPS", help="train the small rows of --from "
                   "(a packaged model) for STEPS steps into --out, and nothing else")
    p.add_argument("--small-rows-lr", type=float, default=None)
    p.add_argument("--small-rows-grid", type=float, default=None, help="their grid penalty's weight at the copy's size")
    p.add_argument("--small-rows-enlarged-grid", type=float, default=None, help="... and on the enlarged output")
    p.add_argument("--small-rows-only", metavar="NAME,...", help="train just these styles' small rows")
    p.add_argument("--small-rows-style-weight", type=float, default=None, help="default: the model's own")
    p.add_argument("--from", dest="from_model", default=str(ROOT / "weights" / "livestyle.safetensors"))
    p.add_argument("--out", default=str(RUN / "livestyle_small.safetensors"))
    p.add_argument("--package", action="store_true", help="write the finished run as weights/livestyle.safetensors")
    p.add_argument("--snapshot", metavar="OUT", help="write the run's latest checkpoint (runs/ or weights/wip/) as a "
                   "model file OUT, to look at or `livestyle eval` while the run goes on")
    args = p.parse_args(argv)
    if args.snapshot:
        return snapshot(args.snapshot)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    if args.small_rows:
        from livestyle.small_rows import SmallRowsConfig, train_small_rows
        sums = {"loss": 0.0, "n": 0, "ms": 0.0}

        def rows_progress(e: dict) -> None:
            sums["loss"] += e["loss"]
            sums["ms"] += e["ms_per_step"]
            sums["n"] += 1
            if e["step"] % 50 == 0 or e["step"] == e["steps"]:
                logging.info("small rows step %d/%d: loss %.3f, %.0f ms/step", e["step"], e["steps"],
                             sums["loss"] / sums["n"], sums["ms"] / sums["n"])
                sums.update(loss=0.0, n=0, ms=0.0)
        given = {"lr": args.small_rows_lr, "grid_weight": args.small_rows_grid,
                 "enlarged_grid_weight": args.small_rows_enlarged_grid}
        cfg = SmallRowsConfig(steps=args.small_rows, overwrite=True, style_weight=args.small_rows_style_weight,
                              only=tuple(args.small_rows_only.split(",")) if args.small_rows_only else (),
                              command=" ".join(["python", "tools/train_shipped.py", *sys.argv[1:]]),
                              **{k: v for k, v in given.items() if v is not None})
        try:
            train_small_rows(args.from_model, args.out, cfg, progress=rows_progress)
        except (ValueError, FileNotFoundError) as e:
            print(f"train_shipped.py: {e}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}")
        return 0

    if args.package:
        from livestyle.modelfile import load_stylenet, save_stylenet
        model = load_stylenet(OUT)
        if model.net.cfg.padding == "zeros":  # the reflected margin that keeps zero padding's edges out of sight
            model.net.cfg = dataclasses.replace(model.net.cfg, margin=parse_arch("one").margin)
        presets = json.loads((ROOT / "tools" / "style_presets.json").read_text())
        save_stylenet(ROOT / "weights" / "livestyle.safetensors", model.net, model.styles, presets=presets,
                      training=model.training)
        print(f"wrote weights/livestyle.safetensors ({len(model.styles)} styles) from {OUT}")
        return 0

    files = json.loads((ROOT / "tools" / "style_files.json").read_text())
    sources = json.loads((ROOT / "tools" / "style_sources.json").read_text())
    styles = [f"{name}={os.path.relpath(SHARED / 'styles' / f, ROOT)}" for name, f in files.items()]
    RUN.mkdir(parents=True, exist_ok=True)
    if not CKPT.exists() and WIP.exists():  # a fresh machine: continue from the committed checkpoint
        CKPT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WIP, CKPT)
        print(f"resuming from {WIP.relative_to(ROOT)}", file=sys.stderr)
    os.chdir(ROOT)  # style and content paths are relative to the repository, so a checkpoint moves with it

    def progress(e: dict) -> None:
        if e["event"] == "checkpoint":
            mirror(Path(e["path"]))
        elif e["event"] == "step" and e["step"] % 50 == 0:
            scale = f" scale {e['scale']:.3g}" if "scale" in e else ""
            print(f"step {e['step']}/{e['steps']}: content {e['content']:.3g} style {e['style']:.3g} "
                  f"tv {e['tv']:.3g} temporal {e['temporal']:.3g}{scale}, {e['ms_per_step']:.0f} ms", file=sys.stderr,
                  flush=True)

    grid = GRID_WEIGHT if args.grid_weight is None else args.grid_weight
    # (last step, the loss terms that change): each phase resumes from the checkpoint the one before left
    phases = [(args.temporal_from, dict(temporal_weight=0.0, grid_weight=0.0, scale_weight=0.0)),
              (args.steps, dict(temporal_weight=TEMPORAL_WEIGHT, grid_weight=0.0, scale_weight=0.0))]
    end = args.steps
    if args.grid_steps:
        end += args.grid_steps
        phases.append((end, dict(temporal_weight=TEMPORAL_WEIGHT, grid_weight=grid, scale_weight=0.0)))
    if args.scale_steps:
        end += args.scale_steps
        phases.append((end, dict(temporal_weight=TEMPORAL_WEIGHT, grid_weight=grid if args.grid_steps else 0.0,
                                 scale_weight=args.scale_weight)))
    for k, (end, terms) in enumerate(phases):
        if CKPT.exists():
            if args.padding and args.scale_steps and k == len(phases) - 1:
                saved = resume_config(str(CKPT), {})
                margin = parse_arch("one").margin if args.padding == "zeros" else 0  # as --package writes it
                terms = {**terms, "arch": dataclasses.replace(saved.arch, padding=args.padding, margin=margin)}
            cfg = resume_config(str(CKPT), {"steps": end, **terms})
            if cfg.steps <= _step(CKPT):
                continue
        else:
            cfg = TrainConfig(styles=styles, style_sources={k: v for k, v in sources.items() if k in files},
                              content_dir=os.path.relpath(SHARED / "content", ROOT), out=str(OUT.relative_to(ROOT)),
                              holdout="tools/holdout_photos.txt",
                              vgg=os.path.relpath(SHARED / "vgg" / "vgg16-caffe-features-fp16.pth", ROOT),
                              steps=end, **terms, checkpoint_every_s=600, preview_every=500,
                              command=f"python tools/train_shipped.py --steps {args.steps} --temporal-from {args.temporal_from}",
                              **{k: (parse_arch(v) if k == "arch" else v) for k, v in RECIPE.items()})
        try:
            train(dataclasses.replace(cfg, overwrite=True), progress=progress)
        except TrainingInterrupted as e:
            print(f"interrupted at step {e.step}; checkpoint mirrored to {WIP.relative_to(ROOT)}", file=sys.stderr)
            return 130
    mirror(CKPT)
    print(f"done: {OUT} (package it with --package)", file=sys.stderr)
    return 0


def snapshot(out: str) -> int:
    """The latest checkpoint as a model file, with the paintings in its record (so eval can score it)."""
    import dataclasses as dc

    from livestyle.checkpoint import load_checkpoint
    from livestyle.model import StyleNet
    from livestyle.modelfile import StyleInfo, save_stylenet
    from livestyle.train_setup import config_from_dict

    path = CKPT if CKPT.exists() else WIP
    ckpt = load_checkpoint(str(path))
    cfg = config_from_dict(ckpt["config"])
    net = StyleNet(dc.replace(cfg.arch, n_styles=len(ckpt["styles"])))
    net.load_state_dict(ckpt["model"])
    styles = [StyleInfo(s["name"], s["source"]) for s in ckpt["styles"]]
    images = {s["name"]: str((ROOT / s["path"]).resolve()) if s["path"] else "" for s in ckpt["styles"]}
    presets = json.loads((ROOT / "tools" / "style_presets.json").read_text())
    save_stylenet(out, net, styles, presets=presets, training={
        "snapshot_of": str(path.relative_to(ROOT)), "steps": int(ckpt["step"]), "seconds": ckpt.get("seconds"),
        "style_images": images, "command": cfg.command})
    print(f"wrote {out}: step {ckpt['step']} of {path.relative_to(ROOT)}")
    return 0


def _step(path: Path) -> int:
    from livestyle.checkpoint import load_checkpoint
    return int(load_checkpoint(str(path))["step"])


if __name__ == "__main__":
    sys.exit(main())

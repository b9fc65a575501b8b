"""`livestyle add-style PAINTING`: a painting of your own as a live style in minutes (addstyle.py)."""
from __future__ import annotations

import sys

from .common import EXIT_INTERRUPTED, info, positive_float


def run(args) -> int:
    import time
    started = time.time()  # --minutes counts from here: loading VGG and picking the start style are in it

    from tqdm import tqdm

    from ..addstyle import AddStyleConfig, export_beside, plan
    from ..train import TrainingInterrupted, train

    cfg = AddStyleConfig(painting=args.painting, name=args.name, minutes=args.minutes, content_dir=args.content,
                         into=args.into, resume=args.resume, vgg=args.vgg, vgg_convention=args.vgg_convention,
                         device=args.device, started_at=started)
    train_cfg, chosen = plan(cfg)
    if chosen["closest"]:
        info(f"adding {chosen['name']!r} to {chosen['into']}, starting from {chosen['closest']} (the closest "
             f"style, Gram distance {chosen['closest_distance']:.2f}); photos: {chosen['content']}"
             + (" (built-in set; --content DIR for yours)" if chosen["from_demo"] else ""))
    info(f"preview (updated as it learns): {chosen['preview']}")
    budget = round(60 * args.minutes)
    bar = tqdm(total=budget, initial=min(budget, round(time.time() - started)), unit="s",
               desc=f"learning {chosen['name']}", dynamic_ncols=True, file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [ETA {remaining}{postfix}]")

    def progress(e: dict) -> None:
        if e["event"] == "step":
            bar.set_postfix_str(f"step {e['step']}, style {e['style']:.3g}, content {e['content']:.3g}", refresh=False)
            bar.update(min(bar.total, time.time() - started) - bar.n)

    try:
        path = train(train_cfg, progress=progress)
    except TrainingInterrupted as e:
        bar.close()
        info(f"livestyle: interrupted after step {e.step}; what was learned is in {chosen['out']} (style "
             f"{chosen['name']!r}); `livestyle add-style {args.painting} --name {chosen['name']} --resume` goes on")
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    export_beside(path)  # ONNX Runtime runs it where that is faster, as the shipped model
    info(f"wrote {path} after {time.time() - started:.0f} s: style {chosen['name']!r} is ready; try `livestyle image PHOTO OUT.jpg --styles "
         f"{chosen['name']}` or `livestyle webcam --styles {chosen['name']},vangogh`")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("add-style", help="learn a painting of your own as a new style in minutes",
                       description="Train only the new style's gamma/beta (the rest of the network is frozen, "
                       "so it runs as fast as the others and blends with them), starting from the closest "
                       "existing style, for a time budget. Writes your model to the user model folder "
                       "($LIVESTYLE_WEIGHTS_DIR or the platform's user data folder); the shipped model is "
                       "never changed. Ctrl-C keeps what was learned.")
    s.add_argument("painting", help="the painting (PNG, JPEG, ...; at least 64 px a side)")
    s.add_argument("--name", help="style name for --styles (default: from the file name)")
    s.add_argument("--minutes", type=positive_float, default=5.0, help="time budget (default 5)")
    s.add_argument("--content", metavar="DIR", help="folder of your photos to learn on (default: a built-in set)")
    s.add_argument("--into", metavar="MODEL", help="the model to extend (default: your model, else the shipped one)")
    s.add_argument("--resume", action="store_true", help="go on learning this style for another --minutes")
    s.add_argument("--vgg", metavar="PATH", help="VGG16 weights (default $LIVESTYLE_VGG, else torchvision's)")
    s.add_argument("--vgg-convention", choices=("caffe", "torchvision"))
    s.add_argument("--device", default="auto")
    s.set_defaults(func=run)

"""`livestyle distill`: a faster network learns a trained model's styles (livestyle/distill.py)."""
from __future__ import annotations

import os
import time

from .common import check_output_path, info, positive_float, positive_int, progress_bar


def run(args) -> int:
    from ..data import list_images
    from ..distill import DistillConfig, checkpoint_path, distill
    from ..model import parse_arch
    from ..modelfile import default_model_path, read_model_info

    if os.path.splitext(args.output)[1].lower() != ".safetensors":
        raise ValueError(f"distill: expected an output model file ending in .safetensors, got {args.output!r}")
    teacher = args.teacher or str(default_model_path())
    read_model_info(teacher)  # a model file, or one clear error before anything loads
    parse_arch(args.arch)
    list_images(args.content)  # a folder with photos, or one clear error
    if args.holdout and not os.path.isfile(args.holdout):
        raise FileNotFoundError(f"--holdout file not found: {args.holdout}")
    cfg = DistillConfig(teacher=teacher, content_dir=args.content, out=args.output, arch=args.arch,
                        holdout=args.holdout, image_size=args.image_size, batch_size=args.batch_size, lr=args.lr,
                        steps=args.steps, seed=args.seed, threads=args.threads, resume=args.resume,
                        deadline=time.time() + 60 * args.minutes if args.minutes else None)
    if not args.resume:
        check_output_path(args.output, overwrite=args.overwrite)
        if checkpoint_path(cfg).exists():
            raise ValueError(f"{checkpoint_path(cfg)} exists from an earlier run: --resume to continue it, or delete it")
    bar = progress_bar("step", "distill")
    try:
        out = distill(cfg, lambda step, total, loss: (bar.update_to(step, total), bar.set_postfix(loss=f"{loss:.4f}")))
    finally:
        bar.close()
    if out != args.output:
        info(f"stopped at the time limit; checkpoint {out} (--resume continues it)")
    else:
        info(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("distill", help="train a smaller network to reproduce a model's styles (pixel and perceptual losses)")
    s.add_argument("output", help="model file to write (.safetensors)")
    s.add_argument("--content", required=True, help="folder of photos (random crops)")
    s.add_argument("--teacher", metavar="FILE", help="model whose styles are learned (default: the shipped model)")
    s.add_argument("--arch", default="live", help="the student network (default live)")
    s.add_argument("--holdout", metavar="FILE", help="photo names to leave out (tools/holdout_photos.txt)")
    s.add_argument("--steps", type=positive_int, default=3000)
    s.add_argument("--batch-size", type=positive_int, default=8)
    s.add_argument("--image-size", type=positive_int, default=256)
    s.add_argument("--lr", type=positive_float, default=2e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=positive_int)
    s.add_argument("--minutes", type=positive_float, help="stop after this long with a checkpoint (--resume continues)")
    s.add_argument("--resume", action="store_true", help="continue from OUTPUT's .distill.pt checkpoint")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.set_defaults(func=run)

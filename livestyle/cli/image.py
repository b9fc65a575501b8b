"""`livestyle image`: one picture through the frame step."""
from __future__ import annotations

import os

from .common import add_stylize_options, check_input_output, info, load_model, mix_from_args, stylize_config


def run(args) -> int:
    import time

    from ..images import encode_image, fit_size, read_image, resize_frame
    from ..stylize import Stylizer

    check_input_output(args.input, args.output, args.overwrite)
    ext = os.path.splitext(args.output)[1].lower()
    if not ext:
        raise ValueError(f"output {args.output} has no extension; expected .png, .jpg, .webp, .bmp or .tif")
    frame = read_image(args.input)
    model = load_model(args)
    mix = mix_from_args(args, model)
    cfg = stylize_config(args)
    w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px, size=cfg.size)
    if w * h > 8192 * 8192:
        raise ValueError(f"{args.input}: {w}x{h} is too large to stylize at once; pass --max-side")
    frame = resize_frame(frame, w, h)
    t0 = time.perf_counter()
    styled = Stylizer(model.net, cfg)([frame], mix)[0]
    data = encode_image(styled, ext)
    from ..atomic import atomic_write_bytes
    atomic_write_bytes(args.output, data)
    info(f"wrote {args.output} ({w}x{h}) in {time.perf_counter() - t0:.2f} s")
    return 0



def add_parser(sub) -> None:
    s = sub.add_parser("image", help="stylize one image")
    s.add_argument("input", help="input image")
    s.add_argument("output", help="output image (.png, .jpg, ...)")
    add_stylize_options(s)
    s.set_defaults(func=run)

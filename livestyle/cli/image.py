"""`livestyle image`: one picture through the frame step."""
from __future__ import annotations

import os

from .common import (add_file_command, check_input_output, info, load_model, mix_from_args,
                     stylize_config)


def run(args) -> int:
    import time

    import numpy as np

    from ..atomic import atomic_write_bytes
    from ..images import check_size, encode_image, fit_size, read_image, resize_frame
    from ..stylize import StreamStylizer

    check_input_output(args.input, args.output, args.overwrite)
    ext = os.path.splitext(args.output)[1].lower()
    if not ext:
        raise ValueError(f"output {args.output} has no extension; expected .png, .jpg, .webp, .bmp or .tif")
    encode_image(np.zeros((1, 1, 3), np.uint8), ext)  # an extension we cannot write fails before the work
    frame = read_image(args.input)
    model = load_model(args)
    mix = mix_from_args(args, model)
    cfg = stylize_config(args)
    w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px, size=cfg.size)
    check_size(args.input, w, h)
    frame = resize_frame(frame, w, h)
    t0 = time.perf_counter()
    styled = StreamStylizer.for_model(model, cfg)([frame], mix)[0]
    atomic_write_bytes(args.output, encode_image(styled, ext), overwrite=args.overwrite)
    info(f"wrote {args.output} ({w}x{h}) in {time.perf_counter() - t0:.2f} s")
    return 0



def add_parser(sub) -> None:
    s = add_file_command(sub, "image", help="stylize one image", input_help="input image",
                         output_help="output image (.png, .jpg, ...)")
    s.set_defaults(func=run)

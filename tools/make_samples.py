"""Pictures for the README, made with the shipped model: a contact sheet of every style on three
photos that scikit-image ships (astronaut: NASA, public domain; chelsea and coffee: CC0), and an
animated GIF of the demo clip morphing from one style to another.

    pip install -e '.[tools]' && python tools/make_samples.py
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from livestyle.config import StylizeConfig, TemporalConfig
from livestyle.images import fit_size, resize_frame
from livestyle.schedule import parse_schedule
from livestyle.stylize import StreamStylizer
from livestyle.transcode import stylize_video
from livestyle.modelfile import default_model_path, load_stylenet, parse_mix

ROOT = Path(__file__).resolve().parent.parent


def label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def contact_sheet(model, out: Path, side: int = 320, detail: int = 160) -> None:
    """One row per style: three photos at `side` px, then a `detail`-px crop of the astronaut stylized at its
    full 512 px, shown at twice its size with no smoothing, so that single pixels (and any grid) show."""
    import skimage.data as data
    photos = {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee()}
    # what `image` runs on a CPU without native bf16 (most): the ONNX export
    stylizer = StreamStylizer.for_model(model, StylizeConfig(device="cpu", compile="off", backend="onnxruntime"))
    big = data.astronaut()  # 512 x 512
    y0, x0 = 40, 170  # the face and the flag: flat areas and edges

    def zoom(styled_big: np.ndarray) -> np.ndarray:
        crop = styled_big[y0:y0 + detail, x0:x0 + detail]
        return cv2.resize(crop, (side, side), interpolation=cv2.INTER_NEAREST)
    columns = [(s, s) for s in model.style_names]
    if {"monet", "vangogh"} <= set(model.presets):
        columns.append(("monet 50% + vangogh 50%", "monet:0.5,vangogh:0.5"))
    # one row per style (the photos first), one column per photo: readable with many styles
    resized = {}
    for name, photo in photos.items():
        w, h = fit_size(photo.shape[1], photo.shape[0], max_side_px=side)
        resized[name] = resize_frame(photo, w, h)
    cell_h = max(max(p.shape[0] for p in resized.values()), side)

    def pad(im):
        return cv2.copyMakeBorder(im, 0, cell_h - im.shape[0], 0, side - im.shape[1], cv2.BORDER_CONSTANT,
                                  value=(255, 255, 255))
    rows = [np.concatenate([label(pad(p), name) for name, p in resized.items()]
                           + [label(pad(zoom(big)), f"{detail} px at 1:1, shown 2x")], axis=1)]
    for title, spec in columns:
        mix = parse_mix(spec, model)
        cells = [label(pad(stylizer([p], mix)[0]), title[:40]) for p in resized.values()]
        cells.append(label(pad(zoom(stylizer([big], mix)[0])), "detail"))
        rows.append(np.concatenate(cells, axis=1))
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def demo_gif(weights: Path, out: Path, *, seconds: float = 6.0, fps: int = 8, width: int = 240) -> None:
    """`livestyle video` on the demo clip with a style schedule, then a small GIF of it."""
    with tempfile.TemporaryDirectory() as tmp:
        styled = Path(tmp) / "styled.mp4"
        model = load_stylenet(weights)  # as `livestyle video demo.mp4 OUT --schedule ... --max-side 640` does
        step = StreamStylizer.for_model(model, StylizeConfig(device="cpu", max_side_px=640, backend="onnxruntime"),
                                        TemporalConfig())
        stylize_video(ROOT / "samples" / "demo.mp4", styled, step,
                      parse_schedule("0:monet,1s:monet,5s:vangogh", model).mix_at)
        with av.open(str(styled)) as inp, av.open(str(out), "w", format="gif") as gif:
            vs = inp.streams.video[0]
            height = round(vs.height * width / vs.width) // 2 * 2
            st = gif.add_stream("gif", rate=fps)
            st.width, st.height, st.pix_fmt = width, height, "rgb8"
            step = max(1, round(float(vs.average_rate) / fps))
            for i, frame in enumerate(inp.decode(vs)):
                if frame.time is not None and frame.time > seconds:
                    break
                if i % step == 0:
                    rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_AREA)
                    for p in st.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                        gif.mux(p)
            for p in st.encode():
                gif.mux(p)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None)
    args = p.parse_args(argv)
    weights = Path(args.weights) if args.weights else default_model_path()
    model = load_stylenet(weights)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    contact_sheet(model, ROOT / "samples" / "styles_sheet.jpg")
    demo_gif(weights, ROOT / "samples" / "demo_monet_to_vangogh.gif")
    print("wrote samples/styles_sheet.jpg and samples/demo_monet_to_vangogh.gif")
    return 0


if __name__ == "__main__":
    sys.exit(main())

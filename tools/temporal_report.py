"""Per-frame vs temporal loss vs coherence vs both, on the real clips, through the `livestyle video` frame step.

    .venv/bin/python tools/temporal_report.py --plain A.safetensors --stable B.safetensors --style NAME \
        [--clips davis_bear.mp4 sam2_cups_720p.mp4 sam2_bedroom_frames] [--temporal 0.6] \
        [--out-dir runs/temporal_report] [--json report.json] [--crop samples/temporal_crop.jpg]

A and B are the same network and recipe, B trained with --temporal-weight (the temporal loss), A
without (or any two models to compare). Every clip is stylized as `livestyle video ... --max-side 640
--temporal 0|T` does (transcode.stylize_video with a StreamStylizer) with each model (4 runs per clip),
then scored like `livestyle eval-temporal OUT --input CLIP` (Lai et al. 2018 warping
error: DIS medium flow on the input frames, forward-backward + motion-boundary masks) and by the content
distance of `livestyle eval` (VGG relu3_3 MSE to the input frame / its energy) on every 4th frame, to see
whether coherence smears. Frame folders are first encoded to a near-lossless MP4 (crf 10, 25 fps).
The crop shows the fastest-moving 192x192 region of one frame: input, per-frame, coherence.
Reads ../shared/data (VGG from $LIVESTYLE_VGG or ../shared/data/vgg); prints one table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from livestyle import losses  # noqa: E402
from livestyle.config import StylizeConfig, TemporalConfig, VideoConfig  # noqa: E402
from livestyle.frames import frames_to_tensor  # noqa: E402
from livestyle.modelfile import load_stylenet, parse_mix  # noqa: E402
from livestyle.stylize import StreamStylizer  # noqa: E402
from livestyle.transcode import stylize_video  # noqa: E402
from livestyle.images import encode_image  # noqa: E402
from livestyle.metrics import metric_flows, pair_warping_errors, read_frames  # noqa: E402
from livestyle.vgg import load_vgg  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
VIDEO = SHARED / "video"


def as_video(clip: Path, out_dir: Path) -> Path:
    if clip.is_file():
        return clip
    frames, _ = read_frames(clip)
    path = out_dir / f"{clip.name}.mp4"
    if not path.exists():
        h, w = frames[0].shape[:2]
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=Fraction(25))
            s.width, s.height, s.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
            s.codec_context.options = {"crf": "10"}
            for f in frames:
                out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:s.height, :s.width]), format="rgb24")))
            out.mux(s.encode())
    return path


def stylize(clip: Path, out: Path, weights: str, style: str, temporal: float) -> None:
    """What `livestyle video CLIP OUT --weights W --styles S --temporal T --max-side 640` does."""
    model = load_stylenet(weights)
    step = StreamStylizer.for_model(model, StylizeConfig(device="cpu", max_side_px=640, compile="off"),
                          TemporalConfig(weight=temporal) if temporal > 0 else None)
    stylize_video(clip, out, step, parse_mix(style, model), video_cfg=VideoConfig(overwrite=True))


def content_distance(vgg, outs: list[np.ndarray], ins: list[np.ndarray], every: int = 4) -> float:
    """The content distance of `livestyle eval` (losses.content_distance at relu3_3) on every 4th frame."""
    with torch.no_grad():
        return float(np.mean([losses.content_distance(vgg(frames_to_tensor([o])).relu3_3,
                                                      vgg(frames_to_tensor([i])).relu3_3).item()
                              for o, i in zip(outs[::every], ins[::every])]))


def fastest_crop(flows: list, frames: list[np.ndarray], size: int = 192) -> tuple[int, int, int]:
    """(frame index, y, x) of the size x size window with the largest mean flow magnitude."""
    best = (-1.0, 0, 0, 0)
    for t, f in enumerate(flows):
        if f is None:
            continue
        mag = cv2.blur(np.linalg.norm(f, axis=2), (size, size))
        h, w = mag.shape
        half = size // 2
        inner = mag[half:h - half, half:w - half]
        if inner.size == 0:
            continue
        y, x = np.unravel_index(np.argmax(inner), inner.shape)
        if inner[y, x] > best[0]:
            best = (float(inner[y, x]), t + 1, int(y), int(x))
    return best[1], best[2], best[3]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", required=True)
    ap.add_argument("--stable", required=True)
    ap.add_argument("--style", required=True)
    ap.add_argument("--clips", nargs="+", default=["davis_bear.mp4", "sam2_cups_720p.mp4", "sam2_bedroom_frames"])
    ap.add_argument("--temporal", type=float, default=0.6)
    ap.add_argument("--out-dir", default="runs/temporal_report")
    ap.add_argument("--json")
    ap.add_argument("--crop")
    args = ap.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vgg_path = os.environ.get("LIVESTYLE_VGG") or str(SHARED / "vgg" / "vgg16-caffe-features-fp16.pth")
    vgg = load_vgg(("relu3_3",), path=vgg_path)
    arms = [("per-frame", args.plain, 0.0), ("temporal loss", args.stable, 0.0),
            ("coherence", args.plain, args.temporal), ("both", args.stable, args.temporal)]
    report = {"style": args.style, "temporal": args.temporal, "plain": args.plain, "stable": args.stable,
              "clips": {}}
    crop_rows = []
    for name in args.clips:
        src = VIDEO / name
        if not src.exists():
            raise SystemExit(f"missing {src}")
        clip = as_video(src, out_dir)
        outs = {}
        for arm, weights, t in arms:
            path = out_dir / f"{src.stem}_{arm.replace(' ', '_')}.mp4"
            stylize(clip, path, weights, args.style, t)
            outs[arm] = read_frames(path)[0]
        h, w = outs["per-frame"][0].shape[:2]
        ins = read_frames(clip, size=(w, h))[0]
        n = min(len(ins), *(len(v) for v in outs.values()))
        ins = ins[:n]
        flows, masks = metric_flows(ins)
        row = {"frames": n, "size": f"{w}x{h}",
               "input": float(np.mean(pair_warping_errors(ins, flows, masks)))}
        for arm, frames in outs.items():
            frames = frames[:n]
            row[arm] = {"warping_error": float(np.mean(pair_warping_errors(frames, flows, masks))),
                        "content_distance": content_distance(vgg, frames, ins)}
        base = row["per-frame"]
        for arm in outs:
            row[arm]["ratio_to_per_frame"] = row[arm]["warping_error"] / base["warping_error"]
            row[arm]["content_vs_per_frame"] = row[arm]["content_distance"] / base["content_distance"]
        report["clips"][src.stem] = row
        t, y, x = fastest_crop(flows, ins)
        cells = [ins[t][y:y + 192, x:x + 192]] + [outs[a][t][y:y + 192, x:x + 192] for a in ("per-frame", "coherence", "both")]
        crop_rows.append((src.stem, t, y, x, np.concatenate([np.pad(c, ((4, 4), (4, 4), (0, 0)), constant_values=255)
                                                             for c in cells], axis=1)))
    print(f"warping error (Lai et al. 2018) and content distance, style {args.style}, coherence {args.temporal}")
    print(f"{'clip':<22} {'arm':<14} {'warp err':>9} {'x per-frame':>11} {'content':>8} {'x per-frame':>11}")
    for clip, row in report["clips"].items():
        print(f"{clip:<22} {'input':<14} {row['input']:9.5f}")
        for arm, _, _ in arms:
            r = row[arm]
            print(f"{'':<22} {arm:<14} {r['warping_error']:9.5f} {r['ratio_to_per_frame']:11.2f} "
                  f"{r['content_distance']:8.3f} {r['content_vs_per_frame']:11.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.crop and crop_rows:
        width = max(r[4].shape[1] for r in crop_rows)
        sheet = np.concatenate([np.pad(r[4], ((0, 0), (0, width - r[4].shape[1]), (0, 0)), constant_values=255)
                                for r in crop_rows], axis=0)
        Path(args.crop).write_bytes(encode_image(sheet, Path(args.crop).suffix))
        for clip, t, y, x, _ in crop_rows:
            print(f"crop {clip}: frame {t}, y {y}, x {x} (columns: input, per-frame, coherence, both)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

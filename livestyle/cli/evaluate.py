"""`livestyle eval` (texture/Gram ratios, content distance, contact sheet) and `livestyle eval-temporal` (flicker)."""
from __future__ import annotations

import os
from pathlib import Path

from .common import check_output_path, info, non_negative_int, parse_size, positive_int, progress_bar, unit_float, warn


def run(args) -> int:
    import json

    from ..data import parse_style_specs
    from ..evaluate import DEFINITIONS, EvalConfig, evaluate, scores_to_dict
    from ..modelfile import default_model_path

    model = args.weights or str(default_model_path())
    styles = dict(parse_style_specs(args.styles.split(","))) if args.styles else None
    for out in (args.sheet, args.json if args.json != "-" else None):  # before the work, not after it
        if out:
            check_output_path(out, overwrite=args.overwrite, input_path=args.photos)
    if args.sheet and os.path.splitext(args.sheet)[1].lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise ValueError(f"--sheet {args.sheet}: expected a .png, .jpg or .webp file name")
    bar = progress_bar("photos") if args.json != "-" else None
    try:
        scores = evaluate(model, args.photos, EvalConfig(
            styles=styles, limit=args.limit, holdout=args.holdout, max_side_px=args.max_side, device=args.device,
            backend=args.backend, vgg=args.vgg, vgg_convention=args.vgg_convention, sheet=args.sheet, gatys_photos=args.gatys,
            gatys_iterations=args.gatys_iterations, overwrite=args.overwrite, net_scale=args.net_scale,
            only=[n.strip() for n in args.only.split(",") if n.strip()] if args.only else None),
            progress=bar.update_to if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    report = scores_to_dict(scores, model=model, photos_dir=args.photos, holdout=args.holdout,
                            max_side_px=args.max_side, definitions=DEFINITIONS)
    if args.json and args.json != "-":
        from ..atomic import atomic_write_bytes
        atomic_write_bytes(args.json, (json.dumps(report, indent=1) + "\n").encode(), overwrite=args.overwrite)
    if args.json == "-":
        print(json.dumps(report, indent=1))
        return 0
    print(f"{model}: {scores[0].photos} photos at <= {args.max_side} px")
    gatys = scores[0].gatys_photos
    periods = list(scores[0].grid)
    print(f"{'style':<36} {'texture':>8} {'gram':>7} {'content':>8}  " + " ".join(f"{'grid' + p:>7}" for p in periods)
          + (f"   gatys ({gatys} photos): {'texture':>7} {'content':>8}" if gatys else ""))
    for s in scores:
        print(f"{s.name:<36} {s.texture_ratio:8.3f} {s.gram_ratio:7.3f} {s.content_distance:8.3f}  "
              + " ".join(f"{s.grid[p]:7.1f}" for p in periods)
              + (f"   {'':>18}{s.gatys_texture_ratio:7.3f} {s.gatys_content_distance:8.3f}" if gatys else ""))
    n = len(scores)
    print(f"{'mean':<36} {sum(s.texture_ratio for s in scores) / n:8.3f} {sum(s.gram_ratio for s in scores) / n:7.3f} "
          f"{sum(s.content_distance for s in scores) / n:8.3f}  "
          + " ".join(f"{max(s.grid[p] for s in scores):7.1f}" for p in periods) + "  (grid: the worst style)")
    print("texture: Gram distance to the painting at relu3_3/relu4_3, output over photo (1 = unstyled, lower = "
          "closer); gram: the same over relu1_2..relu4_3; content: relu3_3 MSE / photo energy; gridP: median "
          "over photos of the P-px grid score (~1 = no grid)")
    if args.sheet:
        info(f"wrote contact sheet {args.sheet}")
    return 0


def run_temporal(args) -> int:
    """Warping error (Lai et al. 2018) of a stylized video, of its input (the floor), and with
    ground-truth flows where they apply. Flow: DIS medium, full resolution, on the input frames."""
    import json

    from ..metrics import flicker_report

    if args.gt_flow and not os.path.isdir(args.gt_flow):
        raise NotADirectoryError(f"--gt-flow {args.gt_flow} is not a folder of .flo files")
    result = flicker_report(args.output, args.input, gt_flow=args.gt_flow, max_frames=args.max_frames, size=args.size)
    if not args.input:  # after the work, so that bad input stays one line
        warn("no --input: flow comes from the output frames themselves, so flicker that moves like "
             "motion goes unseen; pass the video the output was made from")
    for note in result.pop("notes"):
        warn(note)
    n, (w, h) = result["frames"], map(int, result["size"].split("x"))
    numbers, pairs = result.pop("numbers"), result.get("gt_pairs", [])
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"warping error (Lai et al. 2018), {n} frames {w}x{h}, {n - 1} pairs; "
          f"flow: DIS medium on the {'input' if args.input else 'output'} frames, "
          f"{result['trusted_fraction']:.0%} of pixels trusted")
    print(f"  output {result['warping_error_output']:.5f}")
    if args.input:
        ratio = result["warping_error_output"] / max(result["warping_error_input"], 1e-12)
        print(f"  input  {result['warping_error_input']:.5f}  (the floor: flow errors and lighting; "
              f"output is {ratio:.1f}x)")
    if args.gt_flow:
        if result["gt_pairs"]:
            first, last = result["gt_pairs"][0][0], result["gt_pairs"][-1][0]
            print(f"  with ground-truth flows from {args.gt_flow} ({len(pairs)} of {n - 1} pairs, frames "
                  f"{first}..{last + 1}; motion-boundary mask only):")
            print(f"    output {result['warping_error_output_gt']:.5f}")
            if args.input:
                print(f"    input  {result['warping_error_input_gt']:.5f}")
        else:
            from ..metrics import frame_number
            known = sorted(x for x in numbers if x is not None)
            span = f"frames {known[0]}..{known[-1]}" if known else "frames without numbers in their names"
            flo = sorted(k for k in (frame_number(p) for p in Path(args.gt_flow).glob("*.flo")) if k is not None)
            flo_span = f"flows from frames {flo[0]}..{flo[-1]}" if flo else "no numbered .flo files"
            print(f"  ground-truth flows apply to none of the {n - 1} pairs: {span}, {flo_span} "
                  f"in {args.gt_flow} (NNNN.flo is the flow from frame NNNN to NNNN+1)")
    return 0



def add_parser(sub) -> None:
    s = sub.add_parser("eval", help="quality report: style and content distances per style, contact sheet")
    s.add_argument("photos", help="folder of photos")
    s.add_argument("--weights", metavar="FILE", help="model file (default weights/livestyle.safetensors)")
    s.add_argument("--limit", type=positive_int, metavar="N", help="use the first N photos")
    s.add_argument("--styles", metavar="NAME=PATH,...", help="style images (default: the model's training record)")
    s.add_argument("--net-scale", type=unit_float, default=1.0, metavar="S", help="run the network on the photos "
                   "shrunk to S a side and enlarge its output back, as the webcam's adaptive resolution does "
                   "(default 1)")
    s.add_argument("--only", metavar="NAME,...", help="score only these styles of the model (e.g. one just added)")
    s.add_argument("--holdout", metavar="FILE", help="score only the photos named in FILE (one a line), e.g. "
                   "tools/holdout_photos.txt, the set training leaves out")
    s.add_argument("--max-side", type=positive_int, default=512, metavar="PX", help="longest side of the photos; "
                   "smaller ones keep their size (default 512)")
    s.add_argument("--sheet", metavar="FILE", help="write a contact sheet (rows photos, columns styles)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --sheet or --json file")
    s.add_argument("--gatys", type=non_negative_int, default=0, metavar="N", help="also optimise the first N photos per style "
                   "with Gatys et al. and score them the same way: what the losses can reach (slow)")
    s.add_argument("--gatys-iterations", type=positive_int, default=100, help="Gatys iterations at full size")
    s.add_argument("--json", nargs="?", const="-", metavar="FILE", help="JSON report to FILE, or to stdout instead "
                   "of the table")
    s.add_argument("--device", default="auto")
    s.add_argument("--backend", choices=("auto", "torch", "onnxruntime"), default="auto", help="what runs the "
                   "network, as for video (auto: what video picks on this machine; onnxruntime: what a CPU "
                   "without native bf16 runs)")
    s.add_argument("--vgg", metavar="PATH", help="VGG weights (default $LIVESTYLE_VGG, else torchvision's)")
    s.add_argument("--vgg-convention", choices=("caffe", "torchvision"))
    s.set_defaults(func=run)
    s = sub.add_parser("eval-temporal", help="flicker metric: warping error of a stylized video (Lai et al. 2018)")
    s.add_argument("output", metavar="OUTPUT", help="stylized video file or folder of frames")
    s.add_argument("--input", metavar="INPUT", help="the video or frames it was made from; flow is computed on "
                   "these (default: on the output itself)")
    s.add_argument("--gt-flow", metavar="DIR", help="folder of ground-truth .flo files, NNNN.flo = flow from frame "
                   "NNNN to NNNN+1 (Sintel); used for the pairs whose frame numbers match")
    s.add_argument("--max-frames", type=positive_int, metavar="N", help="use the first N frames")
    s.add_argument("--size", type=parse_size, metavar="WxH", help="resize frames first (e.g. 640x360)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run_temporal)

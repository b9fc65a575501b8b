"""Speed of `livestyle gatys` against a straightforward reference, on the same image in the same run.

    .venv/bin/python tools/experiments/bench_gatys.py converge [--side 512] [--ref-iterations 100] [--variants ref,ls]
    .venv/bin/python tools/experiments/bench_gatys.py per-iteration [--side 512] [--repeats 4]
    .venv/bin/python tools/experiments/bench_gatys.py video --side 256 --frames 8 --iterations 100 --video-iterations 50

The reference follows the PyTorch tutorial "Neural Transfer Using PyTorch" (pytorch/tutorials,
advanced_source/neural_style_tutorial.py): an nn.Sequential copy of VGG with ReLU(inplace=False) and
ContentLoss / StyleLoss modules inserted after the loss layers and the model cut after the last one,
targets computed once when the model is built, Gram = F F^T / (C*H*W), MSE losses, eager fp32 NCHW,
torch.optim.LBFGS([img]) with its defaults (lr 1, max_iter 20, history 100, no line search), the image
clamped to [0, 1] at the start of each closure. Differences from the tutorial, so that both optimise
the same objective and the losses are comparable: the tutorial's VGG19 (torchvision weights, conv
layers) is replaced by our local VGG16 (Caffe weights, ../shared/data/vgg, no download here) and
GatysConfig's layers and weights (content relu4_2; style relu1_1..relu5_1; its TV term added to the
closure), and the style image is scaled like ours (style_scale x the output's longest side) instead of
being squashed to the content's size.

converge: all variants run in one process, interleaved a few iterations at a time, so that load from
other work on the shared cores falls on all of them alike; each variant's clock runs only while it
runs. Every iteration's image (clamped to [0, 1]) is kept, and afterwards scored with one fp32 eager
loss (the reference's own, at full size). Reported: the reference's loss after --ref-iterations and its
time; for every other variant the time at which its image first scores at or below that loss, and
the ratio. Variants:
  ref       the reference above
  ls        livestyle's defaults (GatysConfig(): coarse to fine, bf16 + channels_last where the CPU has
            AVX512-BF16, L-BFGS); its full-size stage runs until --ref-iterations
  ls-1x     livestyle, single scale, bf16 + channels_last
  ls-fp32   livestyle, single scale, fp32 NCHW: our code without the speed-ups (should match ref)
  ls-compile  ls with torch.compile on the VGG prefix
per-iteration: seconds per loss + gradient evaluation at full size for layouts and precisions, the
VGG stopped at relu5_1 or run to relu5_3, and torch.compile (compile time reported separately).
video: gatys_video on the first frames of a real clip (davis_bear), with temporal_weight 0 and the
default, and every frame optimised on its own from the content; Lai et al.'s warping error of each
(the metric's flow is DIS medium on the input frames, the same flow gatys_video uses, so the temporal
loss optimises nearly what is measured; look at the frames too).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from livestyle.config import GatysConfig  # noqa: E402
from livestyle.frames import frame_to_tensor  # noqa: E402
from livestyle.images import fit_size, read_image, resize_frame  # noqa: E402
from livestyle.gatys import GatysOptimizer, resize  # noqa: E402
from livestyle.losses import tv_loss  # noqa: E402
from livestyle.vgg import _ARCHS, layer_names, load_vgg  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
VGG_PATH = SHARED / "vgg" / "vgg16-caffe-features-fp16.pth"


# ---- the reference: the tutorial's recipe ----------------------------------------------------------

class Normalization(nn.Module):
    """The tutorial normalises with ImageNet mean/std for torchvision's VGG19; the Caffe VGG16 wants
    BGR 0..255 minus the mean (vgg.py)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([103.939, 116.779, 123.68]).view(-1, 1, 1))

    def forward(self, img):
        return img.flip(1) * 255.0 - self.mean


def tutorial_gram(x):
    a, b, c, d = x.size()
    features = x.view(a * b, c * d)
    return torch.mm(features, features.t()).div(a * b * c * d)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, x):
        self.loss = F.mse_loss(x, self.target)
        return x


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = tutorial_gram(target_feature).detach()

    def forward(self, x):
        self.loss = F.mse_loss(tutorial_gram(x), self.target)
        return x


def reference_model(content, style, cfg: GatysConfig):
    state = torch.load(VGG_PATH, map_location="cpu", weights_only=True)
    names = layer_names("vgg16")
    model = nn.Sequential(Normalization())
    plain = nn.Sequential(Normalization())  # targets: the tutorial runs `model` itself, which needs content and
    #   style of one size; the style here keeps its aspect ratio, so the loss modules stay out of its way
    content_losses, style_losses = [], []
    i, cin = 0, 3
    for v in _ARCHS["vgg16"]:
        if v == "M":
            layers = [(names[i], nn.MaxPool2d(2, 2))]
            i += 1
        else:
            conv = nn.Conv2d(cin, v, 3, padding=1)
            conv.weight.data = state[f"features.{i}.weight"].float()
            conv.bias.data = state[f"features.{i}.bias"].float()
            layers = [(names[i], conv), (names[i + 1], nn.ReLU(inplace=False))]
            i, cin = i + 2, v
        for name, layer in layers:
            model.add_module(name, layer)
            plain.add_module(name, layer)
            if name == cfg.content_layer:
                loss = ContentLoss(plain(content).detach())
                model.add_module(f"content_loss_{name}", loss)
                content_losses.append(loss)
            if name in cfg.style_layers:
                loss = StyleLoss(plain(style).detach())
                model.add_module(f"style_loss_{name}", loss)
                style_losses.append((cfg.style_layers[name], loss))
        if len(content_losses) + len(style_losses) == 1 + len(cfg.style_layers):
            break  # the tutorial trims everything after the last loss module
    model.eval().requires_grad_(False)
    return model, content_losses, style_losses


def reference_loss(model, content_losses, style_losses, cfg, img):
    model(img)
    c = sum(cl.loss for cl in content_losses) * cfg.content_weight
    s = sum(w * sl.loss for w, sl in style_losses) * cfg.style_weight
    return c + s + cfg.tv_weight * tv_loss(img)


def run_reference(content, style, cfg, n_iter, tick):
    model, cl, sl = reference_model(content, style, cfg)
    img = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([img])
    run = [0]
    while run[0] < n_iter:
        def closure():
            with torch.no_grad():
                img.clamp_(0, 1)
            tick(img.detach(), run[0])
            optimizer.zero_grad()
            loss = reference_loss(model, cl, sl, cfg, img)
            loss.backward()
            run[0] += 1
            return loss
        optimizer.step(closure)
    with torch.no_grad():
        img.clamp_(0, 1)
    tick(img.detach(), run[0])


# ---- interleaving ----------------------------------------------------------------------------------

class Worker(threading.Thread):
    """Runs one variant in a thread that only computes while the main thread waits for it; `tick` (called
    once per iteration) stops its clock, keeps the image and hands control back every `chunk` ticks."""

    def __init__(self, name, fn, chunk):
        super().__init__(daemon=True)
        self.name_, self.fn, self.chunk = name, fn, chunk
        self.go, self.back = threading.Semaphore(0), threading.Semaphore(0)
        self.seconds, self.ticks, self.done, self.error = 0.0, 0, False, None
        self.snaps: list[tuple[float, int, torch.Tensor]] = []  # (seconds, iteration, full-size image)

    def run(self):
        self.go.acquire()
        self._t = time.perf_counter()
        try:
            self.fn(self.tick)
        except BaseException as e:  # reported by the main thread
            self.error = e
        self.seconds += time.perf_counter() - self._t
        self.done = True
        self.back.release()

    def tick(self, img, iteration, full_size=True):
        self.seconds += time.perf_counter() - self._t
        if full_size:
            self.snaps.append((self.seconds, iteration, img.detach().float().clone()))
        self.ticks += 1
        if self.ticks % self.chunk == 0:
            self.back.release()
            self.go.acquire()
        self._t = time.perf_counter()


def interleave(workers):
    for w in workers:
        w.start()
    while not all(w.done for w in workers):
        for w in workers:
            if not w.done:
                w.go.release()
                w.back.acquire()
    for w in workers:
        if w.error:
            raise w.error


def livestyle_fn(content, style, cfg):
    def fn(tick):
        opt = GatysOptimizer([style], cfg)
        h, w = content.shape[-2:]
        if opt.bf16:
            print(f"  {cfg.scales} bf16={opt.bf16} channels_last={cfg.channels_last}", flush=True)
        else:
            print(f"  {cfg.scales} fp32 channels_last={cfg.channels_last}", flush=True)

        def progress(e):
            if e["event"] == "snapshot":
                full = tuple(e["image"].shape[-2:]) == (h, w)
                tick(e["image"], e["iteration"], full)
        out = opt.run(content, progress=progress)
        tick(out, -1)
    return fn


# ---- scoring ---------------------------------------------------------------------------------------

def scorer(content, style, cfg):
    model, cl, sl = reference_model(content, style, cfg)

    def score(img):
        with torch.no_grad():
            return float(reference_loss(model, cl, sl, cfg, img.clamp(0, 1)))
    return score


def first_reaching(snaps, score, target, step=8):
    """(seconds, iteration, loss) of the first snapshot scoring <= target: every `step`-th one scored,
    then the bracket searched one by one. None if none does."""
    idx = list(range(0, len(snaps), step)) + [len(snaps) - 1]
    hit = next((i for i in idx if score(snaps[i][2]) <= target), None)
    if hit is None:
        return None
    for i in range(max(0, hit - step + 1), hit + 1):
        loss = score(snaps[i][2])
        if loss <= target:
            return snaps[i][0], snaps[i][1], loss
    raise AssertionError("unreachable")


def load_inputs(args):
    if args.content == "coffee":
        import skimage.data
        photo = skimage.data.coffee()
    else:
        photo = read_image(args.content)
    w, h = fit_size(photo.shape[1], photo.shape[0], max_side_px=args.side)
    content = frame_to_tensor(resize_frame(photo, w, h)).contiguous()  # NCHW, as ToTensor gives
    style_full = frame_to_tensor(read_image(args.style))
    k = args.side / max(style_full.shape[-2:])  # style_scale 1: the style's longest side = the output's
    style = resize(style_full, round(style_full.shape[-2] * k), round(style_full.shape[-1] * k))
    return content, style


def converge(args):
    content, style = load_inputs(args)
    base = GatysConfig(vgg=str(VGG_PATH), device="cpu", save_every=1, iterations=args.ref_iterations)
    variants = {
        "ref": lambda tick: run_reference(content, style, base, args.ref_iterations, tick),
        "ls": livestyle_fn(content, style, base),
        "ls-1x": livestyle_fn(content, style, dataclasses.replace(base, scales=(1.0,))),
        "ls-fp32": livestyle_fn(content, style, dataclasses.replace(base, scales=(1.0,), bf16=False,
                                                                    channels_last=False)),
        "ls-compile": livestyle_fn(content, style, dataclasses.replace(base, compile=True)),
    }
    names = args.variants.split(",")
    for name in names:  # "ls:coarse_iterations=50:scales=0.5/1" = ls with those GatysConfig fields
        base_name, *overrides = name.split(":")
        if overrides:
            kw = {}
            for o in overrides:
                k, v = o.split("=")
                kw[k] = tuple(float(x) for x in v.split("/")) if "/" in v or k == "scales" else json.loads(v)
            kw = {"scales": (1.0,) if base_name == "ls-1x" else base.scales, **kw}
            variants[name] = livestyle_fn(content, style, dataclasses.replace(base, **kw))
    print(f"{content.shape[-1]}x{content.shape[-2]} content, style {style.shape[-1]}x{style.shape[-2]}, "
          f"{torch.get_num_threads()} threads; variants {names}", flush=True)
    t0 = time.perf_counter()
    workers = [Worker(n, variants[n], args.chunk) for n in names]
    interleave(workers)
    print(f"ran in {time.perf_counter() - t0:.0f} s wall; scoring", flush=True)
    score = scorer(content, style, base)
    by = {w.name_: w for w in workers}
    ref = by.get("ref")
    result = {"size": [content.shape[-1], content.shape[-2]], "threads": torch.get_num_threads(),
              "ref_iterations": args.ref_iterations, "variants": {}}
    target = None
    if ref:
        target = score(ref.snaps[-1][2])
        result["reference"] = {"seconds": ref.seconds, "final_loss": target, "iterations": ref.snaps[-1][1]}
        print(f"reference: {ref.snaps[-1][1]} iterations in {ref.seconds:.1f} s, loss {target:.5g}")
    elif args.target:
        target = args.target
        print(f"target loss {target:.5g} (given; no reference in this run, so no time ratios)")
    for w in workers:
        curve = [(round(s, 2), it, score(img)) for s, it, img in w.snaps[::args.curve_every]]
        row = {"seconds_total": w.seconds, "curve": curve}
        if target is not None and w is not ref:
            hit = first_reaching(w.snaps, score, target)
            if hit:
                row.update(seconds_to_ref_loss=hit[0], iteration=hit[1], loss=hit[2])
                ratio = ""
                if ref:
                    row["ratio"] = hit[0] / ref.seconds
                    ratio = f": {hit[0] / ref.seconds:.2f} x the reference's time"
                print(f"{w.name_:<11} reaches {hit[2]:.5g} at full-size iteration {hit[1]} after {hit[0]:.1f} s{ratio}")
            else:
                best = min(score(s[2]) for s in w.snaps[-3:])
                print(f"{w.name_:<11} does not reach it (final {best:.5g} after {w.seconds:.1f} s)")
        print(f"  {w.name_} curve (s, iteration, loss): " + ", ".join(f"({s}, {i}, {loss:.4g})" for s, i, loss in curve))
        result["variants"][w.name_] = row
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


def per_iteration(args):
    content, style = load_inputs(args)
    base = GatysConfig(vgg=str(VGG_PATH), device="cpu", scales=(1.0,))
    import livestyle.gatys as gatys
    from livestyle.losses import gram_matrix
    rows = [("fp32 NCHW", dict(bf16=False, channels_last=False), False),
            ("fp32 channels_last", dict(bf16=False, channels_last=True), False),
            ("bf16 NCHW", dict(bf16=True, channels_last=False), False),
            ("bf16 channels_last, losses.gram_matrix", dict(bf16=True, channels_last=True), False),
            ("bf16 channels_last", dict(bf16=True, channels_last=True), False),
            ("bf16 channels_last, VGG to relu5_3", dict(bf16=True, channels_last=True), True),
            ("bf16 channels_last + compile", dict(bf16=True, channels_last=True, compile=True), False)]
    own_gram = gatys.gram

    def use_gram(name):  # the training's Gram (NCHW reshape) for that one row, ours for the others
        gatys.gram = gram_matrix if "losses.gram_matrix" in name else own_gram
    opts = []
    for name, kw, full in rows:
        use_gram(name)
        cfg = dataclasses.replace(base, **kw)
        layers = tuple(dict.fromkeys([*cfg.style_layers, cfg.content_layer] + (["relu5_3"] if full else [])))
        opt = GatysOptimizer([style], cfg, vgg=load_vgg(layers, path=str(VGG_PATH)))
        opt.style_grams(*content.shape[-2:])
        t0 = time.perf_counter()
        opt.run(content, iterations=1)  # warm-up (and compilation)
        opts.append((name, opt, time.perf_counter() - t0))
    times = {name: [] for name, _, _ in opts}
    for _ in range(args.repeats):  # interleaved, so that other load falls on all alike
        for name, opt, _ in opts:
            use_gram(name)
            t0 = time.perf_counter()
            opt.run(content, iterations=args.iterations)
            times[name].append((time.perf_counter() - t0) / args.iterations)
    ref = float(np.median(times[opts[0][0]]))
    print(f"{content.shape[-1]}x{content.shape[-2]}, {torch.get_num_threads()} threads, median s per iteration "
          f"of {args.repeats} x {args.iterations}")
    for name, _, first in opts:
        med = float(np.median(times[name]))
        print(f"  {name:<38} {med:6.3f} s  ({ref / med:4.1f}x; first call {first:.1f} s)")


def video(args):
    """gatys_video on the first --frames frames of a real clip, with and without the temporal loss:
    Lai et al.'s warping error of each (livestyle.metrics, DIS medium flow on the input frames)."""
    import av

    from livestyle.config import VideoConfig
    from livestyle.gatys_video import gatys_video, work_dir_for
    from livestyle.metrics import read_frames, warping_error

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = out_dir / f"{Path(args.clip).stem}_{args.frames}f_{args.side}px.mp4"
    with av.open(args.clip) as src, av.open(str(clip), "w") as dst:  # the first frames, shrunk, near-lossless
        vs = None
        for i, frame in enumerate(src.decode(video=0)):
            if i == args.frames:
                break
            rgb = frame.to_ndarray(format="rgb24")
            w, h = fit_size(rgb.shape[1], rgb.shape[0], max_side_px=args.side, even=True)
            if vs is None:
                vs = dst.add_stream("libx264", rate=src.streams.video[0].average_rate, options={"crf": "4"})
                vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vf = av.VideoFrame.from_ndarray(resize_frame(rgb, w, h), format="rgb24")
            vf.pts = i
            dst.mux(vs.encode(vf))
        dst.mux(vs.encode(None))
    frames_in, _ = read_frames(clip)
    print(f"{clip}: {len(frames_in)} frames {frames_in[0].shape[1]}x{frames_in[0].shape[0]}; input's own warping "
          f"error {warping_error(frames_in, frames_in):.5f}", flush=True)
    style = frame_to_tensor(read_image(args.style))
    base = GatysConfig(vgg=str(VGG_PATH), device="cpu", max_side_px=args.side, iterations=args.iterations,
                       video_iterations=args.video_iterations)
    results = {}
    if "independent" in args.video_modes.split(","):  # no Ruder at all: every frame from the content, all scales
        from livestyle.frames import tensor_to_frame
        opt = GatysOptimizer([style], base)
        t0 = time.perf_counter()
        frames_out = [tensor_to_frame(opt.run(frame_to_tensor(f))) for f in frames_in]
        err = warping_error(frames_in, frames_out)
        print(f"independent frames: warping error {err:.5f}; {(time.perf_counter() - t0) / len(frames_in):.1f} s/frame",
              flush=True)
    weights = {"0": 0.0, "default": base.temporal_weight}
    for weight in (weights[m] for m in args.video_modes.split(",") if m in weights):
        cfg = dataclasses.replace(base, temporal_weight=weight)
        out = out_dir / f"gatys_temporal{weight:g}.mp4"
        times = []
        t0 = time.perf_counter()
        gatys_video(clip, out, [style], cfg, video_cfg=VideoConfig(overwrite=True), resume=False, keep_frames=True,
                    progress=lambda e: e["event"] == "frame" and times.append(e["seconds"]))
        frames_out = [read_image(str(p)) for p in sorted(work_dir_for(out).glob("*.png"))]
        err = warping_error(frames_in, frames_out)
        results[weight] = err
        print(f"temporal_weight {weight:g}: warping error {err:.5f}; {time.perf_counter() - t0:.0f} s, frame 0 "
              f"{times[0]:.0f} s, then {np.mean(times[1:]):.1f} s/frame; {out}", flush=True)
    if len(results) == 2:
        w0, w1 = results.values()
        print(f"warping error with the temporal loss: {w1 / w0:.2f} x without")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("converge", "per-iteration", "video"))
    p.add_argument("--content", default="coffee", help="photo path, or 'coffee' (skimage.data.coffee(), CC0)")
    p.add_argument("--style", default=str(SHARED / "styles" / "vangogh_starry_night.jpg"))
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--ref-iterations", type=int, default=100)
    p.add_argument("--variants", default="ref,ls", help="comma list of ref, ls, ls-1x, ls-fp32, ls-compile; "
                   "NAME:field=value:... overrides GatysConfig fields (tuples with /: scales=0.5/1)")
    p.add_argument("--target", type=float, help="converge without ref: time to reach this loss")
    p.add_argument("--chunk", type=int, default=5, help="iterations per turn when interleaving")
    p.add_argument("--curve-every", type=int, default=10)
    p.add_argument("--iterations", type=int, default=2, help="per-iteration: iterations per timed run; video: "
                   "iterations at full size for frame 0")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--clip", default=str(SHARED / "video" / "davis_bear.mp4"), help="video: the real clip")
    p.add_argument("--frames", type=int, default=8, help="video: frames to use")
    p.add_argument("--video-iterations", type=int, default=50, help="video: iterations per later frame")
    p.add_argument("--out-dir", default="runs/gatys/video", help="video: where clips and frames go")
    p.add_argument("--video-modes", default="independent,0,default", help="video: independent (every frame "
                   "from the content, no flow), 0 (warped init, no temporal loss), default (temporal_weight)")
    p.add_argument("--json", help="write the numbers to this file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    {"converge": converge, "per-iteration": per_iteration, "video": video}[args.mode](args)


if __name__ == "__main__":
    main()

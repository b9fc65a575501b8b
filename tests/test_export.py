"""ONNX export: the graph matches the torch network within 1/255 at any size, carries the style names,
and refuses bad output paths with one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from livestyle import cli
from livestyle.modelfile import load_stylenet

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (pip install -e '.[dev]')")
onnx = pytest.importorskip("onnx", reason="onnx is needed by the exporter (pip install -e '.[dev]')")


def test_exported_graph_matches_torch_at_any_size_and_batch(tiny_model_path, tmp_path):
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(out), "--weights", str(tiny_model_path)]) == 0
    model = load_stylenet(tiny_model_path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["frames", "mix"] and sess.get_outputs()[0].name == "styled"
    g = torch.Generator().manual_seed(0)
    for shape in [(1, 64, 96, 3), (2, 37, 53, 3), (1, 5, 7, 3)]:  # a multiple of the stride, odd, tiny
        frames = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
        mix = torch.softmax(torch.randn(shape[0], 3, generator=g), 1)  # blends, one per image
        with torch.no_grad():
            y = model.net(frames.permute(0, 3, 1, 2).float() / 255, mix).permute(0, 2, 3, 1).numpy()
        got = sess.run(None, {"frames": frames.numpy(), "mix": mix.numpy()})[0]
        assert got.dtype == np.uint8 and got.shape == shape
        # rounded half up from the network's floats: 1 level apart at most where float error meets a half
        assert np.abs(got.astype(int) - np.floor(y * 255 + 0.5)).max() <= 1
        assert (got == np.floor(y * 255 + 0.5)).mean() > 0.99
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["styles"]) == ["a", "b", "c"]
    assert json.loads(meta["sources"])["b"] == "test style b" and json.loads(meta["presets"])["ab"] == {"a": 0.5, "b": 0.5}


def test_export_refuses_an_existing_file_a_missing_folder_and_another_extension(tiny_model_path, tmp_path, capsys):
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep me")
    for target, message in [(existing, "exists; pass --overwrite"), (tmp_path / "nodir" / "m.onnx", "does not exist"),
                            (tmp_path / "m.pt", "ending in .onnx")]:
        assert cli.main(["export", str(target), "--weights", str(tiny_model_path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert existing.read_bytes() == b"keep me"
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_zero_padded_net_with_a_reflected_margin_exports_and_keeps_every_size(tmp_path):
    """The shipped layout: zero padding inside, the frame reflected around it (NetConfig.margin) and cropped
    after; the export matches torch and gives back the frame's own size, tiny and odd sizes included."""
    from livestyle.config import NetConfig
    from livestyle.export import export_onnx
    from livestyle.model import StyleNet
    from livestyle.modelfile import ModelFile, StyleInfo

    torch.manual_seed(0)
    net = StyleNet(NetConfig(n_styles=2, base_width=8, n_res_blocks=1, padding="zeros", margin=8)).eval()
    path = tmp_path / "m.onnx"
    export_onnx(ModelFile(net, [StyleInfo("a"), StyleInfo("b")]), path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(1)
    for shape in [(1, 64, 96, 3), (1, 37, 53, 3), (1, 3, 5, 3), (1, 9, 200, 3)]:
        frames = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
        mix = torch.tensor([[0.25, 0.75]])
        with torch.no_grad():
            y = net(frames.permute(0, 3, 1, 2).float() / 255, mix).permute(0, 2, 3, 1).numpy()
        got = sess.run(None, {"frames": frames.numpy(), "mix": mix.numpy()})[0]
        assert got.shape == shape and np.abs(got.astype(int) - np.floor(y * 255 + 0.5)).max() <= 1
    # the margin is what the edges see: without it the same weights give other border pixels, the same inside
    x = torch.rand(1, 3, 64, 96, generator=g)
    with torch.no_grad():
        a = net(x, 0)
        net.cfg = NetConfig(**{**net.cfg.__dict__, "margin": 0})
        b = net(x, 0)
    assert (a - b)[..., :2, :].abs().mean() > (a - b)[..., 28:36, 40:56].abs().mean()

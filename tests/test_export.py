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
    assert [i.name for i in sess.get_inputs()] == ["image", "mix"] and sess.get_outputs()[0].name == "styled"
    g = torch.Generator().manual_seed(0)
    for shape in [(1, 3, 64, 96), (2, 3, 37, 53), (1, 3, 5, 7)]:  # a multiple of the stride, odd, tiny
        x = torch.rand(*shape, generator=g)
        mix = torch.softmax(torch.randn(shape[0], 3, generator=g), 1)  # blends, one per image
        with torch.no_grad():
            ref = model.net(x, mix).numpy()
        got = sess.run(None, {"image": x.numpy(), "mix": mix.numpy()})[0]
        assert got.shape == shape and np.abs(got - ref).max() < 1 / 255
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

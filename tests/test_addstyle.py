"""`livestyle add-style`: only the new style's rows train, it starts from the closest style, lands in the
user model folder (never the shipped file), works by name and in blends, and refuses bad input."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from livestyle import cli
from livestyle.images import encode_image
from livestyle.modelfile import load_stylenet


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    content = tmp_path / "photos"
    content.mkdir()
    for i in range(4):
        (content / f"p{i}.png").write_bytes(encode_image(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), ".png"))
    painting = tmp_path / "klee.png"
    stripes = np.zeros((96, 96, 3), np.uint8)
    stripes[:, ::8] = (250, 40, 10)
    painting.write_bytes(encode_image(stripes, ".png"))
    return {"content": str(content), "painting": str(painting), "tmp": tmp_path}


def test_a_painting_becomes_a_style_of_the_user_model(inputs, tiny_model_path, random_vgg_path, capsys):
    shipped_before = tiny_model_path.read_bytes()
    assert cli.main(["add-style", inputs["painting"], "--into", str(tiny_model_path), "--content", inputs["content"],
                     "--minutes", "0.04", "--vgg", str(random_vgg_path), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "starting from" in err and "is ready" in err
    user = os.environ["LIVESTYLE_WEIGHTS_DIR"]
    model = load_stylenet(os.path.join(user, "livestyle.safetensors"))
    base = load_stylenet(tiny_model_path)
    assert model.style_names == ["a", "b", "c", "klee"] and tiny_model_path.read_bytes() == shipped_before
    new, old = model.net.state_dict(), base.net.state_dict()
    for k, v in old.items():
        if k.endswith((".gamma", ".beta")):
            assert torch.equal(new[k][:3], v)  # the old styles bit-identical
        else:
            assert torch.equal(new[k], v)  # every conv frozen
    assert model.training["trained_styles"] == ["klee"] and model.training["base"] == str(tiny_model_path)
    from livestyle import ortnet  # its export beside it, of exactly these weights, as the shipped model has
    onnx = ortnet.onnx_beside(model.path)
    assert onnx is not None and ortnet.load(onnx, ortnet.net_fingerprint(model.net), threads=1) is not None
    assert os.path.isfile(os.path.join(user, "klee.ckpt", "preview.png"))
    # by name, alone and blended with a shipped style, without --weights (the user model is the default now)
    photo = os.path.join(inputs["content"], "p0.png")
    assert cli.main(["image", photo, str(inputs["tmp"] / "o1.png"), "--styles", "klee"]) == 0
    assert cli.main(["image", photo, str(inputs["tmp"] / "o2.png"), "--styles", "a,klee", "--mix", "a:0.5,klee:0.5"]) == 0
    assert cli.main(["styles"]) == 0
    assert "klee" in capsys.readouterr().out


@pytest.mark.parametrize("case,extra,says", [
    ("not an image", {"painting": "notes"}, "is not a readable image"),
    ("too small", {"painting": "small"}, "expected at least 64 px"),
    ("a name that exists", {"name": "b"}, "already has a style called 'b'"),
    ("no VGG weights", {"vgg": "missing"}, "not found"),
])
def test_bad_input_is_one_line(case, extra, says, inputs, tiny_model_path, random_vgg_path, capsys):
    tmp = inputs["tmp"]
    (tmp / "notes.png").write_text("not a picture")
    (tmp / "small.png").write_bytes(encode_image(np.zeros((40, 100, 3), np.uint8), ".png"))
    painting = {"notes": str(tmp / "notes.png"), "small": str(tmp / "small.png")}.get(extra.get("painting"),
                                                                                       inputs["painting"])
    vgg = str(tmp / "no-vgg.pth") if extra.get("vgg") else str(random_vgg_path)
    argv = ["add-style", painting, "--into", str(tiny_model_path), "--content", inputs["content"], "--minutes",
            "0.02", "--vgg", vgg] + (["--name", extra["name"]] if "name" in extra else [])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("livestyle: error:")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in err, err
    assert not os.path.exists(os.path.join(os.environ["LIVESTYLE_WEIGHTS_DIR"], "livestyle.safetensors"))


def test_an_unwritable_user_folder_is_one_line(inputs, tiny_model_path, random_vgg_path, monkeypatch, capsys):
    locked = inputs["tmp"] / "locked"
    locked.mkdir()
    monkeypatch.setenv("LIVESTYLE_WEIGHTS_DIR", str(locked / "models"))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(locked / "models") else real_access(p, mode))
    assert cli.main(["add-style", inputs["painting"], "--into", str(tiny_model_path), "--content", inputs["content"],
                     "--minutes", "0.02", "--vgg", str(random_vgg_path)]) == 2
    assert "is not writable; set LIVESTYLE_WEIGHTS_DIR" in capsys.readouterr().err


def test_the_budget_counts_from_the_command_not_from_the_first_step(inputs, tiny_model_path, random_vgg_path):
    import time

    from livestyle.addstyle import AddStyleConfig, add_style
    # a command that started a minute ago with a one-minute budget: set-up has spent it, one step and done
    cfg = AddStyleConfig(painting=inputs["painting"], into=str(tiny_model_path), content_dir=inputs["content"],
                         minutes=1.0, vgg=str(random_vgg_path), device="cpu", image_size=32,
                         started_at=time.time() - 60.0)
    t0 = time.time()
    chosen = add_style(cfg)
    assert time.time() - t0 < 30
    assert load_stylenet(chosen["model"]).training["steps"] == 1

"""Small rows (NetConfig.small_rows): each style's CIN rows for the live loop's smaller copy. They leave the
full-size output exactly as it was, take over as the copy shrinks, train alone (livestyle.small_rows), and
travel through the model file, the ONNX export, the frame step, and add-style."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from livestyle.config import SMALL_ROWS_SCALE, NetConfig, StylizeConfig, TrainConfig, small_weight
from livestyle.model import CondInstanceNorm, StyleNet
from livestyle.modelfile import StyleInfo, load_stylenet, save_stylenet
from livestyle.small_rows import SmallRowsConfig, small_params, train_small_rows, with_small_rows

STYLES = [StyleInfo("a", "test a"), StyleInfo("b", "test b"), StyleInfo("c", "test c")]


def _small_net(tiny_net: StyleNet) -> StyleNet:
    """tiny_net with small rows that differ from its full-size rows."""
    torch.manual_seed(1)
    net = with_small_rows(tiny_net)
    for p in small_params(net):
        p.data = p.data + 0.5 * torch.randn_like(p)
    return net.eval()


def test_small_weight_is_zero_at_full_size_and_whole_at_the_rows_scale_and_below():
    assert small_weight(1.0) == 0.0
    assert small_weight(SMALL_ROWS_SCALE) == 1.0 and small_weight(0.5) == 1.0 and small_weight(0.25) == 1.0
    assert small_weight((1.0 + SMALL_ROWS_SCALE) / 2) == pytest.approx(0.5)


def test_small_rows_leave_full_size_alone_and_mix_in_by_their_weight(tiny_net):
    net = _small_net(tiny_net)
    x = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        full = tiny_net(x, 1)
        assert torch.equal(net(x, 1), full) and torch.equal(net(x, 1, 0.0), full)
        whole = net(x, 1, 1.0)
        assert (whole - full).abs().mean() > 0.01
        # the small rows whole = a network whose full-size rows are the small rows
        swapped = StyleNet(dataclasses.replace(net.cfg, small_rows=False))
        state = {k: v for k, v in net.state_dict().items() if not k.endswith("_small")}
        state.update({k[:-len("_small")]: v for k, v in net.state_dict().items() if k.endswith("_small")})
        swapped.load_state_dict(state)
        assert torch.allclose(swapped.eval()(x, 1), whole, atol=1e-6)
        # per-sample weights, and a half weight lies between
        both = net(x, 1, torch.tensor([0.0, 1.0]))
        assert torch.allclose(both[0], full[0], atol=1e-6) and torch.allclose(both[1], whole[1], atol=1e-6)
        half = net(x, 1, 0.5)
        assert 0.2 < (half - full).abs().mean() / (whole - full).abs().mean() < 0.8
        # a network without small rows ignores the weight
        assert torch.equal(tiny_net(x, 1, 1.0), full)


def test_added_small_rows_start_as_copies_so_nothing_changes_until_they_train(tiny_net):
    net = with_small_rows(tiny_net).eval()
    assert net.cfg.small_rows and with_small_rows(net) is net
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x, 2, 1.0), tiny_net(x, 2))


def test_the_model_file_keeps_the_small_rows(tiny_net, tmp_path):
    net = _small_net(tiny_net)
    path = tmp_path / "small.safetensors"
    save_stylenet(path, net, STYLES)
    back = load_stylenet(path).net.eval()
    x = torch.rand(1, 3, 32, 48)
    assert back.cfg.small_rows
    with torch.no_grad():
        assert torch.equal(back(x, 0, 1.0), net(x, 0, 1.0))


def test_new_styles_copy_the_small_rows_of_the_style_they_start_from(tiny_net):
    from livestyle.train_setup import extend_styles
    net = _small_net(tiny_net)
    wider = extend_styles(net, 2, init_row=1)
    for m, w in zip(net.modules(), wider.modules()):
        if isinstance(m, CondInstanceNorm):
            assert w.gamma_small.shape[0] == 5 and torch.equal(w.gamma_small[3], m.gamma_small[1])
            assert torch.equal(w.beta_small[:3], m.beta_small)


def test_the_frame_step_takes_the_small_rows_only_on_a_smaller_copy(tiny_net, tmp_path):
    from livestyle.modelfile import load_model
    from livestyle.stylize import StreamStylizer
    plain, small = tmp_path / "plain.safetensors", tmp_path / "small.safetensors"
    save_stylenet(plain, tiny_net, STYLES)
    save_stylenet(small, _small_net(tiny_net), STYLES)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)]
    mix = np.array([0.0, 1.0, 0.0], np.float32)
    cfg = StylizeConfig(device="cpu", compile="off", backend="torch", precision="fp32")
    a = StreamStylizer.for_model(load_model(str(plain)), cfg)
    b = StreamStylizer.for_model(load_model(str(small)), cfg)
    assert np.array_equal(a(frames, mix)[0], b(frames, mix)[0])
    diff = np.abs(a(frames, mix, scale=0.75)[0].astype(int) - b(frames, mix, scale=0.75)[0].astype(int))
    assert diff.mean() > 2


def test_the_onnx_export_takes_the_small_rows_weight(tiny_net, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from livestyle.export import export_onnx
    from livestyle.modelfile import load_stylenet as load
    from livestyle.ortnet import OrtNet
    net = _small_net(tiny_net)
    path = tmp_path / "small.safetensors"
    save_stylenet(path, net, STYLES)
    onnx = export_onnx(load(path), tmp_path / "small.onnx")
    ort = OrtNet(onnx, threads=1)
    assert ort.takes_small
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 40, 56, 3), dtype=np.uint8)
    mix = np.eye(3, dtype=np.float32)[[0, 2]]
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    for t in (0.0, 1.0):
        with torch.no_grad():
            ref = (net(x, torch.from_numpy(mix), t) * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        got = ort.run_frames(frames, mix, t)
        assert np.abs(got.astype(int) - ref.numpy().astype(int)).max() <= 1


def _trained_tiny(images, random_vgg_path, **kw) -> str:
    """A 2-style model trained for 2 steps by `train` (so its record names its paintings and photos)."""
    from livestyle.train import train
    cfg = TrainConfig(styles=images["styles"], content_dir=images["content"], out=str(images["dir"] / "m.safetensors"),
                      arch=NetConfig(base_width=8, n_res_blocks=1, **kw), image_size=32, batch_size=2, steps=2,
                      lr=1e-2, vgg=str(random_vgg_path), bf16=False, preview_every=0, log_every=1,
                      checkpoint_every_s=1e9)
    return train(cfg)


def test_training_the_small_rows_changes_them_alone(images, tmp_path, random_vgg_path):
    path = _trained_tiny(images, random_vgg_path)
    out = tmp_path / "small.safetensors"
    events = []
    train_small_rows(path, str(out), SmallRowsConfig(steps=2, image_size=48, vgg=str(random_vgg_path), bf16=False,
                                                    device="cpu", lr=0.1), progress=events.append)
    assert [e["step"] for e in events] == [1, 2] and all(np.isfinite(e["loss"]) for e in events)
    before, after = load_stylenet(path), load_stylenet(str(out))
    assert after.net.cfg.small_rows and [r["steps"] for r in after.training["small_rows"]] == [2]
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.equal(after.net(x, 1), before.net(x, 1))  # full size: bit-identical
        assert (after.net(x, 1, 1.0) - before.net(x, 1)).abs().max() > 1e-4
    again = tmp_path / "again.safetensors"  # a second run continues from the rows the first left
    train_small_rows(str(out), str(again), SmallRowsConfig(steps=1, image_size=48, vgg=str(random_vgg_path),
                                                           bf16=False, device="cpu", command="second"))
    assert [(r["steps"], r["command"]) for r in load_stylenet(str(again)).training["small_rows"]] == [(2, ""), (1, "second")]
    with pytest.raises(ValueError, match="exists"):  # never over an existing file unless asked
        train_small_rows(path, str(out), SmallRowsConfig(steps=1, vgg=str(random_vgg_path), device="cpu"))


def test_a_style_added_to_a_network_with_small_rows_gets_its_own(images, tmp_path, random_vgg_path):
    from livestyle.train import train
    path = _trained_tiny(images, random_vgg_path, small_rows=True)
    base = dict(styles=[f"new={images['styles'][1]}"], content_dir=images["content"], base=path, init_style="style0",
                image_size=32, batch_size=1, steps=2, lr=0.1, vgg=str(random_vgg_path), bf16=False,
                preview_every=0, log_every=1, checkpoint_every_s=1e9)
    # trained on the smaller copy (add-style's way): the new style's small rows move away from style0's
    trained = load_stylenet(train(TrainConfig(**base, out=str(tmp_path / "t.safetensors"), scale_weight=1.0,
                                              scale_range=(0.75, 0.75))))
    # no smaller-copy term: its small rows are its full-size rows (never the rows of the style it started from)
    settled = load_stylenet(train(TrainConfig(**base, out=str(tmp_path / "s.safetensors"))))
    for mt, ms in zip(trained.net.modules(), settled.net.modules()):
        if isinstance(mt, CondInstanceNorm):
            assert not torch.equal(mt.gamma_small[2], mt.gamma_small[0])
            assert torch.equal(mt.gamma_small[:2], ms.gamma_small[:2])  # the old styles' rows never move
            assert torch.equal(ms.gamma_small[2], ms.gamma[2]) and torch.equal(ms.beta_small[2], ms.beta[2])


def test_training_some_styles_small_rows_leaves_the_others_exactly(images, tmp_path, random_vgg_path):
    path = _trained_tiny(images, random_vgg_path, small_rows=True)
    out = tmp_path / "one.safetensors"
    train_small_rows(path, str(out), SmallRowsConfig(steps=2, image_size=48, vgg=str(random_vgg_path), bf16=False,
                                                    device="cpu", lr=0.1, only=("style1",), style_weight=8.0))
    before, after = load_stylenet(path).net, load_stylenet(str(out)).net
    for mb, ma in zip(before.modules(), after.modules()):
        if isinstance(mb, CondInstanceNorm):
            assert torch.equal(ma.gamma_small[0], mb.gamma_small[0]) and torch.equal(ma.beta_small[0], mb.beta_small[0])
    assert any(not torch.equal(a, b) for a, b in zip(small_params(after), small_params(before)))
    assert load_stylenet(str(out)).training["small_rows"][-1]["styles"] == ["style1"]
    with pytest.raises(ValueError, match="not a style"):
        train_small_rows(path, str(tmp_path / "x.safetensors"), SmallRowsConfig(only=("nope",), device="cpu"))


def test_bad_small_rows_runs_are_refused_before_anything_is_written(images, tmp_path, random_vgg_path):
    path = _trained_tiny(images, random_vgg_path)
    before = open(path, "rb").read()
    for cfg, says in ((SmallRowsConfig(steps=0), "steps"), (SmallRowsConfig(scale=1.0), "scale"),
                      (SmallRowsConfig(overwrite=True), "the model being trained")):
        with pytest.raises(ValueError, match=says):
            train_small_rows(path, path, cfg)
    assert open(path, "rb").read() == before

"""VGG loss network: named features, the input convention inside, where weights come from, and
a clear error (never a random network) when there are none."""
from __future__ import annotations

import urllib.error

import pytest
import torch

from conftest import shared_path
from livestyle.vgg import VGGFeatures, layer_names, load_vgg


def _first_conv_input(vgg: VGGFeatures, x: torch.Tensor) -> torch.Tensor:
    seen = {}
    handle = vgg.features[0].register_forward_pre_hook(lambda m, inp: seen.setdefault("x", inp[0].clone()))
    vgg(x)
    handle.remove()
    return seen["x"]


def test_features_are_named_and_computed_only_up_to_the_deepest_layer(random_vgg):
    x = torch.rand(2, 3, 32, 24)
    feats = random_vgg(x)
    assert feats._fields == ("relu1_2", "relu2_2", "relu3_3")
    assert feats.relu1_2.shape == (2, 64, 32, 24)
    assert feats.relu2_2.shape == (2, 128, 16, 12)
    assert feats.relu3_3.shape == (2, 256, 8, 6)
    assert len(random_vgg.features) == layer_names("vgg16").index("relu3_3") + 1  # nothing beyond relu3_3
    assert all(not p.requires_grad for p in random_vgg.parameters())


def test_a_shallower_request_returns_just_those_layers(random_vgg):
    x = torch.rand(1, 3, 16, 16)
    feats = random_vgg(x, ("relu2_2",))
    assert feats._fields == ("relu2_2",)
    assert torch.equal(feats.relu2_2, random_vgg(x).relu2_2)


def test_caffe_convention_turns_rgb_0_1_into_bgr_0_255_minus_mean():
    vgg = VGGFeatures(("relu1_1",), convention="caffe", random_weights=True)
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 1.0  # pure red
    seen = _first_conv_input(vgg, x)
    assert torch.allclose(seen[0, :, 0, 0], torch.tensor([0 - 103.939, 0 - 116.779, 255 - 123.68]))


def test_torchvision_convention_normalises_rgb_by_imagenet_mean_and_std():
    vgg = VGGFeatures(("relu1_1",), convention="torchvision", random_weights=True)
    x = torch.full((1, 3, 2, 2), 0.5)
    seen = _first_conv_input(vgg, x)
    expected = (0.5 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(seen[0, :, 0, 0], expected)


def test_input_is_not_changed(random_vgg):
    x = torch.rand(1, 3, 16, 16)
    before = x.clone()
    random_vgg(x)
    assert torch.equal(x, before)


def test_a_vgg_without_weights_is_refused_unless_random_is_asked_for():
    with pytest.raises(ValueError, match="VGGFeatures needs weights"):
        VGGFeatures(("relu2_2",))


def test_unknown_layer_names_list_the_available_ones():
    with pytest.raises(ValueError, match="unknown VGG layers.*relu2_2"):
        VGGFeatures(("relu9_9",), random_weights=True)


def test_local_file_in_torchvision_key_layout_loads_with_its_convention_from_the_name(random_vgg_path):
    vgg = load_vgg(("relu2_2",), path=str(random_vgg_path))
    assert (vgg.source.arch, vgg.source.convention) == ("vgg16", "caffe")
    saved = torch.load(random_vgg_path, weights_only=True)
    assert torch.equal(vgg.features[2].weight, saved["features.2.weight"].float())


def test_local_file_is_found_through_LIVESTYLE_VGG(random_vgg_path, monkeypatch):
    monkeypatch.setenv("LIVESTYLE_VGG", str(random_vgg_path))
    assert load_vgg(("relu1_2",)).source.origin == str(random_vgg_path.resolve())


def test_local_file_whose_convention_cannot_be_told_asks_for_it(random_vgg_path, tmp_path):
    plain = tmp_path / "weights.pth"
    plain.write_bytes(random_vgg_path.read_bytes())
    with pytest.raises(ValueError, match="--vgg-convention caffe"):
        load_vgg(("relu1_2",), path=str(plain))
    assert load_vgg(("relu1_2",), path=str(plain), convention="torchvision").source.convention == "torchvision"


def test_a_file_that_is_not_vgg_weights_gives_a_clear_error(tmp_path):
    bad = tmp_path / "vgg16-caffe.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a VGG weights file"):
        load_vgg(("relu1_2",), path=str(bad))
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, bad)
    with pytest.raises(ValueError, match="expected the 13 conv layers"):
        load_vgg(("relu1_2",), path=str(bad))


def test_missing_vgg_weights_give_the_message_not_a_random_net(monkeypatch, tmp_path):
    monkeypatch.delenv("LIVESTYLE_VGG", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached torchvision weights

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match=r"no VGG weights.*vgg16-397923af.pth.*pass --vgg PATH.*LIVESTYLE_VGG"):
        load_vgg(("relu2_2",))


def test_real_caffe_vgg16_from_shared_data_loads_and_responds_to_an_image():
    path = shared_path("vgg/vgg16-caffe-features-fp16.pth")
    vgg = load_vgg(("relu1_2", "relu3_3"), path=str(path))
    assert (vgg.source.arch, vgg.source.convention) == ("vgg16", "caffe")
    feats = vgg(torch.rand(1, 3, 32, 32))
    assert torch.isfinite(feats.relu3_3).all() and feats.relu3_3.abs().sum() > 0


def test_a_requested_conv_layer_is_the_pre_activation_not_overwritten_by_the_inplace_relu():
    import torch
    from livestyle.vgg import VGGFeatures
    torch.manual_seed(0)
    vgg = VGGFeatures(("conv1_2", "relu1_2"), random_weights=True)
    feats = vgg(torch.rand(1, 3, 16, 16))
    assert (feats.conv1_2 < 0).any()
    assert torch.equal(feats.relu1_2, feats.conv1_2.clamp(min=0))

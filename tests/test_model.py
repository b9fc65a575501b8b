import pytest
import torch

from livestyle.config import NetConfig
from livestyle.model import CondInstanceNorm, StyleNet, conv_gflops, count_params


@pytest.mark.parametrize("h,w", [(33, 47), (64, 64), (31, 30), (5, 7), (1, 1), (2, 13)])
def test_output_is_exactly_the_input_size(tiny_net, h, w):
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        y = tiny_net(x, 0)
    assert y.shape == x.shape
    assert y.dtype == torch.float32 and 0 <= y.min() and y.max() <= 1


def test_padding_for_odd_sizes_does_not_shift_the_image(tiny_net):
    # the top-left region of an odd-size image must stylize like the same region of a larger even crop
    torch.manual_seed(1)
    big = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y_big = tiny_net(big, 1)
        y_odd = tiny_net(big[:, :, :61, :63], 1)
    # away from the padded border the two agree closely; a one-pixel shift would make them differ everywhere
    inner = (slice(None), slice(None), slice(12, 40), slice(12, 40))
    err = (y_big[inner] - y_odd[inner]).abs().mean().item()
    shifted = (y_big[:, :, 13:41, 12:40] - y_odd[inner]).abs().mean().item()
    assert err < 0.25 * shifted


def test_one_hot_mix_equals_that_style_alone(tiny_net):
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        by_index = tiny_net(x, 2)
        by_mix = tiny_net(x, torch.tensor([0.0, 0.0, 1.0]))
        other = tiny_net(x, 0)
    assert torch.allclose(by_index, by_mix, atol=1e-6)
    assert not torch.allclose(by_index, other, atol=1e-3)


def test_mix_is_linear_in_gamma_and_beta():
    cin = CondInstanceNorm(4, n_styles=3)
    torch.manual_seed(0)
    cin.gamma.data = torch.randn(3, 4)
    cin.beta.data = torch.randn(3, 4)
    x = torch.randn(1, 4, 8, 8)
    w = torch.tensor([[0.2, 0.5, 0.3]])
    # a layer whose only style is the mixed gamma/beta gives the same result
    mixed = CondInstanceNorm(4, n_styles=1)
    mixed.gamma.data = w @ cin.gamma.data
    mixed.beta.data = w @ cin.beta.data
    assert torch.allclose(cin(x, w), mixed(x, torch.ones(1, 1)), atol=1e-6)


def test_per_sample_style_rows_match_separate_calls(tiny_net):
    x = torch.rand(2, 3, 24, 24)
    with torch.no_grad():
        both = tiny_net(x, torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]))
        first = tiny_net(x[:1], 0)
        second = tiny_net(x[1:], 2)
    assert torch.allclose(both[:1], first, atol=1e-6) and torch.allclose(both[1:], second, atol=1e-6)


def test_default_config_is_the_johnson_layout():
    # pytorch/examples fast_neural_style: 1.68 M parameters, ~71 GFLOP at 640x360 (CIN adds 2*C per style)
    net = StyleNet(NetConfig(n_styles=1))
    assert abs(count_params(net) - 1.68e6) < 0.01e6
    assert 70 < conv_gflops(NetConfig(), 640, 360) < 72


@pytest.mark.parametrize("cfg", [NetConfig(base_width=8, separable=True, n_styles=2),
                                 NetConfig(base_width=8, upsample="transpose", n_styles=2),
                                 NetConfig(base_width=8, n_downsample=3, padding="zeros", n_styles=2)])
def test_config_variants_run_at_odd_sizes(cfg):
    net = StyleNet(cfg)
    with torch.no_grad():
        assert net(torch.rand(1, 3, 37, 29), 1).shape == (1, 3, 37, 29)

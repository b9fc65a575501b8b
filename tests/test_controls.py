import torch

from livestyle.controls import Controls, StyleMix


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def make(n=3, morph_s=0.5):
    clock = FakeClock()
    vecs = [torch.nn.functional.one_hot(torch.tensor(k), n).float() for k in range(n)]
    return Controls(StyleMix(vecs, morph_s=morph_s, clock=clock)), clock


def test_a_key_switch_morphs_monotonically_over_its_duration():
    c, clock = make()
    assert torch.equal(c.mix.model_mix(), torch.tensor([1.0, 0, 0]))
    c.handle_key("2")
    seen = []
    for i in range(11):
        clock.t = 100.0 + 0.05 * i
        seen.append(c.mix.model_mix())
    w1 = [float(v[1]) for v in seen]
    w0 = [float(v[0]) for v in seen]
    assert w1[0] == 0.0 and w1[-1] == 1.0 and w0[-1] == 0.0
    assert all(b >= a for a, b in zip(w1, w1[1:])) and all(b <= a for a, b in zip(w0, w0[1:]))
    assert 0.3 < w1[5] < 0.7  # halfway through, really in between (a morph, not a cut)
    assert all(abs(float(v.sum()) - 1) < 1e-6 for v in seen)


def test_a_switch_mid_morph_starts_from_where_the_mix_is():
    c, clock = make()
    c.handle_key("2")
    clock.t += 0.25
    mid = c.mix.model_mix()
    c.handle_key("3")
    assert torch.allclose(c.mix.model_mix(), mid)  # no jump
    clock.t += 1.0
    assert torch.allclose(c.mix.model_mix(), torch.tensor([0.0, 0, 1]))


def test_blend_mode_holds_a_second_style_and_brackets_move_the_mix():
    c, clock = make()
    c.handle_key("b")
    c.handle_key("3")
    clock.t += 1
    assert torch.allclose(c.mix.model_mix(), torch.tensor([0.5, 0, 0.5]))
    for _ in range(2):
        c.handle_key("]")
    clock.t += 1
    assert torch.allclose(c.mix.model_mix(), torch.tensor([0.3, 0, 0.7]))
    c.handle_key("b")  # leaving blend mode goes back to the first style
    clock.t += 1
    assert torch.allclose(c.mix.model_mix(), torch.tensor([1.0, 0, 0]))


def test_strength_toggles_and_actions():
    c, _ = make()
    for _ in range(3):
        c.handle_key("-")
    assert c.state.strength == 0.7
    for _ in range(5):
        c.handle_key("+")
    assert c.state.strength == 1.0
    assert c.handle_key("c") is None and c.state.preserve_color
    assert c.handle_key("t") is None and not c.state.temporal
    assert c.handle_key("s") == "snapshot" and c.handle_key("r") == "record"
    assert c.handle_key("q") == "quit" and c.handle_key("\x1b") == "quit"
    c.handle_key("9")  # no 9th style: ignored
    assert c.mix.first == 0


def test_space_cycles_slowly_through_the_styles():
    c, clock = make(morph_s=0.5)
    c.handle_key(" ")
    c.tick()
    assert c.mix.first == 1 and float(c.mix.weights()[1]) < 1  # on its way to style 2, not there yet
    clock.t += c.mix.cycle_period_s / 4
    w = c.mix.weights()
    assert 0 < float(w[1]) < 1  # slow: still in between after a quarter period
    clock.t += c.mix.cycle_period_s
    c.tick()
    assert c.mix.first == 2


def test_preset_vectors_map_to_model_space():
    clock = FakeClock()
    vecs = [torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.0, 0.0, 1.0])]
    m = StyleMix(vecs, clock=clock)
    assert torch.allclose(m.model_mix(), torch.tensor([0.5, 0.5, 0.0]))
    m.select(1)
    clock.t += 1
    assert torch.allclose(m.model_mix(), torch.tensor([0.0, 0.0, 1.0]))
    assert m.describe(["monet", "vangogh"]) == "vangogh 100%"

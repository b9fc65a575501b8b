"""Style schedules: parsing TIME:MIX keyframes and interpolating the mix per frame time."""
from __future__ import annotations

import re

import numpy as np
import pytest

from livestyle.schedule import parse_schedule
from livestyle.modelfile import load_stylenet


@pytest.fixture
def model(tiny_model_path):
    return load_stylenet(tiny_model_path)  # styles a, b, c; preset ab = a 0.5 + b 0.5


def test_keyframes_parse_names_presets_and_weighted_mixes(model):
    s = parse_schedule("0:a, 2.5:ab ,10s:a:1+c:3", model)
    assert s.times_s == [0.0, 2.5, 10.0]
    assert np.allclose(s.mixes, [[1.0, 0, 0], [0.5, 0.5, 0], [0.25, 0, 0.75]])


def test_mix_is_interpolated_linearly_between_keyframes_and_held_at_the_ends(model):
    s = parse_schedule("1:a,3s:b", model)
    mix = s.mix_at([0.0, 1.0, 1.5, 2.0, 3.0, 9.0])  # (N, n_styles)
    assert mix.shape == (6, 3)
    assert np.allclose(mix[:, 0], [1.0, 1.0, 0.75, 0.5, 0.0, 0.0])
    assert np.allclose(mix[:, 1], [0.0, 0.0, 0.25, 0.5, 1.0, 1.0])
    assert np.allclose(mix.sum(axis=1), 1.0)  # still a convex mix


def test_morph_is_monotone(model):
    s = parse_schedule("0:a,10:c", model)
    mix = s.mix_at([i / 10 for i in range(101)])
    assert (mix[1:, 0] <= mix[:-1, 0]).all() and (mix[1:, 2] >= mix[:-1, 2]).all()


def test_single_keyframe_holds_everywhere(model):
    mix = parse_schedule("5:b", model).mix_at([0.0, 5.0, 100.0])
    assert np.array_equal(mix, [[0.0, 1.0, 0.0]] * 3) and mix.dtype == np.float32


@pytest.mark.parametrize("spec,message", [
    ("", "expected a schedule of TIME:MIX entries"),
    ("0:a,,5:b", "expected a schedule of TIME:MIX entries"),
    ("monet", "'monet': expected TIME:MIX"),
    ("0:", "'0:': expected TIME:MIX"),
    ("soon:a", "expected a time in seconds such as 0, 2.5 or 10s before the ':', got 'soon'"),
    ("-1:a", "time must be a number of seconds >= 0"),
    ("nan:a", "time must be a number of seconds >= 0"),
    ("0:a,5:b,5:c", "schedule times must increase: '5:c' at 5 s comes after 5 s"),
    ("4:a,2:b", "schedule times must increase"),
    ("0:a,5:vangogh", "schedule entry '5:vangogh': unknown style 'vangogh'"),
    ("0:a:x", "schedule entry '0:a:x': expected a number after ':'"),
])
def test_bad_schedules_say_what_was_expected(model, spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_schedule(spec, model)

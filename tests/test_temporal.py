import numpy as np
import pytest

from livestyle.config import TemporalConfig
from livestyle.temporal import TemporalStabilizer, mix_distance
from test_flow import moving_square, texture


def noisy(img: np.ndarray, rng, amount: int = 30) -> np.ndarray:
    """A flickering 'stylization': the image plus new noise every call."""
    return np.clip(img.astype(np.int16) + rng.integers(-amount, amount + 1, img.shape), 0, 255).astype(np.uint8)


def styled_of(frame: np.ndarray) -> np.ndarray:
    """A stand-in stylization that moves with the content (inverted colours)."""
    return 255 - frame


def frame_diff(a, b) -> float:
    return float(np.abs(a.astype(np.float32) - b).mean())


def test_first_frame_passes_through_unchanged():
    stab = TemporalStabilizer()
    frame = texture(48, 64, 0)
    styled = noisy(frame, np.random.default_rng(0))
    out = stab(frame, styled)
    assert np.array_equal(out, styled) and out.dtype == np.uint8
    assert stab.last["reset"] == "first frame"


def test_flicker_on_a_static_scene_is_damped():
    rng = np.random.default_rng(0)
    frame = texture(72, 96, 0)
    stab = TemporalStabilizer(TemporalConfig(weight=0.6))
    styled = [noisy(frame, rng) for _ in range(12)]
    outs = stab.process([frame] * 12, styled)
    per_frame = np.mean([frame_diff(a, b) for a, b in zip(styled[6:], styled[7:])])
    coherent = np.mean([frame_diff(a, b) for a, b in zip(outs[6:], outs[7:])])
    assert coherent < 0.5 * per_frame
    assert stab.last["trusted"] > 0.9 and stab.cuts == 0


def test_zero_weight_turns_coherence_off():
    rng = np.random.default_rng(0)
    frame = texture(48, 64, 0)
    stab = TemporalStabilizer(TemporalConfig(weight=0.0))
    for _ in range(3):
        styled = noisy(frame, rng)
        assert stab(frame, styled) is styled


def test_a_scene_cut_resets_the_history():
    rng = np.random.default_rng(0)
    a, b = texture(72, 96, 0), texture(72, 96, 5, sigma=3.0)
    stab = TemporalStabilizer()
    for _ in range(4):
        stab(a, noisy(a, rng))
    styled_b = noisy(b, rng)
    out = stab(b, styled_b)
    assert np.array_equal(out, styled_b)
    assert stab.cuts == 1 and stab.last["reset"] == "scene cut"
    out = stab(b, noisy(b, rng))  # and the new shot is stabilized again
    assert stab.last["reset"] is None


def test_reset_and_time_gaps_drop_the_history():
    rng = np.random.default_rng(0)
    frame = texture(48, 64, 0)
    stab = TemporalStabilizer(TemporalConfig(max_gap_s=0.5))
    stab(frame, noisy(frame, rng), time_s=0.0)
    styled = noisy(frame, rng)
    assert np.array_equal(stab(frame, styled, time_s=2.0), styled) and stab.last["reset"].startswith("gap")
    stab.reset()
    styled = noisy(frame, rng)
    assert np.array_equal(stab(frame, styled), styled)


def test_a_style_switch_shows_at_once():
    frame = texture(48, 64, 0)
    old, new = np.full_like(frame, 40), np.full_like(frame, 220)
    stab = TemporalStabilizer()
    for _ in range(5):
        stab(frame, old, mix=[1.0, 0.0, 0.0])
    assert np.array_equal(stab(frame, new, mix=[0.0, 1.0, 0.0]), new)


def test_a_partial_style_change_reaches_the_new_style_within_a_few_frames():
    frame = texture(48, 64, 0)
    old, new = np.full_like(frame, 40), np.full_like(frame, 140)  # the mix moved half way
    stab = TemporalStabilizer(TemporalConfig(weight=0.6))
    for _ in range(5):
        stab(frame, old, mix=[1.0, 0.0])
    gaps = [frame_diff(stab(frame, new, mix=[0.5, 0.5]), new) for _ in range(5)]
    assert gaps[0] <= 0.3 * 100 + 1  # half of the history weight went at once
    assert gaps[-1] < 0.05 * 100  # within 5 % of the jump after 5 frames
    # without being told, history holds the old style back longer (0.6 ** 5 = 8 %)
    stab = TemporalStabilizer(TemporalConfig(weight=0.6))
    for _ in range(5):
        stab(frame, old)
    untold = [frame_diff(stab(frame, new), new) for _ in range(5)]
    assert untold[-1] > gaps[-1]


def test_notice_style_change_drops_that_share_of_history():
    frame = texture(48, 64, 0)
    stab = TemporalStabilizer(TemporalConfig(weight=0.8))
    stab(frame, np.full_like(frame, 0))
    stab.notice_style_change(0.5)
    out = stab(frame, np.full_like(frame, 200))
    assert stab.last["history_weight"] == pytest.approx(0.4)
    assert abs(frame_diff(out, np.zeros_like(out)) - 0.6 * 200) <= 2
    assert mix_distance([1, 0, 0], [0, 0, 1]) == 1 and mix_distance([0.5, 0.5], [0.5, 0.5]) == 0


def test_a_disoccluded_region_takes_the_fresh_stylization():
    rng = np.random.default_rng(0)
    stab = TemporalStabilizer(TemporalConfig(weight=0.8, flow_scale=0.5))
    for x in (32, 40):
        frame = moving_square(x)
        out = stab(frame, noisy(styled_of(frame), rng))
    frame = moving_square(48)
    styled = noisy(styled_of(frame), rng)
    out = stab(frame, styled)
    strip = (slice(36, 60), slice(42, 46))  # background revealed by the square moving 40 -> 48
    assert frame_diff(out[strip], styled[strip]) < 3  # fresh, not history
    assert frame_diff(out[:20], styled[:20]) > 8  # the static background is still blended


def test_camera_shake_is_followed_not_smeared():
    rng = np.random.default_rng(1)
    scene = texture(120, 160, 0, sigma=3.0)
    stab = TemporalStabilizer()
    per_frame, coherent = [], []
    for _ in range(10):
        dx, dy = rng.integers(-6, 7, 2)
        frame = np.ascontiguousarray(np.roll(scene, (dy, dx), axis=(0, 1))[12:-12, 16:-16])
        clean = styled_of(frame)
        styled = noisy(clean, rng)
        out = stab(frame, styled)
        per_frame.append(frame_diff(styled, clean))
        coherent.append(frame_diff(out, clean))
    assert stab.cuts == 0
    assert np.mean(coherent[3:]) < 0.8 * np.mean(per_frame[3:])  # less noise and no ghost of the shake


def test_wrong_inputs_are_refused():
    stab = TemporalStabilizer()
    frame = texture(16, 16, 0)
    with pytest.raises(ValueError, match=r"expected frame uint8 \(H, W, 3\) RGB, got float32"):
        stab(frame, frame.astype(np.float32))
    with pytest.raises(ValueError, match="expected stylized frame of the input's size"):
        stab(frame, texture(16, 20, 0))
    with pytest.raises(ValueError, match="expected temporal weight in 0..1, got 1.5"):
        TemporalStabilizer(TemporalConfig(weight=1.5))


def test_carry_moves_the_last_output_with_the_content_and_only_when_it_may():
    big = texture(96, 160, 3)
    frames = [np.ascontiguousarray(big[:, 20 - 3 * i:148 - 3 * i]) for i in range(3)]  # the scene pans 3 px a frame
    stab = TemporalStabilizer()
    assert stab.carry(frames[0]) is None  # nothing to carry yet
    stab(frames[0], styled_of(frames[0]), mix=[1.0, 0.0])
    carried = stab.carry(frames[1], mix=[1.0, 0.0])
    assert carried is not None and stab.last["carried"]
    inner = (slice(8, -8), slice(12, -12))  # away from the strip that enters the frame
    truth = styled_of(frames[1])
    assert frame_diff(carried[inner], truth[inner]) < 0.25 * frame_diff(styled_of(frames[0])[inner], truth[inner])
    assert stab.carry(frames[2], mix=[0.5, 0.5]) is None  # the style moved: the network must run
    stab(frames[2], styled_of(frames[2]), mix=[0.5, 0.5])
    assert stab.carry(texture(96, 128, 9, sigma=3.0), mix=[0.5, 0.5]) is None  # a cut
    assert stab.carry(frames[2][:64], mix=[0.5, 0.5]) is None  # another size


def test_the_flow_looked_up_ahead_gives_the_same_frames_and_a_stale_one_is_not_used():
    """StreamStylizer works out each frame's flow in a thread while the network runs (look_ahead); the
    output must be what the plain call gives, and a look-ahead made against other history is ignored."""
    rng = np.random.default_rng(0)
    frames = [moving_square(8 + 3 * k) for k in range(8)]
    styled = [noisy(styled_of(f), rng) for f in frames]
    plain, ahead = TemporalStabilizer(), TemporalStabilizer()
    outs_plain = plain.process(frames, styled)
    outs_ahead = [ahead(f, s, ahead=ahead.look_ahead(f)) for f, s in zip(frames, styled)]
    assert all(np.array_equal(a, b) for a, b in zip(outs_plain, outs_ahead))
    assert ahead.last["reset"] is None and ahead.last["trusted"] > 0.5
    stale = ahead.look_ahead(frames[0])  # made against the history before the next call...
    ahead(frames[1], styled[1])  # ...which moves it on
    again = TemporalStabilizer()
    again.process(frames, styled)
    again(frames[1], styled[1])
    assert np.array_equal(ahead(frames[2], styled[2], ahead=stale), again(frames[2], styled[2]))


def test_the_frame_step_with_coherence_matches_the_stabilizer_run_after_the_network():
    from livestyle.config import StylizeConfig
    from livestyle.stylize import StreamStylizer

    class Invert:  # a stand-in runner behind Stylizer: the "network" inverts the frame
        backend, n_styles = "test", 1

        def __call__(self, frames, mix, **kw):
            return [styled_of(f) for f in frames]

    step = StreamStylizer.__new__(StreamStylizer)
    step.cfg, step.stylizer, step.temporal_s, step._beside = StylizeConfig(), Invert(), 0.0, None
    step.stabilizer = TemporalStabilizer()
    frames = [moving_square(8 + 3 * k) for k in range(6)]
    outs = [step([f], np.ones(1, np.float32))[0] for f in frames]
    ref = TemporalStabilizer().process(frames, [styled_of(f) for f in frames])
    assert all(np.array_equal(a, b) for a, b in zip(outs, ref)) and step.temporal_s > 0

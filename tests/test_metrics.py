import json

import cv2
import numpy as np
import pytest

from livestyle import cli
from conftest import write_flo
from livestyle.metrics import gt_flows_for, read_frames, warping_error
from test_flow import texture


def flicker(frames, amount: float, seed: int = 0):
    """The frames plus new noise of `amount` (0..255 std) each frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, amount, f.shape), 0, 255).astype(np.uint8) if amount else f.copy()
            for f in frames]


def panning(n: int = 6, h: int = 48, w: int = 64):
    """A textured scene panned 2 px right per frame."""
    scene = texture(h, w + 2 * n, 0, sigma=2.5)
    return [np.ascontiguousarray(scene[:, 2 * (n - i):2 * (n - i) + w]) for i in range(n)]


def test_warping_error_is_zero_for_a_static_video():
    frames = [texture(48, 64, 0)] * 5
    assert warping_error(frames, frames) == 0.0


def test_warping_error_grows_with_injected_flicker():
    for frames in ([texture(48, 64, 0)] * 5, panning()):
        errs = [warping_error(frames, flicker(frames, a)) for a in (0, 2, 5, 10, 20)]
        assert errs[0] < 1e-3 and all(a < b for a, b in zip(errs, errs[1:])), errs
    # known flows skip the estimator: exact for the integer pan
    frames = panning()
    flows = [np.tile(np.float32([2, 0]), (48, 64, 1))] * 5  # t -> t+1: content moves 2 px right
    masks = [np.pad(np.ones((48, 62), np.float32), ((0, 0), (0, 2)))] * 5  # the right edge leaves the frame
    assert warping_error(frames, frames, flows=flows, masks=masks) == 0.0


def test_warping_error_refuses_mismatched_videos():
    frames = [texture(16, 16, 0)] * 3
    with pytest.raises(ValueError, match="expected as many output frames as input frames, got 2 and 3"):
        warping_error(frames, frames[:2])


def test_ground_truth_flows_apply_to_the_pairs_their_numbers_name(tmp_path):
    for k in (1, 2, 7):
        write_flo(tmp_path / f"frame_{k:04d}.flo", np.full((10, 20, 2), k, np.float32))
    flows = gt_flows_for([1, 2, 3, 4], tmp_path, (40, 20))  # pairs 1-2, 2-3, 3-4
    assert [f is not None for f in flows] == [True, True, False]
    assert flows[0].shape == (20, 40, 2) and np.allclose(flows[1][..., 0], 4) and np.allclose(flows[1][..., 1], 4)
    assert gt_flows_for([None, None], tmp_path, (20, 10)) == [None]


def write_folder(folder, frames, start: int = 1):
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{start + i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))


def test_eval_temporal_prints_output_input_and_ground_truth_errors(tmp_path, capsys):
    frames = panning()
    write_folder(tmp_path / "in", frames)
    write_folder(tmp_path / "out", flicker(frames, 10))
    (tmp_path / "gt").mkdir()
    for k in (1, 2):
        write_flo(tmp_path / "gt" / f"frame_{k:04d}.flo", np.tile(np.float32([2, 0]), (48, 64, 1)))
    read, numbers = read_frames(tmp_path / "in")
    assert numbers == [1, 2, 3, 4, 5, 6] and np.array_equal(read[2], frames[2])
    argv = ["eval-temporal", str(tmp_path / "out"), "--input", str(tmp_path / "in"), "--gt-flow", str(tmp_path / "gt")]
    assert cli.main(argv + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 6 and result["gt_pairs"] == [[1, 2], [2, 3]]
    assert result["warping_error_output"] > 10 * result["warping_error_input"]
    assert result["warping_error_input_gt"] < 1e-3 < result["warping_error_output_gt"]
    assert cli.main(argv + ["--max-frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "output" in out and "input" in out and "2 of 3 pairs" in out


def test_eval_temporal_reports_a_missing_input(tmp_path, capsys):
    assert cli.main(["eval-temporal", str(tmp_path / "nope.mp4")]) == 2
    assert "not found" in capsys.readouterr().err

import numpy as np
import pytest

from livestyle import cli
from livestyle.config import VideoConfig
from livestyle.images import encode_image, read_image


@pytest.fixture
def photo(tmp_path):
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / "in.png"
    path.write_bytes(encode_image(frame, ".png"))
    return path


def test_image_is_stylized_at_its_own_odd_size(photo, tiny_model_path, tmp_path):
    out = tmp_path / "out.png"
    assert cli.main(["image", str(photo), str(out), "--weights", str(tiny_model_path), "--styles", "a,c"]) == 0
    assert read_image(str(out)).shape == (37, 53, 3)


def test_image_options_max_side_and_mix(photo, tiny_model_path, tmp_path):
    out = tmp_path / "out.jpg"
    assert cli.main(["image", str(photo), str(out), "--weights", str(tiny_model_path), "--styles", "a,b",
                     "--mix", "a:0.7,b:0.3", "--max-side", "20", "--strength", "0.5", "--preserve-color"]) == 0
    assert read_image(str(out)).shape == (14, 20, 3)


@pytest.mark.parametrize("argv_tail,message", [
    (["--styles", "zzz"], "unknown style 'zzz'"),
    ([], "expected --styles"),
    (["--styles", "a", "--mix", "b:1"], "not in --styles"),
    (["--styles", "a", "--strength", "2"], "expected a number in 0..1"),
])
def test_bad_image_options_exit_2_with_one_line(photo, tiny_model_path, tmp_path, capsys, argv_tail, message):
    rc = cli.main(["image", str(photo), str(tmp_path / "o.png"), "--weights", str(tiny_model_path)] + argv_tail)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.startswith("livestyle: error:") and "Traceback" not in err


def test_image_refuses_to_overwrite_an_existing_output_or_the_input(photo, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "exists.png"
    out.write_bytes(b"keep me")
    assert cli.main(["image", str(photo), str(out), "--weights", str(tiny_model_path), "--styles", "a"]) == 2
    assert out.read_bytes() == b"keep me"
    assert cli.main(["image", str(photo), str(photo), "--weights", str(tiny_model_path), "--styles", "a",
                     "--overwrite"]) == 2
    assert "never writes over what it reads" in capsys.readouterr().err


def test_not_an_image_and_missing_model_are_clear(tmp_path, tiny_model_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    assert cli.main(["image", str(bad), str(tmp_path / "o.png"), "--weights", str(tiny_model_path), "--styles", "a"]) == 2
    assert "not a readable image" in capsys.readouterr().err
    good = tmp_path / "g.png"
    good.write_bytes(encode_image(np.zeros((8, 8, 3), np.uint8), ".png"))
    assert cli.main(["image", str(good), str(tmp_path / "o.png"), "--weights", str(tmp_path / "none.safetensors"),
                     "--styles", "a"]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_without_a_trained_model_livestyle_says_so(tmp_path, monkeypatch, capsys):
    import livestyle.modelfile as w
    monkeypatch.setattr(w, "shipped_weights_dir", lambda: tmp_path)
    good = tmp_path / "g.png"
    good.write_bytes(encode_image(np.zeros((8, 8, 3), np.uint8), ".png"))
    assert cli.main(["image", str(good), str(tmp_path / "o.png"), "--styles", "monet"]) == 2
    assert "no trained model found" in capsys.readouterr().err


def test_styles_lists_names_sources_and_presets(tiny_model_path, capsys):
    assert cli.main(["styles", "--weights", str(tiny_model_path)]) == 0
    out = capsys.readouterr().out
    assert "test style b" in out and "a 0.50 + b 0.50" in out


def test_styles_lists_each_style_once_with_the_models_that_hold_it(capsys):
    assert cli.main(["styles"]) == 0
    rows = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()[1:]]
    assert len(rows) == len(set(rows)) and "vangogh_starry_night" in rows


def test_python_dash_m_runs_the_cli():
    import subprocess, sys
    r = subprocess.run([sys.executable, "-m", "livestyle", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "image" in r.stdout


@pytest.mark.slow
def test_bench_json_has_the_fields_and_the_targets(capsys):
    """A tiny network at a tiny size, so it runs in seconds; the numbers are not the point here."""
    import json
    from pathlib import Path
    clip = Path(__file__).resolve().parents[1] / "samples" / "demo.mp4"
    import importlib.util
    modes = "eager,onnxruntime" if importlib.util.find_spec("onnxruntime") else "eager"
    assert cli.main(["bench", "--json", "--arch", "base_width=4,n_res_blocks=1", "--resolution", "64x36",
                     "--modes", modes, "--reference-modes", "eager", "--repeats", "1", "--clip", str(clip), "--e2e-max-side", "64", "96",
                     "--e2e-runs", "1", "--temporal", "0.6", "--live-seconds", "1", "--load", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["live"]) == {"idle", "load 1"} and all(r["frames"] > 0 and r["first_frame_s"] > 0
                                                          for r in out["live"].values())
    assert [e.get("load") for e in out["end_to_end"]] == [None, None, 1]
    assert {"live_fps_idle", "live_latency_ms_idle", "live_loaded_fps_ratio", "live_latency_ms_loaded"} <= set(out["targets"])
    rows = {(r["name"], r["mode"]): r for r in out["rows"]}
    arch = "base_width=4,n_res_blocks=1"  # the row name is the --arch given
    assert set(rows) == {("reference", "eager")} | {(arch, m) for m in modes.split(",")}
    assert all(r["ms_per_frame"] > 0 and r["first_frame_ms"] > 0 for r in rows.values())
    assert {"resolution", "livestyle_fps", "reference_fps", "ratio", "end_to_end_fps", "targets"} <= set(out)
    assert out["resolution"] == "64x36" and out["livestyle_fps"] > 0 and out["ratio"] > 0
    assert [e["resolution"] for e in out["end_to_end"]] == ["64x36", "96x54", "64x36"]
    assert out["end_to_end_fps"] == out["end_to_end"][0]["fps"] > 0
    assert out["end_to_end"][0]["frames"] == 240 and out["end_to_end"][0]["pipelined"] is VideoConfig().pipelined  # as `video` runs
    assert not {k for k in out["targets"] if "end_to_end" in k or "network" in k}  # not at 640x360 or 1280x720


def test_targets_report_says_which_targets_are_met():
    from livestyle.bench import targets_report
    t = targets_report([{"resolution": "640x360", "livestyle_fps": 45.0, "ratio": 8.5}],
                       [{"resolution": "640x360", "fps": 25.0}, {"resolution": "1280x720", "fps": 11.0}])
    assert {k: v["met"] for k, v in t.items()} == {"network_fps_640x360": True, "ratio_640x360": False,
                                                   "end_to_end_fps_640x360": False, "end_to_end_fps_1280x720": True}


def test_bench_refuses_a_missing_clip_before_timing_anything(capsys):
    assert cli.main(["bench", "--clip", "/nonexistent/clip.mp4"]) == 2
    assert "input not found: /nonexistent/clip.mp4" in capsys.readouterr().err

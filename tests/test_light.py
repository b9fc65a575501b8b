"""The light install: no torch. Every run here goes through tests/no_torch.py, where `import torch` fails
as it does when the extra `livestyle[torch]` is not installed, and which fails the run if a torch module
got imported all the same."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_clip

NO_TORCH = Path(__file__).with_name("no_torch.py")
ROOT = Path(__file__).resolve().parent.parent


def light(*args: str, code: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(NO_TORCH), "-c", code] if code else [sys.executable, str(NO_TORCH), "-m", "livestyle", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_the_blocker_blocks():
    r = light(code="import torch")
    assert r.returncode == 1 and "No module named 'torch'" in r.stderr


def test_import_livestyle_and_styles_run_without_torch():
    r = light("styles")
    assert r.returncode == 0, r.stderr
    assert "monet_water_lilies" in r.stdout and r.stdout.count("\nmonet_water_lilies ") == 1
    r = light(code="import livestyle, livestyle.cli; print(sorted(livestyle.__all__)[:2])")
    assert r.returncode == 0, r.stderr


def test_image_video_and_webcam_run_on_onnx_runtime_without_torch(tmp_path):
    photo = tmp_path / "in.png"
    import cv2
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8))
    r = light("image", str(photo), str(tmp_path / "out.jpg"), "--styles", "monet", "--strength", "0.8", "--preserve-color")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == (60, 80, 3)

    clip = write_clip(tmp_path / "clip.mp4", size=(96, 64), n=8, audio_rate=22050)
    r = light("video", str(clip), str(tmp_path / "out.mp4"), "--styles", "vangogh,monet")
    assert r.returncode == 0, r.stderr
    assert "onnxruntime" in r.stderr and "8 frames" in r.stderr and "audio" in r.stderr

    r = light("webcam", "--camera", str(clip), "--no-window", "--styles", "monet,vangogh", "--max-frames", "6",
              "--record", str(tmp_path / "live.mp4"))
    assert r.returncode == 0, r.stderr
    assert "onnxruntime" in r.stderr and (tmp_path / "live.mp4").stat().st_size > 0


def test_the_python_api_runs_without_torch(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", size=(64, 48), n=4)
    r = light(code=f"""
import numpy as np, livestyle
model = livestyle.load()
out = model.stylize(np.full((40, 56, 3), 128, np.uint8), {{"monet": 0.7, "vangogh": 0.3}}, strength=0.5)
assert out.shape == (40, 56, 3) and out.dtype == np.uint8, out.shape
summary = model.stylize_video({str(clip)!r}, {str(tmp_path / "out.mp4")!r}, "monet")
print(summary.frames, "frames")
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "4 frames"


@pytest.mark.parametrize("args, needs", [
    (["train", "--steps", "1"], "`livestyle train` needs torch"),
    (["export", "x.onnx"], "`livestyle export` needs torch"),
    (["video", "a.mp4", "b.mp4", "--styles", "monet", "--backend", "torch"], "--backend torch needs torch"),
    (["image", "a.png", "b.png", "--styles", "monet", "--device", "cuda"], "--device cuda needs torch"),
])
def test_what_needs_torch_says_which_extra_in_one_line(args, needs, tmp_path):
    if args[0] in ("video", "image"):  # real inputs, so that the torch check is what fails
        src = write_clip(tmp_path / "a.mp4") if args[0] == "video" else tmp_path / "a.png"
        if args[0] == "image":
            import cv2
            cv2.imwrite(str(src), np.zeros((16, 16, 3), np.uint8))
        args = [args[0], str(src), str(tmp_path / Path(args[2]).name), *args[3:]]
    r = light(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needs in lines[0] and "pip install 'livestyle[torch]'" in lines[0], r.stderr

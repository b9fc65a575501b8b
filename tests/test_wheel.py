"""The built wheel carries the shipped model: installed on its own and run from another folder, it
finds weights/livestyle.safetensors (mapped into the package as livestyle/shipped/) and stylizes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_holds_the_model_and_stylizes_from_any_folder(tmp_path):
    pytest.importorskip("setuptools", reason="building the wheel without isolation needs setuptools in the venv")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "livestyle", src / "livestyle", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "weights", src / "weights")  # with wip/ when a training run is under way
    shutil.copytree(ROOT / "samples", src / "samples")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("livestyle-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "livestyle/shipped/livestyle.safetensors" in names and "livestyle/cli/__init__.py" in names
    # the ONNX export ONNX Runtime runs; one network, no second model
    assert "livestyle/shipped/livestyle.onnx" in names and not [n for n in names if "livestyle_live" in n]
    assert not [n for n in names if "/wip/" in n]  # a training run's checkpoint never ships
    assert "livestyle/samples/demo.mp4" in names  # the demo clip: add-style's built-in photos come from it
    assert not [n for n in names if n.startswith("livestyle/samples/") and not n.endswith("demo.mp4")]

    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = ("import livestyle, numpy as np; m = livestyle.load(); "
              "out = m.stylize(np.full((40, 56, 3), 128, np.uint8), m.styles[0].name); "
              "print(livestyle.__file__, m.file.path, out.shape)")
    env = {**os.environ, "PYTHONPATH": str(target), "LIVESTYLE_WEIGHTS_DIR": str(tmp_path / "no-user-models")}
    ran = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, capture_output=True, text=True, env=env,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    module, model, shape = ran.stdout.split(" ", 2)
    assert module.startswith(str(target)) and model.startswith(str(target / "livestyle" / "shipped"))
    assert shape.strip() == "(40, 56, 3)"
    # add-style's built-in photos, from the wheel alone (no checkout, no scikit-image needed)
    script = ("import sys; from pathlib import Path; from livestyle.addstyle import default_content; "
              "print(len(list(Path(default_content(Path(sys.argv[1]))).iterdir())))")
    ran = subprocess.run([sys.executable, "-c", script, str(tmp_path / "content")], cwd=elsewhere, capture_output=True,
                         text=True, env=env, timeout=300)
    assert ran.returncode == 0 and int(ran.stdout) >= 20, ran.stderr[-2000:]

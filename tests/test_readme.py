"""The README's Python example runs as written (with `image` and `in.mp4` supplied)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from test_bad_input import write_clip

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    block = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "livestyle.load()" in block and "model.stylize_video(" in block
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "in.mp4", size=(64, 48), n=6)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    scope = {"image": image}
    exec(compile(block, "README.md", "exec"), scope)
    out = scope["out"]
    assert out.dtype == np.uint8 and out.shape == image.shape and not np.array_equal(out, image)
    assert "monet_water_lilies" in capsys.readouterr().out  # print(model.styles)
    assert (tmp_path / "out.mp4").stat().st_size > 0

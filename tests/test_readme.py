"""The README's Python example runs as written (with `photo.jpg` and `in.mp4` supplied), and the README stays
a front door."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from livestyle.images import encode_image, read_image
from conftest import write_clip

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    block = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "livestyle.load()" in block and "model.stylize_video(" in block
    monkeypatch.chdir(tmp_path)
    write_clip(tmp_path / "in.mp4", size=(64, 48), n=6)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    (tmp_path / "photo.jpg").write_bytes(encode_image(image, ".jpg"))
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    out = scope["out"]
    assert out.dtype == np.uint8 and out.shape == image.shape and not np.array_equal(out, image)
    printed = capsys.readouterr().out  # print(model.styles): one style a line
    assert printed.splitlines()[0].startswith("monet_water_lilies ") and len(printed.splitlines()) == 17
    assert (tmp_path / "out.mp4").stat().st_size > 0
    saved = read_image(str(tmp_path / "out.png"))  # saved as the README says: colours not swapped
    assert np.array_equal(saved, out)


def test_the_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    for link in re.findall(r"\]\((docs/[^)]+)\)", text):  # the pages it points to exist
        assert (README.parent / link).is_file(), link

"""Training data: crops, determinism, sharding, skipping unreadable photos, style specs and clear errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from livestyle.data import ImageFolder, list_images, load_style_image, parse_style_specs


def _photos(folder, n=4, size=(40, 56)):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"p{i}.png"), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return folder


def test_batches_are_float_crops_in_0_1_and_the_same_for_the_same_step(tmp_path):
    data = ImageFolder(_photos(tmp_path / "c"), size_px=32, seed=1)
    x = data.batch(3, 2)
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, ImageFolder(tmp_path / "c", size_px=32, seed=1).batch(3, 2))
    assert not torch.equal(x, data.batch(4, 2))


def test_ranks_read_disjoint_shards_of_each_epoch(tmp_path):
    folder = _photos(tmp_path / "c", n=6)
    seen = []
    for rank in range(2):
        data = ImageFolder(folder, size_px=16, rank=rank, world_size=2)
        perm = data._permutation(0)
        seen.append({int(perm[rank + 2 * k]) for k in range(data.shard_len)})
    assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1]) == 6


def test_unreadable_images_are_skipped_and_counted(tmp_path):
    folder = _photos(tmp_path / "c", n=2)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    data = ImageFolder(folder, size_px=16)
    x = torch.cat([data.batch(step, 3) for step in range(2)])  # 6 samples: each photo at least once
    assert x.shape == (6, 3, 16, 16)
    assert data.skipped == {str(folder / "broken.jpg")}


def test_missing_or_empty_content_folder_gives_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="content folder not found"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"content folder .*empty has no images \(expected .jpg"):
        ImageFolder(tmp_path / "empty", size_px=16)


def test_style_image_that_is_not_an_image_gives_a_clear_error(tmp_path):
    fake = tmp_path / "fake.jpg"
    fake.write_text("<html>404</html>")
    with pytest.raises(ValueError, match="style image .*fake.jpg is not a readable image"):
        load_style_image(str(fake), max_side_px=32)
    with pytest.raises(FileNotFoundError, match="style image not found"):
        load_style_image(str(tmp_path / "missing.jpg"), max_side_px=32)


def test_style_image_is_scaled_to_its_longest_side(tmp_path):
    path = tmp_path / "s.png"
    cv2.imwrite(str(path), np.zeros((30, 60, 3), np.uint8))
    assert load_style_image(str(path), max_side_px=20).shape == (1, 3, 10, 20)


def test_style_specs_take_names_from_files_folders_or_name_equals_path(tmp_path):
    folder = _photos(tmp_path / "styles", n=2)
    assert parse_style_specs([str(folder)]) == [("p0", str(folder / "p0.png")), ("p1", str(folder / "p1.png"))]
    assert parse_style_specs(["Monet=/x/Water Lilies.jpg", "/y/Starry Night.JPG"]) == [
        ("monet", "/x/Water Lilies.jpg"), ("starry_night", "/y/Starry Night.JPG")]
    with pytest.raises(ValueError, match="style names must be unique"):
        parse_style_specs(["a=/x/1.jpg", "a=/x/2.jpg"])
    with pytest.raises(ValueError, match="expected a style name"):
        parse_style_specs(["a:b=/x/1.jpg"])

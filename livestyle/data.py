"""Training data: a folder of content photos served as random square crops, and the style images.

Which photo and which crop a training sample gets is a pure function of (seed, rank, sample number),
so a resumed run sees exactly the batches the uninterrupted run would have seen, and DDP ranks see
disjoint shards of each epoch's permutation. Loading is in the training process: decoding and
resizing a 512 px JPEG takes a few ms, against a second or more per step on a CPU.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import cv2
import numpy as np
import torch

from .frames import frames_to_tensor
from .images import IMAGE_EXTS, decode_image, read_image

log = logging.getLogger(__name__)


def list_images(folder: str | os.PathLike, *, what: str = "content") -> list[str]:
    """Image files directly in `folder`, sorted; one-line errors for a missing or empty folder."""
    folder = str(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"{what} folder not found: {folder}")
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"expected a {what} folder of images, got a file: {folder}")
    paths = sorted(str(p) for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not paths:
        raise ValueError(f"{what} folder {folder} has no images (expected {', '.join(IMAGE_EXTS)})")
    return paths


def read_name_list(path: str | os.PathLike) -> set[str]:
    """File names listed one a line in a text file ('#' starts a comment): a held-out photo set."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
    except FileNotFoundError:
        raise FileNotFoundError(f"held-out list not found: {path}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ValueError(f"expected a text file of photo names, one a line, got {path}") from None
    names = {os.path.basename(line) for line in lines if line}
    if not names:
        raise ValueError(f"held-out list {path} names no photos")
    return names


def _resize_short_side(img: np.ndarray, short_px: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = short_px / min(h, w)
    size = (max(short_px, round(w * scale)), max(short_px, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


def center_crop(img: np.ndarray, size_px: int) -> np.ndarray:
    """The central square of an RGB frame, resized to size_px x size_px."""
    img = _resize_short_side(img, size_px)
    h, w = img.shape[:2]
    y, x = (h - size_px) // 2, (w - size_px) // 2
    return img[y:y + size_px, x:x + size_px]


class ImageFolder:
    """Random square crops of the photos in a folder.

    Each photo is scaled so its short side is between `size_px` and 1.5 x `size_px` (never below
    size_px), cropped to size_px x size_px at a random place and flipped left-right half the time.
    Unreadable files are skipped (the next photo of the permutation is used) and counted in `skipped`."""

    def __init__(self, folder: str | os.PathLike, *, size_px: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 exclude: set[str] | frozenset[str] = frozenset()):
        self.paths = [p for p in list_images(folder) if os.path.basename(p) not in exclude]
        if not self.paths:
            raise ValueError(f"content folder {folder} has no images outside the held-out list")
        if len(self.paths) < world_size:
            raise ValueError(f"content folder {folder} has {len(self.paths)} images, fewer than the {world_size} ranks")
        self.size_px, self.seed, self.rank, self.world_size = size_px, seed, rank, world_size
        self.shard_len = len(self.paths) // world_size  # per rank and epoch; the remainder is dropped
        self.skipped: set[str] = set()
        self._perm_epoch, self._perm = -1, None

    def __len__(self) -> int:
        return len(self.paths)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:  # the same on every rank, a new one each epoch
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(len(self.paths), generator=g), epoch
        return self._perm

    def sample(self, k: int) -> np.ndarray:
        """Sample number k of this rank: uint8 (size, size, 3) RGB."""
        epoch, pos = divmod(k, self.shard_len)
        perm = self._permutation(epoch)
        rng = np.random.default_rng([self.seed, self.rank, k])
        for attempt in range(len(self.paths)):
            path = self.paths[int(perm[self.rank + self.world_size * ((pos + attempt) % self.shard_len)])]
            img = None if path in self.skipped else decode_image(path)
            if img is not None:
                break
            if path not in self.skipped:
                self.skipped.add(path)
                log.warning("skipping unreadable image %s (%d skipped so far)", path, len(self.skipped))
        else:
            raise ValueError(f"content folder has no readable images ({len(self.skipped)} unreadable)")
        s = self.size_px
        short = min(img.shape[:2])
        img = _resize_short_side(img, int(rng.integers(s, max(s, min(short, int(1.5 * s))) + 1)))
        h, w = img.shape[:2]
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        img = img[y:y + s, x:x + s]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        return np.ascontiguousarray(img)

    def batch(self, step: int, batch_size: int, device: str | torch.device = "cpu") -> torch.Tensor:
        """The batch of training step `step` (0-based) for this rank: float (B, 3, S, S) in [0, 1]."""
        frames = [self.sample(step * batch_size + i) for i in range(batch_size)]
        return frames_to_tensor(frames, device)  # (B, 3, S, S)

    def preview_photo(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """A fixed photo (the first readable one), centre-cropped: float (1, 3, S, S)."""
        for path in self.paths:
            img = decode_image(path)
            if img is not None:
                return frames_to_tensor([center_crop(img, self.size_px)], device)
        raise ValueError("content folder has no readable images")


# ---- styles -----------------------------------------------------------------------------------

_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def style_name(path: str) -> str:
    """A style name from a file name: 'Starry Night.jpg' -> 'starry_night'."""
    return re.sub(r"[^a-z0-9_.-]+", "_", Path(path).stem.lower()).strip("_") or "style"


def check_style_name(name: str, *, what: str = "style name") -> str:
    """`name` if it can be used in --styles and --mix (lowercase letters, digits, '_', '-', '.'), else ValueError."""
    if not _NAME_OK.match(name):
        raise ValueError(f"expected a {what} of lowercase letters, digits, '_', '-' or '.', got {name!r}")
    return name


def parse_style_specs(specs: list[str]) -> list[tuple[str, str]]:
    """(name, path) for each style: an entry is 'name=path', a path (name from the file name) or a folder
    (every image in it). Names must be unique and usable in --styles/--mix (lowercase, no ',:+=')."""
    out: list[tuple[str, str]] = []
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = "", spec
        if not name and os.path.isdir(path):
            out += [(style_name(p), p) for p in list_images(path, what="style")]
            continue
        name = name.strip().lower() or style_name(path)
        out.append((check_style_name(name), path))
    if not out:
        raise ValueError("expected at least one style image (--styles FOLDER, or a comma list of [name=]path)")
    names = [n for n, _ in out]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ValueError(f"style names must be unique, got {dups} more than once; use name=path to rename")
    return out


def load_style_image(path: str, *, max_side_px: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """A style image scaled so its longest side is max_side_px: float (1, 3, H, W) in [0, 1]."""
    img = read_image(path, what="style image")
    h, w = img.shape[:2]
    scale = max_side_px / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return frames_to_tensor([img], device)  # (1, 3, H, W)

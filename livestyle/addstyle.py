"""`livestyle add-style`: one more painting in minutes. Only the new style's conditional-instance-norm
gamma/beta train (Dumoulin et al. 2017), every conv stays frozen, so the new style runs at exactly the
speed of the others and blends with them; it starts from the existing style whose outputs are closest
to the painting (Gram distance), with the loss layers of the shipped model (train.py) and a recipe of its
own for speed (AddStyleConfig: a 256 px photo a step, lr 3e-2, style weight 3), for a time budget counted
from the command's start instead of a step count. The result is the user's model, in the user model folder
(modelfile.user_weights_dir()): the model it extends plus the new style. The shipped file is never
changed.

Content photos: the user's (`content_dir`), else a default set livestyle may legally use: frames of
samples/demo.mp4 (made by tools/make_demo_clip.py from scikit-image's CC0 photo `coffee`) and, when
scikit-image is installed, its public-domain and CC0 sample photos; written once into the user folder.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import SMALL_ROWS_SCALE, TrainConfig
from .data import check_style_name, list_images, load_style_image, style_name
from .frames import frames_to_tensor
from .images import encode_image, read_image
from .losses import gram_distance, gram_matrix
from .modelfile import DEFAULT_MODEL_NAME, default_model_path, load_stylenet, user_weights_dir
from .bundled import demo_clip

log = logging.getLogger(__name__)

MIN_SIDE_PX = 64  # a smaller painting has no strokes to learn
DEMO_CLIP = demo_clip()
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field", "immunohistochemistry")


@dataclasses.dataclass
class AddStyleConfig:
    """`livestyle add-style PAINTING`: see the module docstring."""

    painting: str
    name: str | None = None  # default: from the file name
    minutes: float = 5.0  # training time budget
    content_dir: str | None = None  # the user's photos (default: the built-in set)
    into: str | None = None  # the model to extend (default: the user's model if there is one, else the shipped)
    resume: bool = False  # continue this style's interrupted or finished run for another `minutes`
    vgg: str | None = None
    vgg_convention: str | None = None
    device: str = "auto"
    # the recipe, measured (tools/experiments/addstyle_runs.py, La Muse, 5 minutes on the 2-core AVX2 CPU, texture ratio on
    # the 16 held-out photos): 256 px crops one at a time beat 128 px x 4 (0.475 vs 0.557 at lr 3e-2; the
    # eval's 512 px photos need the strokes learned at 256 px), lr 3e-2 beat 5e-3 (0.600 at 128 px) and 1e-1
    # (0.517), and style weight 3 took it to 0.400 (content distance 2.38, under the shipped model's 2.5 bar)
    image_size: int = 256  # the training crops (the shipped model's)
    batch_size: int = 1  # a photo a step: 4-5x the steps of the shipped batch of 4 in the same minutes
    style_weight: float = 3.0  # twice the shipped model's 1.5: one style has the network's capacity to itself
    not_from: tuple[str, ...] = ()  # styles never to start from (measuring a painting the model already has)
    holdout: str | None = None  # photo names (one a line) in content_dir never to train on (measurements)
    lr: float = 3e-2  # Adam on gamma/beta only: a few thousand numbers, which take a larger step than a whole net
    preview_every: int = 20  # steps between updates of the preview image
    started_at: float | None = None  # time.time() when the command began: `minutes` counts from there (set-up
    #   included); None: from plan()


FINISH_S = 10.0  # of the budget (at most 5 % of it), kept for the last step, the checkpoint and the model file


def default_content(folder: Path) -> str:
    """The built-in content set (module docstring), written into `folder` once; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        return str(folder)
    n = 0
    if DEMO_CLIP.exists():
        from .sources import VideoFileSource
        with VideoFileSource(str(DEMO_CLIP)) as src:
            for i, item in enumerate(src):
                if i % 10 == 0:
                    (folder / f"demo_{i:04d}.png").write_bytes(encode_image(item.frame, ".png"))
                    n += 1
    try:
        import skimage.data as skdata
        for name in SKIMAGE_PHOTOS:
            img = getattr(skdata, name)()
            if img.ndim == 3 and img.shape[2] >= 3:
                (folder / f"skimage_{name}.png").write_bytes(encode_image(np.ascontiguousarray(img[..., :3]), ".png"))
                n += 1
    except ImportError:
        pass
    if not n:
        raise ValueError("no content photos: pass --content DIR (a folder of your photos), or install "
                         "scikit-image for its sample photos")
    return str(folder)


def closest_style(model, painting_grams: dict[str, torch.Tensor], photos: list[np.ndarray], vgg,
                  exclude: tuple[str, ...] = ()) -> tuple[str, float]:
    """The model's style (other than those in `exclude`) whose outputs on `photos` are closest to the
    painting: the smallest mean Gram distance summed over the style layers. Returns (name, distance)."""
    x = frames_to_tensor(photos)
    best = ("", float("inf"))
    with torch.no_grad():
        for i, name in enumerate(model.style_names):
            if name in exclude:
                continue
            feats = vgg(model.net(x, i))
            d = sum(gram_distance(gram_matrix(getattr(feats, k)), g).mean().item() for k, g in painting_grams.items())
            if d < best[1]:
                best = (name, d)
    return best


def plan(cfg: AddStyleConfig) -> tuple[TrainConfig, dict]:
    """The TrainConfig that adds the style, checked before any training; and what was chosen (name,
    base model, output, content, closest style) for the CLI to say."""
    from .device import resolve_device
    from .vgg import check_available as check_vgg_available, load_vgg

    started = cfg.started_at or time.time()
    shipped = _shipped_recipe()
    name = check_style_name((cfg.name or style_name(cfg.painting)).strip().lower(), what="--name")
    check_vgg_available(cfg.vgg)  # before anything is written (the built-in photos, the user folder)
    painting = read_image(cfg.painting, what="painting")
    if min(painting.shape[:2]) < MIN_SIDE_PX:
        raise ValueError(f"painting {cfg.painting} is {painting.shape[1]}x{painting.shape[0]}; expected at least "
                         f"{MIN_SIDE_PX} px on each side")
    folder = user_weights_dir()
    out = folder / DEFAULT_MODEL_NAME
    ckpt_dir = folder / f"{name}.ckpt"
    into = cfg.into or str(out if out.is_file() else default_model_path())
    base = load_stylenet(into)
    if not cfg.resume and name in base.style_names:
        raise ValueError(f"{into} already has a style called {name!r}; pick another with --name NAME")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create the user model folder {folder} ({e.strerror}); set LIVESTYLE_WEIGHTS_DIR "
                      "to a folder you can write") from None
    if not os.access(folder, os.W_OK):
        raise OSError(f"the user model folder {folder} is not writable; set LIVESTYLE_WEIGHTS_DIR to one that is")
    content = cfg.content_dir or default_content(folder / "content")
    photos = [p for p in list_images(content)][:4]

    device = resolve_device(cfg.device)
    layers = shipped["style_layers"]
    vgg = load_vgg(tuple(dict.fromkeys([*layers, shipped["content_layer"]])), path=cfg.vgg,
                   convention=cfg.vgg_convention).to(device)
    with torch.no_grad():
        feats = vgg(load_style_image(cfg.painting, max_side_px=shipped["style_size"], device=device))
    grams = {k: gram_matrix(getattr(feats, k)) for k in layers}
    from .data import center_crop
    samples = [center_crop(read_image(p), 128) for p in photos]
    init, distance = (closest_style(base, grams, samples, vgg, cfg.not_from) if not cfg.resume else (None, None))

    # a network with small rows (NetConfig.small_rows): the new style's train too, on the smaller-copy term
    # at their scale (with the copy taking the small rows whole, the full-size rows get none of its gradient)
    small = base.net.cfg.small_rows
    train_cfg = TrainConfig(
        scale_weight=1.0 if small else 0.0, scale_range=(SMALL_ROWS_SCALE, SMALL_ROWS_SCALE),
        styles=[f"{name}={cfg.painting}"], style_sources={name: os.path.basename(cfg.painting)},
        content_dir=content, holdout=cfg.holdout, out=str(out), overwrite=True, checkpoint_dir=str(ckpt_dir), base=into,
        init_style=init, image_size=cfg.image_size,
        batch_size=cfg.batch_size, steps=1_000_000,
        lr=cfg.lr, style_size=shipped["style_size"], loss_norm=shipped["loss_norm"], style_layers=layers,
        content_layer=shipped["content_layer"], content_weight=shipped["content_weight"],
        style_weight=cfg.style_weight, tv_weight=shipped["tv_weight"], vgg=cfg.vgg,
        vgg_convention=cfg.vgg_convention, device=cfg.device,
        deadline=started + 60.0 * cfg.minutes - min(FINISH_S, 0.05 * 60.0 * cfg.minutes),
        checkpoint_every_s=60.0, preview_every=cfg.preview_every, preview_latest=True, model_on_interrupt=True,
        log_every=10**9, command=f"livestyle add-style {cfg.painting} --name {name} --minutes {cfg.minutes:g}")
    if cfg.resume:
        from .checkpoint import FILE_NAME, load_checkpoint
        ckpt = ckpt_dir / FILE_NAME
        if not ckpt.is_file():
            raise FileNotFoundError(f"nothing to resume: no checkpoint {ckpt} (run add-style without --resume)")
        saved = load_checkpoint(str(ckpt))
        train_cfg = dataclasses.replace(train_cfg, base=saved["config"]["base"], resume=str(ckpt),
                                        init_style=saved["config"].get("init_style"))
    chosen = {"name": name, "into": into, "out": str(out), "content": content, "closest": init,
              "closest_distance": distance, "preview": str(ckpt_dir / "preview.png"),
              "from_demo": cfg.content_dir is None}
    return train_cfg, chosen


def add_style(cfg: AddStyleConfig, *, progress: Callable[[dict], None] | None = None) -> dict:
    """Plan and train; returns what `plan` chose plus the model path."""
    from .train import train
    train_cfg, chosen = plan(cfg)
    chosen["model"] = train(train_cfg, progress=progress)
    chosen["onnx"] = export_beside(chosen["model"])
    return chosen


def export_beside(path: str) -> str | None:
    """The model's ONNX export beside it, as the shipped model has, so that ONNX Runtime runs it where that is
    faster (CPUs without native bf16) and where torch is not installed; None (logged) when the exporter is
    missing or fails: torch runs the model then."""
    import logging

    from .export import export_onnx
    from .modelfile import load_stylenet

    try:
        return export_onnx(load_stylenet(path), Path(path).with_suffix(".onnx"), overwrite=True)
    except Exception as e:  # onnx/onnxscript missing, an exporter error: the model itself is written and works
        logging.getLogger(__name__).warning("no ONNX export beside %s (%s); torch runs it",
                                            path, str(e).splitlines()[0][:160] if str(e) else type(e).__name__)
        return None


def _shipped_recipe() -> dict:
    """The loss layers and weights of the shipped model (its training record), so an added style matches
    the others (style weight, batch and lr are add-style's own, AddStyleConfig); the recipe's defaults when
    the record does not say."""
    defaults = {"style_layers": {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0},
                "content_layer": "relu3_3", "content_weight": 1.0, "tv_weight": 10.0,
                "loss_norm": "target", "style_size": 512}
    from .modelfile import read_metadata
    try:
        record = read_metadata(default_model_path())["training"]
    except (OSError, ValueError):
        return defaults
    while isinstance(record, dict) and "base_training" in record:  # a user model: the shipped one's record
        record = record["base_training"]
    if not isinstance(record, dict) or record.get("loss_norm") != "target":
        return defaults
    return {k: record.get(k, v) for k, v in defaults.items()}

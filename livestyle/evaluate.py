"""Quality report for a trained model: how much each style looks like its painting, and how much of the
photo survives. The measures (defined once here; the README repeats them in two lines):

For one VGG16 layer, a Gram matrix is the feature map's (C, C) product divided by C*H*W, and the layer's
*distance* of an image to the painting is mean((G_image - G_painting)^2) / mean(G_painting^2). The
painting is resized so its longest side equals the output's; photos are scored at their own size (their
longest side capped at max_side_px, 512 by default). A *ratio* is the distance of the stylized output
divided by that of the unstylized photo, averaged over photos: 1 = no more like the painting than the
photo, lower = closer to the painting.
  texture ratio     mean of the ratios at relu3_3 and relu4_3: strokes and motifs, which a palette
                    shift cannot fake
  Gram ratio        sum of the distances at relu1_2, relu2_2, relu3_3 and relu4_3 of the output over the
                    same sum for the photo (colour and texture together)
  content distance  relu3_3 MSE between output and photo over the photo's mean squared relu3_3
                    activation: 0 = same features, 1 = an error as large as the features
  grid score        per period P in 2, 4, 8, 16 (livestyle.grid): how strongly the output repeats a
                    P-pixel pattern, ~1 for detail with no period, far above 1 for a grid; the median
                    over photos per period, and the worst (largest) of those medians
A contact sheet shows rows of photos, the photo first, then each style.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch

from .atomic import atomic_write_bytes, check_output_path
from .data import list_images, load_style_image, read_name_list
from .config import StylizeConfig
from .frames import frames_to_tensor
from .stylize import StreamStylizer
from .grid import PERIODS, grid_scores
from .images import decode_image, encode_image, fit_size, resize_frame
from .losses import content_distance, gram_distance, gram_matrix
from .device import resolve_device
from .vgg import load_vgg
from .modelfile import load_stylenet

log = logging.getLogger(__name__)

CONTENT_LAYER = "relu3_3"
GRAM_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
TEXTURE_LAYERS = ("relu3_3", "relu4_3")
DEFINITIONS = {
    "texture_ratio": "mean over relu3_3, relu4_3 of Gram distance(output)/Gram distance(photo) to the painting; "
                     "1 = unstyled, lower = closer",
    "gram_ratio": "sum over relu1_2..relu4_3 of the output's Gram distances / the same sum for the photo",
    "content_distance": "relu3_3 MSE of output vs photo / mean square of the photo's relu3_3 (0 = same)",
    "gram_distance": "mean((G - G_painting)^2) / mean(G_painting^2), G = features' Gram / (C*H*W)",
    "grid": "per period P: variance of the P x P position means of the luminance high-pass over "
            "(its variance / blocks); ~1 = no period, far above 1 = a grid (median over photos)",
}


@dataclass
class StyleScore:
    name: str
    texture_ratio: float  # mean over photos; lower = closer to the painting's strokes and motifs
    gram_ratio: float  # mean over photos; lower = closer to the painting's statistics at all four layers
    content_distance: float  # mean normalised relu3_3 MSE to the photo; lower = more content kept
    photos: int
    layer_ratios: dict[str, float] = dataclasses.field(default_factory=dict)  # per layer, mean over photos
    grid: dict[str, float] = dataclasses.field(default_factory=dict)  # period -> median grid score over photos
    grid_worst: float = float("nan")  # the largest of `grid`
    # the same measures for Gatys et al. optimisation of the first `gatys_photos` photos (what the
    # losses can reach when each image is optimised on its own); None when not asked for
    gatys_texture_ratio: float | None = None
    gatys_gram_ratio: float | None = None
    gatys_content_distance: float | None = None
    gatys_photos: int = 0


@dataclass
class _Sums:
    texture: float = 0.0
    gram: float = 0.0
    content: float = 0.0
    layers: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(GRAM_LAYERS, 0.0))
    grids: list[dict[int, float]] = dataclasses.field(default_factory=list)  # one per photo
    n: int = 0

    def add(self, m: dict) -> None:
        self.texture += m["texture"]
        self.gram += m["gram"]
        self.content += m["content"]
        for k in GRAM_LAYERS:
            self.layers[k] += m["layers"][k]
        self.n += 1


def measure(feats_y, feats_x, grams_painting: dict[str, torch.Tensor]) -> dict:
    """The measures of one output against its photo and painting (VGG features with GRAM_LAYERS and
    CONTENT_LAYER; painting Grams (1, C, C) per layer): texture and Gram ratios, content distance."""
    d_y = {k: gram_distance(gram_matrix(getattr(feats_y, k)), grams_painting[k]).item() for k in GRAM_LAYERS}
    d_x = {k: gram_distance(gram_matrix(getattr(feats_x, k)), grams_painting[k]).item() for k in GRAM_LAYERS}
    ratios = {k: d_y[k] / max(d_x[k], 1e-12) for k in GRAM_LAYERS}
    return {"texture": sum(ratios[k] for k in TEXTURE_LAYERS) / len(TEXTURE_LAYERS),
            "gram": sum(d_y.values()) / max(sum(d_x.values()), 1e-12), "layers": ratios,
            "content": content_distance(getattr(feats_y, CONTENT_LAYER), getattr(feats_x, CONTENT_LAYER)).item()}


def style_images_for(model, styles: dict[str, str] | None, names: list[str] | None = None) -> dict[str, str]:
    """Style image path for every style of the model (or those in `names`): `styles` first, then the
    training record."""
    names = names or list(model.style_names)
    recorded = model.training.get("style_images", {}) if isinstance(model.training, dict) else {}
    chosen = {**recorded, **(styles or {})}
    unknown = sorted(set(styles or {}) - set(model.style_names))
    if unknown:
        raise ValueError(f"--styles names {unknown} that are not in {model.path} "
                         f"(styles: {', '.join(model.style_names)})")
    missing = [n for n in names if n not in chosen]
    if missing:
        raise ValueError(f"no style image for {missing} (not in {model.path}'s training record); "
                         f"pass --styles {missing[0]}=PATH[,...]")
    for name in names:
        if not os.path.isfile(chosen[name]):
            raise FileNotFoundError(f"style image for {name!r} not found: {chosen[name]}; pass --styles {name}=PATH")
    return {n: chosen[n] for n in names}


def _cell(frame: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """The frame scaled to fit width_px x height_px, centred on white."""
    h, w = frame.shape[:2]
    s = min(width_px / w, height_px / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    cell = np.full((height_px, width_px, 3), 255, np.uint8)
    y, x = (height_px - nh) // 2, (width_px - nw) // 2
    cell[y:y + nh, x:x + nw] = resize_frame(frame, nw, nh)
    return cell


def _label(text: str, cell_px: int) -> np.ndarray:
    strip = np.full((24, cell_px, 3), 255, np.uint8)
    text = text if len(text) <= cell_px // 8 else text[:cell_px // 8 - 1] + "~"
    cv2.putText(strip, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


@dataclass
class EvalConfig:
    """`livestyle eval`: what to score, on which photos, and what to write."""

    styles: dict[str, str] | None = None  # style name -> painting path (default: the model's training record)
    only: list[str] | None = None  # score just these styles of the model
    limit: int | None = None  # the first N photos
    holdout: str | None = None  # only the photos named in this file (one a line): the set training left out
    max_side_px: int = 512  # photos are scored at their own size, their longest side capped at this
    net_scale: float = 1.0  # run the network on a copy shrunk by this a side and enlarge back (the live loop)
    device: str = "auto"
    backend: str = "auto"  # what runs the network (StylizeConfig.backend): "auto" | "torch" | "onnxruntime"
    vgg: str | None = None  # local VGG weights (else $LIVESTYLE_VGG, else torchvision's)
    vgg_convention: str | None = None
    sheet: str | None = None  # contact sheet to write (PNG/JPEG/WebP)
    cell_px: int = 192
    overwrite: bool = False  # replace an existing sheet
    gatys_photos: int = 0  # also optimise the first N photos per style with Gatys et al. (a reference)
    gatys_iterations: int = 100


def evaluate(model_path: str, photos_dir: str, cfg: EvalConfig | None = None, *,
             progress: Callable[[int, int], None] | None = None) -> list[StyleScore]:
    """Score every style of the model (or those named in `cfg.only`) on the photos (only those named in the
    `cfg.holdout` list, when given); optionally write a contact sheet. Every output goes through the frame
    step `video` and `webcam` use (StreamStylizer.for_model; `cfg.net_scale` < 1 its smaller copy, as the
    live loop shows it). With `gatys_photos`, the first that many photos are also optimised per style with
    livestyle.gatys and scored the same way, as a reference. `progress(done, total)` after each photo.
    The sheet never replaces one of the photos, nor any file without `overwrite`."""
    cfg = cfg or EvalConfig()
    styles, limit, holdout, max_side_px, device = cfg.styles, cfg.limit, cfg.holdout, cfg.max_side_px, cfg.device
    vgg, vgg_convention, sheet, overwrite, only = cfg.vgg, cfg.vgg_convention, cfg.sheet, cfg.overwrite, cfg.only
    gatys_photos, gatys_iterations, net_scale = cfg.gatys_photos, cfg.gatys_iterations, cfg.net_scale
    if not 0.0 < net_scale <= 1.0:
        raise ValueError(f"--net-scale: expected a fraction in (0, 1], got {net_scale:g}")
    dev = resolve_device(device)
    model = load_stylenet(model_path, device=dev)
    names = list(dict.fromkeys(only)) if only else list(model.style_names)
    unknown = [n for n in names if n not in model.style_names]
    if unknown:
        raise ValueError(f"--only names {unknown[0]!r}, which is not a style of {model.path} "
                         f"(styles: {', '.join(model.style_names)})")
    paths = style_images_for(model, styles, names)
    photo_paths = list_images(photos_dir, what="photo")
    if holdout:
        keep = read_name_list(holdout)
        missing = sorted(keep - {os.path.basename(p) for p in photo_paths})
        if missing:
            raise FileNotFoundError(f"--holdout {holdout} names {len(missing)} photo(s) not in {photos_dir}, "
                                    f"e.g. {missing[0]}")
        photo_paths = [p for p in photo_paths if os.path.basename(p) in keep]
    if limit is not None:
        photo_paths = photo_paths[:limit]
    if sheet:
        check_output_path(sheet, overwrite=overwrite)
        if any(os.path.exists(sheet) and os.path.samefile(sheet, p) for p in photo_paths):
            raise ValueError(f"--sheet {sheet} is one of the photos being scored; livestyle never writes over its input")
    step = StreamStylizer.for_model(model, StylizeConfig(device=str(dev), compile="off", backend=cfg.backend))
    net_vgg = load_vgg(tuple(dict.fromkeys([*GRAM_LAYERS, CONTENT_LAYER])), path=vgg,
                       convention=vgg_convention).to(dev)

    style_cache: dict[tuple[str, int], dict[str, torch.Tensor]] = {}
    sums = {n: _Sums() for n in names}
    gatys_sums = {n: _Sums() for n in names}
    gatys_used = 0

    def painting_grams(name: str, side: int) -> dict[str, torch.Tensor]:
        if (name, side) not in style_cache:  # the painting at the output's scale
            fs = net_vgg(load_style_image(paths[name], max_side_px=side, device=dev))
            style_cache[name, side] = {k: gram_matrix(getattr(fs, k)) for k in GRAM_LAYERS}
        return style_cache[name, side]

    rows, used = [], 0
    for k, path in enumerate(photo_paths):
        frame = decode_image(path)
        if frame is None:
            log.warning("skipping unreadable image %s", path)
            continue
        w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=max_side_px)
        frame = resize_frame(frame, w, h)
        x = frames_to_tensor([frame], dev)  # (1, 3, h, w)
        side = max(w, h)
        with torch.no_grad():
            feats_x = net_vgg(x)
            row = [frame]
            for name in names:
                mix = torch.eye(model.net.n_styles)[model.style_names.index(name)]
                styled = step([frame], mix, scale=net_scale)[0]  # uint8 RGB, as the commands write it
                sums[name].add(measure(net_vgg(frames_to_tensor([styled], dev)), feats_x, painting_grams(name, side)))
                row.append(styled)
                sums[name].grids.append(grid_scores(styled))
        if gatys_used < gatys_photos:
            from .config import GatysConfig
            from .gatys import optimize
            gcfg = GatysConfig(max_side_px=side, iterations=gatys_iterations, vgg=vgg, vgg_convention=vgg_convention,
                               device=str(dev))
            for name in names:
                y = optimize(x, [load_style_image(paths[name], max_side_px=side, device=dev)], gcfg).to(dev)
                with torch.no_grad():
                    gatys_sums[name].add(measure(net_vgg(y), feats_x, painting_grams(name, side)))
            gatys_used += 1
        rows.append((os.path.basename(path), row))
        used += 1
        if progress:
            progress(k + 1, len(photo_paths))
    if not used:
        raise ValueError(f"no readable photos in {photos_dir}")
    scores = [StyleScore(n, s.texture / s.n, s.gram / s.n, s.content / s.n, s.n,
                         {k: v / s.n for k, v in s.layers.items()}, *_grid_medians(s.grids))
              for n, s in sums.items()]
    if gatys_used:
        for sc in scores:
            g = gatys_sums[sc.name]
            sc.gatys_texture_ratio, sc.gatys_gram_ratio = g.texture / g.n, g.gram / g.n
            sc.gatys_content_distance, sc.gatys_photos = g.content / g.n, g.n

    if sheet:
        write_sheet(sheet, [row for _, row in rows], names, cell_px=cfg.cell_px, overwrite=overwrite)
        log.info("wrote contact sheet %s (%d photos x %d styles)", sheet, used, len(names))
    return scores


def write_sheet(path: str, rows: list[list[np.ndarray]], names: list[str], *, cell_px: int = 192,
                overwrite: bool = False) -> None:
    """A contact sheet: a header of names, then one row a photo (the photo, then each style)."""
    header = np.concatenate([_label("photo", cell_px)] + [_label(n, cell_px) for n in names], axis=1)
    body = []
    for row in rows:  # every cell of a row has the photo's aspect; landscape rows are lower
        h, w = row[0].shape[:2]
        row_h = min(cell_px, max(1, round(cell_px * h / w)))
        body.append(np.concatenate([_cell(f, cell_px, row_h) for f in row], axis=1))
    grid = np.concatenate([header] + body, axis=0)  # (24 + sum of row heights, (1 + n_styles) * cell, 3)
    ext = os.path.splitext(path)[1].lower() or ".png"
    atomic_write_bytes(path, encode_image(grid, ext), overwrite=overwrite)


def _grid_medians(per_photo: list[dict[int, float]]) -> tuple[dict[str, float], float]:
    medians = {str(p): float(np.nanmedian([g[p] for g in per_photo])) for p in PERIODS}
    return medians, max(medians.values())


def scores_to_dict(scores: list[StyleScore], **extra) -> dict:
    return {**extra, "styles": [dataclasses.asdict(s) for s in scores]}

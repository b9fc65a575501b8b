"""Quality report for a trained model: how stylized and how recognisable its outputs are.

For each style and each photo (scaled so its longest side is max_side_px):
  style distance    Gram loss of the output to the style image, divided by the same loss for the
                    unstylized photo: 1 = no more like the style than the photo, lower = more stylized.
                    The style image is scaled to the output's longest side, and the loss is the training
                    style loss (Gram MSE over the model's style_layers with their weights).
  content distance  relu3_3 feature MSE between output and photo, divided by the photo's own mean squared
                    relu3_3 activation: 0 = same features, 1 = an error as large as the features themselves.
Both are averaged over the photos. A contact sheet shows rows of photos, the photo first, then each style.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .atomic import atomic_write_bytes
from .config import TrainConfig
from .data import decode_image, list_images, load_style_image
from .frames import encode_image, fit_size, frames_to_tensor, resize_frame, tensor_to_frame
from .losses import gram_matrix, style_loss
from .model import resolve_device
from .vgg import load_vgg
from .weights import load_stylenet

log = logging.getLogger(__name__)

CONTENT_LAYER = "relu3_3"


@dataclass
class StyleScore:
    name: str
    style_distance: float  # mean output/photo Gram loss ratio; lower = more stylized
    content_distance: float  # mean normalised relu3_3 MSE to the photo; lower = more content kept
    photos: int
    # the same measures for Gatys et al. optimisation of the first `gatys_photos` photos (what the
    # losses can reach when each image is optimised on its own); None when not asked for
    gatys_style_distance: float | None = None
    gatys_content_distance: float | None = None
    gatys_photos: int = 0


def style_images_for(model, styles: dict[str, str] | None) -> dict[str, str]:
    """Style image path for every style of the model: `styles` first, then the training record."""
    recorded = model.training.get("style_images", {}) if isinstance(model.training, dict) else {}
    chosen = {**recorded, **(styles or {})}
    unknown = sorted(set(styles or {}) - set(model.style_names))
    if unknown:
        raise ValueError(f"--styles names {unknown} that are not in {model.path} "
                         f"(styles: {', '.join(model.style_names)})")
    missing = [n for n in model.style_names if n not in chosen]
    if missing:
        raise ValueError(f"no style image for {missing} (not in {model.path}'s training record); "
                         f"pass --styles {missing[0]}=PATH[,...]")
    for name in model.style_names:
        if not os.path.isfile(chosen[name]):
            raise FileNotFoundError(f"style image for {name!r} not found: {chosen[name]}; pass --styles {name}=PATH")
    return {n: chosen[n] for n in model.style_names}


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


def evaluate(model_path: str, photos_dir: str, *, styles: dict[str, str] | None = None, limit: int | None = None,
             max_side_px: int = 256, device: str = "auto", vgg: str | None = None, vgg_convention: str | None = None,
             sheet: str | None = None, cell_px: int = 192, gatys_photos: int = 0,
             gatys_iterations: int = 100) -> list[StyleScore]:
    """Score every style of the model on the photos; optionally write a contact sheet (PNG/JPEG).
    With `gatys_photos`, the first that many photos are also optimised per style with livestyle.gatys
    (coarse to fine, `gatys_iterations` at full size) and scored the same way, as a reference."""
    dev = resolve_device(device)
    model = load_stylenet(model_path, device=dev)
    paths = style_images_for(model, styles)
    record = model.training if isinstance(model.training, dict) else {}
    layer_weights = record.get("style_layers") or TrainConfig().style_layers
    layers = tuple(dict.fromkeys([*layer_weights, CONTENT_LAYER]))
    net_vgg = load_vgg(layers, path=vgg, convention=vgg_convention).to(dev)
    photo_paths = list_images(photos_dir, what="photo")
    if limit is not None:
        photo_paths = photo_paths[:limit]

    style_cache: dict[tuple[str, int], dict[str, torch.Tensor]] = {}
    sums = {n: [0.0, 0.0] for n in model.style_names}
    gatys_sums = {n: [0.0, 0.0] for n in model.style_names}
    gatys_used = 0

    def score(y, feats_x, energy_x, grams):
        feats_y = net_vgg(y)
        ratio = style_loss(feats_y, grams, layer_weights) / style_loss(feats_x, grams, layer_weights).clamp_min(1e-12)
        content = F.mse_loss(feats_y.relu3_3, feats_x.relu3_3) / energy_x.clamp_min(1e-12)
        return ratio.item(), content.item()

    rows, used = [], 0
    for path in photo_paths:
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
            energy_x = feats_x.relu3_3.pow(2).mean()
            row = [frame]
            for i, name in enumerate(model.style_names):
                if (name, side) not in style_cache:  # the style at the output's scale
                    fs = net_vgg(load_style_image(paths[name], max_side_px=side, device=dev))
                    style_cache[name, side] = {k: gram_matrix(getattr(fs, k)) for k in layer_weights}
                grams = style_cache[name, side]
                y = model.net(x, i)
                ratio, content = score(y, feats_x, energy_x, grams)
                sums[name][0] += ratio
                sums[name][1] += content
                row.append(tensor_to_frame(y))
        if gatys_used < gatys_photos:
            from .config import GatysConfig
            from .gatys import optimize
            gcfg = GatysConfig(max_side_px=side, iterations=gatys_iterations, vgg=vgg, vgg_convention=vgg_convention,
                               device=str(dev))
            for name in model.style_names:
                style_img = load_style_image(paths[name], max_side_px=side, device=dev)
                y = optimize(x, [style_img], gcfg).to(dev)
                with torch.no_grad():
                    ratio, content = score(y, feats_x, energy_x, style_cache[name, side])
                gatys_sums[name][0] += ratio
                gatys_sums[name][1] += content
            gatys_used += 1
        rows.append((os.path.basename(path), row))
        used += 1
    if not used:
        raise ValueError(f"no readable photos in {photos_dir}")
    scores = [StyleScore(n, s / used, c / used, used) for n, (s, c) in sums.items()]
    if gatys_used:
        for sc in scores:
            gs, gc = gatys_sums[sc.name]
            sc.gatys_style_distance, sc.gatys_content_distance, sc.gatys_photos = gs / gatys_used, gc / gatys_used, gatys_used

    if sheet:
        header = np.concatenate([_label("photo", cell_px)] + [_label(n, cell_px) for n in model.style_names], axis=1)
        body = []
        for _, row in rows:  # every cell of a row has the photo's aspect; landscape rows are lower
            h, w = row[0].shape[:2]
            row_h = min(cell_px, max(1, round(cell_px * h / w)))
            body.append(np.concatenate([_cell(f, cell_px, row_h) for f in row], axis=1))
        grid = np.concatenate([header] + body, axis=0)  # (24 + sum of row heights, (1 + n_styles) * cell, 3)
        ext = os.path.splitext(sheet)[1].lower() or ".png"
        atomic_write_bytes(sheet, encode_image(grid, ext))
        log.info("wrote contact sheet %s (%d photos x %d styles)", sheet, used, len(model.style_names))
    return scores


def scores_to_dict(scores: list[StyleScore], **extra) -> dict:
    return {**extra, "styles": [dataclasses.asdict(s) for s in scores]}

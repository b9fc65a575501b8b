"""The short Python API: load a model, stylize pictures and videos.

    import livestyle
    model = livestyle.load()                      # the shipped model, or load("mine.safetensors")
    print(model.styles)                           # names and sources
    out = model.stylize(image, "monet:0.7,vangogh:0.3", strength=0.8)   # uint8 (H, W, 3) RGB in and out
    model.stylize_video("in.mp4", "out.mp4", styles="monet")

The pieces underneath (modelfile.load_stylenet, stylize.StreamStylizer, transcode.stylize_video, ...)
stay importable for anything this does not cover.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np

from . import checks
from .config import StylizeConfig, TemporalConfig, VideoConfig
from .modelfile import ModelFile, StyleInfo, default_model_path, load_model, parse_mix

Styles = str | Mapping[str, float] | list[str]


class StyleList(list):
    """The model's styles (modelfile.StyleInfo: name, source), printed one a line."""

    def __repr__(self) -> str:
        width = max((len(s.name) for s in self), default=0)
        return "\n".join(f"{s.name:<{width}}  {s.source}" for s in self)

    __str__ = __repr__


class Model:
    """A loaded livestyle model. `styles` lists its styles (name and source); `presets` the short names."""

    def __init__(self, model_file: ModelFile, *, device: str = "auto"):
        self.file = model_file
        self.device = device
        self._image_step = None

    def __repr__(self) -> str:
        return f"livestyle.Model({self.file.path!r}, {len(self.styles)} styles)"

    @property
    def styles(self) -> StyleList:
        return StyleList(self.file.styles)

    @property
    def presets(self) -> dict[str, dict[str, float]]:
        return dict(self.file.presets)

    def mix(self, styles: Styles) -> np.ndarray:
        """float32 (n_styles,) weights from 'monet', 'monet:0.7,vangogh:0.3', ['monet', 'vangogh'] (equal) or
        {'monet': 0.7, 'vangogh': 0.3}."""
        if isinstance(styles, Mapping):
            for k, v in styles.items():
                if not isinstance(k, str):
                    raise TypeError(f"styles: expected style names as keys, got {type(k).__name__} {k!r}")
                checks.number(v, name=f"styles[{k!r}]", minimum=0.0)
            styles = ",".join(f"{k}:{float(v)!r}" for k, v in styles.items())
        elif isinstance(styles, (list, tuple)):
            styles = ",".join(styles)
        if not isinstance(styles, str):
            raise TypeError(f"expected styles as a string, list or dict, got {type(styles).__name__}")
        return parse_mix(styles, self.file)

    def stylize(self, image: np.ndarray | str | os.PathLike, styles: Styles, *, strength: float = 1.0,
                preserve_color: bool = False, max_side: int | None = None) -> np.ndarray:
        """A stylized copy of `image` (uint8 (H, W, 3) RGB, or an image file's path): uint8 (H, W, 3) RGB,
        the same size unless `max_side` shrinks it."""
        from .images import check_frame, check_size, fit_size, read_image, resize_frame
        from .stylize import StreamStylizer

        if isinstance(image, (str, os.PathLike)):
            image = read_image(str(image))
        check_frame(image)
        strength = checks.unit(strength, name="strength")
        checks.boolean(preserve_color, name="preserve_color")
        max_side = checks.max_side(max_side)
        w, h = fit_size(image.shape[1], image.shape[0], max_side_px=max_side)
        check_size("image", w, h)
        image = resize_frame(image, w, h)
        if self._image_step is None:  # eager network: one picture does not repay a compile
            self._image_step = StreamStylizer.for_model(self.file, StylizeConfig(device=self.device, compile="off"))
        return self._image_step([image], self.mix(styles), strength=strength, preserve_color=preserve_color)[0]

    def stylize_video(self, in_path: str | os.PathLike, out_path: str | os.PathLike, styles: Styles, *,
                      strength: float = 1.0, preserve_color: bool = False, temporal: float = TemporalConfig().weight,
                      max_side: int | None = None, overwrite: bool = False,
                      progress: Callable[[int, int | None], None] | None = None):
        """Stylize a video file into `out_path` (timestamps and audio kept, written atomically); returns
        the transcode.VideoSummary. `temporal` is the coherence weight (0 = per frame)."""
        from .atomic import check_output_path
        from .stylize import StreamStylizer
        from .transcode import stylize_video

        strength = checks.unit(strength, name="strength")
        temporal = checks.unit(temporal, name="temporal")
        checks.boolean(preserve_color, name="preserve_color")
        checks.boolean(overwrite, name="overwrite")
        max_side = checks.max_side(max_side)
        checks.callback(progress, name="progress")
        for what, p in (("in_path", in_path), ("out_path", out_path)):
            if not isinstance(p, (str, os.PathLike)):
                raise TypeError(f"{what}: expected a file path, got {type(p).__name__} {p!r}")
        if not os.path.isfile(in_path):
            raise FileNotFoundError(f"input not found: {in_path}")
        check_output_path(out_path, overwrite=overwrite, input_path=in_path)
        cfg = StylizeConfig(device=self.device, max_side_px=max_side, strength=strength, preserve_color=preserve_color)
        step = StreamStylizer.for_model(self.file, cfg, TemporalConfig(weight=temporal) if temporal > 0 else None)
        return stylize_video(in_path, out_path, step, self.mix(styles), video_cfg=VideoConfig(overwrite=overwrite),
                             progress=progress)

    def export_onnx(self, out_path: str | os.PathLike, *, overwrite: bool = False) -> str:
        """The model as ONNX (see livestyle.export)."""
        from .export import export_onnx
        return export_onnx(self.file, out_path, overwrite=overwrite)


def load(path: str | os.PathLike | None = None, *, device: str = "auto") -> Model:
    """The shipped model (or your default one in the user model folder), or the model file at `path`.
    Without torch installed it runs in ONNX Runtime, from the model's ONNX export (the shipped models have one)."""
    from .device import resolve_device

    dev = resolve_device(device)
    return Model(load_model(path or default_model_path(), device=dev), device=str(dev))

"""livestyle: real-time multi-style video and webcam style transfer.

    import livestyle
    model = livestyle.load()                      # the shipped model, or load("mine.safetensors")
    print(model.styles)                           # names and sources
    out = model.stylize(image, "monet:0.7,vangogh:0.3", strength=0.8)   # uint8 (H, W, 3) RGB in and out
    model.stylize_video("in.mp4", "out.mp4", styles="monet")

Lower level: load_stylenet (the model file), StreamStylizer (one frame step: network, strength, colour,
temporal coherence), stylize_video (a file through a frame step), parse_mix, the config dataclasses.

Names load on first use (PEP 562), so `import livestyle.cli` starts without importing torch: the
command line can answer --help, bad arguments and Ctrl-C at once. torch itself is an extra
(`pip install 'livestyle[torch]'`, for training, add-style, Gatys, eval, export and CUDA): without it
`load`, `stylize` and `stylize_video` (and the commands image, video, webcam, styles) run the model's ONNX
export in ONNX Runtime.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "Model": "api", "load": "api",
    "GatysConfig": "config", "NetConfig": "config", "StylizeConfig": "config", "TemporalConfig": "config",
    "TrainConfig": "config", "VideoConfig": "config",
    "StyleNet": "model", "StreamStylizer": "stylize", "Stylizer": "stylize", "stylize_video": "transcode",
    "ModelFile": "modelfile", "StyleInfo": "modelfile", "load_model": "modelfile", "load_stylenet": "modelfile", "parse_mix": "modelfile",
    "save_stylenet": "modelfile",
}
__all__ = sorted(_WHERE)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'livestyle' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))

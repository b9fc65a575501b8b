"""livestyle: real-time multi-style video and webcam style transfer.

    import livestyle
    model = livestyle.load()                      # the shipped model, or load("mine.safetensors")
    print(model.styles)                           # names and sources
    out = model.stylize(image, "monet:0.7,vangogh:0.3", strength=0.8)   # uint8 (H, W, 3) RGB in and out
    model.stylize_video("in.mp4", "out.mp4", styles="monet")

Lower level: load_stylenet (the model file), StreamStylizer (one frame step: network, strength, colour,
temporal coherence), stylize_video (a file through a frame step), parse_mix, the config dataclasses.
"""
from .api import Model, load
from .config import GatysConfig, NetConfig, StylizeConfig, TemporalConfig, TrainConfig, VideoConfig
from .model import StyleNet
from .stylize import StreamStylizer, Stylizer
from .transcode import stylize_video
from .weights import ModelFile, StyleInfo, load_stylenet, parse_mix, save_stylenet

__all__ = ["Model", "load", "GatysConfig", "NetConfig", "StylizeConfig", "TemporalConfig", "TrainConfig",
           "VideoConfig", "StyleNet", "StreamStylizer", "Stylizer", "stylize_video", "ModelFile", "StyleInfo",
           "load_stylenet", "parse_mix", "save_stylenet"]
__version__ = "0.1.0"

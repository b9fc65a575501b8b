"""livestyle: real-time multi-style video and webcam style transfer.

    from livestyle import load_stylenet, Stylizer, StylizeConfig, parse_mix
    model = load_stylenet("weights/livestyle.safetensors")
    styled = Stylizer(model.net, StylizeConfig())(frames, parse_mix("monet:0.7,vangogh:0.3", model))
"""
from .config import GatysConfig, NetConfig, StylizeConfig, TemporalConfig, TrainConfig, VideoConfig
from .model import StyleNet
from .stylize import Stylizer
from .weights import ModelFile, StyleInfo, load_stylenet, parse_mix, save_stylenet

__all__ = ["GatysConfig", "NetConfig", "StylizeConfig", "TemporalConfig", "TrainConfig", "VideoConfig", "StyleNet",
           "Stylizer", "ModelFile", "StyleInfo", "load_stylenet", "parse_mix", "save_stylenet"]
__version__ = "0.1.0"

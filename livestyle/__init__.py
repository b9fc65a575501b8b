"""livestyle: real-time multi-style video and webcam style transfer."""
from .config import NetConfig, StylizeConfig, TrainConfig, VideoConfig
from .model import StyleNet
from .stylize import Stylizer
from .weights import ModelFile, StyleInfo, load_stylenet, save_stylenet

__all__ = ["NetConfig", "StylizeConfig", "TrainConfig", "VideoConfig", "StyleNet", "Stylizer",
           "ModelFile", "StyleInfo", "load_stylenet", "save_stylenet"]
__version__ = "0.1.0"

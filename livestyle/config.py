"""Configuration dataclasses: defaults with comments, no logic.

One name runs from flag to log: `--content-weight` -> `TrainConfig.content_weight` -> checkpoint
metadata `content_weight` -> log line.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NetConfig:
    """Shape of a StyleNet. The defaults are the Johnson et al. 2016 layout (pytorch/examples
    fast_neural_style: 32-64-128 channels, 5 residual blocks, 9x9 outer kernels) with CIN."""

    n_styles: int = 1  # rows of the conditional instance norm tables (one gamma/beta per style)
    base_width: int = 32  # channels after the first conv; doubled at each downsampling
    n_downsample: int = 2  # stride-2 convs; the residual blocks run at 1 / 2**n_downsample resolution
    n_res_blocks: int = 5  # residual blocks at the lowest resolution
    outer_kernel: int = 9  # kernel of the first and last conv (Johnson: 9)
    inner_kernel: int = 3  # kernel of every other conv
    separable: bool = False  # residual blocks use depthwise 3x3 + pointwise 1x1 instead of dense 3x3
    upsample: str = "nearest"  # "nearest": nearest-neighbour x2 then conv (no checkerboard, distill.pub
    #   2016/deconv-checkerboard); "transpose": ConvTranspose2d
    padding: str = "reflect"  # "reflect" avoids dark borders (Johnson); "zeros" is a little faster


@dataclass
class StylizeConfig:
    """How frames are stylized at run time (image, video, webcam)."""

    device: str = "auto"  # "auto": CUDA when available, else CPU; or any torch device string
    batch_size: int = 4  # frames per network call for files (webcam always uses 1)
    strength: float = 1.0  # 0 = input unchanged, 1 = full style; pixel blend of input and output
    preserve_color: bool = False  # stylize luminance only, keep the input's chroma (Gatys et al. 2016)
    max_side_px: int | None = None  # resize so the longest side is at most this (None: keep)
    size: tuple[int, int] | None = None  # exact (width, height) output size; overrides max_side_px
    threads: int | None = None  # torch CPU threads (None: torch's default)


@dataclass
class VideoConfig:
    """Encoding of `livestyle video` output."""

    codec: str = "libx264"  # any PyAV video encoder; H.264 in MP4 by default
    crf: int = 18  # constant rate factor for x264/x265 (lower is better quality, bigger file)
    pix_fmt: str = "yuv420p"  # plays everywhere; needs even width and height
    overwrite: bool = False  # refuse an existing output unless True


@dataclass
class TrainConfig:
    """`livestyle train`. Loss weights follow pytorch/examples fast_neural_style scaled for
    images in [0, 1]; see README's training notes."""

    styles: list[str] = field(default_factory=list)  # "name=path" or plain paths (name from file name)
    content_dir: str = ""  # folder of training photos
    out: str = "model.safetensors"  # finished model
    checkpoint_dir: str | None = None  # default: "<out>.ckpt/" beside the output
    arch: NetConfig = field(default_factory=NetConfig)
    image_size: int = 256  # square random crops of the content photos
    style_size: int = 256  # longest side of each style image for its Gram targets
    batch_size: int = 4
    steps: int = 2000
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1e-6
    device: str = "auto"
    seed: int = 0

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
    max_width: int = 0  # cap on channels at any level (0: no cap)
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
    precision: str = "auto"  # "auto": bf16 autocast on CPUs with AVX-512/AMX, fp16 on CUDA; "fp32": none
    compile: str = "auto"  # "auto": torch.compile in a background thread for frames >= 128x128 while
    #   eager frames keep flowing, then switch; "on": compile before the first frame; "off": eager only


@dataclass
class VideoConfig:
    """Encoding of `livestyle video` output."""

    codec: str = "libx264"  # any PyAV video encoder; H.264 in MP4 by default
    crf: int = 18  # constant rate factor for x264/x265 (lower is better quality, bigger file)
    pix_fmt: str = "yuv420p"  # plays everywhere; needs even width and height
    overwrite: bool = False  # refuse an existing output unless True


@dataclass
class TrainConfig:
    """`livestyle train`: a multi-style CIN StyleNet trained with VGG perceptual losses (Johnson et al.
    2016; Dumoulin et al. 2017). Loss weights are for images in [0, 1] and the Caffe VGG16 (see losses.py)."""

    styles: list[str] = field(default_factory=list)  # "name=path", paths or folders; one CIN style each
    style_sources: dict[str, str] = field(default_factory=dict)  # name -> one line (artist, title, year);
    #   default: the file name
    content_dir: str = ""  # folder of training photos
    out: str = "model.safetensors"  # finished model (safetensors, weights.save_stylenet)
    overwrite: bool = False  # replace an existing `out` (a resumed run may always replace its own)
    checkpoint_dir: str | None = None  # default: "<out without suffix>.ckpt/" beside the output
    resume: str | None = None  # checkpoint file or folder to continue from
    base: str | None = None  # add `styles` to this model file: only their CIN rows train (Dumoulin et al.)
    arch: NetConfig = field(default_factory=NetConfig)  # n_styles is set from the styles
    image_size: int = 256  # square random crops of the content photos
    style_size: int | None = None  # longest side of each style image for its Gram targets (None: image_size)
    batch_size: int = 4
    steps: int = 2000
    lr: float = 1e-3  # Adam
    # Weighted terms for a fresh net at 256 px, Caffe VGG16: content ~1.4, style ~1.3 (falls to ~0.2),
    # tv ~0.1; the content term then dominates by ~4x, as in fast_neural_style's balance (measured, see report).
    content_weight: float = 1e-4  # x MSE of relu2_2 features (Caffe scale, ~1e4 for unrelated images)
    style_weight: float = 2e-4  # x sum over style_layers of MSE of Grams / (C*H*W)
    tv_weight: float = 10.0  # x mean squared neighbour difference of the output
    content_layer: str = "relu2_2"  # Johnson et al.
    style_layers: dict[str, float] = field(default_factory=lambda: {
        "relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0})  # per-layer weights (Johnson: equal)
    batch_styles: str = "mixed"  # "mixed": each sample of a batch has its own style; "single": one per batch
    vgg: str | None = None  # local VGG features file (else $LIVESTYLE_VGG, else torchvision's weights)
    vgg_convention: str | None = None  # "caffe" | "torchvision"; None: from the file name
    bf16: bool | None = None  # bf16 autocast for net and VGG; None: on where the hardware has it (AVX512-BF16/AMX, CUDA)
    channels_last: bool = True  # NHWC memory format for the convs (oneDNN / cuDNN prefer it)
    device: str = "auto"
    threads: int | None = None  # torch CPU threads per process (None: cores / processes)
    seed: int = 0  # rank r of a DDP run uses seed + r for its own randomness
    log_every: int = 50  # steps between log lines
    preview_every: int = 200  # steps between preview PNGs beside the checkpoint (0: never)
    checkpoint_every_s: float = 300.0  # seconds between checkpoints (0: every step)
    command: str = ""  # the command line, recorded in the model's training record

"""Configuration dataclasses: defaults with comments, no logic.

One name runs from flag to log: `--content-weight` -> `TrainConfig.content_weight` -> checkpoint
metadata `content_weight` -> log line.
"""
from __future__ import annotations

from dataclasses import dataclass, field


SMALL_ROWS_SCALE = 0.75  # the scale a side that the small rows (NetConfig.small_rows) are trained at


def small_weight(scale: float) -> float:
    """How much of the small rows a network run on a copy `scale` a side takes: 0 at full size, 1 at
    SMALL_ROWS_SCALE and below, linear between."""
    return min(1.0, max(0.0, (1.0 - scale) / (1.0 - SMALL_ROWS_SCALE)))


@dataclass
class NetConfig:
    """Shape of a StyleNet. The defaults are the Johnson et al. 2016 layout (pytorch/examples
    fast_neural_style: 32-64-128 channels, 5 residual blocks, 9x9 outer kernels) with CIN."""

    n_styles: int = 1  # rows of the conditional instance norm tables (one gamma/beta per style)
    base_width: int = 32  # channels after the first conv; doubled at each downsampling
    max_width: int = 0  # cap on channels at any level (0: no cap)
    width_factor: int = 2  # channels grow by this at each downsampling (4: a thin full/half-size level, where
    #   every channel costs the most, and the usual widths below it)
    n_downsample: int = 2  # stride-2 convs; the residual blocks run at 1 / 2**n_downsample resolution
    n_res_blocks: int = 5  # residual blocks at the lowest resolution
    outer_kernel: int = 9  # kernel of the first and last conv (Johnson: 9)
    inner_kernel: int = 3  # kernel of every other conv
    separable: bool = False  # residual blocks use depthwise 3x3 + pointwise 1x1 instead of dense 3x3
    upsample: str = "nearest"  # "nearest": nearest-neighbour x2 then conv (no checkerboard, distill.pub
    #   2016/deconv-checkerboard); "bilinear": bilinear x2 then conv (no 2x2 copies for the conv to lock a
    #   grid to); "transpose": ConvTranspose2d
    antialias: bool = False  # a fixed 3x3 binomial blur before every stride-2 conv (Zhang 2019, "Making
    #   convolutional networks shift-invariant again"): what the stride drops cannot alias into a grid
    skips: bool = False  # add each level's features on the way down to the same level on the way up (U-Net):
    #   the picture's own detail reaches the upper levels without passing the strides
    head_stride: int = 1  # 2: the first conv already halves the frame and the last conv runs on a bilinear x2
    #   copy of the half-size features, so only that one small conv (width -> 3) touches full resolution
    padding: str = "reflect"  # "reflect" avoids dark borders (Johnson); "zeros" is a little faster
    margin: int = 0  # px of the frame reflected around it before the network and cropped after, so what
    #   zero padding does at the edges happens outside the picture (the shipped "one": 8 px; its outer 2 px
    #   were 6.4 levels off the next ones without, 1.1 trained with it, 2.1 for reflection padding; +7 % pixels)
    shuffle: int = 1  # > 1: the net runs on a space-to-depth copy of the frame (pixel unshuffle by this
    #   factor a side, 3*f*f channels) and ends with depth-to-space, so no conv runs at full resolution
    small_rows: bool = False  # every CIN table also holds a row per style for a smaller copy of the frame
    #   (SMALL_ROWS_SCALE a side, enlarged after: the live loop's lower network scales), mixed in by
    #   StyleNet.forward's `small`; the convs are shared, so the cost is the same


@dataclass
class StylizeConfig:
    """How frames are stylized at run time (image, video, webcam)."""

    device: str = "auto"  # "auto": CUDA when available, else CPU; or any torch device string
    batch_size: int = 1  # frames per network call (CLI: 1 on a CPU, where larger batches are slower per
    #   frame at 640x360; 4 on CUDA); the webcam always uses 1
    strength: float = 1.0  # 0 = input unchanged, 1 = full style; pixel blend of input and output
    preserve_color: bool = False  # stylize luminance only, keep the input's chroma (Gatys et al. 2016)
    max_side_px: int | None = None  # resize so the longest side is at most this (None: keep)
    size: tuple[int, int] | None = None  # exact (width, height) output size; overrides max_side_px
    threads: int | None = None  # torch CPU threads (None: torch's default)
    precision: str = "auto"  # "auto": a bf16 copy of the network on CPUs with AVX-512/AMX, fp16 on CUDA; "fp32": none
    compile: str = "auto"  # "auto": torch.compile before the first frame where it pays (a video of >= 600
    #   frames, frames >= 128x128), else eager; "on": compile each frame size before its first frame; "off": eager
    backend: str = "auto"  # "auto": ONNX Runtime on a CPU when the model comes with a matching ONNX export
    #   (livestyle.ortnet; the live model does) and onnxruntime is installed, else torch; "torch"; "onnxruntime"
    #   (an error when it cannot be used)


@dataclass
class VideoConfig:
    """Encoding of `livestyle video` output."""

    codec: str = "libx264"  # any PyAV video encoder; H.264 in MP4 by default
    crf: int = 18  # constant rate factor for x264/x265 (lower is better quality, bigger file)
    preset: str = "veryfast"  # x264/x265 speed preset: at the same crf, slower presets make smaller files,
    #   not better pictures; veryfast keeps the encoder a small share of a real-time pipeline
    pix_fmt: str = "yuv420p"  # plays everywhere; needs even width and height
    overwrite: bool = False  # refuse an existing output unless True
    pipelined: bool = True  # decode and encode in threads beside the network (transcode.py). With the one
    #   network on the 2-core Xeon under ONNX Runtime the demo clip took 10.1 s pipelined against 11.0-11.3 s
    #   inline (3 runs each, session 7); with the earlier, heavier full network it had been slower
    #   (sam2_cups at 640x360: 21.2 fps pipelined vs 23.0 inline), so --no-pipeline stays


@dataclass
class MotionConfig:
    """Synthetic motion for the temporal loss (`livestyle.motion.moved_pair`): the second "frame" of a
    training pair is the photo moved by a random smooth flow, plus camera noise and a brightness change.
    Sizes are in pixels of the training crop (256 px by default); a webcam at 30 fps moves ~0-10 px."""

    shift_px: float = 6.0  # max translation per axis (camera pan)
    rotate_deg: float = 2.0  # max rotation about the crop centre (camera roll)
    scale: float = 0.03  # max relative zoom (1 +- scale)
    elastic_px: float = 1.5  # std of a smooth displacement field (objects moving), on a 4x4 control grid
    elastic_grid: int = 4
    noise: float = 0.02  # std of Gaussian sensor noise added to the moved frame, images in [0, 1]
    brightness: float = 0.05  # max relative brightness change of the moved frame (auto exposure)


@dataclass
class TrainConfig:
    """`livestyle train`: a multi-style CIN StyleNet trained with VGG perceptual losses (Johnson et al.
    2016; Dumoulin et al. 2017). Loss weights are for images in [0, 1] and the Caffe VGG16 (see losses.py)."""

    styles: list[str] = field(default_factory=list)  # "name=path", paths or folders; one CIN style each
    style_sources: dict[str, str] = field(default_factory=dict)  # name -> one line (artist, title, year);
    #   default: the file name
    content_dir: str = ""  # folder of training photos
    out: str = "model.safetensors"  # finished model (safetensors, modelfile.save_stylenet)
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
    warmup_steps: int = 0  # lr rises linearly over these steps. Needed for high lr: at lr 1e-2 the first Adam
    #   steps (every weight moves by ~lr) threw a width-8 net's style loss up 5x at step 2; at lr 1e-3 (width 16,
    #   128 px) there is no such jump and a 100-step warm-up only slowed the first 60 steps (loss 5.7 vs 5.0)
    # Caffe VGG16 scale (BGR 0..255 inside), raw values measured at 256 px: relu2_2 MSE of two unrelated
    # photos 3e5, of a fresh net's output 2e5; Gram MSE (relu1_2..relu3_3) of a photo to a style 6e5..1.5e6;
    # output TV ~0.01. With these weights a width-16 net after 200 steps at 128 px sits at content 2.2,
    # style 1.05, tv 0.11: style clearly visible, content still recognisable (style_weight 3e-5 lost it).
    # Johnson et al. / fast_neural_style use 1e5 and 1e10 on torchvision's VGG at 0..255; not comparable.
    content_weight: float = 1e-5  # x MSE of content_layer features
    style_weight: float = 1e-5  # x sum over style_layers of weight x MSE of Grams / (C*H*W)
    tv_weight: float = 10.0  # x mean squared difference of neighbouring output pixels (images in [0, 1])
    content_layer: str = "relu2_2"  # Johnson et al.
    # Temporal loss (Huang et al. 2017; Gao et al. 2018): each step also stylizes a synthetically moved copy
    # of the batch and penalises mean(mask * (out_moved - warp(out, flow))**2), images in [0, 1]. 0 = off.
    temporal_weight: float = 0.0
    motion: MotionConfig = field(default_factory=MotionConfig)
    # Shift consistency: each step also stylizes the batch cropped by a random 1..shift_max_px pixels down and
    # right and penalises shift_weight * MSE between that output and the first one cropped alike (a margin of
    # shift_max_px + 1 left out), so textures cannot lock to the network's stride (the grid score of
    # livestyle.grid). 0 = off.
    shift_weight: float = 0.0
    shift_max_px: int = 7
    # Grid penalty: grid_weight * the grid score of the outputs (losses.grid_loss, periods 2, 4 and 8), the
    # measure of livestyle.grid made a loss. 0 = off.
    grid_weight: float = 0.0
    # Smaller copies: each step also stylizes the batch shrunk by a random factor in scale_range a side
    # (antialiased), enlarges that output back (bilinear, as the live loop's StreamStylizer `scale` does) and
    # adds scale_weight * its content and style losses, so the look holds when the loop runs the network
    # smaller (a network trained at one scale lost 1.3-2.2x of its texture at 75 %). 0 = off.
    scale_weight: float = 0.0
    scale_range: tuple[float, float] = (0.5, 0.9)
    # Johnson et al. weight relu1_2, relu2_2, relu3_3, relu4_3 equally; with the Caffe VGG the relu4_3 Gram
    # MSE is ~1e-5 of the others (5 vs 2e5), so it adds nothing but time: dropping it stops VGG at relu3_3
    # (-4% s/step at 256 px). For larger-scale structure add "relu4_3" at ~4e4 (an equal share).
    style_layers: dict[str, float] = field(default_factory=lambda: {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0})
    loss_norm: str = "none"  # "none": raw MSEs times the weights above (Johnson et al.); "target": every
    #   style layer's Gram MSE divided by the painting's mean squared Gram and the content MSE by the photo's
    #   mean squared feature (losses.gram_distance / content_distance), so each layer counts by how far it is
    #   from the target, whatever its scale, and the weights read as the balance of `livestyle eval`'s measures
    holdout: str | None = None  # text file of photo file names (one a line) that training never uses: the
    #   evaluation photos (`livestyle eval --holdout` scores exactly these)
    batch_styles: str = "mixed"  # "mixed": each sample of a batch has its own style; "single": one per batch
    vgg: str | None = None  # local VGG features file (else $LIVESTYLE_VGG, else torchvision's weights)
    vgg_convention: str | None = None  # "caffe" | "torchvision"; None: from the file name
    bf16: bool | None = None  # bf16 autocast for net and VGG; None: on where the hardware has it (AVX512-BF16/AMX, CUDA)
    channels_last: bool = True  # NHWC for the VGG loss network (its bf16 fwd+bwd 1.6x faster on AVX512/AMX);
    #   the StyleNet stays NCHW: NHWC made its fwd+bwd 2.4x slower in fp32, 10% slower in bf16 (reflect pad, IN)
    device: str = "auto"
    threads: int | None = None  # torch CPU threads (None: torch's default; under DDP cores / processes)
    seed: int = 0  # rank r of a DDP run uses seed + r for its own randomness
    log_every: int = 50  # steps between log lines
    preview_every: int = 200  # steps between preview PNGs beside the checkpoint (0: never)
    checkpoint_every_s: float = 300.0  # seconds between checkpoints (0: every step)
    deadline: float | None = None  # time.time() at which to stop as if at the last step, whatever the steps:
    #   add-style's --minutes, counted from the command, so loading VGG and the set-up come out of it.
    #   Belongs to one command: a resumed run does not inherit it
    init_style: str | None = None  # with `base`: new styles start from this existing style's gamma/beta
    #   (add-style picks the closest one) instead of the mean of all rows
    preview_latest: bool = False  # one preview.png, replaced each time, instead of preview_NNNNNN.png
    model_on_interrupt: bool = False  # Ctrl-C also writes the model from what was learned (add-style)
    command: str = ""  # the command line, recorded in the model's training record


@dataclass
class TemporalConfig:
    """Temporal coherence at inference (`livestyle.temporal.TemporalStabilizer`): the previous output,
    warped along optical flow onto the current frame, is blended in where the flow can be trusted.
    Timings and thresholds measured at 640x360 on a 2-core CPU (see the temporal.py docstring)."""

    weight: float = 0.6  # history weight w in 0..1 (--temporal): out = a*warped_prev_out + (1 - a)*styled,
    #   a = w * mask; 0 = off. A moving average along motion paths: content lags w/(1-w) frames (1.5).
    #   Measured through `livestyle video` with the trained 2-style net (vangogh, 640x360,
    #   tools/temporal_report.py): warping error x0.13 davis_bear, x0.42 sam2_cups, x0.42 sam2_bedroom of
    #   per-frame output (x0.21 / x0.48 at w 0.5, in-process). The average also cancels part of the stroke
    #   texture that changes from frame to frame: content distance x0.69 / 0.86 / 0.75 (x0.74 / 0.89 at 0.5)
    flow_backend: str = "dis"  # "dis" (OpenCV DIS, CPU), "raft" / "raft_large" (torchvision, GPU), "auto"
    flow_preset: str = "medium"  # DIS preset: "ultrafast" | "fast" | "medium". What the one network needs
    #   (session 8, warping error of the coherent output over the per-frame one, before encoding):
    #   sam2_cups x0.576 fast fb 256 px (5.2 ms), x0.509 medium fb 256 (8.9 ms), x0.456 medium fb 320 (9.7 ms),
    #   x0.434 medium photometric 320 (6.4 ms); the flow's resolution is the lever (DIS fast stops at a
    #   quarter of what it is given, medium at half), the history weight hardly is (x0.564 at w 0.7)
    flow_scale: float = 0.5  # estimate flow on frames shrunk by this factor, then upsample the vectors
    flow_max_width: int | None = 320  # ...and at most this wide (640x360 -> 320x180, 1280x720 too), so the
    #   cost does not grow with resolution
    check: str = "photometric"  # "fb": forward-backward consistency + motion boundaries (Ruder et al. 2016;
    #   two flows per frame). "photometric": one flow; motion boundaries, out-of-frame and pixels whose warped
    #   previous input does not match are distrusted. With fast flow at 256 px photometric let a disoccluded
    #   strip of the synthetic test scene keep some history (6.4 levels, fb 1.6); with medium at 320 both
    #   leave it fresh (0.0, 5 seeds), and photometric costs one flow instead of two
    photometric_threshold: float = 0.1  # also distrust pixels whose warped previous input differs from
    #   the current input by more than this (gray, 0..1; 0 disables): lighting changes, flow errors
    cut_threshold: float = 0.08  # scene cut (reset) when the mean motion-compensated gray difference
    #   exceeds this (0..1; measured: <= 0.024 within real clips, >= 0.17 across cuts)
    cut_min_trusted: float = 0.25  # ... or when less than this fraction of pixels is trusted
    #   (measured: >= 0.55 within real clips, <= 0.05 across cuts)
    max_gap_s: float = 1.0  # reset when consecutive frames' timestamps are further apart than this
    interpolation: str = "linear"  # warping the previous output: "linear" (0.8 ms at 640x360) or "cubic"
    #   (+1.4 ms): each warp blurs the history a little; at w=0.6 the output keeps 0.55 of the fine
    #   detail (Laplacian energy) with linear, 0.73 with cubic: like a Gaussian blur of 0.5 vs 0.4 px


@dataclass
class GatysConfig:
    """`livestyle gatys` and `video --method gatys`: optimise the output's pixels against VGG content
    and style losses (Gatys et al. 2016), for video with a temporal loss (Ruder et al. 2016). Loss
    weights are for images in [0, 1] and the Caffe VGG16 (BGR 0..255 inside): the normalisation of
    losses.py is jcjohnson/neural-style's (Gram / (C*H*W), mean squared errors), whose weights we keep."""

    max_side_px: int = 512  # output's longest side (the content is shrunk to it, never enlarged)
    scales: tuple[float, ...] = (0.25, 0.5, 1.0)  # coarse to fine, fractions of the output size; each stage
    #   starts from the previous one upsampled. Coarse iterations cost 1/16 and 1/4 as much and settle the
    #   large-scale structure, so the full-size stage needs fewer. Measured at 512 px (tools/experiments/bench_gatys.py,
    #   time to the reference's loss after 100 iterations): 28.5 s with 50 coarse iterations per scale,
    #   52 s with 150, 30 s with scales 0.5,1; single scale 41 s
    iterations: int = 100  # optimiser iterations at the full size (one loss + gradient evaluation each)
    coarse_iterations: int = 50  # iterations at each coarser scale
    optimizer: str = "lbfgs"  # "lbfgs" (torch.optim.LBFGS, Gatys et al.) | "adam"
    lr: float | None = None  # None: 1.0 for L-BFGS (its step scale), 0.02 for Adam (pixels in [0, 1])
    init: str = "content"  # "content" | "noise" (seeded uniform) | "net" (a livestyle model's output)
    init_weights: str | None = None  # init "net": the model file (.safetensors)
    init_style: str | None = None  # init "net": a style, preset or mix of that model ("a:0.7,b:0.3")
    content_weight: float = 5.0  # x MSE of content_layer features (neural-style's 5e0)
    style_weight: float = 100.0  # x sum over style_layers of weight x MSE of Grams (neural-style's 1e2)
    tv_weight: float = 1e3  # x mean squared difference of neighbouring pixels (images in [0, 1])
    content_layer: str = "relu4_2"  # Gatys et al.
    style_layers: dict[str, float] = field(default_factory=lambda: {
        "relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0})  # Gatys et al.
    style_scale: float = 1.0  # style image's longest side = this x the output's longest side, at every scale
    preserve_color: str | None = None  # None | "luminance": optimise luminance only, keep the content's
    #   chroma | "histogram": match the style images' colour mean and covariance to the content's first
    #   (both from Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer")
    vgg: str | None = None  # local VGG features file (else $LIVESTYLE_VGG, else torchvision's weights)
    vgg_convention: str | None = None  # "caffe" | "torchvision"; None: from the file name
    bf16: bool | None = None  # bf16 autocast for VGG; None: on where the CPU has AVX512-BF16/AMX, or CUDA
    channels_last: bool = True  # NHWC for VGG (oneDNN's fast layout, with bf16 especially)
    compile: bool = False  # torch.compile the VGG prefix: measured slower here (0.91 vs 0.78 s per 512 px
    #   iteration, plus 26 s to compile; tools/experiments/bench_gatys.py per-iteration)
    device: str = "auto"
    threads: int | None = None  # torch CPU threads (None: torch's default)
    seed: int = 0  # noise init
    save_every: int = 0  # iterations between intermediate images (progress "snapshot" events; 0: none)
    # ---- video (gatys_video) ----
    temporal_weight: float = 6.5e7  # x mean over pixels of mask x (output - warped previous output)**2
    #   (Ruder et al. eq. 7, pixels in [0, 1]); their 1e3 on 0..255 pixels with the same content/style
    #   weights and VGG scale is 1e3 x 255**2 = 6.5e7 here. 0: frames independent (each still starts from
    #   the warped previous output)
    temporal_frames: tuple[int, ...] = (1,)  # which earlier frames the temporal loss looks back to:
    #   (1,) short-term; e.g. (1, 2, 4) long-term (Ruder et al. sec. 3.2: each pixel is tied to the
    #   nearest of those frames where it was visible)
    video_iterations: int | None = None  # iterations for frames after the first (None: iterations); they
    #   start from the warped previous output at full size, without the coarse scales
    flow_preset: str = "medium"  # DIS preset for the flow between input frames ("ultrafast" | "fast" | "medium")

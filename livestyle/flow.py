"""Optical flow between consecutive frames, warping along it, and where to trust it.

Direction is in the names: `flow_to_prev[y, x]` is the (dx, dy) in pixels from pixel (y, x) of the
current frame to where it was in the previous frame, so `warp(prev_styled, flow_to_prev)` lines the
previous output up with now. `flow_to_next` is the same from the previous frame's grid into the
current frame; the pair gives the forward-backward check of `occlusion_mask`.

Backends:
- "dis": OpenCV's DIS (Kroeger et al. 2016), the CPU default. Measured on a shared 2-core CPU at
  640x360 (tools/experiments/bench_temporal.py): the ultrafast preset takes 2.2 ms per flow at full size and
  0.9 ms at half size (both directions, not upsampled: 0.9 ms); end-point error on Sintel alley_1
  motion 0.43 px at full size, 0.71 px at half, 1.09 px at quarter; "medium" is 0.18 px but 19 ms.
  The default of TemporalConfig is the "medium" preset on frames at most 320 px wide, one flow and the
  photometric check, chosen by warping error through the whole stabilizer (see config.py); the metric
  uses medium at full size.
- "raft": torchvision's RAFT (Teed & Deng 2020, `raft_small` / `raft_large`) with its published
  weights, loaded the normal way (torch hub cache, downloading when allowed). Used by "auto" only on a
  GPU, or when asked for; a missing download raises one RuntimeError line saying what to do.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # torch only for RAFT and the training loss: the DIS path runs without it (light install)
    import torch

log = logging.getLogger(__name__)

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
BACKENDS = ("auto", "dis", "raft", "raft_large")
FLO_TAG = 202021.25  # Middlebury .flo magic number


MIN_FLOW_SIDE = 16  # px a side at least, of what the flow compares; 32 beside a side over 64 (FlowEstimator.prepare)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB or (H, W) gray -> uint8 (H, W) gray."""
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample a flow field to (width, height) and rescale its vectors to the new pixel units."""
    h0, w0 = flow.shape[:2]
    if (w0, h0) == (width, height):
        return flow
    # Scale the vectors before resampling (the same result, linear interpolation being linear): the
    # small field is cheaper to multiply. Measured 0.5 -> 0.2 ms for 320x180 -> 640x360.
    sx, sy = width / w0, height / h0
    small = flow * np.float32(sx) if sx == sy else flow * np.array([sx, sy], np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)  # (height, width, 2)


class FlowEstimator:
    """`estimator(prev_frame, cur_frame) -> flow_to_prev` float32 (H, W, 2) at the frames' full size.

    Holds the DIS instance or the RAFT model. `scale` < 1 estimates on frames shrunk by that factor
    (INTER_AREA) and upsamples the flow; `max_width` shrinks wider frames further, so the cost of the
    flow does not grow with the video's resolution. For a stream, `prepare` each frame once and call
    `flows_between` on the prepared ones: it gives both directions at the reduced scale, which is all
    that the occlusion check needs (`livestyle.temporal` works that way).
    """

    def __init__(self, *, backend: str = "dis", preset: str = "ultrafast", scale: float = 0.5,
                 max_width: int | None = None, device: str | torch.device | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"expected flow backend one of {', '.join(BACKENDS)}, got {backend!r}")
        if preset not in DIS_PRESETS:
            raise ValueError(f"expected DIS preset one of {', '.join(DIS_PRESETS)}, got {preset!r}")
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"expected flow scale in (0, 1], got {scale}")
        if backend == "auto":
            backend = "raft" if _cuda_available() and raft_weights_available("raft") else "dis"
            log.info("flow backend: %s", backend)
        if max_width is not None and max_width < 8:
            raise ValueError(f"expected flow max width >= 8 px, got {max_width}")
        self.backend, self.preset, self.scale, self.max_width = backend, preset, scale, max_width
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset]) if backend == "dis" else None
        self._raft = None
        if backend.startswith("raft"):
            import torch

            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
            self._raft = load_raft(backend, self.device)

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """What the backend compares: the frame shrunk by `scale`, gray for DIS, RGB for RAFT."""
        img = frame if self._raft is not None else to_gray(frame)
        h, w = frame.shape[:2]
        scale = min(self.scale, self.max_width / w) if self.max_width else self.scale
        # OpenCV's DIS refuses sides under 12 px and crashes (a segfault, opencv-python 5.1) on a side under
        # 16 px, or under 32 px when the other side is over 64 (12x40, 16x96, 22x128, 24x400 and 256x16
        # crashed; 16x64, 24x32, 32x600 and 40x1000 did not): tiny frames are enlarged, and thin ones
        # (15000x10 shrunk to 1920x1) stretched on their short side; resize_flow turns the vectors back
        # into the frame's pixels on each axis
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        short = MIN_FLOW_SIDE if max(sw, sh) <= 4 * MIN_FLOW_SIDE else 2 * MIN_FLOW_SIDE
        size = (max(sw, short), max(sh, short))
        if size == (w, h):
            return img
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)

    def flows_between(self, prev_small: np.ndarray, cur_small: np.ndarray, *,
                      both: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(flow_to_prev, flow_to_next) between two prepared frames, on their grid and in their pixels;
        flow_to_next (on prev's grid) is None unless `both`. Upsample with `resize_flow`."""
        if prev_small.shape != cur_small.shape:
            raise ValueError(f"expected two frames of one size, got {prev_small.shape} and {cur_small.shape}")
        if self._raft is not None:
            flows = raft_flow(self._raft, [cur_small, prev_small][:1 + both], [prev_small, cur_small][:1 + both],
                              self.device)
            return flows[0], (flows[1] if both else None)
        # DIS calc(I0, I1) returns the flow on I0's grid pointing into I1: I0(p) ~ I1(p + flow(p)).
        flow_to_prev = self._dis.calc(cur_small, prev_small, None)  # (h, w, 2)
        flow_to_next = self._dis.calc(prev_small, cur_small, None) if both else None
        return flow_to_prev, flow_to_next

    def __call__(self, prev_frame: np.ndarray, cur_frame: np.ndarray) -> np.ndarray:
        if prev_frame.shape != cur_frame.shape:
            raise ValueError(f"expected two frames of one size, got {prev_frame.shape} and {cur_frame.shape}")
        flow_to_prev, _ = self.flows_between(self.prepare(prev_frame), self.prepare(cur_frame))
        h, w = cur_frame.shape[:2]
        return resize_flow(flow_to_prev, w, h)  # (H, W, 2)


# ---- warping ----------------------------------------------------------------------------------

_grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _cuda_available() -> bool:
    """A CUDA GPU through torch; False without torch (the light install)."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    if (h, w) not in _grids:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        _grids[(h, w)] = xs, ys
    return _grids[(h, w)]


def warp(img: np.ndarray, flow: np.ndarray, *, interpolation: int = cv2.INTER_LINEAR,
         fixed_point: bool = False) -> np.ndarray:
    """Sample `img` at p + flow(p) for every pixel p of the flow's grid (backward warping):
    `warp(prev_styled, flow_to_prev)` is the previous output lined up with the current frame.
    uint8 or float numpy (H, W[, C]); same dtype back; outside the image repeats the border.
    `fixed_point` rounds positions to 1/32 px (cv2.convertMaps), which is plenty for uint8 images and
    measured faster: 0.9 ms instead of 1.4 ms for a 640x360 RGB frame on this CPU."""
    h, w = flow.shape[:2]
    if img.shape[:2] != (h, w):
        raise ValueError(f"expected image of the flow's size {w}x{h}, got {img.shape[1]}x{img.shape[0]}")
    xs, ys = _grid(h, w)
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    if fixed_point:
        map_x, map_y = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    return cv2.remap(img, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def warp_tensor(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Torch version of `warp` for training: x float (N, C, H, W), flow float (N, 2, H, W) in pixels
    (channel 0 = dx, 1 = dy, same direction convention). Bilinear, border replicate, differentiable."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    assert flow.shape == (n, 2, h, w), f"expected flow (N, 2, H, W) = {(n, 2, h, w)}, got {tuple(flow.shape)}"
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                            torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
    # grid_sample wants (x, y) in [-1, 1] with align_corners=True: -1 is pixel 0's centre.
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0  # (N, H, W)
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def temporal_loss(styled: torch.Tensor, prev_styled: torch.Tensor, flow_to_prev: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """Short-term temporal loss of Ruder et al. 2016 (eq. 7): mean over pixels and channels of
    mask * (styled - warp(prev_styled, flow_to_prev))**2. styled/prev_styled float (N, 3, H, W),
    flow_to_prev (N, 2, H, W) pixels, mask (N, 1, H, W) in [0, 1] (1 = trusted, see occlusion_mask).
    Pass prev_styled detached to train only the current frame, as Ruder et al. and Huang et al. 2017 do."""
    warped = warp_tensor(prev_styled, flow_to_prev)
    return (mask * (styled - warped) ** 2).mean()


# ---- where the flow can be trusted --------------------------------------------------------------

def occlusion_mask(flow_to_prev: np.ndarray, flow_to_next: np.ndarray | None = None, *,
                   motion_boundaries: bool = True, out_of_frame: bool = True) -> np.ndarray:
    """float32 (H, W) in {0, 1} on flow_to_prev's grid: 1 where warping the previous frame along
    flow_to_prev can be trusted, 0 where it cannot.

    With ŵ = flow_to_prev and w~ = flow_to_next sampled at p + ŵ(p) (Ruder et al. 2016, sec. 3.3, the
    thresholds Lai et al. 2018 reuse for their warping error):
      disoccluded:    |w~ + ŵ|^2 > 0.01 (|w~|^2 + |ŵ|^2) + 0.5     (skipped when flow_to_next is None)
      motion boundary: |∇ŵ_x|^2 + |∇ŵ_y|^2 > 0.01 |ŵ|^2 + 0.002   (forward differences, as Lai et al.)
      out of frame:   p + ŵ(p) falls outside the previous frame (nothing there to carry over; not
                      in Ruder's or Lai's checks, so `warping_error` turns it off)
    Thresholds are in pixels of the grid given, so pass flows at the resolution they were estimated at.
    """
    h, w = flow_to_prev.shape[:2]
    fx, fy = cv2.split(flow_to_prev)  # contiguous planes: numpy is ~2x slower on the interleaved channels
    mag_bwd = fx * fx + fy * fy
    xs, ys = _grid(h, w)
    map_x, map_y = xs + fx, ys + fy
    bad = np.zeros((h, w), bool)
    if out_of_frame:
        bad |= (map_x < -0.5) | (map_x > w - 0.5) | (map_y < -0.5) | (map_y > h - 0.5)
    if flow_to_next is not None:
        gx, gy = cv2.split(cv2.remap(flow_to_next, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        sx, sy = gx + fx, gy + fy
        bad |= sx * sx + sy * sy > 0.01 * (gx * gx + gy * gy + mag_bwd) + 0.5
    if motion_boundaries:
        grad2 = np.zeros((h, w), np.float32)
        for c in (fx, fy):
            d = c[:, 1:] - c[:, :-1]  # forward differences along x, then y
            grad2[:, :-1] += d * d
            d = c[1:, :] - c[:-1, :]
            grad2[:-1, :] += d * d
        bad |= grad2 > 0.01 * mag_bwd + 0.002
    return (~bad).astype(np.float32)


# ---- RAFT (torchvision) ---------------------------------------------------------------------------

def _raft_weights(name: str):
    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights
    return Raft_Large_Weights.DEFAULT if name == "raft_large" else Raft_Small_Weights.DEFAULT


def raft_weights_available(name: str = "raft") -> bool:
    """Whether the published RAFT weights are in torch's hub cache (never downloads)."""
    import torch

    url = _raft_weights(name).url
    return (Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)).exists()


def load_raft(name: str, device: torch.device):
    """torchvision's raft_small ("raft") or raft_large with their published weights, eval mode."""
    import torch
    from torchvision.models.optical_flow import raft_large, raft_small

    weights = _raft_weights(name)
    build = raft_large if name == "raft_large" else raft_small
    try:
        model = build(weights=weights, progress=False)
    except Exception as e:  # URLError, HTTPError, a truncated file...
        cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        why = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
        raise RuntimeError(f"could not load RAFT weights {weights} ({why}); "
                           f"download {weights.url} to {cache} or use the DIS flow backend") from e
    return model.to(device).eval()


def raft_flow(model, firsts: list[np.ndarray], seconds: list[np.ndarray], device) -> list[np.ndarray]:
    """RAFT flow from each of `firsts` to the matching `seconds` frame (on the first's grid), pixels."""
    import torch

    with torch.inference_mode():
        return _raft_flow(model, firsts, seconds, device)


def _raft_flow(model, firsts, seconds, device) -> list[np.ndarray]:
    import torch
    import torch.nn.functional as F

    x1 = torch.from_numpy(np.stack(firsts)).to(device).permute(0, 3, 1, 2).float()  # (N, 3, H, W)
    x2 = torch.from_numpy(np.stack(seconds)).to(device).permute(0, 3, 1, 2).float()
    h, w = x1.shape[2:]
    ph, pw = max(128 - h, (-h) % 8), max(128 - w, (-w) % 8)  # RAFT needs sides divisible by 8, >= 128
    if ph or pw:
        x1 = F.pad(x1, (0, pw, 0, ph), mode="replicate")
        x2 = F.pad(x2, (0, pw, 0, ph), mode="replicate")
    x1, x2 = x1 / 127.5 - 1.0, x2 / 127.5 - 1.0  # torchvision's OpticalFlow transform: [-1, 1]
    flow = model(x1, x2)[-1][:, :, :h, :w]  # (N, 2, H, W), last refinement
    return list(flow.permute(0, 2, 3, 1).float().cpu().numpy())


# ---- files ----------------------------------------------------------------------------------------

def read_flo(path: str | os.PathLike) -> np.ndarray:
    """A Middlebury .flo file (Sintel ground truth) -> float32 (H, W, 2). Sintel's flow/frame_%04d.flo
    is the forward flow from frame i to i+1 on frame i's grid."""
    data = Path(path).read_bytes()
    if len(data) < 12 or np.frombuffer(data[:4], "<f4")[0] != FLO_TAG:
        raise ValueError(f"{path}: expected a .flo file starting with magic {FLO_TAG}, got {data[:4]!r}")
    w, h = (int(v) for v in np.frombuffer(data[4:12], "<i4"))
    if len(data) != 12 + 8 * w * h:
        raise ValueError(f"{path}: expected {12 + 8 * w * h} bytes for a {w}x{h} flow, got {len(data)}")
    return np.frombuffer(data[12:], "<f4").reshape(h, w, 2).copy()


def endpoint_error(flow: np.ndarray, flow_true: np.ndarray) -> float:
    """Mean end-point error |flow - flow_true| in pixels."""
    return float(np.sqrt(((flow - flow_true) ** 2).sum(axis=2)).mean())

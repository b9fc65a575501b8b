"""How much a video flickers: the warping error of Lai et al. 2018 ("Learning Blind Video Temporal
Consistency", ECCV; their evaluate_WarpError.py), plus the small readers `livestyle eval-temporal` needs.

For each pair of frames (t, t+1): the flow from t to t+1 is estimated on the *input* frames (here DIS,
medium preset, full resolution; Lai et al. used FlowNet2), the non-occlusion mask M_t comes from the
forward-backward and motion-boundary checks of Ruder et al. 2016 (`flow.occlusion_mask`), output frame
t+1 is warped back onto t, and

    E_t = sum_p,c M_t(p) (O_t(p, c) - warp(O_t+1)(p, c))^2 / sum_p,c M_t(p)      (values in 0..1)

with the mask repeated over the 3 channels as in Lai et al.'s code, so E_t is the mean over trusted
pixels *and channels* (x3 gives the per-pixel RGB sum). The result is the mean of E_t over the pairs.
The input video's own warping error is a floor of sorts: what flow errors and lighting leave behind.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import cv2
import numpy as np

from .flow import FlowEstimator, occlusion_mask, read_flo, resize_flow, warp
from .images import read_image
from .sources import VideoFileSource

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")  # frame folders


def metric_estimator() -> FlowEstimator:
    """The flow used by the metric: DIS medium at full resolution (EPE 0.18 px on the Sintel-motion
    test in tools/experiments/bench_temporal.py, vs 0.71 px for ultrafast at half size)."""
    return FlowEstimator(backend="dis", preset="medium", scale=1.0)


def metric_flows(frames_in: list[np.ndarray], *, estimator: FlowEstimator | None = None
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each pair (t, t+1) of input frames: the flow from t to t+1 on t's grid, and its trust mask."""
    est = estimator or metric_estimator()
    flows, masks = [], []
    small = [est.prepare(f) for f in frames_in]
    h, w = frames_in[0].shape[:2]
    for t in range(len(frames_in) - 1):
        # "prev" = t+1 and "cur" = t: the flow on t's grid that points into t+1, and its reverse
        fwd, bwd = est.flows_between(small[t + 1], small[t], both=True)
        masks.append(cv2.resize(occlusion_mask(fwd, bwd, out_of_frame=False), (w, h), interpolation=cv2.INTER_NEAREST))
        flows.append(resize_flow(fwd, w, h))
    return flows, masks


def pair_warping_errors(frames_out: list[np.ndarray], flows: list[np.ndarray | None],
                        masks: list[np.ndarray | None]) -> list[float]:
    """E_t for each pair with a flow (None entries are skipped): flows[t] goes from t to t+1 on t's grid;
    a None mask means motion boundaries of that flow only (ground truth has no backward flow)."""
    errs = []
    for t, flow in enumerate(flows):
        if flow is None:
            continue
        mask = masks[t] if masks[t] is not None else occlusion_mask(flow, None, out_of_frame=False)
        cur = frames_out[t].astype(np.float32) / 255.0
        nxt_warped = warp(frames_out[t + 1], flow).astype(np.float32) / 255.0
        n = 3.0 * float(mask.sum())
        sq = ((cur - nxt_warped) ** 2 * mask[..., None]).sum()
        errs.append(float(sq / n) if n > 0 else float(((cur - nxt_warped) ** 2).mean()))
    return errs


def warping_error(frames_in: list[np.ndarray], frames_out: list[np.ndarray], *,
                  flows: list[np.ndarray | None] | None = None, masks: list[np.ndarray | None] | None = None,
                  estimator: FlowEstimator | None = None) -> float:
    """Lai et al. 2018 warping error of `frames_out`, with flows and masks from `frames_in` (uint8 RGB,
    same sizes and count). Give `flows` (t -> t+1, on t's grid; None skips a pair) to use known flows;
    their masks are then motion boundaries only unless `masks` are given. NaN when no pair applies."""
    if len(frames_in) != len(frames_out):
        raise ValueError(f"expected as many output frames as input frames, got {len(frames_out)} and {len(frames_in)}")
    if len(frames_in) < 2:
        raise ValueError(f"expected at least 2 frames, got {len(frames_in)}")
    if frames_in[0].shape != frames_out[0].shape:
        raise ValueError(f"expected input and output frames of one size, "
                         f"got {frames_in[0].shape} and {frames_out[0].shape}")
    if flows is None:
        flows, masks = metric_flows(frames_in, estimator=estimator)
    if masks is None:
        masks = [None] * len(flows)
    errs = pair_warping_errors(frames_out, flows, masks)
    return float(np.mean(errs)) if errs else float("nan")


# ---- reading frames: a folder of images, or a video through sources.VideoFileSource ----------------

def frame_paths(folder: str | os.PathLike) -> list[Path]:
    """Image files of a folder in natural order (frame_2 before frame_10)."""
    def key(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]
    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS), key=key)


def frame_number(path: Path) -> int | None:
    """The last number in a frame file's name (frame_0016.png -> 16), None if there is none."""
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else None


def read_frames(path: str | os.PathLike, *, max_frames: int | None = None,
                size: tuple[int, int] | None = None) -> tuple[list[np.ndarray], list[int | None]]:
    """A video file (sources.VideoFileSource) or a folder of images -> (RGB uint8 frames, frame numbers). Numbers come
    from the file names of a folder (None for videos). `size` (w, h) resizes with INTER_AREA."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"not found: {path}")
    frames: list[np.ndarray] = []
    numbers: list[int | None] = []
    if path.is_dir():
        paths = frame_paths(path)[:max_frames]
        if not paths:
            raise ValueError(f"{path}: expected image files ({', '.join(IMAGE_EXTS)}), found none")
        for p in paths:
            frames.append(read_image(str(p), what="frame"))
            numbers.append(frame_number(p))
    else:  # the one video decoder: rotation applied, corrupt frames skipped, as `livestyle video` reads
        with VideoFileSource(str(path)) as source:
            for item in source:
                frames.append(item.frame)
                numbers.append(None)
                if max_frames and len(frames) >= max_frames:
                    break
            if source.skipped_frames:
                log.warning("%s: skipped %d corrupt frames", path, source.skipped_frames)
    if size is not None:
        frames = [f if f.shape[1::-1] == size else cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames, numbers


def gt_flows_for(numbers: list[int | None], flow_dir: str | os.PathLike, size: tuple[int, int]
                 ) -> list[np.ndarray | None]:
    """Sintel-style ground truth for each pair: <name>_%04d.flo numbered i is the flow from frame i to
    i+1. A pair (t, t+1) gets one when frame t's number has a .flo and frame t+1 is number + 1."""
    by_number = {frame_number(p): p for p in Path(flow_dir).glob("*.flo")}
    out: list[np.ndarray | None] = []
    for a, b in zip(numbers[:-1], numbers[1:]):
        p = by_number.get(a) if a is not None and b == a + 1 else None
        out.append(resize_flow(read_flo(p), *size) if p is not None else None)
    return out


def flicker_report(output: str | os.PathLike, input: str | os.PathLike | None = None, *,
                   gt_flow: str | os.PathLike | None = None, max_frames: int | None = None,
                   size: tuple[int, int] | None = None) -> dict:
    """`livestyle eval-temporal` as a function: the warping error of a stylized video (file or frame
    folder) with flows from `input` (the video it was made from; without it, from the output itself),
    the input's own error (the floor), and with ground-truth flows where `gt_flow` has them. Returns a
    dict (JSON-ready) with `notes`, things worth a warning, and `numbers`, the frame numbers used."""
    notes: list[str] = []
    out_frames, out_numbers = read_frames(output, max_frames=max_frames, size=size)
    if not out_frames:
        raise ValueError(f"{output}: no frames")
    h, w = out_frames[0].shape[:2]
    if input:
        in_frames, in_numbers = read_frames(input, max_frames=max_frames, size=(w, h))
    else:
        in_frames, in_numbers = out_frames, out_numbers
    n = min(len(in_frames), len(out_frames))
    if len(in_frames) != len(out_frames):
        notes.append(f"input has {len(in_frames)} frames and output {len(out_frames)}; comparing the first {n}")
    if n < 2:
        raise ValueError(f"expected at least 2 frames, got {n} in {output}")
    in_frames, out_frames, in_numbers = in_frames[:n], out_frames[:n], in_numbers[:n]
    flows, masks = metric_flows(in_frames)
    in_error = float(np.mean(pair_warping_errors(in_frames, flows, masks))) if input else None
    numbers = in_numbers if input else out_numbers[:n]
    result = {"output": str(output), "input": str(input) if input else None, "frames": n, "size": f"{w}x{h}",
              "flow": "DIS medium preset, full resolution, on the input frames; forward-backward + "
                      "motion-boundary mask (Ruder et al. 2016)",
              "warping_error_output": float(np.mean(pair_warping_errors(out_frames, flows, masks))),
              "warping_error_input": in_error,
              "trusted_fraction": float(np.mean([m.mean() for m in masks])), "notes": notes, "numbers": numbers}
    if gt_flow:
        gt = gt_flows_for(numbers, gt_flow, (w, h))
        pairs = [(numbers[i], numbers[i + 1]) for i, g in enumerate(gt) if g is not None]
        result["gt_pairs"], result["gt_pairs_total"] = pairs, n - 1
        if pairs:
            result["warping_error_output_gt"] = float(np.mean(pair_warping_errors(out_frames, gt, [None] * len(gt))))
            if input:
                result["warping_error_input_gt"] = float(np.mean(pair_warping_errors(in_frames, gt, [None] * len(gt))))
    return result

"""`livestyle video --method gatys`: every frame optimised against VGG content and style losses and, from
the second on, against the previous output(s) warped along the optical flow (Ruder et al. 2016, "Artistic
style transfer for videos"), with gatys.GatysOptimizer. Finished frames are kept in a work folder beside
the output, so an interrupted run resumes at the first unfinished frame (see gatys_video's docstring)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections import deque
from pathlib import Path
import numpy as np
import torch

from .config import GatysConfig
from .gatys import GatysOptimizer, Progress
from .vgg import VGGFeatures

log = logging.getLogger(__name__)


WORK_FORMAT = "livestyle.gatys-frames/1"


def work_dir_for(out_path: str | os.PathLike) -> Path:
    """Where finished frames are kept until the video is written: `OUT.gatys-frames/` beside it."""
    p = Path(out_path)
    return p.with_name(p.name + ".gatys-frames")


def _settings(in_path: str, styles: list[torch.Tensor], weights, cfg: GatysConfig, size) -> dict:
    """What a finished frame depends on; a resumed run must match it exactly."""
    d = dataclasses.asdict(cfg)
    for k in ("device", "threads", "save_every", "compile"):  # how fast, not what comes out
        d.pop(k)
    digest = hashlib.sha256()
    for s in styles:
        digest.update(np.ascontiguousarray((s.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()))
    st = os.stat(in_path)
    return {"format": WORK_FORMAT, "input": os.path.abspath(in_path), "input_bytes": st.st_size,
            "input_mtime_ns": st.st_mtime_ns, "size": list(size), "styles_sha256": digest.hexdigest(),
            "style_weights": weights, "config": json.loads(json.dumps(d))}


def _open_work_dir(work: Path, settings: dict, resume: bool) -> None:
    """Create the work folder, or check that an existing one was made with the same settings; with
    resume=False an existing one is cleared. Different settings raise: delete it or pass resume=False."""
    meta = work / "settings.json"
    if work.exists() and not resume:
        shutil.rmtree(work)
    if work.exists():
        try:
            saved = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            raise ValueError(f"{work} exists but has no readable settings.json; delete it to start over") from None
        if saved != settings:
            diff = sorted(k for k in {**saved, **settings} if saved.get(k) != settings.get(k))
            if "config" in diff:
                a, b = saved.get("config", {}), settings["config"]
                diff = [k for k in diff if k != "config"] + sorted(f"config.{k}" for k in {**a, **b}
                                                                   if a.get(k) != b.get(k))
            raise ValueError(f"{work} holds frames made with other settings (differs in: {', '.join(diff)}); "
                             "delete it, or start over without resuming (--no-resume)")
        return
    work.mkdir(parents=True)
    from .atomic import atomic_write_bytes
    atomic_write_bytes(meta, (json.dumps(settings, indent=1) + "\n").encode())


def _read_png(path: Path) -> np.ndarray:
    from .images import read_image
    return read_image(str(path))


class _GatysFrames:
    """The stateful `process` callback of transcode.transcode: one frame at a time, in order."""

    def __init__(self, opt: GatysOptimizer, work: Path, progress: Progress | None):
        from .flow import FlowEstimator

        self.opt, self.cfg, self.work, self.progress = opt, opt.cfg, work, progress
        self.flow = FlowEstimator(backend="dis", preset=opt.cfg.flow_preset, scale=1.0)
        keep = max(opt.cfg.temporal_frames)
        self.inputs: deque[np.ndarray] = deque(maxlen=keep)  # previous input frames, newest last
        self.outputs: deque[np.ndarray] = deque(maxlen=keep)  # previous output frames (uint8, as saved)
        self.index = 0
        self.optimised = 0
        self.optimise_s = 0.0
        self.total: int | None = None

    def __call__(self, frames: list[np.ndarray], times_s: list[float]) -> list[np.ndarray]:
        return [self._one(f) for f in frames]

    def _one(self, frame: np.ndarray) -> np.ndarray:
        from .atomic import atomic_write_bytes
        from .frames import frame_to_tensor, tensor_to_frame
        from .images import encode_image

        i, path = self.index, self.work / f"{self.index:06d}.png"
        t0 = time.perf_counter()
        resumed = path.exists()
        if resumed:
            out = _read_png(path)
            if out.shape != frame.shape:
                raise ValueError(f"{path}: expected a {frame.shape[1]}x{frame.shape[0]} frame, got "
                                 f"{out.shape[1]}x{out.shape[0]}; delete {self.work} to start over")
        else:
            content = frame_to_tensor(frame, self.opt.device)
            frame_progress = (lambda e, i=i: self.progress({**e, "frame": i})) if self.progress else None
            if not self.outputs:
                styled = self.opt.run(content, progress=frame_progress)
            else:
                init, temporal = self._temporal_targets(frame)
                if self.cfg.temporal_weight <= 0:
                    temporal = []
                styled = self.opt.run(content, init=init, scales=(1.0,), progress=frame_progress,
                                      iterations=self.cfg.video_iterations or self.cfg.iterations,
                                      temporal=temporal)
            out = tensor_to_frame(styled)
            atomic_write_bytes(path, encode_image(out, ".png"))
            self.optimised += 1
            self.optimise_s += time.perf_counter() - t0
        self.inputs.append(frame)
        self.outputs.append(out)
        self.index += 1
        if self.progress:
            per = self.optimise_s / self.optimised if self.optimised else None
            left = self.total - self.index if self.total else None
            self.progress({"event": "frame", "frame": i, "frames": self.total, "resumed": resumed,
                           "seconds": time.perf_counter() - t0, "mean_s": per,
                           "eta_s": per * left if per is not None and left is not None else None})
        return out

    def _temporal_targets(self, frame: np.ndarray):
        """Init (the previous output warped to now) and the temporal terms: for each j of
        temporal_frames, output t-j warped along the flow from frame t to t-j, masked where that flow
        is trusted and no nearer frame already covers the pixel (Ruder et al. sec. 3.2)."""
        from .flow import occlusion_mask, warp
        from .frames import frame_to_tensor

        cur = self.flow.prepare(frame)
        covered = np.zeros(frame.shape[:2], np.float32)
        init, temporal = None, []
        for j in sorted(self.cfg.temporal_frames):
            if j > len(self.outputs):
                break
            flow_to_prev, flow_to_next = self.flow.flows_between(self.flow.prepare(self.inputs[-j]), cur, both=True)
            mask = occlusion_mask(flow_to_prev, flow_to_next)  # (H, W) 1 = trusted
            warped = warp(self.outputs[-j], flow_to_prev)  # (H, W, 3) uint8 lined up with now
            if j == 1:
                init = frame_to_tensor(warped, self.opt.device)
            long_mask = np.maximum(mask - covered, 0.0)
            covered = np.maximum(covered, mask)
            temporal.append((frame_to_tensor(warped, self.opt.device),
                             torch.from_numpy(long_mask)[None, None].to(self.opt.device)))  # (1, 1, H, W)
        if init is None:  # temporal_frames without 1: still start from the previous output
            flow_to_prev, _ = self.flow.flows_between(self.flow.prepare(self.inputs[-1]), cur)
            init = frame_to_tensor(warp(self.outputs[-1], flow_to_prev), self.opt.device)
        return init, temporal


def gatys_video(in_path: str | os.PathLike, out_path: str | os.PathLike, styles: list[torch.Tensor],
                cfg: GatysConfig, *, weights: list[float] | None = None, size: tuple[int, int] | None = None,
                video_cfg=None, resume: bool = True, keep_frames: bool = False, progress: Progress | None = None,
                vgg: VGGFeatures | None = None):
    """Gatys per frame with Ruder et al.'s temporal consistency, written as a video like `livestyle video`
    (transcode.transcode: timestamps and audio kept, output atomic). Frames are shrunk to
    cfg.max_side_px, or resized to `size` (width, height) when given. Frame 0 starts from cfg.init at all cfg.scales; each later frame from the previous
    output warped along the flow between the input frames (DIS), at full size only, for
    video_iterations, with the temporal loss on the trusted pixels.

    Resumable per frame: each finished frame is written to `OUT.gatys-frames/NNNNNN.png` beside the
    output, with the settings in `settings.json`. A rerun with the same settings reads finished frames
    back instead of optimising them (the last one seeds the next); a rerun with other settings raises
    ValueError naming what differs (resume=False clears the folder and starts over). The folder is
    deleted once the video is written, unless keep_frames.

    progress gets dicts: "stage"/"iteration"/"snapshot" events of each optimisation (with "frame"),
    and {"event": "frame", "frame", "frames" (None until known), "resumed", "seconds", "mean_s", "eta_s"}
    after each frame."""
    from .atomic import check_output_path
    from .config import StylizeConfig, VideoConfig
    from .sinks import even_required
    from .sources import VideoFileSource
    from .transcode import transcode

    in_path, out_path = str(in_path), str(out_path)
    video_cfg = video_cfg or VideoConfig()
    check_output_path(out_path, overwrite=video_cfg.overwrite, input_path=in_path)
    stylize_cfg = StylizeConfig(device=cfg.device, batch_size=1, max_side_px=cfg.max_side_px, size=size)
    even = any(even_required(video_cfg.pix_fmt))  # as transcode sizes the frames
    with VideoFileSource(in_path, max_side_px=cfg.max_side_px, size=size, even=even) as src:
        size, total = (src.width, src.height), src.frames_expected
    opt = GatysOptimizer(styles, cfg, weights=weights, vgg=vgg)
    work = work_dir_for(out_path)
    _open_work_dir(work, _settings(in_path, styles, opt.weights, cfg, size), resume)
    frames = _GatysFrames(opt, work, progress)
    frames.total = total
    done = len(list(work.glob("[0-9]" * 6 + ".png")))
    if done:
        log.info("%s: resuming, %d finished frames in %s", out_path, done, work)
    summary = transcode(in_path, out_path, frames, video_cfg=video_cfg, stylize_cfg=stylize_cfg)
    if not keep_frames:
        shutil.rmtree(work, ignore_errors=True)
    return summary

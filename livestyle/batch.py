"""`livestyle batch`: many pictures and videos through one model, resumable, each input failing alone.

    jobs = plan_jobs(["clips/", "poster.jpg"], "out/")          # outputs mirror the inputs under out/
    outcomes = run_batch(jobs, spec, progress=...)               # one process, or Workers / batch_ray

The work of one input is `Runner.run`, the same in every executor: the model loaded once per process, one
frame step (stylize.StreamStylizer, what `video` and `image` run) reset between inputs. Executors:
- in this process (the default), as `video` runs;
- `workers` > 1: that many processes, each with its share of the cores as network threads;
- Ray (batch_ray.py, `--ray`): a pool of actors that keep the model loaded, across machines.

Nothing is half-written: outputs are written atomically (atomic.py), so an output that exists is complete,
and a second run skips it (`overwrite` redoes it). A hidden temporary file left by a killed worker is
removed when its input is run again.
"""
from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .config import StylizeConfig, TemporalConfig, VideoConfig

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".m4v", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".gif")
H264_CONTAINERS = (".mp4", ".mov", ".mkv", ".m4v")  # a video keeps its container where H.264 fits, else gets .mp4


@dataclass
class Job:
    input: str
    output: str
    kind: str  # "video", "image", or "shot" (one shot of a video: --split-shots, shots.py)
    shot: object = None  # shots.Shot, for a "shot"


@dataclass
class Outcome:
    input: str
    output: str
    status: str  # "done", "skipped" (its output exists), "failed"
    error: str = ""  # one line, for "failed"
    frames: int = 0
    seconds: float = 0.0
    worker: str = ""  # process id or Ray node that ran it


@dataclass
class BatchSpec:
    """Everything a worker needs to run any job, picklable: it loads the model itself."""

    model_path: str
    styles: str  # a mix, as --styles / --mix give it (modelfile.parse_mix)
    stylize: StylizeConfig = field(default_factory=StylizeConfig)
    temporal: TemporalConfig | None = field(default_factory=TemporalConfig)
    video: VideoConfig = field(default_factory=VideoConfig)


def output_name(rel: str, kind: str) -> str:
    """The output's path under DIR for an input at `rel`: the same name; a video whose container cannot take
    H.264 gets `.mp4` added (a.webm -> a.webm.mp4, so names never collide)."""
    if kind == "video" and os.path.splitext(rel)[1].lower() not in H264_CONTAINERS:
        return rel + ".mp4"
    return rel


def kind_of(path: str) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    return "image" if ext in IMAGE_EXTS else "video" if ext in VIDEO_EXTS else None


def plan_jobs(inputs: list[str], out_dir: str) -> list[Job]:
    """One job per picture or video: files as given (a file of another type is tried as a video, and fails
    alone if it is not one), folders walked for known types (hidden files left out). A folder's files keep
    their path below the folder's name: clips/a/b.mp4 -> DIR/clips/a/b.mp4. Two inputs with one output are a
    ValueError."""
    jobs, seen = [], {}
    for given in inputs:
        path = os.path.normpath(given)
        if os.path.isdir(path):
            base = os.path.dirname(os.path.abspath(path))
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if not name.startswith(".") and kind_of(full):
                        jobs.append(_job(full, os.path.relpath(os.path.abspath(full), base), out_dir))
        else:
            jobs.append(_job(path, os.path.basename(path), out_dir))
    for job in jobs:
        if job.output in seen:
            raise ValueError(f"{seen[job.output]} and {job.input} would both be written to {job.output}; "
                             "give them different names or run them separately")
        seen[job.output] = job.input
    if not jobs:
        raise ValueError(f"expected pictures ({', '.join(IMAGE_EXTS)}) or videos ({', '.join(VIDEO_EXTS)}) in "
                         f"{', '.join(inputs)}; found none")
    return jobs


def _job(path: str, rel: str, out_dir: str) -> Job:
    kind = kind_of(path) or "video"
    return Job(path, os.path.join(out_dir, output_name(rel, kind)), kind)


def frames_expected(job: Job) -> int:
    """Frames the job will write, for the progress bar's total: 1 for a picture, the header's count for a
    video (0 when it cannot be read: the job fails when it runs)."""
    if job.kind == "image":
        return 1
    if job.kind == "shot":
        return job.shot.frames
    from .sources import VideoFileSource
    try:
        with VideoFileSource(job.input) as source:
            return source.frames_expected or 0
    except Exception:  # a bad file fails alone, when it runs
        return 0


def remove_stale_temps(output: str) -> None:
    """Hidden temporary files of `output` (atomic.reserve_temp's names) left by a worker that was killed."""
    p = Path(output)
    for stale in glob.glob(str(p.parent / f".{glob.escape(p.stem)}.*.partial{glob.escape(p.suffix)}")):
        Path(stale).unlink(missing_ok=True)


def one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return text or type(e).__name__


class Runner:
    """One process's worker: loads the model once; `run(job, progress)` stylizes one input into its output."""

    def __init__(self, spec: BatchSpec):
        from .device import resolve_device
        from .modelfile import load_model, parse_mix
        from .stylize import StreamStylizer

        self.spec = spec
        model = load_model(spec.model_path, device=resolve_device(spec.stylize.device))
        self.mix = parse_mix(spec.styles, model)
        self.step = StreamStylizer.for_model(model, spec.stylize, spec.temporal)
        self.name = f"pid {os.getpid()}"

    def run(self, job: Job, progress: Callable[[int], None] | None = None) -> Outcome:
        """`progress(frames_done)` as the job goes. Never raises for a bad input: its Outcome says "failed"."""
        t0 = time.perf_counter()
        overwrite = self.spec.video.overwrite
        if os.path.exists(job.output) and not overwrite:
            return Outcome(job.input, job.output, "skipped", worker=self.name)
        try:
            from .atomic import check_output_path

            os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
            check_output_path(job.output, overwrite=overwrite, input_path=job.input)  # never the input itself
            remove_stale_temps(job.output)
            frames = (self._video(job, progress) if job.kind == "video" else self._shot(job, progress)
                      if job.kind == "shot" else self._image(job))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # the input's own problem: it fails alone
            return Outcome(job.input, job.output, "failed", one_line(e), seconds=time.perf_counter() - t0,
                           worker=self.name)
        if progress is not None and job.kind == "image":
            progress(1)
        return Outcome(job.input, job.output, "done", frames=frames, seconds=time.perf_counter() - t0,
                       worker=self.name)

    def _video(self, job: Job, progress) -> int:
        from .transcode import stylize_video

        self.step.reset()
        s = stylize_video(job.input, job.output, self.step, self.mix, video_cfg=self.spec.video,
                          progress=(lambda done, total: progress(done)) if progress else None)
        return s.frames

    def _shot(self, job: Job, progress) -> int:
        from .shots import render_shot
        return render_shot(job.input, job.output, self.step, self.mix, job.shot, self.spec.stylize, self.spec.video,
                           progress)

    def _image(self, job: Job) -> int:
        from .atomic import atomic_write_bytes
        from .images import check_size, encode_image, fit_size, read_image, resize_frame

        frame = read_image(job.input)
        cfg = self.spec.stylize
        w, h = fit_size(frame.shape[1], frame.shape[0], max_side_px=cfg.max_side_px, size=cfg.size)
        check_size(job.input, w, h)
        styled = self.step([resize_frame(frame, w, h)], self.mix)[0]
        atomic_write_bytes(job.output, encode_image(styled, os.path.splitext(job.output)[1].lower()),
                           overwrite=self.spec.video.overwrite)
        return 1


Progress = Callable[[int], None]  # frames finished since the last call, summed over every worker


def run_batch(jobs: list[Job], spec: BatchSpec, *, workers: int = 1, progress: Progress | None = None) -> list[Outcome]:
    """Every job, in this process (workers 1) or in `workers` processes; outcomes in the jobs' order."""
    if workers <= 1:
        runner = Runner(spec)
        outcomes = []
        for job in jobs:
            last = [0]

            def tick(done: int, last=last) -> None:
                if progress is not None:
                    progress(done - last[0])
                last[0] = done
            outcomes.append(runner.run(job, tick))
        return outcomes
    return _run_processes(jobs, spec, workers, progress)


def threads_per_worker(workers: int, threads: int | None = None) -> int:
    """The network threads of each of `workers` processes: the cores shared out (device.LoadWatcher's logic:
    more threads than free cores make every parallel region wait), unless --threads says."""
    from .device import cpu_count
    return threads or max(1, cpu_count() // workers)


def _run_processes(jobs, spec, workers, progress) -> list[Outcome]:
    import multiprocessing as mp

    spec = replace(spec, stylize=replace(spec.stylize, threads=threads_per_worker(workers, spec.stylize.threads)))
    ctx = mp.get_context("spawn")  # a clean interpreter: no torch/OpenMP state forked from this one
    queue = ctx.Queue()
    results: dict[int, Outcome] = {}
    with ctx.Pool(min(workers, len(jobs)), initializer=_worker_init, initargs=(spec, queue)) as pool:
        pending = pool.imap_unordered(_worker_run, list(enumerate(jobs)))
        done = 0
        while done < len(jobs):
            _drain(queue, progress)
            try:
                i, outcome = pending.next(timeout=0.2)
            except mp.TimeoutError:
                continue
            results[i] = outcome
            done += 1
        _drain(queue, progress)
    return [results[i] for i in range(len(jobs))]


def _drain(queue, progress) -> None:
    import queue as q
    while True:
        try:
            n = queue.get_nowait()
        except q.Empty:
            return
        if progress is not None:
            progress(n)


_WORKER: dict = {}


def _worker_init(spec: BatchSpec, queue) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool
    _WORKER["runner"], _WORKER["queue"] = Runner(spec), queue


def _worker_run(item: tuple[int, Job]) -> tuple[int, Outcome]:
    i, job = item
    queue, last = _WORKER["queue"], [0]

    def tick(done: int) -> None:
        queue.put(done - last[0])
        last[0] = done
    return i, _WORKER["runner"].run(job, tick)


def split_shots(jobs: list[Job], spec: BatchSpec) -> tuple[list[Job], dict[str, list[Job]]]:
    """Each video still to do with two or more shots becomes one job per shot (shots.py), its pieces kept in a
    hidden folder beside its output until joined; returns the jobs to run and, per output, its pieces."""
    from .shots import find_shots, pieces_dir

    run, groups = [], {}
    for job in jobs:
        if job.kind != "video" or (os.path.exists(job.output) and not spec.video.overwrite):
            run.append(job)
            continue
        try:
            shots = find_shots(job.input, spec.stylize, spec.temporal)
        except Exception:  # a bad input fails alone, when it runs
            shots = []
        if len(shots) < 2:
            run.append(job)
            continue
        folder, ext = pieces_dir(job.output), os.path.splitext(job.output)[1]
        groups[job.output] = [Job(job.input, os.path.join(folder, f"shot-{s.index:04d}{ext}"), "shot", s) for s in shots]
        run.extend(groups[job.output])
    return run, groups


def join_shots(jobs: list[Job], outcomes: list[Outcome], groups: dict[str, list[Job]],
               overwrite: bool) -> list[Outcome]:
    """One outcome per input again: each split video joined from its pieces (shots.join) when every piece is
    there, its pieces' folder then removed; else failed with its first piece's error."""
    import shutil

    from .shots import join, pieces_dir

    by_output = {o.output: o for o in outcomes}
    result = []
    for job in jobs:
        if job.output not in groups:
            result.append(by_output[job.output])
            continue
        parts = [by_output[p.output] for p in groups[job.output]]
        bad = next((o for o in parts if o.status == "failed"), None)
        seconds = sum(o.seconds for o in parts)
        if bad is not None:
            result.append(Outcome(job.input, job.output, "failed", f"shot {os.path.basename(bad.output)}: {bad.error}",
                                  seconds=seconds))
            continue
        try:
            join(job.input, [p.output for p in groups[job.output]], job.output, overwrite=overwrite)
        except Exception as e:
            result.append(Outcome(job.input, job.output, "failed", one_line(e), seconds=seconds))
            continue
        shutil.rmtree(pieces_dir(job.output), ignore_errors=True)
        result.append(Outcome(job.input, job.output, "done", frames=sum(o.frames for o in parts), seconds=seconds,
                              worker=", ".join(sorted({o.worker for o in parts}))))
    return result


def summary(outcomes: list[Outcome], seconds: float) -> dict:
    """The JSON summary: totals and one entry per input."""
    count = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    frames = sum(o.frames for o in outcomes)
    return {"inputs": len(outcomes), **count, "frames": frames, "seconds": round(seconds, 2),
            "fps": round(frames / seconds, 2) if seconds > 0 else 0.0,
            "outcomes": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in vars(o).items()}
                         for o in outcomes]}


def check_mix(spec: BatchSpec) -> np.ndarray:
    """The mix, checked against the model file's styles without loading its weights (before any worker starts)."""
    from .modelfile import ModelFile, parse_mix, read_model_info
    _, styles, presets = read_model_info(spec.model_path)
    return parse_mix(spec.styles, ModelFile(net=None, styles=styles, presets=presets, path=spec.model_path))

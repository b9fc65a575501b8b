"""`livestyle batch --ray [ADDRESS]`: the batch's jobs on a pool of Ray actors (the extra livestyle[cluster]).

Each actor is a batch.Runner: it loads the model once and runs one input at a time, writing its output
atomically into DIR. DIR must be storage every node sees (NFS, a mounted bucket): each actor checks, before
its first job, that it can see a marker file the driver wrote there, and the batch stops with one line
when one cannot. An actor that dies (a lost node, an out-of-memory kill) is restarted and its job retried
(`max_restarts`, `max_task_retries`); a retried job first removes the dead one's hidden temporary file,
and outputs only ever appear complete. Without an address, a local Ray is started on this machine's cores,
so the same command runs on a laptop.

How to run a cluster: `ray start --head` on one machine, `ray start --address HEAD:6379` on the others,
then `livestyle batch ... --out /shared/out --ray HEAD:6379` (or `--ray auto` on a node of the cluster).
"""
from __future__ import annotations

import os
import uuid

from dataclasses import replace

from .batch import BatchSpec, Job, Outcome, Progress, Runner, threads_per_worker

RESTARTS = 3  # an actor restarted at most this often, a job retried as often


def ray_module():
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray, which this installation does not have: pip install 'livestyle[cluster]'") from None
    return ray


class _Actor:
    """batch.Runner as a Ray actor; `sees(marker)` is the shared-storage check."""

    def __init__(self, spec: BatchSpec):
        import socket
        self.runner = Runner(spec)
        self.runner.name = f"{socket.gethostname()} pid {os.getpid()}"

    def sees(self, marker: str) -> str:
        return "" if os.path.isfile(marker) else self.runner.name

    def pid(self) -> int:
        return os.getpid()

    def run(self, job: Job) -> Outcome:
        return self.runner.run(job)


def start(address: str | None, cpus: int | None = None):
    """Connect to the cluster at `address` (a Ray address, or "auto"), or start a local Ray with `cpus`."""
    ray = ray_module()
    if not ray.is_initialized():
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=cpus, **kwargs)
    return ray


def make_actors(ray, spec: BatchSpec, n: int):
    actor = ray.remote(_Actor).options(num_cpus=spec.stylize.threads or 1, max_restarts=RESTARTS,
                                       max_task_retries=RESTARTS)
    return [actor.remote(spec) for _ in range(n)]


def check_shared(ray, actors, out_dir: str) -> None:
    """Every actor must see DIR: a marker file written here, looked for there."""
    os.makedirs(out_dir, exist_ok=True)
    marker = os.path.join(os.path.abspath(out_dir), f".livestyle-batch-{uuid.uuid4().hex[:12]}")
    with open(marker, "w") as f:
        f.write("livestyle batch: shared-storage check\n")
    try:
        blind = [w for w in ray.get([a.sees.remote(marker) for a in actors]) if w]
    finally:
        os.unlink(marker)
    if blind:
        raise ValueError(f"--out {out_dir} is not visible to every Ray worker ({blind[0]} cannot see it); under "
                         "--ray, DIR must be storage every node mounts at the same path")


def run_ray(jobs: list[Job], spec: BatchSpec, out_dir: str, *, address: str | None, workers: int | None = None,
            progress: Progress | None = None, on_actors=None) -> list[Outcome]:
    """Every job on Ray actors (`workers` of them; default: one per core on a local Ray, one per node's CPU
    on a cluster); outcomes in the jobs' order. `on_actors(actors)` is called once they are up (tests)."""
    from .device import cpu_count

    ray = start(address, cpus=None if address else cpu_count())
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    threads = spec.stylize.threads or (threads_per_worker(n) if not address else 1)
    spec = replace(spec, stylize=replace(spec.stylize, threads=threads))
    actors = make_actors(ray, spec, min(n, len(jobs)))
    check_shared(ray, actors, out_dir)
    if on_actors is not None:
        on_actors(actors)
    from ray.util import ActorPool

    pool = ActorPool(actors)
    for job in jobs:
        pool.submit(lambda actor, j: actor.run.remote(j), job)
    results: dict[str, Outcome] = {}
    while pool.has_next():
        outcome = pool.get_next_unordered()
        results[outcome.output] = outcome
        if progress is not None:
            progress(outcome.frames)
    return [results[job.output] for job in jobs]

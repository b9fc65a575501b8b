"""`livestyle batch`: names, resume, a bad input failing alone, worker processes, and Ray (a local Ray)."""
from __future__ import annotations

import glob
import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from conftest import write_clip, write_tone
from livestyle import cli
from livestyle.batch import BatchSpec, plan_jobs, run_batch, threads_per_worker
from livestyle.config import StylizeConfig, TemporalConfig, VideoConfig
from livestyle.sources import VideoFileSource


def frames_of(path) -> list[np.ndarray]:
    with VideoFileSource(str(path)) as source:
        return [f for f, _, _ in source]


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    write_clip(folder / "a.mp4", size=(96, 64), n=10, audio_rate=22050)
    write_clip(folder / "sub" / "b.mov", size=(64, 48), n=6)
    import cv2
    cv2.imwrite(str(folder / "c.png"), np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    return folder


def test_outputs_mirror_the_inputs_and_collisions_are_refused(tmp_path, inputs):
    (inputs / "d.webm").write_bytes(b"")
    (inputs / ".hidden.mp4").write_bytes(b"")
    (inputs / "notes.txt").write_text("x")
    jobs = plan_jobs([str(inputs), str(inputs / "c.png")], str(tmp_path / "out"))
    rel = [os.path.relpath(j.output, tmp_path / "out") for j in jobs]
    assert rel == ["in/a.mp4", "in/c.png", "in/d.webm.mp4", "in/sub/b.mov", "c.png"]
    assert [j.kind for j in jobs] == ["video", "image", "video", "video", "image"]
    with pytest.raises(ValueError, match="would both be written to"):
        plan_jobs([str(inputs / "c.png"), str(inputs / "c.png")], str(tmp_path / "out"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="found none"):
        plan_jobs([str(tmp_path / "empty")], "x")


def test_a_second_run_skips_finished_outputs_and_overwrite_redoes_them(tmp_path, inputs, capsys):
    out, report = tmp_path / "out", tmp_path / "s.json"
    assert cli.main(["batch", str(inputs), "--out", str(out), "--styles", "monet", "--json", str(report)]) == 0
    first = json.loads(report.read_text())
    assert (first["done"], first["skipped"], first["failed"], first["frames"]) == (3, 0, 0, 17)
    assert len(frames_of(out / "in" / "a.mp4")) == 10 and len(frames_of(out / "in" / "sub" / "b.mov")) == 6
    stamp = os.path.getmtime(out / "in" / "a.mp4")
    assert cli.main(["batch", str(inputs), "--out", str(out), "--styles", "monet", "--json", str(report)]) == 0
    again = json.loads(report.read_text())
    assert (again["done"], again["skipped"]) == (0, 3) and os.path.getmtime(out / "in" / "a.mp4") == stamp
    assert cli.main(["batch", str(inputs), "--out", str(out), "--styles", "monet", "--overwrite",
                     "--json", str(report)]) == 0
    assert json.loads(report.read_text())["done"] == 3


def test_a_bad_input_fails_alone_exit_1_and_the_summary_names_it(tmp_path, inputs, capsys):
    (inputs / "bad.mp4").write_bytes(b"not a video")
    out, report = tmp_path / "out", tmp_path / "s.json"
    code = cli.main(["batch", str(inputs), str(tmp_path / "missing.mp4"), "--out", str(out), "--styles", "monet",
                     "--json", str(report)])
    assert code == 1
    s = json.loads(report.read_text())
    failed = {os.path.basename(o["input"]): o["error"] for o in s["outcomes"] if o["status"] == "failed"}
    assert set(failed) == {"bad.mp4", "missing.mp4"} and s["done"] == 3
    assert "cannot read it as a video" in failed["bad.mp4"]
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("livestyle: error:")]
    assert len(errors) == 2 and any("bad.mp4" in e for e in errors)
    assert not glob.glob(str(out / "**" / "bad*"), recursive=True)  # nothing half-written for it


def test_an_input_inside_dir_is_never_its_own_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    clip = write_clip(out / "a.mp4")
    before = clip.read_bytes()
    report = tmp_path / "s.json"
    assert cli.main(["batch", str(clip), "--out", str(out), "--styles", "monet", "--overwrite",
                     "--json", str(report)]) == 1
    failed = json.loads(report.read_text())["outcomes"][0]
    assert failed["status"] == "failed" and "input" in failed["error"] and clip.read_bytes() == before


def test_bad_arguments_are_exit_2_before_any_work(tmp_path, inputs, capsys):
    assert cli.main(["batch", str(inputs), "--out", str(tmp_path / "o"), "--styles", "nosuchstyle"]) == 2
    assert cli.main(["batch", str(inputs), "--out", str(inputs / "c.png"), "--styles", "monet"]) == 2
    assert cli.main(["batch", str(inputs), "--out", str(inputs / "sub"), "--styles", "monet"]) == 2  # inside an input
    assert not (tmp_path / "o").exists()


def test_workers_share_the_cores_and_give_the_single_process_frames(tmp_path, inputs, tiny_model_path):
    assert threads_per_worker(2, None) == max(1, (len(os.sched_getaffinity(0))) // 2)
    assert threads_per_worker(2, 3) == 3
    spec = BatchSpec(str(tiny_model_path), "a", StylizeConfig(device="cpu", compile="off", precision="fp32"),
                     TemporalConfig(), VideoConfig())
    jobs = plan_jobs([str(inputs)], str(tmp_path / "one"))
    ticks = []
    one = run_batch(jobs, spec, progress=ticks.append)
    assert [o.status for o in one] == ["done"] * 3 and sum(ticks) == 17
    jobs2 = plan_jobs([str(inputs)], str(tmp_path / "two"))
    ticks2 = []
    two = run_batch(jobs2, spec, workers=2, progress=ticks2.append)
    assert [o.status for o in two] == ["done"] * 3 and sum(ticks2) == 17
    assert 1 <= len({o.worker for o in two}) <= 2 and all(o.worker != one[0].worker for o in two)  # other processes
    for a, b in zip(frames_of(tmp_path / "one" / "in" / "a.mp4"), frames_of(tmp_path / "two" / "in" / "a.mp4")):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0


# ---- Ray ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_local():
    if os.environ.get("CI") != "true":
        pytest.importorskip("ray", reason="Ray is the extra livestyle[cluster] (pip install -e '.[dev]' has it)")
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_runs_the_batch_with_a_bad_input_failing_alone(tmp_path, inputs, ray_local, capsys):
    (inputs / "bad.mp4").write_bytes(b"not a video")
    out, report = tmp_path / "out", tmp_path / "s.json"
    assert cli.main(["batch", str(inputs), "--out", str(out), "--styles", "monet", "--ray", "--workers", "2",
                     "--json", str(report)]) == 1
    s = json.loads(report.read_text())
    assert (s["done"], s["failed"]) == (3, 1) and s["frames"] == 17
    assert len(frames_of(out / "in" / "a.mp4")) == 10


def test_a_ray_actor_killed_mid_task_is_restarted_and_its_job_completes(tmp_path, tiny_model_path, ray_local):
    from livestyle.batch_ray import run_ray

    clip = write_clip(tmp_path / "long.mp4", size=(160, 120), n=120)
    spec = BatchSpec(str(tiny_model_path), "a", StylizeConfig(device="cpu", compile="off", precision="fp32"),
                     TemporalConfig(), VideoConfig())
    out = tmp_path / "out"
    killed = []

    def kill_when_writing(actors):
        pid = ray_local.get(actors[0].pid.remote())

        def watch():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if glob.glob(str(out / ".long.*.partial.mp4")):  # the job is under way: its temporary file exists
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.005)
        threading.Thread(target=watch, daemon=True).start()

    outcomes = run_ray(plan_jobs([str(clip)], str(out)), spec, str(out), address=None, workers=1,
                       on_actors=kill_when_writing)
    assert killed, "the actor was never seen writing"
    assert outcomes[0].status == "done" and outcomes[0].worker.split("pid ")[1] != str(killed[0])
    assert len(frames_of(out / "long.mp4")) == 120
    assert os.listdir(out) == ["long.mp4"]  # no temporary file of the killed attempt is left


# ---- --split-shots --------------------------------------------------------------------------------------

def write_scenes(path, *, scenes=3, n=15, size=(128, 96), fps=12, audio_rate=22050):
    """A clip of `scenes` shots of `n` frames each: a smooth texture panning 1 px a frame, a new one per shot."""
    import av
    import cv2
    w, h = size
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=audio_rate)
        aus.layout = "stereo"
        for s in range(scenes):
            base = cv2.GaussianBlur(rng.integers(0, 256, (h, w + n, 3)).astype(np.uint8), (0, 0), 2.5)
            base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, i:i + w]), format="rgb24")
                frame.pts = s * n + i
                out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        write_tone(out, aus, audio_rate, scenes * n / fps)
    return path


def timestamps(path) -> list[int]:
    with VideoFileSource(str(path)) as source:
        return [pts for _, pts, _ in source]


def test_split_shots_finds_the_cuts_and_gives_the_frames_of_one_run(tmp_path):
    from livestyle.shots import find_shots

    clip = write_scenes(tmp_path / "film.mp4")
    shots = find_shots(str(clip), StylizeConfig(), TemporalConfig())
    tick = timestamps(clip)[1]  # one frame in the stream's time base
    assert [(s.start_pts // tick, s.frames) for s in shots] == [(0, 15), (15, 15), (30, 15)]
    assert [s.warm_pts // tick for s in shots] == [0, 11, 26]  # 4 frames of warm-up before each cut
    common = ["--styles", "monet", "--crf", "0", "--threads", "1"]  # lossless: the frames themselves compare
    assert cli.main(["batch", str(clip), "--out", str(tmp_path / "one"), *common]) == 0
    assert cli.main(["batch", str(clip), "--out", str(tmp_path / "split"), "--split-shots", "--workers", "2",
                     "--json", str(tmp_path / "s.json"), *common]) == 0
    one, split = tmp_path / "one" / "film.mp4", tmp_path / "split" / "film.mp4"
    assert json.loads((tmp_path / "s.json").read_text())["frames"] == 45
    assert timestamps(split) == timestamps(one) and len(timestamps(one)) == 45
    diffs = [np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(frames_of(one), frames_of(split))]
    assert max(diffs) == 0, diffs  # the same frames: coherence restarts at each cut in one run as well
    import av
    with av.open(str(split)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"] and c.streams.audio[0].codec_context.name == "aac"
    assert sorted(os.listdir(tmp_path / "split")) == ["film.mp4"]  # the pieces' folder is gone

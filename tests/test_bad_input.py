"""The bad-input battery: every case a user can cause ends in exit code 2 with one `livestyle: error:`
line that names the problem (no traceback), leaves every input byte-identical and no output that looks
complete; the cases that are really fine just work. Inputs are tiny files the tests write."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle import cli
from livestyle.images import encode_image
from livestyle.modelfile import load_stylenet

ROOT = Path(__file__).resolve().parent.parent


def write_clip(path: Path, *, size=(64, 48), n=6, fps=12, audio_rate: int | None = None) -> Path:
    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=audio_rate) if audio_rate else None
        if aus:
            aus.layout = "stereo"
        rng = np.random.default_rng(0)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if aus:
            t = 0
            while t < audio_rate * n / fps:
                samples = (0.1 * np.sin(np.arange(t, t + 1024) / 15)).astype(np.float32)[None].repeat(2, 0)
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                af.sample_rate, af.pts = audio_rate, t
                out.mux(aus.encode(af))
                t += 1024
            out.mux(aus.encode(None))
    return path


@pytest.fixture
def files(tmp_path, tiny_model_path):
    d = tmp_path / "in"
    d.mkdir()
    photos = d / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for name in ("c0.jpg", "c1.png"):
        (photos / name).write_bytes(encode_image(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
                                                 os.path.splitext(name)[1]))
    style = d / "style.png"
    style.write_bytes(encode_image(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), ".png"))
    image = d / "photo.png"
    image.write_bytes(encode_image(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), ".png"))
    existing = d / "existing.png"
    existing.write_bytes(b"an earlier result")
    (d / "folder").mkdir()
    (d / "notes.mp4").write_text("not a video")
    out = tmp_path / "out"
    out.mkdir()
    return {"d": d, "out": out, "model": str(tiny_model_path), "photos": photos, "style": style, "image": image,
            "existing": existing, "clip": write_clip(d / "clip.mp4"), "clip44k": write_clip(d / "a44k.mp4", audio_rate=44100),
            "tiny": write_clip(d / "tiny.mp4", size=(2, 2)), "notes": d / "notes.txt"}


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def bad_model(tmp_path, tiny_model_path, name, change) -> str:
    """The tiny model with its metadata changed by `change(meta)`, as NAME.safetensors."""
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(tiny_model_path), framework="pt") as f:
        meta = dict(f.metadata())
    change(meta)
    path = tmp_path / f"{name}.safetensors"
    save_file(load_file(str(tiny_model_path)), str(path), metadata=meta)
    return str(path)


def set_config(**kw):
    def change(meta):
        meta["config"] = json.dumps({**json.loads(meta["config"]), **kw})
    return change


# (case, argv with {placeholders}, expected exit code, what the one error line must say)
CASES = [
    # 1. tiny frames: optical flow needs 12 px, the frame step now copes
    ("video --size 3x3", "video {clip} {out}/o.mp4 --weights {model} --styles a --size 3x3", 0, None),
    ("video --max-side 1", "video {clip} {out}/o.mp4 --weights {model} --styles a --max-side 1", 0, None),
    ("1x1-ish clip, --max-side 64", "video {tiny} {out}/o.mp4 --weights {model} --styles a --max-side 64", 0, None),
    ("webcam on a tiny clip", "webcam --camera {tiny} --no-window --weights {model} --styles a --max-frames 4", 0, None),
    ("eval-temporal on a tiny clip", "eval-temporal {tiny}", 0, None),
    # 2. blend weights that are not finite numbers
    ("--mix nan", "video {clip} {out}/o.mp4 --weights {model} --styles a --mix a:nan", 2, "finite style weight"),
    ("--mix inf", "image {image} {out}/o.png --weights {model} --styles a --mix a:inf", 2, "finite style weight"),
    ("--mix 1e400", "image {image} {out}/o.png --weights {model} --styles a,b --mix a:1e400,b:1", 2,
     "finite style weight"),
    ("--schedule nan", "video {clip} {out}/o.mp4 --weights {model} --schedule 0:a:nan", 2, "finite style weight"),
    ("gatys --style-weights nan", "gatys {image} {style} {out}/o.png --style-weights nan", 2, "finite numbers"),
    ("webcam --mix", "webcam --camera {clip} --no-window --weights {model} --styles a,b --mix a:1", 2, "no --mix"),
    # 4. eval never overwrites
    ("eval --sheet onto a photo", "eval {photos} --weights {model} --styles a={style},b={style},c={style} "
     "--sheet {photos}/c0.jpg", 2, "exists; pass --overwrite"),
    ("eval --sheet onto a photo, --overwrite", "eval {photos} --weights {model} --styles a={style},b={style},c={style} "
     "--sheet {photos}/c0.jpg --overwrite", 2, "is one of the photos being scored"),
    ("eval --json existing", "eval {photos} --weights {model} --styles a={style},b={style},c={style} "
     "--json {existing}", 2, "exists; pass --overwrite"),
    ("eval --json in a missing folder", "eval {photos} --weights {model} --json {out}/nodir/r.json", 2,
     "does not exist"),
    # 5. damaged model metadata
    ("config base_width 'abc'", "image {image} {out}/o.png --weights {bad_base_width} --styles a", 2,
     "base_width should be int"),
    ("style entry with an unknown key", "image {image} {out}/o.png --weights {bad_style_key} --styles a", 2,
     "should have a name and a source"),
    ("preset naming an unknown style", "image {image} {out}/o.png --weights {bad_preset} --styles a", 2,
     "names style 'nosuch'"),
    ("a huge width", "image {image} {out}/o.png --weights {bad_huge} --styles a", 2, "base_width should be 1..512"),
    # 6. a folder where a file belongs
    ("image input is a folder", "image {d}/folder {out}/o.png --weights {model} --styles a", 2, "is a folder"),
    ("gatys content is a folder", "gatys {d}/folder {style} {out}/o.png", 2, "is a folder"),
    ("output is an existing folder", "video {clip} {d}/folder --weights {model} --styles a", 2, "is a folder"),
    # 7. streams that cannot open
    ("--stream refused", "webcam --camera {clip} --no-window --weights {model} --styles a --max-frames 2 "
     "--stream rtmp://127.0.0.1:9/live", 2, "could not write to rtmp://127.0.0.1:9/live"),
    ("--stream udp://[bad", "webcam --camera {clip} --no-window --weights {model} --styles a --max-frames 2 "
     "--stream udp://[bad", 2, "--stream: expected a URL like"),
    ("--stream udp:// without a host", "webcam --camera {clip} --no-window --weights {model} --styles a "
     "--max-frames 2 --stream udp://", 2, "expected a host"),
    # 8.-9. folders that are not there, or are files
    ("--snapshot-dir missing", "webcam --camera {clip} --no-window --weights {model} --styles a --max-frames 2 "
     "--snapshot-dir {out}/nodir", 2, "does not exist"),
    ("train --checkpoint-dir is a file", "train --styles {style} --content {photos} --out {out}/m.safetensors "
     "--checkpoint-dir {existing} --arch base_width=4 --steps 1 --image-size 32 --vgg {vgg}", 2,
     "is a file; expected a folder"),
    # 11. VP9 + Opus from 44.1 kHz AAC: resampled
    ("webm from 44.1 kHz AAC", "video {clip44k} {out}/o.webm --weights {model} --styles a --codec libvpx-vp9", 0, None),
    # poor messages
    ("--camera a missing file", "webcam --camera {d}/nope.mp4 --no-window --weights {model} --styles a", 2,
     "no such camera device or video file"),
    ("--camera a folder", "webcam --camera {d}/folder --no-window --weights {model} --styles a", 2, "is a folder"),
    ("--camera not a video", "webcam --camera {d}/notes.mp4 --no-window --weights {model} --styles a", 2,
     "not a video file OpenCV can read"),
    ("--record .xyz", "webcam --camera {clip} --no-window --weights {model} --styles a --max-frames 2 "
     "--record {out}/rec.xyz", 2, "expected a video file name ending in"),
    ("--record existing, --overwrite", "webcam --camera {clip} --no-window --weights {model} --styles a "
     "--max-frames 2 --record {d}/old.mp4 --overwrite", 0, None),
    ("--crf 55 for libx264", "video {clip} {out}/o.mp4 --weights {model} --styles a --crf 55", 2,
     "--crf for libx264 must be 0..51"),
    ("eval-temporal corrupt in the middle", "eval-temporal {corrupt}", 0, None),
    ("negative --content-weight", "train --styles {style} --content {photos} --out {out}/m.safetensors "
     "--content-weight -1", 2, "expected a number >= 0"),
    ("video to .xyz", "video {clip} {out}/o.xyz --weights {model} --styles a", 2, "ending in .mp4"),
]


@pytest.mark.parametrize("case,argv,code,says", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, argv, code, says, files, tmp_path, tiny_model_path, random_vgg_path, capsys):
    bad = {
        "base_width": bad_model(tmp_path, tiny_model_path, "width_abc", set_config(base_width="abc")),
        "style_key": bad_model(tmp_path, tiny_model_path, "style_key", lambda m: m.update(
            styles=json.dumps([{"name": "a", "source": "", "colour": 1}, {"name": "b"}, {"name": "c"}]))),
        "preset": bad_model(tmp_path, tiny_model_path, "preset", lambda m: m.update(
            presets=json.dumps({"x": {"nosuch": 1}}))),
        "huge": bad_model(tmp_path, tiny_model_path, "huge", set_config(base_width=10**6)),
    } if "{bad_" in argv else {}
    if "{corrupt}" in argv:
        data = bytearray(files["clip"].read_bytes())
        data[len(data) // 2: len(data) // 2 + 200] = bytes(200)  # zeros in the middle of the stream
        (files["d"] / "corrupt.mp4").write_bytes(bytes(data))
    if "old.mp4" in argv:
        (files["d"] / "old.mp4").write_bytes(b"an old recording")
    values = {k: str(v) for k, v in files.items()}
    values.update({f"bad_{k}": v for k, v in bad.items()}, vgg=str(random_vgg_path),
                  corrupt=str(files["d"] / "corrupt.mp4"))
    args = [a.format(**values) for a in argv.split()]
    before = snapshot(files["d"])
    rc = cli.main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("livestyle: error:")]
        assert rc == 2 and len(lines) == 1 and says in lines[0], err
        assert not [p for p in files["out"].rglob("*") if p.is_file()]  # nothing written, nothing half-written
    else:
        assert rc == 0, err
    after = snapshot(files["d"])
    if "old.mp4" in argv:  # the one case that may replace a file: the recording it was told to overwrite
        assert after.pop("old.mp4") != before.pop("old.mp4")
    assert after == before  # inputs byte-identical


@pytest.fixture
def full_folder(tmp_path):
    """A folder on a tmpfs with (almost) no room left: the disk-full cases, for real."""
    folder = tmp_path / "full"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a small tmpfs needs root: {done.stderr.decode().strip()}")
    try:
        with open(folder / "filler", "wb") as f:  # leave a few KB
            f.write(b"x" * (60 * 1024))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.parametrize("command", ["image", "video", "webcam"])  # gatys writes through the same atomic writer
def test_a_full_disk_is_one_line_and_leaves_nothing(command, files, full_folder, capsys):
    common = ["--weights", files["model"], "--styles", "a", "--compile", "off"]
    argv = {
        "image": ["image", str(files["image"]), str(full_folder / "o.png"), *common, "--max-side", "400", "--size",
                  "400x300"],
        "video": ["video", str(files["clip"]), str(full_folder / "o.mp4"), *common, "--size", "320x240"],
        "webcam": ["webcam", "--camera", str(files["clip"]), "--no-window", *common, "--max-frames", "6",
                   "--record", str(full_folder / "rec.mp4"), "--size", "640x480"],
    }[command]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert "No space left on device" in err or "disk is full" in err or "could not write" in err, err
    assert sorted(p.name for p in full_folder.iterdir()) == ["filler"]  # no output, no hidden temporary file


def test_a_full_checkpoint_folder_says_no_checkpoint_was_saved(files, full_folder, random_vgg_path, capsys):
    rc = cli.main(["train", "--styles", str(files["style"]), "--content", str(files["photos"]),
                   "--out", str(files["out"] / "m.safetensors"), "--checkpoint-dir", str(full_folder / "ck"),
                   "--arch", "base_width=4,n_res_blocks=1", "--steps", "2", "--image-size", "32", "--batch-size", "1",
                   "--vgg", str(random_vgg_path), "--checkpoint-every-s", "0", "--preview-every", "0"])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err and "enforce fail" not in err, err
    assert "no checkpoint was saved" in err
    assert (files["out"] / "m.safetensors").is_file()  # the model itself still lands where there is room


def test_a_bad_model_file_in_the_user_folder_does_not_hide_the_others(tmp_path, tiny_model_path, monkeypatch, capsys):
    user = tmp_path / "user-models"
    user.mkdir(exist_ok=True)
    (user / "broken.safetensors").write_bytes(b"not a model")
    (user / "mine.safetensors").write_bytes(Path(tiny_model_path).read_bytes())
    monkeypatch.setenv("LIVESTYLE_WEIGHTS_DIR", str(user))
    assert cli.main(["styles"]) == 0
    out, err = capsys.readouterr()
    assert "mine.safetensors" in out and "test style b" in out
    assert "livestyle: warning: skipping" in err and "broken.safetensors" in err


SIGNAL_CHILD = """
import sys, time
from livestyle import cli
from livestyle.stylize import Stylizer
real_call = Stylizer.__call__
def slow_call(self, frames, mix, **kw):
    styled = real_call(self, frames, mix, **kw)
    print("batch", flush=True)
    time.sleep(0.3)
    return styled
Stylizer.__call__ = slow_call
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_is_handled_like_ctrl_c(files, tmp_path):
    out = files["out"] / "o.mp4"
    proc = subprocess.Popen([sys.executable, "-c", SIGNAL_CHILD, "video", str(files["clip"]), str(out), "--weights",
                             files["model"], "--styles", "a", "--compile", "off"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout.readline().strip() == "batch"
    assert proc.stdout.readline().strip() == "batch"  # the first batch is encoded by now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted at frame" in err
    left = sorted(p.name for p in files["out"].iterdir())
    assert left == ["o.partial.mp4"]  # what was encoded, under a name that says so; no hidden temporary file


def test_ctrl_c_while_starting_up_is_one_line(files, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "livestyle", "image", str(files["image"]),
                             str(files["out"] / "o.png"), "--weights", files["model"], "--styles", "a"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(0.3)  # inside the imports of torch and friends
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 130)  # 0 only if it had already finished
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1] == "livestyle: error: interrupted"

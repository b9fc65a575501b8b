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
from conftest import write_clip

ROOT = Path(__file__).resolve().parent.parent


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
            "tiny": write_clip(d / "tiny.mp4", size=(2, 2)), "thin": write_clip(d / "thin.mp4", size=(1500, 10)),
            "notes": d / "notes.txt"}


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


def nan_model(tmp_path, tiny_model_path) -> str:
    """The tiny model with NaN in one weight tensor (it would load and write black pictures)."""
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(tiny_model_path), framework="pt") as f:
        meta = dict(f.metadata())
    state = load_file(str(tiny_model_path))
    key = next(k for k in state if k.endswith("conv.weight"))
    state[key] = state[key].clone().fill_(float("nan"))
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path), metadata=meta)
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
    # thin frames: OpenCV's optical flow crashed (a segfault, not only an error) on pictures thinner than ~1:8
    ("a thin clip, --max-side 640", "video {thin} {out}/o.mp4 --weights {model} --styles a --max-side 640", 0, None),
    ("a thin clip at its size", "video {thin} {out}/o.mp4 --weights {model} --styles a", 0, None),
    ("webcam on a thin clip", "webcam --camera {thin} --no-window --weights {model} --styles a --max-frames 4", 0, None),
    ("eval-temporal on a thin clip", "eval-temporal {thin}", 0, None),
    # pictures whose headers declare huge sizes: refused from the header, one line, no library noise
    ("a PNG declaring 60000x60000", "image {huge_png} {out}/o.png --weights {model} --styles a", 2, "header declares"),
    ("a JPEG declaring 65000x65000", "image {huge_jpg} {out}/o.png --weights {model} --styles a", 2,
     "header declares"),
    ("a BMP declaring 40000x40000", "image {huge_bmp} {out}/o.png --weights {model} --styles a", 2,
     "header declares"),
    ("gatys on a huge declared style", "gatys {image} {huge_png} {out}/o.png", 2, "header declares"),
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
     "--sheet {photos}/c0.jpg", 2, "never writes over what it reads"),
    ("eval --sheet onto a photo, --overwrite", "eval {photos} --weights {model} --styles a={style},b={style},c={style} "
     "--sheet {photos}/c0.jpg --overwrite", 2, "never writes over what it reads"),
    # no command writes over one of its inputs, whatever the flags (round two of the battery)
    ("webcam --record onto the clip it plays", "webcam --camera {clip} --loop --no-window --weights {model} --styles a "
     "--max-frames 2 --record {clip} --overwrite", 2, "never writes over what it reads"),
    ("train --out onto its painting", "train --styles a={style} --content {photos} --out {style} --overwrite "
     "--steps 1 --image-size 32 --vgg {vgg}", 2, "never writes over what it reads"),
    ("train --out onto a training photo", "train --styles a={style} --content {photos} --out {photos}/c1.png "
     "--overwrite --steps 1 --image-size 32 --vgg {vgg}", 2, "a file inside an input"),
    ("distill onto its teacher", "distill {model} --teacher {model} --content {photos} --overwrite", 2,
     "never writes over what it reads"),
    ("eval --json onto a scored photo", "eval {photos} --weights {model} --styles a={style},b={style},c={style} "
     "--json {photos}/c0.jpg --overwrite", 2, "a file inside an input"),
    ("image onto itself", "image {image} {image} --weights {model} --styles a --overwrite", 2,
     "never writes over what it reads"),
    ("video onto the model it runs", "video {clip} {model} --weights {model} --styles a --overwrite", 2,
     "never writes over what it reads"),
    ("video into a device, --overwrite", "video {clip} /dev/null --weights {model} --styles a --overwrite", 2,
     "is a device, pipe or socket"),
    ("video onto a dangling link", "video {clip} {d}/dangling.mp4 --weights {model} --styles a", 2,
     "exists; pass --overwrite"),
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
    ("a model whose weights are NaN", "image {image} {out}/o.png --weights {bad_nan} --styles a", 2,
     "NaN or infinite weights"),
    # options checked before any work
    ("bench --modes bogus", "bench --modes eager,bogus --no-e2e", 2, "--modes: expected a comma list"),
    ("export --opset 999", "export {out}/m.onnx --weights {model} --opset 999", 2, "--opset: expected"),
    ("train --image-size 1", "train --styles {style} --content {photos} --out {out}/m.safetensors --image-size 1 "
     "--vgg {vgg}", 2, "--image-size: expected at least 32"),
    ("add-style --name a,b", "add-style {style} --name a,b --content {photos} --into {model} --vgg {vgg}", 2,
     "--name of lowercase letters"),
    # 6. a folder where a file belongs
    ("image input is a folder", "image {d}/folder {out}/o.png --weights {model} --styles a", 2, "is a folder"),
    ("gatys content is a folder", "gatys {d}/folder {style} {out}/o.png", 2, "is a folder"),
    ("output is an existing folder", "video {clip} {d}/folder --weights {model} --styles a", 2, "is a folder"),
    # 7. streams that cannot open
    ("--stream refused", "webcam --camera {clip} --no-window --weights {model} --styles a --max-frames 2 "
     "--stream rtmp://127.0.0.1:9/live", 2, "could not open rtmp://127.0.0.1:9/live: [Errno 111] Connection refused"),
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
    # an encoder that does not take yuv420p (ProRes: 10-bit 4:2:2) gets a pixel format it takes
    ("--codec prores into .mov", "video {clip} {out}/o.mov --weights {model} --styles a --codec prores", 0, None),
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
        "nan": nan_model(tmp_path, tiny_model_path),
    } if "{bad_" in argv else {}
    if "{corrupt}" in argv:
        data = bytearray(files["clip"].read_bytes())
        data[len(data) // 2: len(data) // 2 + 200] = bytes(200)  # zeros in the middle of the stream
        (files["d"] / "corrupt.mp4").write_bytes(bytes(data))
    if "old.mp4" in argv:
        (files["d"] / "old.mp4").write_bytes(b"an old recording")
    if "dangling" in argv:
        (files["d"] / "dangling.mp4").symlink_to(files["d"] / "nowhere.mp4")
    if "{huge_" in argv:  # tiny files whose headers declare pictures far over the limit
        import struct
        import zlib
        ihdr = b"IHDR" + struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
        (files["d"] / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
                                              + struct.pack(">I", zlib.crc32(ihdr)))
        jpg = bytearray(encode_image(np.zeros((16, 16, 3), np.uint8), ".jpg"))
        sof = jpg.find(b"\xff\xc0")
        jpg[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
        (files["d"] / "huge.jpg").write_bytes(bytes(jpg))
        (files["d"] / "huge.bmp").write_bytes(b"BM" + bytes(16) + struct.pack("<ii", 40000, 40000) + bytes(30))
    values = {k: str(v) for k, v in files.items()}
    values.update({f"bad_{k}": v for k, v in bad.items()}, vgg=str(random_vgg_path),
                  **{f"huge_{e}": str(files["d"] / f"huge.{e}") for e in ("png", "jpg", "bmp")},
                  corrupt=str(files["d"] / "corrupt.mp4"))
    args = [a.format(**values) for a in argv.split()]
    before = snapshot(files["d"])
    rc = cli.main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()  # one line, and nothing announced before it
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("livestyle: error:") and says in lines[0], err
        assert not [p for p in files["out"].rglob("*") if p.is_file()]  # nothing written, nothing half-written
    else:
        assert rc == 0, err
    after = snapshot(files["d"])
    if "dangling" in argv:
        assert os.readlink(files["d"] / "dangling.mp4") == str(files["d"] / "nowhere.mp4")
    assert os.path.getsize(tiny_model_path) > 0 and load_stylenet(tiny_model_path)  # the model read is intact
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


@pytest.mark.parametrize("sigint", ["default", "ignored"])  # ignored: as under `nohup livestyle video ... &`
def test_sigterm_is_handled_like_ctrl_c(sigint, files, tmp_path):
    out = files["out"] / "o.mp4"

    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen([sys.executable, "-c", SIGNAL_CHILD, "video", str(files["clip"]), str(out), "--weights",
                             files["model"], "--styles", "a", "--compile", "off"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=ignore_sigint if sigint == "ignored" else None)
    assert proc.stdout.readline().strip() == "batch"
    assert proc.stdout.readline().strip() == "batch"  # the first batch is encoded by now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted at frame" in err
    left = sorted(p.name for p in files["out"].iterdir())
    assert left == ["o.partial.mp4"]  # what was encoded, under a name that says so; no hidden temporary file


SLOW_TORCH_IMPORT = """
import builtins, sys, time
real_import = builtins.__import__
def slow_import(name, *args, **kwargs):  # the start-up's heavy import, held open until the test's Ctrl-C
    if name == "torch" and "torch" not in sys.modules:
        print("importing torch", flush=True)
        time.sleep(60)
    return real_import(name, *args, **kwargs)
builtins.__import__ = slow_import
from livestyle import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_while_starting_up_is_one_line(files, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TORCH_IMPORT, "image", str(files["image"]),
                             str(files["out"] / "o.png"), "--weights", files["model"], "--styles", "a"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "importing torch"  # inside the start-up's imports, for sure
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines() == ["livestyle: error: interrupted"], err
    assert not list(files["out"].iterdir())


def test_a_reader_that_closes_the_pipe_early_is_not_an_error():
    # `livestyle styles | head -1`: the reader has what it wanted; quiet exit 0 like other Unix tools
    proc = subprocess.Popen([sys.executable, "-m", "livestyle", "styles"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # before it writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err


def test_an_output_that_appears_while_a_run_works_is_not_replaced(tmp_path):
    # two runs with one output: the name was free when both started; the second to finish must not
    # replace the first's file without --overwrite (the check holds at the moment of the rename)
    from livestyle.atomic import atomic_output

    out = tmp_path / "o.png"
    with pytest.raises(ValueError, match="appeared while this ran"):
        with atomic_output(out) as tmp:
            Path(tmp).write_bytes(b"second run")
            out.write_bytes(b"first run")  # the other run finishes meanwhile
    assert out.read_bytes() == b"first run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no temporary file left
    with atomic_output(out, overwrite=True) as tmp:  # with --overwrite, replacing it is what was asked
        Path(tmp).write_bytes(b"asked to replace")
    assert out.read_bytes() == b"asked to replace"


@pytest.mark.parametrize("display", [None, ":99"], ids=["no-display", "display-nobody-answers"])
def test_webcam_without_a_display_never_aborts(display, files, tmp_path):
    # OpenCV's window would abort the process (Qt, SIGABRT): one line that names --no-window instead
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display:
        env["DISPLAY"] = display
    argv = [sys.executable, "-m", "livestyle", "webcam", "--camera", str(files["clip"]), "--weights", files["model"],
            "--styles", "a", "--max-frames", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--no-window" in done.stderr, done.stderr
    # with somewhere else to send the frames it runs headless and says so
    rec = files["out"] / "rec.mp4"
    done = subprocess.run(argv + ["--record", str(rec)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "running without a preview window" in done.stderr, done.stderr
    assert rec.is_file()


API_CASES = [  # (call, keyword arguments, exception, what the message must name)
    ("stylize", {"strength": "x"}, TypeError, "strength"),
    ("stylize", {"strength": None}, TypeError, "strength"),
    ("stylize", {"strength": 5}, ValueError, "strength"),
    ("stylize", {"max_side": 0}, ValueError, "max_side"),
    ("stylize", {"max_side": -3}, ValueError, "max_side"),
    ("stylize", {"max_side": "x"}, TypeError, "max_side"),
    ("stylize", {"preserve_color": "yes"}, TypeError, "preserve_color"),
    ("stylize", {"styles": {"a": "abc"}}, TypeError, "styles['a']"),
    ("stylize", {"styles": {"a": -1}}, ValueError, "styles['a']"),
    ("stylize", {"image": np.zeros((0, 0, 3), np.uint8)}, ValueError, "at least 1x1"),
    ("stylize", {"image": np.zeros((0, 10, 3), np.uint8)}, ValueError, "at least 1x1"),
    ("stylize_video", {"strength": 5}, ValueError, "strength"),
    ("stylize_video", {"temporal": float("nan")}, ValueError, "temporal"),
    ("stylize_video", {"max_side": 0}, ValueError, "max_side"),
    ("stylize_video", {"progress": "x"}, TypeError, "progress"),
    ("stylize_video", {"out_path": 3}, TypeError, "out_path"),
]


@pytest.mark.parametrize("call,kwargs,exc,names", API_CASES, ids=[f"{c[0]} {list(c[1])[0]}" for c in API_CASES])
def test_the_python_api_names_the_argument_it_refuses(call, kwargs, exc, names, files, tmp_path):
    import livestyle

    model = livestyle.load(files["model"])
    kwargs = dict(kwargs)
    styles = kwargs.pop("styles", "a")
    with pytest.raises(exc) as caught:
        if call == "stylize":
            model.stylize(kwargs.pop("image", np.zeros((24, 32, 3), np.uint8)), styles, **kwargs)
        else:
            out = kwargs.pop("out_path", tmp_path / "o.mp4")
            model.stylize_video(files["clip"], out, styles, **kwargs)
    assert names in str(caught.value)
    assert not (tmp_path / "o.mp4").exists()


def test_add_style_offline_without_vgg_says_how_to_get_it_before_writing_anything(files, tmp_path):
    home, user = tmp_path / "home", tmp_path / "user-models"
    env = {k: v for k, v in os.environ.items() if k not in ("LIVESTYLE_VGG", "TORCH_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), LIVESTYLE_WEIGHTS_DIR=str(user), https_proxy="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-m", "livestyle", "add-style", str(files["style"]), "--name", "mine",
                           "--into", files["model"]], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    line = done.stderr
    assert "vgg16-397923af.pth" in line and "--vgg PATH" in line and "LIVESTYLE_VGG" in line
    assert str(home / ".cache" / "torch" / "hub" / "checkpoints") in line  # where torchvision looks
    assert "shared/data" not in line  # never a path of this repository's research data
    assert not user.exists()  # nothing written: no user model folder, no built-in photos

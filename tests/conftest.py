"""Shared fixtures: small seeded networks, model files written by the test, and paths to
../shared/data (a missing file fails in CI, skips elsewhere with the reason)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livestyle.config import NetConfig
from livestyle.model import StyleNet
from livestyle.modelfile import StyleInfo, save_stylenet

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def shared_path(rel: str) -> Path:
    """A file or folder under ../shared/data; in CI its absence fails the test, elsewhere it skips."""
    p = SHARED / rel
    if not p.exists():
        msg = f"{p} is missing (tests that need ../shared/data run where it sits beside the checkout)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return p


@pytest.fixture(autouse=True)
def user_models_in_tmp(tmp_path, monkeypatch):
    """The user's model folder is a fresh one per test: models in the real one never leak in, and tests
    never write there."""
    monkeypatch.setenv("LIVESTYLE_WEIGHTS_DIR", str(tmp_path / "user-models"))


@pytest.fixture
def tiny_net() -> StyleNet:
    torch.manual_seed(0)
    net = StyleNet(NetConfig(base_width=8, n_styles=3, n_res_blocks=1)).eval()
    # random CIN tables so that the styles really differ
    for m in net.modules():
        if hasattr(m, "gamma"):
            m.gamma.data = 1 + 0.5 * torch.randn_like(m.gamma)
            m.beta.data = 0.5 * torch.randn_like(m.beta)
    return net


@pytest.fixture
def tiny_model_path(tiny_net, tmp_path) -> Path:
    """A model file with 3 styles a/b/c and a preset 'ab' (a 0.5 + b 0.5), written by the test."""
    path = tmp_path / "tiny.safetensors"
    styles = [StyleInfo("a", "test style a"), StyleInfo("b", "test style b"), StyleInfo("c", "test style c")]
    save_stylenet(path, tiny_net, styles, presets={"ab": {"a": 0.5, "b": 0.5}}, training={"note": "random, for tests"})
    return path


@pytest.fixture
def random_vgg():
    """A VGG16 loss network with random weights, built on request (never a fallback), to relu3_3."""
    from livestyle.vgg import VGGFeatures
    torch.manual_seed(0)
    return VGGFeatures(("relu1_2", "relu2_2", "relu3_3"), random_weights=True)


@pytest.fixture(scope="session")
def random_vgg_path(tmp_path_factory) -> Path:
    """A random VGG16 `features` file in torchvision's key layout, fp16, named as Caffe convention,
    so that train/eval tests go through the real --vgg loader without the real weights."""
    from livestyle.vgg import VGGFeatures
    torch.manual_seed(0)
    vgg = VGGFeatures(("relu5_3",), random_weights=True)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-caffe-random.pth"
    torch.save({f"features.{k}": v.half() for k, v in vgg.features.state_dict().items()}, path)
    return path


def write_flo(path, flow) -> None:
    """A Middlebury .flo file (what Sintel's ground truth comes as), for the readers' tests."""
    import numpy as np
    h, w = flow.shape[:2]
    with open(path, "wb") as f:
        f.write(np.array([202021.25], "<f4").tobytes() + np.array([w, h], "<i4").tobytes())
        f.write(np.ascontiguousarray(flow, "<f4").tobytes())


@pytest.fixture
def no_native_bf16(monkeypatch):
    """As on the CPU most people have (AVX2, no bf16): where `auto` picks ONNX Runtime, whatever this machine has."""
    monkeypatch.setattr("livestyle.torchnet.fast_bf16", lambda device=None: False)
    monkeypatch.setattr("livestyle.device.fast_bf16", lambda device=None: False)


def write_clip(path: Path, *, size=(64, 48), n=6, fps=12, audio_rate: int | None = None) -> Path:
    """A small H.264 clip of random frames (and AAC audio at `audio_rate`), for the tests to read."""
    import av
    import numpy as np
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
            write_tone(out, aus, audio_rate, n / fps)
    return path


def write_tone(out, stream, rate: int, seconds: float) -> None:
    """A quiet stereo sine through an AAC `stream` of the container `out`, `seconds` long."""
    import av
    import numpy as np
    t = 0
    while t < rate * seconds:
        samples = (0.1 * np.sin(np.arange(t, t + 1024) / 15)).astype(np.float32)[None].repeat(2, 0)
        af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        af.sample_rate, af.pts = rate, t
        out.mux(stream.encode(af))
        t += 1024
    out.mux(stream.encode(None))


@pytest.fixture
def images(tmp_path) -> dict:
    """Two photos and two style images, small random-ish pictures written by the test."""
    rng = np.random.default_rng(0)
    content = tmp_path / "content"
    content.mkdir()
    for i in range(2):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(content / f"photo{i}.png"), img)
    styles = []
    for i, (freq, color) in enumerate([(3, (40, 90, 200)), (9, (200, 180, 30))]):
        yy, xx = np.mgrid[0:48, 0:48]
        stripes = (np.sin((xx + yy) * freq / 10) > 0)[..., None] * np.array(color, np.uint8)
        path = tmp_path / f"style{i}.png"
        cv2.imwrite(str(path), stripes.astype(np.uint8))
        styles.append(str(path))
    return {"content": str(content), "styles": styles, "dir": tmp_path}

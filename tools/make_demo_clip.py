"""Write samples/demo.mp4: an 8 s, 640x360, 30 fps H.264 clip with an AAC audio track, made from a
public-domain (CC0) photo that scikit-image ships, so that `livestyle video samples/demo.mp4 ...`
has something to work on and shows audio passthrough.

The picture is `skimage.data.coffee()` ("Coffee cup ... CC0 by the photographer (Rachel Michetti)",
per the function's docstring). A slow Ken Burns move (zoom in and pan, eased) runs over it; the
sound is a soft A-major chord that fades in and out.

    pip install -e '.[tools]'          # scikit-image
    python tools/make_demo_clip.py     # -> samples/demo.mp4
"""
from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from livestyle.atomic import atomic_output  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 30, 8
SAMPLE_RATE = 48000


def load_photo() -> np.ndarray:
    try:
        from skimage import data
    except ImportError:
        sys.exit("make_demo_clip: needs scikit-image for its CC0 sample photo; pip install -e '.[tools]'")
    return data.coffee()  # uint8 (400, 600, 3) RGB


def ease(t: float) -> float:
    """Smooth start and stop (cosine ease-in-out) for t in [0, 1]."""
    return 0.5 - 0.5 * math.cos(math.pi * t)


def ken_burns_frame(photo: np.ndarray, t: float) -> np.ndarray:
    """The view at time fraction t: a 16:9 window that shrinks from the full width to 62% of it while
    its centre drifts from the middle towards the cup, resampled with sub-pixel precision (no jitter)."""
    h0, w0 = photo.shape[:2]
    e = ease(t)
    win_w = w0 * (1.0 - 0.38 * e)
    win_h = win_w * HEIGHT / WIDTH
    cx = w0 * (0.50 + (0.47 - 0.50) * e)
    cy = h0 * (0.50 + (0.43 - 0.50) * e)
    cx = min(max(cx, win_w / 2), w0 - win_w / 2)  # keep the window inside the photo
    cy = min(max(cy, win_h / 2), h0 - win_h / 2)
    scale = WIDTH / win_w
    # output pixel (x, y) <- photo pixel (x / scale + left, y / scale + top)
    m = np.array([[scale, 0, -(cx - win_w / 2) * scale], [0, scale, -(cy - win_h / 2) * scale]])
    return cv2.warpAffine(photo, m, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def chord(start: int, n: int) -> np.ndarray:
    """float32 (2, n) stereo samples from sample `start`: A3, C#4, E4 with a slow swell and 1 s fades."""
    t = np.arange(start, start + n) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * 0.25 * t)
    fade = np.clip(np.minimum(t, SECONDS - t) / 1.0, 0, 1)
    left = 0.18 * tone * swell * fade
    right = 0.18 * tone * (1.5 - swell) * fade  # the swell moves gently between the sides
    return np.stack([left, right]).astype(np.float32)  # (2, n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "samples" / "demo.mp4"))
    p.add_argument("--crf", type=int, default=20)
    args = p.parse_args(argv)

    photo = load_photo()
    n_frames = FPS * SECONDS
    with atomic_output(args.out, overwrite=True) as tmp:
        with av.open(tmp, "w", format="mp4", container_options={"movflags": "+faststart"}) as out:
            video = out.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            video.codec_context.options = {"crf": str(args.crf), "preset": "slow"}
            audio = out.add_stream("aac", rate=SAMPLE_RATE)
            audio.layout = "stereo"
            audio.bit_rate = 96_000
            for i in range(n_frames):
                frame = av.VideoFrame.from_ndarray(ken_burns_frame(photo, i / (n_frames - 1)), format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, FPS)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
            total = SAMPLE_RATE * SECONDS
            for start in range(0, total, 1024):
                samples = chord(start, min(1024, total - start))
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                af.sample_rate, af.pts = SAMPLE_RATE, start
                out.mux(audio.encode(af))
            out.mux(audio.encode(None))
    size_kb = Path(args.out).stat().st_size / 1024
    print(f"wrote {args.out}: {WIDTH}x{HEIGHT}, {FPS} fps, {SECONDS} s, H.264 + AAC, {size_kb:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

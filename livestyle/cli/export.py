"""`livestyle export`: the model as ONNX, for the runtimes people embed."""
from __future__ import annotations

import json
import os

from .common import check_output_path, info, positive_int


def run(args) -> int:
    from ..export import DEFAULT_OPSET, export_onnx
    from ..modelfile import default_model_path, load_stylenet

    if os.path.splitext(args.output)[1].lower() != ".onnx":
        raise ValueError(f"export: expected an output file name ending in .onnx, got {args.output!r}")
    check_output_path(args.output, overwrite=args.overwrite)
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise RuntimeError(f"livestyle export needs onnx and onnxscript ({e.name} is missing): "
                           "pip install 'livestyle[torch]'") from None
    model = load_stylenet(args.weights or default_model_path())
    path = export_onnx(model, args.output, opset=args.opset or DEFAULT_OPSET, overwrite=args.overwrite)
    info(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB, {len(model.styles)} styles, "
         f"opset {args.opset or DEFAULT_OPSET}): inputs frames uint8 (N,H,W,3), mix (N,{len(model.styles)})"
         + (" and small (N,)" if model.net.cfg.small_rows else "") + ", "
         f"output styled uint8 (N,H,W,3); styles {json.dumps(model.style_names[:3])[:-1]}, ...]")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("export", help="write the model as ONNX (frames + style mix in, stylized frames out)",
                       description="Export the model to ONNX: inputs frames uint8 (N,H,W,3) RGB and mix "
                       "float32 (N,n_styles) (rows summing to 1), and for a network with small rows small float32 (N,) "
                       "(0 at full size, 1 for a copy at 75 % a side or less), output styled uint8 (N,H,W,3) RGB; "
                       "N, H, W dynamic. Style names, sources and presets are in the model's metadata.")
    s.add_argument("output", help="ONNX file to write (.onnx)")
    s.add_argument("--weights", metavar="FILE", help="model file (default: the shipped model)")
    s.add_argument("--opset", type=positive_int, help="ONNX opset (default 18)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.set_defaults(func=run)

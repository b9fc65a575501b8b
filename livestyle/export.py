"""ONNX export of a livestyle model, for the runtimes people embed (ONNX Runtime, OpenVINO, TensorRT...).

The graph takes
  frames  uint8 (N, H, W, 3), RGB frames as images are decoded (OpenCV after BGR->RGB, PIL, PyAV)
  mix     float32 (N, n_styles), each row the style weights (non-negative, summing to 1: one-hot for a
          single style, e.g. 0.7/0.3 for a blend; the CIN tables are mixed inside the graph)
  small   float32 (N,), only for a network with small rows (NetConfig.small_rows): how much of them to
          take, 0 for a full-size frame, 1 for a copy at 75 % a side or less (config.small_weight)
and returns
  styled  uint8 (N, H, W, 3), RGB
with N, H and W dynamic: any size, the padding to the network's stride and the crop back happen inside
the graph, as in StyleNet.forward, which is what is exported (torch.export, then ONNX), between the
conversions (to float NCHW in [0, 1] and back, rounded half up). The conversions are in the graph because
there they cost less than in NumPy around it: 32.8 against 35.4 ms a 640x360 frame (ONNX Runtime, 2 threads,
the 2-core AVX-512 Xeon), with identical frames out. Exports written before (float32 NCHW "image" in, float32
"styled" out) still run: livestyle.ortnet reads either.
The model's metadata holds `styles` (JSON list of names), `sources` (JSON {name: source}) and
`presets` (JSON {short name: {style: weight}}), so a program can build its mix vector from names, and
`weights_sha256`, the fingerprint of the weights it came from (livestyle.ortnet checks it before running it).
"""
from __future__ import annotations

import json
import logging
import os
import warnings

import torch

from .atomic import atomic_output
from .modelfile import ModelFile
from .ortnet import FINGERPRINT_KEY, net_fingerprint

log = logging.getLogger(__name__)

DEFAULT_OPSET = 18
MIN_OPSET = 18  # torch.onnx's exporter (dynamo) writes opset 18 and newer


class FramesGraph(torch.nn.Module):
    """What the export holds: uint8 (N, H, W, 3) frames in and out around the network."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor, mix: torch.Tensor, small: torch.Tensor | None = None) -> torch.Tensor:
        # (N, 3, H, W) in [0, 1]; contiguous, or the tracer fixes N to 1 for a space-to-depth net ("live")
        x = frames.permute(0, 3, 1, 2).float().contiguous() * (1.0 / 255.0)
        y = self.net(x, mix, small)
        # + 0.5 then a cast (which truncates): rounded half up, as ortnet and NumPy round
        return (y * 255.0 + 0.5).clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)


def export_onnx(model: ModelFile, out: str | os.PathLike, *, opset: int = DEFAULT_OPSET,
                overwrite: bool = False) -> str:
    """Write `model` as an ONNX file at `out` (atomically: nothing appears there unless complete)."""
    import onnx  # the exporter needs it; a clear message when it is missing

    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"--opset: expected an ONNX opset from {MIN_OPSET} (torch's exporter) to {newest} "
                         f"(this onnx {onnx.__version__}), got {opset!r}")
    net = model.net.float().cpu().eval()
    n = net.n_styles
    frames = torch.randint(0, 256, (1, 64, 96, 3), dtype=torch.uint8)
    mix = torch.full((1, n), 1.0 / n)
    batch, height, width = torch.export.Dim("N"), torch.export.Dim("H", min=1), torch.export.Dim("W", min=1)
    args, names = (frames, mix), ["frames", "mix"]
    shapes = {"frames": {0: batch, 1: height, 2: width}, "mix": {0: batch}}
    if net.cfg.small_rows:
        args, names, shapes = (*args, torch.zeros(1)), [*names, "small"], {**shapes, "small": {0: batch}}
    with atomic_output(out, overwrite=overwrite, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on dynamic axis names; not the user's concern
        program = torch.onnx.export(
            FramesGraph(net), args, input_names=names, output_names=["styled"],
            opset_version=opset, dynamic_shapes=shapes, dynamo=True, verbose=False)
        proto = program.model_proto
        got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
        if got != opset:  # the exporter fell back to another opset rather than failing
            raise RuntimeError(f"the exporter could not write opset {opset} (it wrote {got}); nothing was written")
        dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        if not all(isinstance(d, str) for d in dims[:3]):  # N, H or W fixed by the tracer: it fits one size only
            raise RuntimeError(f"the exporter fixed the frames' shape to {dims}; nothing was written")
        meta = {"styles": json.dumps(model.style_names),
                "sources": json.dumps({s.name: s.source for s in model.styles}),
                "presets": json.dumps(model.presets),
                FINGERPRINT_KEY: net_fingerprint(net),
                "livestyle": "frames uint8 (N,H,W,3) RGB, mix float32 (N,n_styles) rows summing to 1"
                             + (", small float32 (N,) in [0,1]" if net.cfg.small_rows else "")
                             + " -> styled uint8 (N,H,W,3) RGB"}
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.producer_name = "livestyle"
        onnx.save_model(proto, tmp)
    log.info("exported %s (%d styles, opset %d)", out, n, opset)
    return str(out)

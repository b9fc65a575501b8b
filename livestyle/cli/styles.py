"""`livestyle styles`: one table of every style you can name, with its source and the model(s) that hold it."""
from __future__ import annotations

from pathlib import Path

from .common import info, warn


def model_label(path: Path) -> str:
    """What a model file is, in words: the shipped model, or one of yours."""
    from ..modelfile import DEFAULT_MODEL_NAME, shipped_weights_dir

    shipped = path.parent.resolve() == shipped_weights_dir().resolve()
    if shipped and path.name == DEFAULT_MODEL_NAME:
        return "shipped"
    return f"yours: {path.name}"


def run(args) -> int:
    from ..modelfile import find_models, read_model_info
    paths = [Path(args.weights)] if args.weights else find_models()
    if not paths:
        info("no trained models found; train one with `livestyle train` or add a painting with `livestyle add-style`")
        return 0
    sources: dict[str, str] = {}
    held: dict[str, list[str]] = {}
    presets: dict[str, str] = {}
    for path in paths:
        try:
            _, styles, model_presets = read_model_info(path)
        except (ValueError, OSError) as e:
            if args.weights:
                raise
            warn(f"skipping {str(e).splitlines()[0]}")  # one bad file must not hide the good ones
            continue
        label = model_label(path)
        for s in styles:
            sources.setdefault(s.name, s.source)
            held.setdefault(s.name, []).append(label)
        for name, mix in sorted(model_presets.items()):
            presets.setdefault(name, " + ".join(f"{k} {v:.2f}" for k, v in mix.items()))
    width = max([len(n) for n in [*sources, *presets]] + [5])
    models = {name: ", ".join(labels) for name, labels in held.items()}
    mwidth = max([len(m) for m in models.values()] + [6])
    print(f"{'style':<{width}}  {'model':<{mwidth}}  source")
    for name, source in sources.items():
        print(f"{name:<{width}}  {models[name]:<{mwidth}}  {source}")
    for name, parts in presets.items():
        print(f"{name:<{width}}  {'preset':<{mwidth}}  {parts}")
    return 0


def add_parser(sub) -> None:
    s = sub.add_parser("styles", help="list the available styles and where they come from")
    s.add_argument("--weights", metavar="FILE", help="list the styles of this model file only")
    s.set_defaults(func=run)

"""Files the package ships besides the models, found in a source checkout or in an installed wheel.
No torch: the command line reads these before anything heavy loads."""
from __future__ import annotations

from pathlib import Path


def demo_clip() -> Path:
    """samples/demo.mp4: at the top of a source checkout, or the package's `livestyle/samples/` in a wheel
    (pyproject.toml maps it there)."""
    checkout = Path(__file__).resolve().parent.parent / "samples" / "demo.mp4"
    return checkout if checkout.is_file() else Path(__file__).resolve().parent / "samples" / "demo.mp4"

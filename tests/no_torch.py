"""Run livestyle as the light install does, with torch made unimportable:

    python tests/no_torch.py -m livestyle ARGS...    the command line
    python tests/no_torch.py -c CODE                  Python code

`import torch` (and torchvision) raise ModuleNotFoundError, as where the extra is not installed. Exits with
the command's exit code, or 3 if a torch module got imported all the same."""
from __future__ import annotations

import importlib.abc
import runpy
import sys

BLOCKED = ("torch", "torchvision")


class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def main() -> int:
    sys.meta_path.insert(0, _NoTorch())
    mode, rest = sys.argv[1], sys.argv[2:]
    code = 0
    try:
        if mode == "-m":
            sys.argv = [rest[0], *rest[1:]]
            runpy.run_module(rest[0], run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c"]
            exec(compile(rest[0], "<no_torch>", "exec"), {"__name__": "__main__"})
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    if loaded:
        print(f"no_torch: imported {loaded}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The package's layers, read from the imports (module level and inside functions): the network code
does no I/O, sources and sinks never touch torch (not even through another livestyle module), nothing
imports the CLI, and no module grows past what one reader can hold."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "livestyle"

NETWORK = {"model", "losses", "vgg", "motion", "config", "device"}
IO_LIBS = {"cv2", "av", "PIL", "pyvirtualcam"}
IO_MODULES = {"sources", "sinks", "live_outputs", "capture", "images", "io_threads", "atomic", "transcode", "live"}
NO_TORCH = {"sources", "sinks", "live_outputs", "governor", "capture", "images", "io_threads", "atomic", "keys", "grid", "checks", "bundled"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts) or "__init__"


def imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute: 'torch', 'livestyle.model', ..."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["livestyle", *package[:len(package) - (node.level - 1)]]
                mod = ".".join(base + ([node.module] if node.module else []))
                found |= {f"{mod}.{a.name}" if not node.module else mod for a in node.names}
            else:
                found.add(node.module)
    return found


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def own(imported: set[str]) -> set[str]:
    """The livestyle modules among `imported`, as names relative to the package."""
    out = set()
    for m in imported:
        if m.startswith("livestyle."):
            rel = m[len("livestyle."):]
            while rel and rel not in MODULES:
                rel = rel.rpartition(".")[0]
            if rel:
                out.add(rel)
    return out


def test_the_network_code_does_no_io():
    for name in NETWORK:
        imp = imports(MODULES[name])
        assert not {m.split(".")[0] for m in imp} & IO_LIBS, (name, imp)
        assert not own(imp) & IO_MODULES, (name, own(imp))


def test_sources_and_sinks_never_import_torch_even_indirectly():
    for name in NO_TORCH:
        seen, todo = set(), [name]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            imp = imports(MODULES[m])
            assert "torch" not in {i.split(".")[0] for i in imp}, f"{name} reaches torch through {m}"
            todo += sorted(own(imp) - seen)


def test_nothing_imports_the_cli():
    for name, path in MODULES.items():
        if name == "cli" or name.startswith("cli.") or name == "__main__":
            continue
        assert "cli" not in {m.split(".")[0] for m in own(imports(path))}, name


def test_no_module_is_longer_than_one_reader_can_hold():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(sizes.values()) <= 400, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


def test_no_function_is_longer_than_a_screenful_or_two():
    long = {f"{name}.{node.name}": node.end_lineno - node.lineno + 1
            for name, path in MODULES.items() for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 100}
    assert not long, long

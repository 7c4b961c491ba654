"""No import runs back up the layers (issue 16): data → models → graph → propagation → evaluate
→ fewshot → train → pretrain → recipes → review → exports → cli. Every import statement of ``src/`` is read, including the
ones inside functions; ``report`` (in evaluate) therefore imports no training code."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "deeplabelprop"

# the base modules every layer may use
BASE = {
    "errors",
    "_params",
    "_validation",
    "_labels",
    "_torchio",
    "_runfile",
    "_optional",
    "_registry",
    "atomic",
    "config",
    "distributed",
    "fingerprint",
    "locking",
}
LAYERS = [
    "base",
    "data",
    "models",
    "graph",
    "propagation",
    "estimator",
    "selection",
    "evaluate",
    "fewshot",
    "train",
    "pretrain",
    "recipes",
    "review",
    "exports",
    "cli",
    "__main__",
]


def layer_of(module: str) -> int:
    """Layer index of a dotted module inside the package (``deeplabelprop.x.y`` → x)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    is_module = (SRC / f"{top}.py").exists() or (SRC / top).is_dir()
    if top in BASE or not is_module:  # a base module, or a name of the package (its version)
        return 0
    return LAYERS.index(top)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of the package in ``path``."""
    package = list(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            else:
                names = [node.module or ""]
            out += [(node.lineno, n) for n in names if n.startswith("deeplabelprop")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("deeplabelprop")]
    return out


def modules():
    return sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_up_the_layers(path):
    own = layer_of(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
    for line, module in imported_modules(path):
        assert layer_of(module) <= own, f"{path.relative_to(SRC)}:{line} imports {module}"


def test_the_layer_table_catches_an_upward_import(tmp_path):
    """The check itself can fail: an evaluate module importing the training loop is caught."""
    bad = SRC / "evaluate" / "_probe_upward.py"
    bad.write_text("from ..train.loop import train\n")
    try:
        with pytest.raises(AssertionError, match="imports deeplabelprop.train.loop"):
            test_no_import_runs_up_the_layers(bad)
    finally:
        bad.unlink()

"""No import circle between two files of ``src/`` (issue 27), within a layer too: the layering
test only sees imports across layers. Every import statement counts, including the ones inside
functions. An import of a package (``from ..graph import knn``) is an edge to its
``__init__``; a name that is a submodule (``from . import suggest``) is an edge to that file."""

from collections import defaultdict

from tests.test_layers import SRC, imported_modules, modules


def module_name(path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(name: str, known: set[str]) -> str | None:
    """The module ``name`` refers to: itself, or (for ``package.attribute``) its package."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    paths = modules() + [SRC / "__init__.py"]
    known = {module_name(p) for p in paths}
    edges: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        source = module_name(path)
        for _, target in imported_modules(path):
            target = resolve(target, known)
            if target and target != source:
                edges[source].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_files():
    packages = {"deeplabelprop"} | {module_name(p) for p in SRC.rglob("__init__.py")}
    found = []
    for comp in cycles(graph()):
        # a package's __init__ imports its own files, which may import the package's other
        # files through it: only circles among files (not through an __init__) count
        files = [m for m in comp if m not in packages]
        if len(files) > 1:
            sub = {m: {t for t in graph()[m] if t in files} for m in files}
            found += cycles(sub)
    assert not found, f"import circles: {found}"


def test_the_check_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []

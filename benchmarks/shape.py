"""The package's shape in figures: what the redesign issue measured before and after.

    python benchmarks/shape.py [PACKAGE_DIR]

Prints the largest files, the longest functions, the widest signatures, every place
outside a strategy's own module that spells a registered strategy's name as a string,
and the import cycles between the package's modules. Everything is read from the
source with ``ast``; nothing of the package is imported except the registry (for the
strategy names).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Function:
    where: str
    lines: int
    params: int


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def functions(path: Path, tree: ast.Module) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
            count = len(names) + (a.vararg is not None) + (a.kwarg is not None)
            if names and names[0] in ("self", "cls"):
                count -= 1
            end = node.end_lineno or node.lineno
            yield Function(f"{path}:{node.lineno} {node.name}", end - node.lineno + 1, count)


def imports(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules this module imports (at any depth: lazy imports count).
    ``from . import x`` imports the submodule x, not the package's ``__init__``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                base = ".".join(up[: len(up) - node.level + 1] + ([base] if base else []))
            # a submodule by its name; anything else (a function, a class) from ``base``
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


BUILT_IN = ("undersample", "oversample", "smote", "hybrid", "weight")


def strategy_names(package: Path) -> dict[str, str]:
    """Registered strategy name -> the module that declares it (for a tree without a
    registry, before the redesign: the five built-ins, declared nowhere)."""
    sys.path.insert(0, str(package.parent))
    try:
        from rebalance_cli import strategies as registry
    except ImportError:
        return dict.fromkeys(BUILT_IN, "")
    return {s.name: type(s).__module__ for s in registry.all_strategies()}


def named_outside(
    mods: dict[str, Path], trees: dict[str, ast.Module], owners: dict[str, str]
) -> list[str]:
    """String constants equal to a strategy's name outside the module that declares it
    (docstrings aside)."""
    out = []
    for name, tree in trees.items():
        docs = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in owners
                and owners[node.value] != name
                and id(node) not in docs
            ):
                out.append(f"{mods[name]}:{node.lineno} {node.value!r}")
    return out


def main(argv: list[str]) -> None:
    package = Path(argv[0]) if argv else ROOT / "rebalance_cli"
    mods = modules(package)
    trees = {name: ast.parse(path.read_text()) for name, path in mods.items()}
    sizes = sorted(((len(p.read_text().splitlines()), str(p)) for p in mods.values()), reverse=True)
    funcs = [f for name, path in mods.items() for f in functions(path, trees[name])]
    graph = {name: imports(name, mods[name], trees[name], set(mods)) for name in mods}
    total = sum(n for n, _ in sizes)
    print(f"{len(mods)} modules, {total:,} lines")
    print("largest files:")
    for n, p in sizes[:5]:
        print(f"  {n:6,}  {p}")
    print("longest functions:")
    for f in sorted(funcs, key=lambda f: -f.lines)[:8]:
        print(f"  {f.lines:6}  {f.where} ({f.params} parameters)")
    print("widest signatures:")
    for f in sorted(funcs, key=lambda f: -f.params)[:8]:
        print(f"  {f.params:6}  {f.where} ({f.lines} lines)")
    named = named_outside(mods, trees, strategy_names(package))
    print(f"strategy names spelled outside their module: {len(named)}")
    for line in named:
        print(f"  {line}")
    found = cycles(graph)
    print(f"import cycles: {len(found)}")
    for comp in found:
        print("  " + " <-> ".join(comp))


if __name__ == "__main__":
    main(sys.argv[1:])

"""No import cycle anywhere in the package, lazy (in-function) imports included: the
layers of docs/architecture.md import only downwards. The walk is benchmarks/shape.py's,
which also prints the package's figures."""

from __future__ import annotations

import ast
import importlib.util
import sys

from tests.conftest import REPO


def _shape():
    spec = importlib.util.spec_from_file_location("shape", REPO / "benchmarks" / "shape.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("shape", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _graph(shape) -> dict[str, set[str]]:
    found = shape.modules(REPO / "rebalance_cli")
    known = set(found)
    return {
        name: shape.imports(name, path, ast.parse(path.read_text()), known)
        for name, path in found.items()
    }


def test_the_package_has_no_import_cycle():
    shape = _shape()
    assert shape.cycles(_graph(shape)) == []


def test_the_walk_sees_a_cycle_made_by_a_lazy_import():
    """The check can fail: an in-function import of the command line from the registry
    (the cycle this test was written after) is one."""
    shape = _shape()
    graph = _graph(shape)
    graph["rebalance_cli.strategies"].add("rebalance_cli.cli.options")
    assert any("rebalance_cli.strategies" in c for c in shape.cycles(graph))


def test_the_registry_and_the_engines_never_import_the_command_line():
    graph = _graph(_shape())
    below = [
        m for m in graph if m.split(".")[1:2] in (["strategies"], ["engines"], ["io"], ["stages"])
    ]
    for module in below:
        up = sorted(t for t in graph[module] if t.startswith("rebalance_cli.cli"))
        assert up == [], f"{module} imports {up}"

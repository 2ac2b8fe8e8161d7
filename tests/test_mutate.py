"""`make mutate`'s list of breakages stays applicable: a refactoring that moves the code
a breakage changes fails here (in `make test`), not silently at the next `make mutate`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def load_tool():
    spec = importlib.util.spec_from_file_location("rebalance_mutate", REPO / "tools" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TOOL = load_tool()


def test_names_are_unique_and_there_are_at_least_the_issues_fourteen():
    names = [m.name for m in TOOL.MUTATIONS]
    assert len(names) == len(set(names)) >= 14


@pytest.mark.parametrize("mutation", TOOL.MUTATIONS, ids=lambda m: m.name)
def test_every_breakage_applies_once_and_names_existing_tests(mutation, tmp_path):
    source = REPO / mutation.path
    target = tmp_path / mutation.path
    target.parent.mkdir(parents=True)
    target.write_text(source.read_text())
    assert TOOL.mutate(tmp_path, mutation) is None
    assert target.read_text() != source.read_text()
    args = list(mutation.tests)
    paths = args[: args.index("-k")] if "-k" in args else args
    assert paths and all(Path(REPO, p.split("::")[0]).is_file() for p in paths), paths


def test_a_moved_breakage_is_stale_not_skipped(tmp_path):
    mutation = TOOL.MUTATIONS[0]
    target = tmp_path / mutation.path
    target.parent.mkdir(parents=True)
    target.write_text("nothing to change here\n")
    assert TOOL.mutate(tmp_path, mutation) == (
        f"the code of edit 1 occurs 0 times in {mutation.path}"
    )
    assert target.read_text() == "nothing to change here\n"

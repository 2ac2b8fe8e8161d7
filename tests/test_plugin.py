"""A strategy registered from outside the package, through the ``rebalance.strategies``
entry point, run end to end.

A temporary folder holds a module ``toy_rebalance`` (``KeepFirst``: an undersampler on a
random stream of its own, with one option and its check) and a ``.dist-info`` folder whose
``entry_points.txt`` registers it; putting the folder on ``PYTHONPATH`` (or ``sys.path``)
installs it as far as ``importlib.metadata`` is concerned.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rebalance_cli import strategies as registry
from rebalance_cli.errors import UsageError
from rebalance_cli.request import build
from rebalance_cli.stages import Stages

from .conftest import argv
from .test_strategy_checks import CHECKS, LABEL, Workspace, class_counts, frame

TOY = '''"""A toy strategy package: registered through the rebalance.strategies entry point."""

from typing import ClassVar

from rebalance_cli.errors import UsageError
from rebalance_cli.strategies import Option, Strategy


def _check_min_rows(value: int) -> None:
    if value < 1:
        raise UsageError(f"--min-rows must be at least 1 (got {value})")


class KeepFirst(Strategy):
    name = "keepfirst"
    summary = "drop rows of the big classes, drawn on a random stream of its own"
    kind = "select"
    direction = "under"
    engines = frozenset({"local"})
    options: ClassVar = (
        Option("min_rows", "--min-rows", "keepfirst: the fewest rows a class keeps.",
               type=int, owner="keepfirst", check=_check_min_rows),
    )

    def streams(self, before, after):
        return ["keepfirst"] * len(before)


NOT_A_STRATEGY = 42


class Impostor(KeepFirst):
    name = "undersample"


def _clashing(flag, name="toy_option", short=None):
    class Clashing(KeepFirst):
        options: ClassVar = (Option(name, flag, "clashes.", owner="clashing", short=short),)

    Clashing.name = "clashing"
    return Clashing


NAME_OF_SMOTE = _clashing("--toy-k", name="k_neighbors")
NAME_OF_REBALANCE = _clashing("--toy-seed", name="seed")
FLAG_OF_SMOTE = _clashing("--k-neighbors")
SHORT_OF_SMOTE = _clashing("--toy-k", short="-k")
FLAG_OF_REBALANCE = _clashing("--force")
SEED_FLAG = _clashing("--seed")
FLAG_OF_KEEPFIRST = _clashing("--min-rows")


class Sharing(KeepFirst):
    from rebalance_cli.strategies.smote import OPTIONS as options
    name = "sharing"
'''

BROKEN = {
    "not-a-strategy": "toy_rebalance:NOT_A_STRATEGY",
    "import-fails": "no_such_module_rebalance:Thing",
    "duplicate-name": "toy_rebalance:Impostor",
}


def _dist(root: Path, name: str, entry_points: dict[str, str]) -> None:
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[rebalance.strategies]\n{lines}")


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy package and its dist-info: a folder to put on the path."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "toy_rebalance").mkdir()
    (root / "toy_rebalance" / "__init__.py").write_text(TOY)
    _dist(root, "toy-rebalance", {"keepfirst": "toy_rebalance:KeepFirst"})
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    frame().write_csv(folder / "data.csv")
    return folder


def _run(cwd: Path, *args: object, path: list[Path]) -> subprocess.CompletedProcess[str]:
    """`python -m rebalance_cli ARGS` with these folders before the existing PYTHONPATH."""
    parts = [str(p) for p in path]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(parts), "COLUMNS": "200"}
    env.pop("REBALANCE_DEBUG", None)
    return subprocess.run(
        argv(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def registered(plugin_dir: Path) -> Iterator[registry.Strategy]:
    """The toy on sys.path and in the registry for this test; the registry restored after."""
    sys.path.insert(0, str(plugin_dir))
    importlib.invalidate_caches()
    registry.reload()
    try:
        yield registry.get("keepfirst")
    finally:
        sys.path.remove(str(plugin_dir))
        sys.modules.pop("toy_rebalance", None)
        importlib.invalidate_caches()
        registry.reload()
        assert "keepfirst" not in registry.names()


# --- end to end, in a real process -----------------------------------------------------------


def test_cli_runs_the_plugin(plugin_dir: Path, data: Path) -> None:
    base = ("apply", "data.csv", "-l", LABEL, "--seed", 1)
    proc = _run(data, *base, "-s", "keepfirst", "-o", "out.csv", "--report", "r.json",
                path=[plugin_dir])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("rebalance: wrote ") and proc.stderr.count("\n") == 1
    report = json.loads((data / "r.json").read_text())
    assert report["strategy"] == "keepfirst"
    assert report["plan"]["strategy"] == "keepfirst"
    written = pl.read_csv(data / "out.csv")
    smallest = min(class_counts(frame()).values())
    want = dict.fromkeys(sorted(class_counts(frame())), smallest)
    assert class_counts(written) == want
    assert report["class_counts"]["after"] == want
    assert report["rows"]["written"] == written.height == sum(want.values())
    # its own stream: not undersample's rows, though the plan is the same
    proc = _run(data, *base, "-s", "undersample", "-o", "under.csv", path=[plugin_dir])
    assert proc.returncode == 0, proc.stderr
    under = pl.read_csv(data / "under.csv")
    assert class_counts(under) == want
    assert under["id"].to_list() != written["id"].to_list()


def test_cli_without_the_plugin_does_not_know_it(data: Path) -> None:
    proc = _run(data, "apply", "data.csv", "-l", LABEL, "-s", "keepfirst", "-o", "x.csv",
                path=[])  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "rebalance: usage error: unknown strategy 'keepfirst' "
        f"(choose one of {', '.join(s.name for s in registry.built_in())})"
    ]
    assert not (data / "x.csv").exists()


def test_help_lists_the_plugin_and_its_options(plugin_dir: Path, data: Path) -> None:
    proc = _run(data, "apply", "--help", path=[plugin_dir])
    assert proc.returncode == 0, proc.stderr
    help_text = " ".join(proc.stdout.split())
    assert "undersample" in help_text  # the help does name the built-ins
    assert "keepfirst" in help_text
    assert "--min-rows" in help_text


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_entry_point_is_left_out_with_one_warning(
    broken: str, plugin_dir: Path, data: Path, tmp_path: Path
) -> None:
    """Someone else's broken package does not stop the tool: the run goes on, and one
    warning names the entry point and why; asking for it is one usage error."""
    _dist(tmp_path, "broken-rebalance", {broken: BROKEN[broken]})
    out = tmp_path / "b.csv"
    proc = _run(data, "apply", "data.csv", "-l", LABEL, "-s", "keepfirst", "-o", out,
                path=[plugin_dir, tmp_path])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert len(lines) == 2, proc.stderr  # the warning, then the run's summary line
    assert lines[1].startswith("rebalance: wrote 114 rows (a: 38, b: 38, c: 38) to ")
    assert lines[0].startswith("rebalance: warning: entry point "), lines
    assert f"'{broken}'" in lines[0] and "rebalance.strategies" in lines[0], lines
    assert "(package broken-rebalance)" in lines[0] and lines[0].endswith("it was left out")
    proc = _run(data, "apply", "data.csv", "-l", LABEL, "-s", broken, "-o", tmp_path / "c.csv",
                path=[plugin_dir, tmp_path])  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"rebalance: usage error: strategy '{broken}': entry point "), last
    assert "fix or remove that package" in last
    assert not (tmp_path / "c.csv").exists()


# --- in process: the registry, the request checks, the check suite ---------------------------

CLASHES = {
    "NAME_OF_SMOTE": "option 'k_neighbors' is also an option of smote",
    "NAME_OF_REBALANCE": "option 'seed' is named like a rebalance option",
    "FLAG_OF_SMOTE": "option 'toy_option' takes --k-neighbors, a flag of smote",
    "SHORT_OF_SMOTE": "option 'toy_option' takes -k, a flag of smote",
    "FLAG_OF_REBALANCE": "option 'toy_option' takes --force, a flag of rebalance's own",
    "SEED_FLAG": "option 'toy_option' takes --seed, a flag of rebalance's own",
    "FLAG_OF_KEEPFIRST": "option 'toy_option' takes --min-rows, a flag of keepfirst",
}


@pytest.mark.parametrize("clash", sorted(CLASHES))
def test_a_plugin_whose_option_clashes_is_left_out_with_one_warning(
    clash: str, plugin_dir: Path, tmp_path: Path
) -> None:
    """An option named or flagged like another strategy's, or like one of rebalance's own,
    would be dropped or shown twice: the plug-in is left out, and one warning says why.
    (The command line reserves its own options as it is imported, whatever ran before.)"""
    importlib.import_module("rebalance_cli.cli.options")
    _dist(tmp_path, "clash-rebalance", {"clashing": f"toy_rebalance:{clash}"})
    sys.path[:0] = [str(plugin_dir), str(tmp_path)]
    importlib.invalidate_caches()
    registry.reload()
    try:
        assert "keepfirst" in registry.names()
        assert "clashing" not in registry.names()
        warnings = registry.load_warnings()
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("entry point 'clashing' of rebalance.strategies")
        assert warnings[0].endswith(
            f"registers 'clashing', whose {CLASHES[clash]}; it was left out"
        )
        with pytest.raises(UsageError, match=r"^strategy 'clashing': entry point"):
            registry.get("clashing")
        assert [o.name for o in registry.all_options()].count("k_neighbors") == 1
    finally:
        del sys.path[:2]
        sys.modules.pop("toy_rebalance", None)
        importlib.invalidate_caches()
        registry.reload()


def test_a_plugin_may_share_a_built_in_option_object(plugin_dir: Path, tmp_path: Path) -> None:
    """Sharing the very option object (as hybrid shares SMOTE's) is no clash."""
    _dist(tmp_path, "share-rebalance", {"sharing": "toy_rebalance:Sharing"})
    sys.path[:0] = [str(plugin_dir), str(tmp_path)]
    importlib.invalidate_caches()
    registry.reload()
    try:
        assert registry.load_warnings() == []
        assert "sharing" in registry.names()
    finally:
        del sys.path[:2]
        sys.modules.pop("toy_rebalance", None)
        importlib.invalidate_caches()
        registry.reload()


def test_registry_lists_the_plugin_after_the_built_ins(registered) -> None:
    assert registry.names()[-1] == "keepfirst"
    assert registry.names()[:-1] == tuple(s.name for s in registry.built_in())
    assert isinstance(registered, registry.Strategy)
    assert registered.name == "keepfirst"
    assert any(o.flag == "--min-rows" for o in registry.all_options())


def test_unknown_strategy_suggests_the_plugin(registered, cli, tmp_path: Path) -> None:
    frame().write_csv(tmp_path / "in.csv")
    result = cli("apply", tmp_path / "in.csv", "-l", LABEL, "-s", "keepfirs", "-o",
                 tmp_path / "o.csv")  # fmt: skip
    assert result.code == 2
    built_in = ", ".join(s.name for s in registry.built_in())
    assert result.stderr.splitlines() == [
        "rebalance: usage error: unknown strategy 'keepfirs' (did you mean keepfirst? "
        f"choose one of {built_in}, keepfirst)"
    ]


def test_request_checks_the_plugin_option(registered) -> None:
    """The request reads the plugin's options from the registry: its check, its warning."""
    common: dict[str, Any] = {"label": LABEL, "seed": 1, "file_run": False, "stages": Stages()}
    with pytest.raises(UsageError, match=r"^--min-rows must be at least 1 \(got 0\)$"):
        build(strategy="keepfirst", options={"min_rows": 0}, **common)
    assert build(strategy="keepfirst", options={"min_rows": 3}, **common).warnings == ()
    request = build(strategy="undersample", options={"min_rows": 3}, **common)
    assert request.warnings == ("--min-rows is used by keepfirst only and was ignored",)


def test_cli_checks_the_plugin_option(registered, cli, tmp_path: Path) -> None:
    frame().write_csv(tmp_path / "in.csv")
    result = cli("apply", tmp_path / "in.csv", "-l", LABEL, "-s", "keepfirst", "--min-rows", 0,
                 "-o", tmp_path / "o.csv")  # fmt: skip
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "rebalance: usage error: --min-rows must be at least 1 (got 0)"
    ]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_the_check_suite_passes_for_the_plugin(
    check: Callable[..., None], registered, cli, tmp_path: Path
) -> None:
    check(registered, Workspace.make(tmp_path, cli))


def test_stage_errors_name_the_registered_strategies(registered, monkeypatch) -> None:
    """--bags and --shrinkage name the strategies that fit them from the registry's
    declarations: the built-ins' wording, and a plug-in that fits too."""
    from rebalance_cli import stages
    from rebalance_cli.strategies.oversample import Oversample

    def refusal(stage: Stages, strategy: str) -> UsageError:
        with pytest.raises(UsageError) as caught:
            stages.check(stage, registry.get(strategy), {}, "out.csv")
        return caught.value

    # the built-ins that fit, by their declarations (the names are pinned elsewhere)
    built_in = registry.built_in()
    bags = [s.name for s in built_in if s.kind == "select" and s.direction == "under"]
    assert "undersample" in bags
    bag_makers = " or ".join([*bags, "keepfirst"])
    assert refusal(Stages(bags=3), "smote").hint == f"use --strategy {bag_makers}"
    duplicators = [s.name for s in built_in if s.grows_rows]
    assert "oversample" in duplicators
    growers = "--shrinkage jitters duplicated rows: it needs --strategy "
    assert str(refusal(Stages(shrinkage=0.1), "undersample")) == (
        growers + " or ".join(duplicators) + " (or hybrid growing with oversample)"
    )

    class Copier(Oversample):
        name = "copier"

    monkeypatch.setattr(registry, "BUILT_IN", (*registry.BUILT_IN, Copier()))
    registry.reload()
    assert str(refusal(Stages(shrinkage=0.1), "undersample")) == (
        growers + " or ".join([*duplicators, "copier"]) + " (or hybrid growing with oversample)"
    )


def test_evaluate_reads_the_registry_when_asked(monkeypatch) -> None:
    """`evaluate --strategies` sees a strategy registered after it was imported."""
    from rebalance_cli import evaluate
    from rebalance_cli.evaluate import core
    from rebalance_cli.strategies.oversample import Oversample

    assert "copier" not in evaluate.SAMPLERS

    class Copier(Oversample):
        name = "copier"

    monkeypatch.setattr(registry, "BUILT_IN", (*registry.BUILT_IN, Copier()))
    registry.reload()
    try:
        assert core.samplers()[-1] == "copier"
        assert evaluate.SAMPLERS[-1] == evaluate.STRATEGIES[-1] == "copier"
        assert core.parse_strategies("none,copier")[-1] == "copier"
    finally:
        monkeypatch.undo()
        registry.reload()
    assert "copier" not in evaluate.SAMPLERS

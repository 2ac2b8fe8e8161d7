"""The strategy check suite: one set of checks run over every registered strategy.

Like imbalanced-learn's ``check_estimator``, every check is a function of a strategy
(and a workspace); the tests below run each check over ``registry.all_strategies()``,
so a new strategy (built in, or registered through the ``rebalance.strategies`` entry
point) is checked without a line added here. A strategy's configuration is derived
from its declaration (``target_kinds``, ``direction``, ``weighs``, ``exact_counts``,
``options``), never from its name.

The checks are importable (``CHECKS``, ``Workspace``) so tests/test_plugin.py runs them
over a strategy registered from outside the package.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rebalance_cli import strategies as registry
from rebalance_cli.api import resample_frame
from rebalance_cli.errors import USAGE, UsageError
from rebalance_cli.plan import make_plan, parse_target, round_half_up
from rebalance_cli.strategies import Option, SetupContext, Strategy

from .conftest import mixed_frame

LABEL = "y"
BY = "g"
SEED = 1
TEST_SHARE = Fraction(1, 4)
# n_c = 2 (mod 4), so n_c / 4 ends in .5: the split's round-half-up is visible. Under
# --by every (group, class) cell keeps >= 12 rows (SMOTE's k + 1 = 6 with room to spare).
COUNTS = {"a": 122, "b": 62, "c": 38}


def frame() -> pl.DataFrame:
    """Three classes, every column kind, and a group column: half of each class per group."""
    df = mixed_frame(COUNTS, seed=11)
    return df.with_columns(
        pl.when(pl.int_range(pl.len()).over(LABEL) % 2 == 0)
        .then(pl.lit("u"))
        .otherwise(pl.lit("v"))
        .alias(BY)
    )


@dataclass
class Workspace:
    """A folder with the input written as CSV and Parquet, and a way to run the CLI."""

    root: Path
    run: Callable[..., Any]  # the `cli` fixture of conftest: run(*args) -> Result
    df: pl.DataFrame
    csv: Path
    parquet: Path

    @classmethod
    def make(cls, root: Path, run: Callable[..., Any]) -> Workspace:
        df = frame()
        csv, parquet = root / "in.csv", root / "in.parquet"
        df.write_csv(csv)
        df.write_parquet(parquet)
        return cls(root, run, df, csv, parquet)

    def path(self, name: str) -> Path:
        return self.root / name


# --- what a strategy's declaration says about how to configure it ---------------------------


def target_for(strategy: Strategy, counts: Iterable[int], classes: Sequence[str]) -> str:
    """A valid --target for the strategy over cells with these counts, from its declaration:
    ``auto`` when it takes a keyword, else a class size, counts, or a ratio that moves the
    classes its ``direction`` allows (the smallest cell for under, the largest for over)."""
    counts = list(counts)
    lo, hi = min(counts), max(counts)
    goal = {"under": lo, "over": hi, "both": (lo + hi) // 2}[strategy.direction]
    kinds = strategy.target_kinds
    if "keyword" in kinds:
        return "auto"
    if "size" in kinds:
        return str(goal)
    if "counts" in kinds:
        return ",".join(f"{c}={goal}" for c in classes)
    assert "ratio" in kinds, f"{strategy.name} declares no target kind"
    return "1"


def cell_counts(df: pl.DataFrame, by: Sequence[str] = ()) -> dict[tuple[Any, ...], int]:
    rows = df.group_by([*by, LABEL]).len().iter_rows()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def class_counts(df: pl.DataFrame) -> dict[str, int]:
    return {k[0]: n for k, n in sorted(cell_counts(df).items())}


def classes_of(df: pl.DataFrame) -> list[str]:
    return sorted(df[LABEL].unique().to_list())


def default_target(strategy: Strategy, df: pl.DataFrame, by: Sequence[str] = ()) -> str:
    return target_for(strategy, cell_counts(df, by).values(), classes_of(df))


def weight_column(strategy: Strategy, df: pl.DataFrame, target: str) -> str | None:
    """The column a weighing strategy adds, as its own ``setup`` decides it."""
    ctx = SetupContext(df.schema, LABEL, [], {}, parse_target(target), SEED, False)
    return strategy.setup(ctx).weight_column


_BAD: dict[type, tuple[Any, ...]] = {
    int: (0, -1, 10**12),
    float: (-1.0, math.nan, math.inf),
    str: ("bogus", "", " "),
}
_GOOD: dict[type, tuple[Any, ...]] = {
    int: (3, 2, 7, 1),
    float: (0.5, 1.0, 2.0),
    str: ("score", "standard", "smote", "w"),  # "score" is a numeric column of the data
}


def bad_value(option: Option) -> tuple[Any, UsageError]:
    """A value of the option's type that its own ``check`` refuses, and the error."""
    assert option.check is not None
    for value in _BAD.get(option.type, _BAD[str]):
        try:
            option.check(value)
        except UsageError as err:
            return value, err
    raise AssertionError(f"no value of {_BAD.get(option.type)} is refused by {option.flag}")


def good_value(option: Option) -> Any:
    """A value of the option's type that its check accepts and that counts as given (one of
    its declared ``choices`` when it has some)."""
    for value in option.choices or _GOOD.get(option.type, _GOOD[str]):
        try:
            if option.check is not None:
                option.check(value)
        except UsageError:
            continue
        if option.given(value):
            return value
    raise AssertionError(f"no value of {_GOOD.get(option.type)} is accepted by {option.flag}")


# --- running ---------------------------------------------------------------------------------


def apply(
    ws: Workspace,
    strategy: Strategy,
    source: Path,
    out: str,
    *extra: object,
    target: str | None = None,
    seed: int = SEED,
) -> tuple[Path, dict[str, Any]]:
    """`rebalance apply` in-process; it must succeed. The output path and the report."""
    output, report = ws.path(out), ws.path(out + ".json")
    args = [
        "apply", source, "-l", LABEL, "-s", strategy.name, "--seed", seed,
        "-t", target if target is not None else default_target(strategy, ws.df),
        "-o", output, "--report", report, *extra,
    ]  # fmt: skip
    result = ws.run(*args)
    assert result.code == 0, (args, result.stderr)
    return output, json.loads(report.read_text())


def weights_match(
    df: pl.DataFrame, column: str, before: dict[str, int], weights: dict[str, float]
) -> None:
    sums = dict(df.group_by(LABEL).agg(pl.col(column).sum()).iter_rows())
    assert sorted(sums) == sorted(before)
    for cls, n in before.items():
        assert sums[cls] == pytest.approx(weights[cls] * n, rel=1e-12, abs=1e-12), cls
        assert df.filter(pl.col(LABEL) == cls)[column].n_unique() == 1, cls


# --- the checks ------------------------------------------------------------------------------


def check_counts_equal_plan(strategy: Strategy, ws: Workspace) -> None:
    """The report's counts after are the plan's, the pure plan's, and the file's (exact);
    a weighing strategy keeps every row and its weights sum to the plan's per class."""
    target = default_target(strategy, ws.df)
    out, report = apply(ws, strategy, ws.parquet, "out.parquet", target=target)
    written = pl.read_parquet(out)
    before = class_counts(ws.df)
    pure = make_plan(sorted(before.items()), strategy, target)
    assert report["strategy"] == strategy.name
    assert report["class_counts"]["before"] == before
    assert report["plan"]["before"] == before
    if strategy.weighs:
        column = weight_column(strategy, ws.df, target)
        assert column is not None
        assert_frame_equal(written.drop(column), ws.df, check_exact=True)
        assert report["class_counts"]["after"] == before
        assert report["plan"]["weights"] == dict(zip(pure.classes, pure.weights, strict=True))
        weights_match(written, column, before, report["plan"]["weights"])
    elif strategy.exact_counts:
        after = dict(zip(pure.classes, pure.after, strict=True))
        assert report["plan"]["after"] == after
        assert report["class_counts"]["after"] == after
        assert class_counts(written) == after
        assert report["rows"]["written"] == written.height == sum(after.values())
    else:  # counts known only after fitting: the report still says what was written
        assert report["class_counts"]["after"] == class_counts(written)


def check_chunk_size_invariance(strategy: Strategy, ws: Workspace) -> None:
    """The bytes written do not depend on --chunk-size (CSV and Parquet)."""
    for source, ext in ((ws.csv, "csv"), (ws.parquet, "parquet")):
        small, _ = apply(ws, strategy, source, f"c7.{ext}", "--chunk-size", 7)
        large, _ = apply(ws, strategy, source, f"c65536.{ext}", "--chunk-size", 65536)
        assert small.read_bytes() == large.read_bytes(), ext


def check_schema_kept(strategy: Strategy, ws: Workspace) -> None:
    """Output columns and dtypes are the input's (plus the weight column, Float64, last)."""
    target = default_target(strategy, ws.df)
    out, _ = apply(ws, strategy, ws.parquet, "out.parquet", target=target)
    expected = dict(ws.df.schema)
    if strategy.weighs:
        column = weight_column(strategy, ws.df, target)
        assert column is not None
        expected[column] = pl.Float64
    assert list(pl.read_parquet_schema(out).items()) == list(expected.items())
    csv_out, _ = apply(ws, strategy, ws.csv, "out.csv", target=target)
    assert pl.read_csv(csv_out).columns == list(expected)


def check_seed_replay(strategy: Strategy, ws: Workspace) -> None:
    """The same seed writes the same bytes; another seed writes others when the strategy
    declares it draws on the seed (``random``), and the same bytes when it does not."""
    first, _ = apply(ws, strategy, ws.csv, "s1.csv")
    again, _ = apply(ws, strategy, ws.csv, "s1-again.csv")
    assert first.read_bytes() == again.read_bytes()
    other, _ = apply(ws, strategy, ws.csv, "s2.csv", seed=SEED + 1)
    assert (other.read_bytes() != first.read_bytes()) == strategy.random


def check_resample_frame_equals_file(strategy: Strategy, ws: Workspace) -> None:
    """`resample_frame` returns the rows `rebalance apply` writes, in the same order."""
    target = default_target(strategy, ws.df)
    out, _ = apply(ws, strategy, ws.parquet, "out.parquet", target=target)
    got = resample_frame(ws.df, label=LABEL, strategy=strategy.name, target=target, seed=SEED)
    assert_frame_equal(got, pl.read_parquet(out), check_exact=True)


def check_by_groups(strategy: Strategy, ws: Workspace) -> None:
    """--by plans every group on its own counts; each group's rows are exact."""
    target = default_target(strategy, ws.df, [BY])
    out, report = apply(ws, strategy, ws.parquet, "by.parquet", "--by", BY, target=target)
    written = pl.read_parquet(out)
    groups = report["groups"]
    cells = cell_counts(ws.df, [BY])
    names = sorted({g for g, _ in cells})
    assert [g["group"] for g in groups] == [{BY: g} for g in names]
    assert report["plan"]["groups"] == report["plan"]["groups_planned"] == len(names)
    column = weight_column(strategy, ws.df, target) if strategy.weighs else None
    for entry, name in zip(groups, names, strict=True):
        assert entry["status"] == "planned"
        before = {c: n for (g, c), n in sorted(cells.items()) if g == name}
        assert entry["before"] == before
        pure = make_plan(sorted(before.items()), strategy, target)
        rows = written.filter(pl.col(BY) == name)
        if strategy.weighs:
            assert column is not None
            assert entry["after"] == before
            assert entry["weights"] == dict(zip(pure.classes, pure.weights, strict=True))
            weights_match(rows, column, before, entry["weights"])
        elif strategy.exact_counts:
            after = dict(zip(pure.classes, pure.after, strict=True))
            assert entry["after"] == after
            assert class_counts(rows) == after
        else:  # counts known only after fitting: the group's story says what was written
            assert {c: n for c, n in entry["after"].items() if n} == class_counts(rows)
    if strategy.weighs:
        assert column is not None
        assert_frame_equal(written.drop(column), ws.df, check_exact=True)
    elif strategy.exact_counts:
        assert written.height == sum(sum(g["after"].values()) for g in groups)


def check_test_split(strategy: Strategy, ws: Workspace) -> None:
    """--test-size holds out round-half-up(n_c * share) input rows per class, disjoint from
    the train rows; the output is what rebalancing the train rows alone writes."""
    before = class_counts(ws.df)
    want_test = {c: round_half_up(n * TEST_SHARE) for c, n in before.items()}
    train_counts = {c: n - want_test[c] for c, n in before.items()}
    target = target_for(strategy, train_counts.values(), sorted(train_counts))
    test_path = ws.path("test.parquet")
    out, report = apply(
        ws, strategy, ws.parquet, "train-out.parquet",
        "--test-size", str(float(TEST_SHARE)), "--test-output", test_path, target=target,
    )  # fmt: skip
    test = pl.read_parquet(test_path)
    assert_frame_equal(test.head(0), ws.df.head(0))
    assert class_counts(test) == want_test
    assert report["split"]["counts"] == want_test
    assert report["split"]["train_counts"] == train_counts
    assert report["class_counts"]["before"] == before
    assert test["id"].n_unique() == test.height
    # the test rows are input rows, unchanged
    assert test.join(ws.df, on=ws.df.columns, how="anti", nulls_equal=True).height == 0
    test_ids = set(test["id"].to_list())
    written = pl.read_parquet(out)
    kept = written.select(ws.df.columns).join(ws.df, on=ws.df.columns, how="semi")
    assert not set(kept["id"].to_list()) & test_ids, "a test row is in the train output"
    train = ws.df.filter(~pl.col("id").is_in(sorted(test_ids)))
    assert class_counts(train) == train_counts
    alone = ws.path("train.parquet")
    train.write_parquet(alone)
    expected, _ = apply(ws, strategy, alone, "train-alone.parquet", target=target)
    assert_frame_equal(written, pl.read_parquet(expected), check_exact=True)


def _refused(ws: Workspace, strategy: Strategy, *args: object, expected: str | None) -> None:
    output, report = ws.path("refused.csv"), ws.path("refused.json")
    argv = [
        "apply", ws.csv, "-l", LABEL, "-s", strategy.name, "--seed", SEED,
        "-o", output, "--report", report, *args,
    ]  # fmt: skip
    result = ws.run(*argv)
    lines = result.stderr.splitlines()
    assert result.code == USAGE, (argv, result.code, result.stderr)
    assert len(lines) == 1, (argv, result.stderr)
    assert lines[0].startswith("rebalance: usage error: "), lines
    if expected is not None:
        assert lines[0] == f"rebalance: usage error: {expected}", (argv, lines)
    assert result.stdout == ""
    assert not output.exists() and not report.exists(), argv
    assert sorted(p.name for p in ws.root.iterdir()) == ["in.csv", "in.parquet"], argv


def check_bad_values(strategy: Strategy, ws: Workspace) -> None:
    """A bad value: exactly one stderr line, exit 2, nothing written. For every option the
    strategy declares with a check, the line is that check's error; a target kind the
    strategy does not take and a negative seed are refused the same way."""
    target = default_target(strategy, ws.df)
    for option in strategy.options:
        if option.check is None:
            continue
        value, err = bad_value(option)
        _refused(ws, strategy, "-t", target, option.flag, value, expected=str(err))
    for kind, text in (("keyword", "auto"), ("ratio", "0.5"), ("size", "40")):
        if kind not in strategy.target_kinds:
            _refused(ws, strategy, "-t", text, expected=None)
    _refused(
        ws, strategy, "-t", target, "--seed", -1, expected="--seed must not be negative (got -1)"
    )


def users(option: Option) -> str:
    """Who the "ignored" warning names: the option's owner, or, when several strategies
    declare it (composites, which reuse their parts' options, aside), all of them."""
    names = [s.name for s in registry.all_strategies() if option in s.options and not s.parts]
    if len(names) < 2:
        return option.owner
    return f"{', '.join(names[:-1])} and {names[-1]}"


def check_ignored_options(strategy: Strategy, ws: Workspace) -> None:
    """Every owned option this strategy does not use, given, is one warning in the report:
    "<flag> is used by <owner> only and was ignored" (in registry order), and changes
    nothing in the output."""
    used = strategy.uses({})
    foreign = [o for o in registry.all_options() if o.owner and o.name not in used]
    if not foreign:
        pytest.skip(f"{strategy.name} uses every owned option")
    given: list[object] = []
    for option in foreign:
        given += [option.flag, good_value(option)]
    plain, plain_report = apply(ws, strategy, ws.csv, "plain.csv")
    out, report = apply(ws, strategy, ws.csv, "ignored.csv", *given)
    ignored = [w for w in report["warnings"] if w.endswith("was ignored")]
    assert ignored == [f"{o.flag} is used by {users(o)} only and was ignored" for o in foreign]
    assert [w for w in report["warnings"] if w not in ignored] == plain_report["warnings"]
    assert out.read_bytes() == plain.read_bytes()


def file_counts(written: pl.DataFrame, source: pl.DataFrame, test_rows: int) -> dict[str, int]:
    """The report's ``rows`` as the written file shows them: rows equal to an input row are
    kept input rows (their copies beyond the first are duplicates), the others synthetic;
    input rows neither written nor held out were dropped. The input's ids are unique."""
    cols = source.columns
    kept = written.select(cols).join(source, on=cols, how="semi", nulls_equal=True).height
    distinct = source.join(written.select(cols), on=cols, how="semi", nulls_equal=True).height
    return {
        "read": source.height,
        "written": written.height,
        "synthetic": written.height - kept,
        "duplicated": kept - distinct,
        "dropped": source.height - test_rows - distinct,
    }


def check_report_counts_match_file(strategy: Strategy, ws: Workspace) -> None:
    """The report's counts are the written file's: rows written, read, synthetic, duplicated
    and dropped, class_counts after and bytes, plain, with --shuffle flushing every bucket
    file several times (limits lowered), and with a test split (its counts and bytes too).
    The shuffled file holds the plain file's rows, each as often."""
    from rebalance_cli.stages import shuffle as shuffle_mod

    variants: list[tuple[str, list[object]]] = [
        ("plain", []),
        ("shuffle", ["--shuffle", "--chunk-size", 16]),
        ("split", ["--test-size", "0.25", "--test-output", ws.path("test.parquet")]),
    ]
    for name, extra in variants:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(shuffle_mod, "BUCKET_ROWS", 64)
            mp.setattr(shuffle_mod, "FLUSH_ROWS", 50)
            target = None
            if name == "split":
                train = {c: n - round_half_up(n * TEST_SHARE) for c, n in COUNTS.items()}
                target = target_for(strategy, train.values(), sorted(train))
            out, report = apply(ws, strategy, ws.parquet, f"{name}.parquet", *extra, target=target)
        written = pl.read_parquet(out)
        test_rows = 0
        if name == "split":
            test = pl.read_parquet(ws.path("test.parquet"))
            test_rows = test.height
            assert report["split"]["counts"] == class_counts(test)
            assert report["split"]["rows"] == report["rows"]["test"] == test.height
            assert report["split"]["bytes"] == ws.path("test.parquet").stat().st_size
        assert report["class_counts"]["after"] == class_counts(written), name
        assert report["output"]["bytes"] == out.stat().st_size, name
        rows = {k: report["rows"][k] for k in ("read", "written", "synthetic", "duplicated")}
        rows["dropped"] = report["rows"]["dropped"]
        assert rows == file_counts(written, ws.df, test_rows), name
        if name == "shuffle":
            before = pl.read_parquet(ws.path("plain.parquet"))
            assert written.sort(written.columns).equals(before.sort(before.columns))
            assert not written.equals(before)


CHECKS: tuple[Callable[[Strategy, Workspace], None], ...] = (
    check_counts_equal_plan,
    check_report_counts_match_file,
    check_chunk_size_invariance,
    check_schema_kept,
    check_seed_replay,
    check_resample_frame_equals_file,
    check_by_groups,
    check_test_split,
    check_bad_values,
    check_ignored_options,
)


@pytest.fixture
def ws(tmp_path: Path, cli) -> Workspace:
    return Workspace.make(tmp_path, cli)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__.removeprefix("check_") for c in CHECKS])
@pytest.mark.parametrize("strategy", registry.all_strategies(), ids=registry.names())
def test_strategy(strategy: Strategy, check: Callable[[Strategy, Workspace], None], ws) -> None:
    check(strategy, ws)


def test_every_strategy_is_checked() -> None:
    """The suite sees the whole registry (what it was parametrized with is the registry,
    built-ins first), every strategy class of the package is registered, and every
    strategy has a valid configuration."""
    (params,) = [m.args[1] for m in test_strategy.pytestmark if m.args[0] == "strategy"]
    assert tuple(s.name for s in params) == registry.names()
    built_in = registry.built_in()
    assert registry.names()[: len(built_in)] == tuple(s.name for s in built_in)
    # the registry imports only the modules it names: import them all, so that a module
    # whose line in BUILT_IN is missing is seen below
    for module in pkgutil.iter_modules(registry.__path__):
        importlib.import_module(f"{registry.__name__}.{module.name}")

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    package = {
        c.name
        for c in subclasses(Strategy)
        if c.__module__.startswith("rebalance_cli.strategies.") and "name" in vars(c)
    }
    assert package <= set(registry.names()), package - set(registry.names())
    df = frame()
    for strategy in registry.all_strategies():
        target = default_target(strategy, df)
        make_plan(sorted(class_counts(df).items()), strategy, target)


def test_the_built_ins_are_the_known_ones() -> None:
    """The one place the built-in strategies are named by hand: the registry lists them
    first, in this order. A new built-in is appended after them (no change here); removing,
    renaming or moving one fails here: update this list then. Every other test reads the
    registry."""
    known = ("undersample", "oversample", "smote", "hybrid", "weight", "tomek", "enn")
    assert tuple(s.name for s in registry.built_in())[: len(known)] == known


def test_every_option_names_its_owner() -> None:
    """An option without an owner is never reported as ignored: every option that some
    strategy does not declare names the one that uses it."""
    everyone = registry.all_strategies()
    unowned = [
        o.flag
        for o in registry.all_options()
        if not o.owner and not all(o in s.options for s in everyone)
    ]
    assert unowned == []

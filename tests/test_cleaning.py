"""The cleaning strategies (tomek, enn) against imbalanced-learn, and how they plug in.

They are the first strategies with ``needs = "all"`` (every row's features before
pass 2) and ``exact_counts = False`` (the counts after come from fitting): these
tests pin that path — the rows removed, the plan and report filled in after the fit,
--by, --test-size, lenient features, and the refusals. The checks every strategy gets
(chunk sizes, schema, seeds, resample_frame = file, --by, the split, bad values) run
over them in tests/test_strategy_checks.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.under_sampling import EditedNearestNeighbours, TomekLinks
from sklearn.datasets import make_classification

from rebalance_cli import DataError, resample_frame
from rebalance_cli.samplers.clean import edited, tomek_links

FEATURES = [f"f{i}" for i in range(5)]
# our keyword -> imbalanced-learn's sampling_strategy for a cleaning sampler
TARGETS = {"auto": "auto", "all": "all", "majority": "majority", "not-majority": "not majority"}


def dataset(seed: int, n: int = 1500, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    weights = [0.7, 0.2, 0.1][:classes]
    total = sum(weights)
    x, y = make_classification(
        n_samples=n,
        n_features=len(FEATURES),
        n_informative=3,
        n_redundant=1,
        n_classes=classes,
        n_clusters_per_class=1,
        weights=[w / total for w in weights],
        flip_y=0.05,
        random_state=seed,
    )
    return x, y


def frame(x: np.ndarray, y: np.ndarray) -> pl.DataFrame:
    cols: dict[str, Any] = {f: x[:, i] for i, f in enumerate(FEATURES)}
    return pl.DataFrame({"id": np.arange(y.size), **cols, "y": [f"c{v}" for v in y]})


def ours(df: pl.DataFrame, strategy: str, **kw: Any) -> np.ndarray:
    out = resample_frame(df, label="y", strategy=strategy, exclude=["id"], seed=0, **kw)
    return out["id"].to_numpy()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("target", list(TARGETS))
def test_tomek_removes_what_imbalanced_learn_removes(seed, target):
    x, y = dataset(seed)
    ref = TomekLinks(sampling_strategy=TARGETS[target])
    ref.fit_resample(x, y)
    got = ours(frame(x, y), "tomek", target=target)
    # the kept rows, in input order: imbalanced-learn's indices are sorted
    assert got.tolist() == sorted(ref.sample_indices_.tolist())
    assert got.size < y.size  # the data has links: something was removed


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize(("k", "keep"), [(3, "all"), (3, "mode"), (5, "all"), (4, "mode")])
def test_enn_removes_what_imbalanced_learn_removes(seed, target, k, keep):
    x, y = dataset(seed)
    ref = EditedNearestNeighbours(sampling_strategy=TARGETS[target], n_neighbors=k, kind_sel=keep)
    ref.fit_resample(x, y)
    options = {"enn_neighbors": k, "enn_keep": keep}
    got = ours(frame(x, y), "enn", target=target, options=options)
    assert got.tolist() == sorted(ref.sample_indices_.tolist())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 400), classes=st.sampled_from([2, 3]))
def test_both_agree_with_imbalanced_learn_on_any_data(seed, n, classes):
    x, y = dataset(seed, n, classes)
    df = frame(x, y)
    tomek = TomekLinks()
    tomek.fit_resample(x, y)
    assert ours(df, "tomek").tolist() == sorted(tomek.sample_indices_.tolist())
    enn = EditedNearestNeighbours(kind_sel="mode")
    enn.fit_resample(x, y)
    got = ours(df, "enn", options={"enn_keep": "mode"})
    assert got.tolist() == sorted(enn.sample_indices_.tolist())


def test_kernels_on_a_hand_made_line():
    # positions on a line; cells 0 and 1. Rows 1 (cell 0) and 2 (cell 1) are each other's
    # nearest: a link. Row 4 (cell 1) is nearest to 5 but 5 is nearest to 6: no link.
    x = np.array([[0.0], [1.0], [1.4], [3.2], [5.0], [5.5], [5.7]])
    codes = np.array([0, 0, 1, 1, 1, 0, 0], dtype=np.int32)
    assert tomek_links(x, codes).tolist() == [False, True, True, False, False, False, False]
    # k = 2. all: a row stays only if both neighbours share its cell (row 3: rows 2 and 4,
    # both 1.8 away).
    # mode: rows 0, 1, 5, 6 have one neighbour of each cell, a tie that goes to cell 0
    # (it sorts first), so they stay; row 2 (cell 1) has the same tie and goes; row 4's
    # neighbours are both of cell 0.
    assert edited(x, codes, 2, "all").tolist() == [True, True, True, False, True, True, True]
    assert edited(x, codes, 2, "mode").tolist() == [False, False, True, False, True, False, False]


def test_exact_duplicates_of_another_class_are_links():
    # distance 0 across classes: each row's nearest is its twin (ties go to the lower index)
    x = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 3.0], [9.0, 9.0], [9.0, 9.1]])
    codes = np.array([0, 1, 0, 0, 1], dtype=np.int32)
    assert tomek_links(x, codes).tolist() == [True, True, False, True, True]


def test_only_cleaned_classes_lose_rows_and_the_plan_says_so(tmp_path, cli):
    x, y = dataset(3)
    df = frame(x, y)
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    out, report = tmp_path / "out.parquet", tmp_path / "r.json"
    res = cli("apply", src, "-l", "y", "-s", "tomek", "--exclude", "id", "-t", "majority",
              "-o", out, "--report", report)  # fmt: skip
    assert res.code == 0, res.stderr
    doc = json.loads(report.read_text())
    written = pl.read_parquet(out)
    before = dict(df.group_by("y").len().sort("y").iter_rows())
    after = dict(written.group_by("y").len().sort("y").iter_rows())
    assert doc["plan"]["cleaned"] == ["c0"]
    assert doc["plan"]["before"] == before
    assert doc["plan"]["after"] == after == doc["class_counts"]["after"]
    assert after["c1"] == before["c1"] and after["c2"] == before["c2"]
    assert after["c0"] < before["c0"]
    assert doc["rows"]["dropped"] == before["c0"] - after["c0"]
    assert doc["rows"]["written"] == written.height
    assert doc["parameters"]["features"] == FEATURES
    assert doc["parameters"]["knn"] == {"all rows": "kd-tree"}
    assert "clean" in doc["timings_s"]
    # the kept rows are input rows, in input order, unchanged
    assert written.equals(df.filter(pl.col("id").is_in(written["id"].implode())))


def test_dry_run_prints_the_fitted_plan(tmp_path, cli):
    x, y = dataset(4)
    src = tmp_path / "in.csv"
    frame(x, y).write_csv(src)
    res = cli("apply", src, "-l", "y", "-s", "enn", "--exclude", "id", "--dry-run", "--json")
    assert res.code == 0, res.stderr
    dry = json.loads(res.stdout)
    out = tmp_path / "o.csv"
    res = cli("apply", src, "-l", "y", "-s", "enn", "--exclude", "id", "-o", out)
    assert res.code == 0, res.stderr
    written = pl.read_csv(out)
    assert dry["plan"]["after"] == dict(written.group_by("y").len().sort("y").iter_rows())
    assert not out.with_suffix(".json").exists()


def test_by_cleans_each_group_on_its_own():
    x, y = dataset(5, 2400)
    df = frame(x, y).with_columns(g=pl.col("id") % 3)
    got = resample_frame(df, label="y", strategy="enn", by=["g"], exclude=["id"], seed=0)
    alone = [
        resample_frame(df.filter(pl.col("g") == g), label="y", strategy="enn", exclude=["id"])
        for g in range(3)
    ]
    want = pl.concat(alone).sort("id")
    assert got["id"].to_list() == want["id"].to_list()
    # and not the same as cleaning the whole table: the neighbours stay within a group
    assert got["id"].to_list() != ours(df.drop("g"), "enn").tolist()


def test_nan_features_are_refused_unless_lenient(tmp_path, cli):
    x, y = dataset(6)
    df = frame(x, y).with_columns(
        pl.when(pl.col("id") == 10).then(None).otherwise(pl.col("f2")).alias("f2")
    )
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    out = tmp_path / "o.parquet"
    res = cli("apply", src, "-l", "y", "-s", "tomek", "--exclude", "id", "-o", out)
    assert res.code == 3
    assert res.stderr.splitlines() == [
        "rebalance: data error: feature 'f2' has a null, NaN or infinite value; tomek compares "
        "every row's features (pass --lenient to leave such rows out of the neighbour search "
        "(they are kept), or --exclude the column)"
    ]
    assert not out.exists()
    res = cli("apply", src, "-l", "y", "-s", "tomek", "--exclude", "id", "-o", out, "--lenient")
    assert res.code == 0, res.stderr
    assert "1 rows with a null, NaN or infinite feature took no part" in res.stderr
    written = pl.read_parquet(out)
    assert 10 in written["id"].to_list()
    rest = df.filter(pl.col("id") != 10)
    assert written.filter(pl.col("id") != 10)["id"].to_list() == ours(rest, "tomek").tolist()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "minority"], "--target minority does not fit tomek: it would cut the smallest "
         "class (tomek takes majority, not-minority, not-majority, all, auto)"),
        (["-t", "0.5"], "--target 0.5 does not fit tomek: it needs a keyword "
         "(e.g. --target auto)"),
        (["-t", "c0=10"], "--target c0=10 does not fit tomek: it needs a keyword "
         "(e.g. --target auto)"),
        (["--bags", "2"], None),
        (["--shrinkage", "0.5"], None),
        (["--features", "id,f0", "--exclude", "id"], "column 'id' is in both --features and "
         "--exclude"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_and_write_nothing(tmp_path, cli, args, message):
    x, y = dataset(7, 300)
    src = tmp_path / "in.csv"
    frame(x, y).write_csv(src)
    out = tmp_path / ("o-{bag}.csv" if "--bags" in args else "o.csv")
    res = cli("apply", src, "-l", "y", "-s", "tomek", "-o", out, *args)
    assert res.code == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rebalance: usage error: "), lines
    if message is not None:
        assert lines[0] == f"rebalance: usage error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_no_numeric_feature_is_a_data_error():
    df = pl.DataFrame({"id": [1, 2, 3, 4], "s": list("abcd"), "y": ["a", "a", "b", "b"]})
    with pytest.raises(DataError, match="tomek needs at least one numeric feature column"):
        resample_frame(df, label="y", strategy="tomek", exclude=["id"])


def test_a_strategy_that_removes_nothing_says_so(tmp_path: Path):
    from rebalance_cli import rebalance

    # two far-apart clusters: no row's nearest neighbour is of the other class
    src = tmp_path / "in.csv"
    pl.DataFrame(
        {"x": [0.0, 0.1, 0.2, 0.3, 10.0, 10.1], "y": ["a", "a", "a", "a", "b", "b"]}
    ).write_csv(src)
    report = rebalance(src, tmp_path / "o.csv", label="y", strategy="tomek")
    assert report.counts_after == {"a": 4, "b": 2}
    assert "tomek found no row to remove in a" in report.warnings


def test_evaluate_runs_cleaners_when_asked_not_by_default(tmp_path, cli):
    from rebalance_cli.evaluate.core import ALWAYS, parse_strategies

    assert parse_strategies("enn,tomek") == [*ALWAYS, "tomek", "enn"]
    assert "tomek" not in parse_strategies(None) and "enn" not in parse_strategies(None)
    x, y = dataset(8, 400, 2)
    src = tmp_path / "in.csv"
    frame(x, y).write_csv(src)
    res = cli("evaluate", src, "-l", "y", "--strategies", "tomek,enn", "--folds", "2",
              "--repeats", "1", "--seed", "1", "--json")  # fmt: skip
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [r["name"] for r in doc["strategies"]] == [*ALWAYS, "tomek", "enn"]
    # a cleaner fits on fewer rows than the training fold holds
    fits = [f for f in doc["folds"] if f["strategy"] in ("tomek", "enn")]
    assert fits and all(f["fit_rows"] <= f["train_rows"] for f in fits)
    assert any(f["fit_rows"] < f["train_rows"] for f in fits)


def test_only_a_strategy_without_exact_counts_may_fit_its_counts(monkeypatch) -> None:
    """``exact_counts`` is read: the driver replaces the plan by a cleaner's fitted counts
    only for a strategy that declares them inexact; declaring them exact and fitting a
    cleaner is refused rather than silently changing the counts."""
    from rebalance_cli import strategies as registry
    from rebalance_cli.strategies.tomek import TomekLinks

    class ExactTomek(TomekLinks):
        name = "exact-tomek"
        exact_counts = True

    df = pl.DataFrame({"x": [0.0, 0.1, 1.0, 1.1, 5.0, 5.1], "y": ["a", "b", "a", "b", "a", "a"]})
    assert resample_frame(df, label="y", strategy="tomek").height < df.height
    monkeypatch.setattr(registry, "BUILT_IN", (*registry.BUILT_IN, ExactTomek()))
    registry.reload()
    try:
        with pytest.raises(RuntimeError, match="declares exact_counts but fits a cleaner"):
            resample_frame(df, label="y", strategy="exact-tomek")
    finally:
        monkeypatch.undo()
        registry.reload()

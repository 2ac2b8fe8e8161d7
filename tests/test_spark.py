"""The Spark engine against the local engine: same plan, same rows, same seed.

Spark runs in local mode (local[2]) in one session for the whole file. These
tests are marked ``spark``; they are skipped, saying why, only where no Java
runtime exists. pyspark itself comes with `make install` (the [spark] extra).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebalance_cli import DataError, UsageError, inspect, resample_frame
from rebalance_cli.engines.spark import allocate

from .conftest import listing, mixed_frame, run_process

pytestmark = pytest.mark.spark


COUNTS = {"a": 3000, "b": 500, "c": 60}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet file of 3,560 rows in 18 row groups, so Spark can cut it 1, 4 or 8 ways."""
    path = tmp_path_factory.mktemp("spark") / "mixed.parquet"
    mixed_frame(COUNTS, seed=3).write_parquet(path, row_group_size=200)
    return path


@contextlib.contextmanager
def split(spark, n: int, path: Path) -> Iterator[object]:
    """Read one Parquet file as exactly ``n`` partitions, in file order."""
    size = path.stat().st_size
    conf = {
        "spark.sql.files.openCostInBytes": str(2 * size) if n == 1 else "0",
        "spark.sql.files.maxPartitionBytes": str(2 * size) if n == 1 else str(size // n + 1),
    }
    old = {k: spark.conf.get(k) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        df = spark.read.parquet(str(path))
        assert df.rdd.getNumPartitions() == n
        yield df
    finally:
        for k, v in old.items():
            spark.conf.set(k, v)


def collect(df) -> pl.DataFrame:
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    # Spark reads a Parquet timestamp without zone as one in the session zone (UTC)
    return out.with_columns(pl.col(pl.Datetime("us", "UTC")).dt.replace_time_zone(None))


def local(path: Path, **kw) -> pl.DataFrame:
    return resample_frame(pl.read_parquet(path), label="y", **kw)


# --------------------------------------------------------------------------- same rows


@pytest.mark.parametrize("partitions", [1, 4, 8])
@pytest.mark.parametrize(
    ("strategy", "target"),
    # 0.3 grows b by q=1 plus 400 extra rows, and c by q=15: both parts of the copy rule
    [("undersample", "auto"), ("oversample", "0.3")],
)
def test_same_rows_as_local(spark, data, partitions, strategy, target):
    from rebalance_cli.engines.spark import resample_spark

    want = local(data, strategy=strategy, target=target, seed=11)
    with split(spark, partitions, data) as df:
        got = collect(resample_spark(df, label="y", strategy=strategy, target=target, seed=11))
    assert Counter(got["y"].to_list()) == Counter(want["y"].to_list())
    assert Counter(got["id"].to_list()) == Counter(want["id"].to_list())
    # stronger than the multiset: input order, duplicates next to their source
    assert got.equals(want)


def test_another_seed_selects_other_rows(spark, data):
    from rebalance_cli.engines.spark import resample_spark

    with split(spark, 4, data) as df:
        one = collect(resample_spark(df, label="y", strategy="undersample", seed=1))
        two = collect(resample_spark(df, label="y", strategy="undersample", seed=2))
    assert Counter(one["y"].to_list()) == Counter(two["y"].to_list()) == {"a": 60, "b": 60, "c": 60}
    assert set(one["id"].to_list()) != set(two["id"].to_list())


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_smote_on_the_driver_gives_the_local_rows(spark, data, partitions):
    from rebalance_cli.engines.spark import resample_dataframe

    kw = {"strategy": "smote", "seed": 5, "id_columns": ["id"], "k_neighbors": 4}
    want = local(data, **kw)
    with split(spark, partitions, data) as df:
        run = resample_dataframe(df, label="y", **kw)
        got = collect(run.frame)
    assert run.engine["smote"]["driver_classes"] == ["b", "c"]
    assert run.engine["smote"]["partition_classes"] == []
    assert Counter(got["y"].to_list()) == {"a": 3000, "b": 3000, "c": 3000}
    assert got.equals(want)


def test_smote_within_partitions_keeps_exact_counts(spark, data):
    from rebalance_cli.engines.spark import resample_dataframe

    with split(spark, 4, data) as df:
        run = resample_dataframe(
            df, label="y", strategy="smote", seed=5, id_columns=["id"], smote_driver_rows=100
        )
        got = collect(run.frame)
    assert run.engine["smote"] == {
        "driver_rows_limit": 100,
        "driver_classes": ["c"],
        "partition_classes": ["b"],
    }
    assert Counter(got["y"].to_list()) == {"a": 3000, "b": 3000, "c": 3000}
    assert any("over the SMOTE driver limit" in w and "'b'" in w for w in run.warnings)
    source = pl.read_parquet(data)
    assert got.head(source.height).equals(source)  # the input rows first, untouched
    synthetic = got.slice(source.height)
    assert synthetic["id"].null_count() == synthetic.height
    b = source.filter(pl.col("y") == "b")
    made = synthetic.filter(pl.col("y") == "b")
    assert made.height == 2500
    for col in ("age", "visits", "score"):
        assert b[col].min() <= made[col].min() and made[col].max() <= b[col].max()
    # the approximate path is seeded too
    with split(spark, 4, data) as df:
        again = collect(
            resample_dataframe(
                df, label="y", strategy="smote", seed=5, id_columns=["id"], smote_driver_rows=100
            ).frame
        )
    assert again.equals(got)


def test_smote_partition_path_refuses_nan_features(spark, tmp_path):
    from rebalance_cli.engines.spark import resample_dataframe

    frame = mixed_frame({"a": 400, "b": 40}, seed=2).with_columns(
        pl.when(pl.col("id") == pl.col("id").filter(pl.col("y") == "b").first())
        .then(float("nan"))
        .otherwise(pl.col("score"))
        .alias("score")
    )
    path = tmp_path / "nan.parquet"
    frame.write_parquet(path)
    df = spark.read.parquet(str(path))
    nan = r"feature column 'score' has 1 null, NaN or infinite value"
    with pytest.raises(DataError, match=nan):
        resample_dataframe(df, label="y", strategy="smote", seed=1, smote_driver_rows=10)
    with pytest.raises(DataError, match=r"feature column 'score' has 1 null"):
        resample_dataframe(df, label="y", strategy="smote", seed=1)  # the driver path: local check
    run = resample_dataframe(
        df, label="y", strategy="smote", seed=1, smote_driver_rows=10, lenient=True
    )
    assert Counter(collect(run.frame)["y"].to_list()) == {"a": 400, "b": 400}
    assert any("1 row of class 'b' with a null, NaN or infinite feature was left out" in w
               for w in run.warnings)  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [
        [3, 3, 3, 3, 7, 7, -1],
        [True, True, True, False, False, True, True],
        [0.5, 0.5, 2.0, 2.0, 2.0, 1e-7, 0.5],
        ["x", "x", "x", " y", "Ä", "Ä", "x"],
    ],
    ids=["int", "bool", "float", "string"],
)
def test_class_names_and_rows_match_local_for_every_label_type(spark, tmp_path, values):
    from rebalance_cli.engines.spark import resample_dataframe

    n = 700
    labels = pl.Series("y", (values * (n // len(values) + 1))[:n])
    frame = pl.DataFrame({"id": np.arange(n), "y": labels})
    path = tmp_path / "labels.parquet"
    frame.write_parquet(path, row_group_size=64)
    dist = inspect(path, label="y")
    with split(spark, 4, path) as df:
        run = resample_dataframe(df, label="y", strategy="undersample", seed=3)
        got = collect(run.frame)
    assert run.plan.classes == dist.classes
    assert run.plan.before == dist.counts
    assert got.equals(resample_frame(frame, label="y", strategy="undersample", seed=3))


def test_order_by_makes_a_shuffled_frame_deterministic(spark, data):
    from rebalance_cli.engines.spark import resample_spark

    shuffled = spark.read.parquet(str(data)).repartition(3)
    got = collect(resample_spark(shuffled, label="y", strategy="oversample", seed=4, order_by="id"))
    want = local(data, strategy="oversample", seed=4)
    assert got.equals(want)


def test_null_labels_are_refused_or_dropped_as_locally(spark, tmp_path):
    from rebalance_cli.engines.spark import resample_spark

    frame = mixed_frame({"a": 300, "b": 40}, seed=4).with_columns(
        pl.when(pl.col("id") % 17 == 0).then(None).otherwise(pl.col("y")).alias("y")
    )
    path = tmp_path / "nulls.parquet"
    frame.write_parquet(path, row_group_size=50)
    nulls = frame["y"].null_count()
    with split(spark, 4, path) as df:
        with pytest.raises(DataError, match=f"label column 'y' has {nulls} null values"):
            resample_spark(df, label="y", strategy="undersample", seed=1)
        got = collect(
            resample_spark(df, label="y", strategy="oversample", seed=1, drop_null_labels=True)
        )
    want = resample_frame(frame, label="y", strategy="oversample", seed=1, drop_null_labels=True)
    assert got.with_columns(pl.col("seen_at").dt.replace_time_zone(None)).equals(want)


def test_api_errors_are_the_local_ones(spark, data):
    from rebalance_cli.engines.spark import resample_spark

    df = spark.read.parquet(str(data))
    missing = r"label column 'Y' is not in <DataFrame> \(did you mean 'y'"
    with pytest.raises(DataError, match=missing):
        resample_spark(df, label="Y", strategy="undersample")
    with pytest.raises(UsageError, match="--target minority does not fit undersample"):
        resample_spark(df, label="y", strategy="undersample", target="minority")
    with pytest.raises(DataError, match="class 'c' has 60 rows; SMOTE with k=70 needs at least 71"):
        resample_spark(df, label="y", strategy="smote", k_neighbors=70)
    with pytest.raises(DataError, match="order_by names column 'nope'"):
        resample_spark(df, label="y", strategy="undersample", order_by="nope")


@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=12),
    total=st.integers(0, 500),
    k=st.integers(1, 6),
)
def test_allocate_splits_exactly_among_partitions_with_k_plus_one_rows(counts, total, k):
    arr = np.array(counts, dtype=np.int64)
    out = allocate(arr, total, k)
    eligible = arr >= k + 1
    assert (out[~eligible] == 0).all()
    if eligible.any():
        assert int(out.sum()) == total
        share = arr[eligible] * total / arr[eligible].sum()
        assert (np.abs(out[eligible] - share) < 1).all()
    else:
        assert int(out.sum()) == 0


# ------------------------------------------------------------------- one program, every stage

PARITY = {
    "hybrid-oversample": {"strategy": "hybrid", "target": "100", "grow_with": "oversample"},
    "hybrid-smote": {
        "strategy": "hybrid",
        "target": "100",
        "grow_with": "smote",
        "id_columns": ["id"],
        "k_neighbors": 4,
    },
    "weight": {"strategy": "weight"},
    "by-undersample": {"strategy": "undersample", "by": ["city", "member"]},
    "by-smote": {"strategy": "smote", "by": ["city"], "id_columns": ["id"], "k_neighbors": 4},
    # cleaning: every row's features collected before pass 2, rows dropped by position
    "tomek": {"strategy": "tomek", "exclude": ["id"]},
    "by-enn": {
        "strategy": "enn",
        "by": ["city"],
        "exclude": ["id"],
        "target": "all",
        "options": {"enn_keep": "mode", "enn_neighbors": 4},
    },
}


@pytest.mark.parametrize("partitions", [1, 4, 8])
@pytest.mark.parametrize("case", list(PARITY))
def test_every_strategy_and_by_give_the_local_rows(spark, data, partitions, case):
    """The whole ordered frame equals the local engine's, whatever the partitioning."""
    from rebalance_cli.engines.spark import resample_spark

    kw = PARITY[case]
    want = local(data, seed=13, **kw)
    with split(spark, partitions, data) as df:
        got = collect(resample_spark(df, label="y", seed=13, **kw))
    assert got["id"].to_list() == want["id"].to_list()
    assert got.equals(want)


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_shrinkage_gives_the_local_rows(spark, data, partitions):
    """Shrinkage jitters duplicates by the per-cell std. Both engines sum it with the same
    numpy code, but over other batches (Spark: each partition's, merged in partition
    order), so it may differ from the local one in the last bits: the jittered float
    columns are compared with rtol 1e-12 (every other column, and the row order by id,
    exactly). A rerun on the same partitioning gives the same bits."""
    from rebalance_cli.engines.spark import resample_spark

    kw = {"strategy": "oversample", "target": "0.3", "shrinkage": 0.5, "id_columns": ["id"]}
    want = local(data, seed=21, **kw)
    with split(spark, partitions, data) as df:
        got = collect(resample_spark(df, label="y", seed=21, **kw))
        again = collect(resample_spark(df, label="y", seed=21, **kw))
    assert again.equals(got)
    assert got["id"].to_list() == want["id"].to_list()
    floats = [c for c, t in want.schema.items() if t.is_float()]
    assert got.drop(floats).equals(want.drop(floats))
    for c in floats:
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-12)
    jittered = want.filter(pl.col("id").is_duplicated())
    assert jittered.height > 0
    assert (jittered.group_by("id").agg(pl.col("score").n_unique())["score"] > 1).any()


def _read(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_test_split_gives_the_local_train_and_test_rows(spark, data, tmp_path, partitions):
    from rebalance_cli import rebalance
    from rebalance_cli.engines.spark import resample_dataframe

    kw = {"strategy": "hybrid", "target": "100", "grow_with": "smote", "id_columns": ["id"]}
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    rebalance(data, train, label="y", seed=17, test_size=0.25, test_output=test, **kw)
    with split(spark, partitions, data) as df:
        run = resample_dataframe(df, label="y", seed=17, test_size=0.25, **kw)
        got_train, got_test = collect(run.frame), collect(run.test)
    assert got_test.height == 890
    assert got_test.equals(_read(test))
    assert got_train.equals(_read(train))


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_cleaning_with_a_test_split_gives_the_local_rows(spark, data, tmp_path, partitions):
    from rebalance_cli import rebalance
    from rebalance_cli.engines.spark import resample_dataframe

    kw: dict[str, object] = {"strategy": "enn", "exclude": ["id"]}
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    rebalance(data, train, label="y", seed=17, test_size=0.25, test_output=test, **kw)
    with split(spark, partitions, data) as df:
        run = resample_dataframe(df, label="y", seed=17, test_size=0.25, **kw)
        got_train, got_test = collect(run.frame), collect(run.test)
    assert got_test.equals(_read(test))
    assert got_train.equals(_read(train))
    assert got_train.height < 3560 - got_test.height  # the cleaner removed rows


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_bags_give_the_local_bags(spark, data, tmp_path, partitions):
    from rebalance_cli import rebalance
    from rebalance_cli.engines.spark import resample_dataframe

    rebalance(data, tmp_path / "bag-{bag}.parquet", label="y", strategy="undersample", seed=19,
              bags=3)  # fmt: skip
    with split(spark, partitions, data) as df:
        run = resample_dataframe(df, label="y", strategy="undersample", seed=19, bags=3)
        got = [collect(b) for b in run.bags]
    assert len(got) == 3
    for b, frame in enumerate(got, start=1):
        assert frame.equals(_read(tmp_path / f"bag-{b}.parquet")), b
    assert got[0]["id"].to_list() != got[1]["id"].to_list()


def test_cli_writes_test_split_and_bags_as_folders(spark, cli, data, tmp_path):
    out, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    rep = tmp_path / "report.json"
    res = cli("apply", data, "-l", "y", "-s", "oversample", "--seed", "3", "-o", out,
              "--test-size", "0.2", "--test-output", test, "--report", rep, "--engine", "spark",
              "-q")  # fmt: skip
    assert res.code == 0, res.stderr
    assert listing(tmp_path) == {"train.parquet", "test.parquet", "report.json"}
    local_out = tmp_path / "local"
    local_out.mkdir()
    res = cli("apply", data, "-l", "y", "-s", "oversample", "--seed", "3",
              "-o", local_out / "train.parquet", "--test-size", "0.2",
              "--test-output", local_out / "test.parquet", "--json")  # fmt: skip
    assert res.code == 0, res.stderr
    local_doc, doc = json.loads(res.stdout), json.loads(rep.read_text())
    for name in ("train", "test"):
        got = pl.read_parquet(tmp_path / f"{name}.parquet" / "*.parquet")
        want = pl.read_parquet(local_out / f"{name}.parquet")
        assert got.with_columns(pl.col("seen_at").dt.replace_time_zone(None)).equals(want)
    for key in ("plan", "class_counts", "rows"):
        assert doc[key] == local_doc[key], key
    assert doc["split"]["counts"] == local_doc["split"]["counts"]
    bags = tmp_path / "bags"
    bags.mkdir()
    res = cli("apply", data, "-l", "y", "-s", "undersample", "--seed", "3", "--bags", "2",
              "-o", f"{bags}/", "--engine", "spark", "--json")  # fmt: skip
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert listing(bags) == {"bag-1.parquet", "bag-2.parquet"}
    assert [b["rows"] for b in doc["bags"]] == [180, 180]
    assert doc["rows"]["written"] == 360


# --------------------------------------------------------------------------- CLI


def test_cli_apply_writes_a_folder_atomically_with_a_report(spark, cli, data, tmp_path):
    out = tmp_path / "balanced.parquet"
    rep = tmp_path / "report.json"
    res = cli(
        "apply",
        data,
        "-l",
        "y",
        "-s",
        "oversample",
        "--seed",
        "9",
        "-o",
        out,
        "--report",
        rep,
        "--engine",
        "spark",
        "-q",
    )
    assert res.code == 0, res.stderr
    assert out.is_dir()
    assert any(p.name.startswith("part-") for p in out.iterdir())
    assert listing(tmp_path) == {"balanced.parquet", "report.json"}  # no temp folder left
    got = pl.read_parquet(out / "*.parquet").with_columns(
        pl.col("seen_at").dt.replace_time_zone(None)
    )
    assert got.equals(local(data, strategy="oversample", seed=9))
    doc = json.loads(rep.read_text())
    local_doc = json.loads(
        cli(
            "apply",
            data,
            "-l",
            "y",
            "-s",
            "oversample",
            "--seed",
            "9",
            "-o",
            tmp_path / "local.parquet",
            "--json",
        ).stdout
    )
    assert set(local_doc) <= set(doc)
    assert doc["engine"]["name"] == "spark"
    assert doc["engine"]["master"].startswith("local")
    assert doc["engine"]["input_partitions"] >= 1
    assert doc["engine"]["output_files"] >= 1
    assert doc["versions"]["pyspark"]
    for key in ("plan", "class_counts", "rows", "strategy", "label"):
        assert doc[key] == local_doc[key], key
    assert doc["class_counts"]["after"] == {"a": 3000, "b": 3000, "c": 3000}
    assert doc["output"]["path"] == str(out)
    assert doc["output"]["format"] == "parquet"
    assert doc["output"]["bytes"] > 0
    assert doc["parameters"]["seed"] == 9
    assert "--engine" in doc["command"]


def test_cli_refuses_an_existing_output_without_force(spark, cli, data, tmp_path):
    out = tmp_path / "out.parquet"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["apply", data, "-l", "y", "-s", "undersample", "--seed", "1", "-o", out]
    res = cli(*args, "--engine", "spark")
    assert res.code == 5
    assert "out.parquet already exists (pass --force to replace it)" in res.stderr
    assert listing(out) == {"keep.txt"}
    res = cli(*args, "--engine", "spark", "--force", "-q")
    assert res.code == 0, res.stderr
    assert "keep.txt" not in listing(out)
    assert pl.read_parquet(out / "*.parquet").height == 180
    assert listing(tmp_path) == {"out.parquet"}


def test_cli_csv_in_csv_out(spark, cli, tmp_path):
    frame = mixed_frame({"n": 400, "p": 30}, seed=8).drop("seen_at")
    src = tmp_path / "in.csv"
    frame.write_csv(src)
    out = tmp_path / "out.csv"
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "undersample",
        "--seed",
        "2",
        "-o",
        out,
        "--engine",
        "spark",
        "--json",
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["input"]["format"] == "csv" and doc["output"]["format"] == "csv"
    parts = sorted(out.glob("part-*.csv"))
    got = pl.concat([pl.read_csv(p) for p in parts])
    want = resample_frame(pl.read_csv(src), label="y", strategy="undersample", seed=2)
    assert got["id"].to_list() == want["id"].to_list()
    assert doc["class_counts"]["after"] == {"n": 30, "p": 30}


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--shuffle"], 2, "--shuffle is not supported with --engine spark"),
        (["--engine", "local", "--spark-master", "local[1]"], 2, "--spark-master needs --engine"),
        (["--engine", "dask"], 2, "--engine 'dask' is not an engine"),
        (["--bags", "3"], 2, "--bags 3 needs an output that holds {bag} or is a folder"),
        (["--label", "Y"], 3, "label column 'Y' is not in"),
        (["-k", "80", "-s", "smote"], 3, "class 'c' has 60 rows; SMOTE with k=80 needs"),
    ],
)
def test_cli_errors(spark, cli, data, tmp_path, extra, code, message):
    out = tmp_path / "o.parquet"
    args = ["apply", data, "-l", "y", "-s", "undersample", "-o", out, "--engine", "spark"]
    res = cli(*args, *extra)
    assert res.code == code, res.stderr
    assert message in res.stderr
    assert res.stderr.count("\n") == 1
    assert not out.exists()
    assert listing(tmp_path) == set()


def test_local_only_options_are_refused_not_ignored(spark, data, tmp_path):
    from rebalance_cli.engines.spark import rebalance_spark

    out = tmp_path / "o.parquet"
    with pytest.raises(UsageError, match="--shuffle is not supported with --engine spark"):
        rebalance_spark(data, out, label="y", strategy="undersample", shuffle=True)
    report = rebalance_spark(
        data, out, label="y", strategy="undersample", seed=1, chunk_size=10, progress=print
    )
    assert report.counts_after == {"a": 60, "b": 60, "c": 60}


def test_a_strategy_that_does_not_declare_spark_is_refused(spark, data, monkeypatch):
    from rebalance_cli import strategies as registry
    from rebalance_cli.engines.spark import resample_spark

    monkeypatch.setattr(type(registry.get("weight")), "engines", frozenset({"local"}))
    df = spark.read.parquet(str(data))
    with pytest.raises(UsageError, match="--strategy weight is not supported with --engine spark"):
        resample_spark(df, label="y", strategy="weight")
    try:
        resample_spark(df, label="y", strategy="weight")
    except UsageError as err:
        assert err.hint is not None
        assert "undersample, oversample, smote, hybrid, tomek, enn;" in err.hint


def test_cli_io_errors(spark, cli, data, tmp_path):
    res = cli(
        "apply",
        tmp_path / "missing.parquet",
        "-l",
        "y",
        "-s",
        "undersample",
        "-o",
        tmp_path / "o.parquet",
        "--engine",
        "spark",
    )
    assert res.code == 4
    assert "missing.parquet: no such file or directory" in res.stderr
    res = cli(
        "apply",
        data,
        "-l",
        "y",
        "-s",
        "undersample",
        "-o",
        tmp_path / "nowhere" / "o.parquet",
        "--engine",
        "spark",
    )
    assert res.code == 4
    assert "does not exist" in res.stderr
    res = cli(
        "apply", data, "-l", "y", "-s", "undersample", "-o", data, "--engine", "spark", "--force"
    )
    assert res.code == 5
    assert "is the input" in res.stderr


def test_cli_dry_run_and_inspect(spark, cli, data, tmp_path):
    res = cli(
        "apply",
        data,
        "-l",
        "y",
        "-s",
        "undersample",
        "--target",
        "b=100",
        "--dry-run",
        "--json",
        "--engine",
        "spark",
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["dry_run"] is True
    assert doc["plan"]["after"] == {"a": 3000, "b": 100, "c": 60}
    assert doc["output"] is None
    assert listing(tmp_path) == set()
    spark_view = cli("inspect", data, "-l", "y", "--json", "--engine", "spark")
    local_view = cli("inspect", data, "-l", "y", "--json")
    assert spark_view.code == local_view.code == 0
    spark_doc, local_doc = json.loads(spark_view.stdout), json.loads(local_view.stdout)
    assert spark_doc.pop("settings")["engine"]["value"] == "spark"  # where each value came from
    local_doc.pop("settings")
    assert spark_doc == local_doc
    res = cli("inspect", data, "-l", "y", "--engine", "spark", "--max-ratio", "10")
    assert res.code == 6


def test_a_real_process_starts_and_stops_its_own_spark(spark, data):
    # The in-process tests share the session above; this one makes its own (one JVM start).
    res = run_process(
        "apply", str(data), "-l", "y", "-s", "undersample", "--seed", "3",
        "--dry-run", "--json", "--engine", "spark", "--spark-master", "local[1]",
    )  # fmt: skip
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["engine"]["master"] == "local[1]"
    assert doc["plan"]["after"] == {"a": 60, "b": 60, "c": 60}


# --------------------------------------------------------------------------- NaN and nested labels


def test_nan_label_is_a_null_label_on_spark(spark, cli, tmp_path):
    from rebalance_cli.engines.spark import resample_spark

    y = [1.0] * 8 + [2.0] * 4 + [float("nan")] * 2 + [None]
    frame = pl.DataFrame({"x": np.arange(len(y), dtype=np.float64), "y": y})
    path = tmp_path / "nan.parquet"
    frame.write_parquet(path, row_group_size=4)
    res = cli("inspect", path, "-l", "y", "--json", "--engine", "spark")
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["null_labels"], [c["class"] for c in doc["classes"]]) == (3, ["1.0", "2.0"])
    df = spark.read.parquet(str(path))
    with pytest.raises(DataError, match="label column 'y' has 3 null values"):
        resample_spark(df, label="y", strategy="oversample")
    for strategy in ("oversample", "smote"):
        kw = {"strategy": strategy, "seed": 4, "drop_null_labels": True, "k_neighbors": 2}
        got = collect(resample_spark(df, label="y", **kw)).sort("x", "y")
        assert got.equals(resample_frame(frame, label="y", **kw).sort("x", "y"))
        assert got["y"].value_counts(sort=True).rows() == [(1.0, 8), (2.0, 8)]
    nested = tmp_path / "nested.parquet"
    pl.DataFrame({"y": [[1], [2]]}).write_parquet(nested)
    res = cli("inspect", nested, "-l", "y", "--engine", "spark")
    assert res.code == 3
    assert "label column 'y' is List(Int64); a label must be a string" in res.stderr


def _toy_smote() -> object:
    """SMOTE with a synthesiser of its own report section and messages (a plug-in's)."""
    from rebalance_cli.strategies.smote import Smote, SmoteSynthesiser

    class ToySynth(SmoteSynthesiser):
        section = "toysmote"

        def bad_seed(self, column: str, count: int, cls: str) -> Exception:
            return DataError(f"toy: {count} bad {column} in {cls}")

        def left_out(self, count: int, cls: str) -> str:
            return f"toy: {count} rows of {cls} left out"

    class ToySmote(Smote):
        name = "toysmote"

        def setup(self, ctx):
            setup = super().setup(ctx)
            old = setup.synthesiser
            setup.synthesiser = ToySynth(old.label, old.settings)
            return setup

    return ToySmote()


def test_partition_synthesis_reads_the_synthesisers_declaration(spark, tmp_path, monkeypatch):
    """The within-partition path asks the synthesiser for its seed rule, its messages and
    its report section: it holds no copy of SMOTE's."""
    from rebalance_cli import strategies as registry
    from rebalance_cli.engines.spark import resample_dataframe

    monkeypatch.setattr(registry, "BUILT_IN", (*registry.BUILT_IN, _toy_smote()))
    registry.reload()
    try:
        frame = mixed_frame({"a": 400, "b": 40}, seed=2).with_columns(
            pl.when(pl.col("id") == pl.col("id").filter(pl.col("y") == "b").first())
            .then(float("nan"))
            .otherwise(pl.col("score"))
            .alias("score")
        )
        path = tmp_path / "nan.parquet"
        frame.write_parquet(path)
        df = spark.read.parquet(str(path))
        kw: dict = {"label": "y", "strategy": "toysmote", "seed": 1, "smote_driver_rows": 10}
        with pytest.raises(DataError, match=r"^toy: 1 bad score in b$"):
            resample_dataframe(df, **kw)
        run = resample_dataframe(df, lenient=True, **kw)  # not collected: the toy is local
        assert "toy: 1 rows of b left out" in run.warnings
        assert run.engine["toysmote"]["partition_classes"] == ["b"]
        assert "smote" not in run.engine
    finally:
        monkeypatch.undo()
        registry.reload()


def test_rebalance_spark_honours_smote_driver_rows(spark, data, tmp_path):
    """The file API passes its driver limit on (it was dropped: the Spark conf or the
    default decided every file run)."""
    from rebalance_cli.engines.spark import rebalance_spark

    report = rebalance_spark(
        data, tmp_path / "out.parquet", label="y", strategy="smote", seed=5, id_columns=["id"],
        smote_driver_rows=100,
    )  # fmt: skip
    assert report.engine["smote"] == {
        "driver_rows_limit": 100,
        "driver_classes": ["c"],
        "partition_classes": ["b"],
    }

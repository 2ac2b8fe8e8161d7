"""Label columns: NaN is a missing label, nested labels are refused, the inspect gate
fails closed, and ``resample_frame``'s seed."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import polars as pl
import pytest

from rebalance_cli import SeedDrawnWarning, inspect, resample_frame
from rebalance_cli.errors import DataError

NAN = float("nan")


def nan_frame() -> pl.DataFrame:
    """Float label: 8 rows of 1.0, 4 of 2.0, 2 NaN and 1 null; a --by column."""
    y = [1.0] * 8 + [2.0] * 4 + [NAN, NAN, None]
    n = len(y)
    return pl.DataFrame(
        {
            "x": np.arange(n, dtype=np.float64),
            "g": ["a", "b"] * (n // 2) + ["a"],
            "y": pl.Series(y, dtype=pl.Float64),
        }
    )


@pytest.fixture
def nan_file(write_data):
    return write_data(nan_frame(), "nan.parquet")


# ---------------------------------------------------------------------- 1. NaN is a null label


def test_nan_is_a_null_label_in_inspect(nan_file, cli):
    dist = inspect(nan_file, "y")
    assert dist.classes == ("1.0", "2.0")
    assert dist.counts == (8, 4)
    assert dist.nulls == 3
    assert dist.minority == "2.0"
    res = cli("inspect", nan_file, "-l", "y", "--json")
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["null_labels"] == 3
    assert doc["rows"] == 15
    assert [c["class"] for c in doc["classes"]] == ["1.0", "2.0"]
    assert doc["imbalance_ratio"] == 2.0


def test_nan_label_is_an_error_without_drop(nan_file, cli, tmp_path):
    out = tmp_path / "o.parquet"
    res = cli("apply", nan_file, "-l", "y", "-s", "oversample", "-o", out)
    assert res.code == 3
    assert "rebalance: data error: label column 'y' has 3 null values" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--drop-null-labels", "--lenient"])
@pytest.mark.parametrize("strategy", ["oversample", "undersample", "smote"])
def test_nan_labels_are_dropped(nan_file, cli, tmp_path, flag, strategy):
    out = tmp_path / "o.parquet"
    args = ["-s", strategy, "-o", out, "--seed", "1", "--json", flag]
    if strategy == "smote":
        args += ["--k-neighbors", "2"]
    res = cli("apply", nan_file, "-l", "y", *args)
    assert res.code == 0, res.stderr
    assert "3 rows with a null label were dropped" in res.stderr
    report = json.loads(res.stdout)
    assert report["class_counts"]["before"] == {"1.0": 8, "2.0": 4}
    assert report["rows"]["null_labels_dropped"] == 3
    got = pl.read_parquet(out)["y"]
    assert got.null_count() == 0 and not got.is_nan().any()  # pass 2 dropped them too
    want = {"oversample": (8, 8), "undersample": (4, 4), "smote": (8, 8)}[strategy]
    assert (int((got == 1.0).sum()), int((got == 2.0).sum())) == want


def test_nan_labels_are_dropped_with_by(nan_file, cli, tmp_path):
    out = tmp_path / "o.parquet"
    res = cli(
        "apply", nan_file, "-l", "y", "-s", "oversample", "--by", "g", "-o", out,
        "--drop-null-labels", "--json",
    )  # fmt: skip
    assert res.code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["rows"]["null_labels_dropped"] == 3
    assert report["class_counts"]["before"] == {"1.0": 8, "2.0": 4}
    got = pl.read_parquet(out)
    assert got["y"].null_count() == 0 and not got["y"].is_nan().any()
    res = cli(
        "apply", nan_file, "-l", "y", "-s", "oversample", "--by", "g", "-o", tmp_path / "p.parquet"
    )
    assert res.code == 3
    assert "label column 'y' has 3 null values" in res.stderr


def test_nan_labels_in_resample_frame():
    frame = nan_frame()
    with pytest.raises(DataError, match="label column 'y' has 3 null values"):
        resample_frame(frame, label="y", strategy="oversample")
    out = resample_frame(frame, label="y", strategy="smote", k_neighbors=2, drop_null_labels=True)
    assert out["y"].value_counts(sort=True).rows() == [(1.0, 8), (2.0, 8)]


def test_nan_label_does_not_count_against_max_classes(write_data):
    frame = pl.DataFrame({"y": [1.0, 2.0, 1.0, 2.0, NAN, None]})
    path = write_data(frame, "few.parquet")
    assert inspect(path, "y", max_classes=2).nulls == 2


def test_float32_nan_label(write_data):
    frame = nan_frame().with_columns(pl.col("y").cast(pl.Float32))
    dist = inspect(write_data(frame, "f32.parquet"), "y")
    assert (dist.classes, dist.nulls) == (("1.0", "2.0"), 3)


def evaluate_frame() -> pl.DataFrame:
    """A float label for evaluate: 40 rows of 1.0, 16 of 2.0, 3 NaN and 1 null."""
    rng = np.random.default_rng(4)
    y = [1.0] * 40 + [2.0] * 16 + [NAN, NAN, NAN, None]
    order = rng.permutation(len(y))
    return pl.DataFrame(
        {
            "f1": rng.normal(0, 1, len(y)),
            "f2": rng.normal(0, 1, len(y)),
            "y": pl.Series([y[i] for i in order], dtype=pl.Float64),
        }
    )


def test_evaluate_refuses_nan_labels_like_nulls(write_data, cli):
    path = write_data(evaluate_frame(), "eval.parquet")
    res = cli("evaluate", path, "-l", "y", "--folds", "2", "--repeats", "1")
    assert (res.code, res.stdout) == (3, "")
    assert res.stderr == (
        "rebalance: data error: label column 'y' has 4 null values "
        "(pass --drop-null-labels to leave those rows out)\n"
    )


def test_evaluate_drops_nan_labels_with_the_nulls(write_data, cli):
    path = write_data(evaluate_frame(), "eval.parquet")
    args = ["-l", "y", "--folds", "2", "--repeats", "1", "--strategies", "undersample"]
    res = cli("evaluate", path, *args, "--drop-null-labels", "--json", "--seed", "3")
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["input"]["rows"] == doc["input"]["rows_used"] == 56  # the labelled rows
    assert doc["classes"] == [{"class": "1.0", "count": 40}, {"class": "2.0", "count": 16}]
    assert "left out 4 rows whose label is null" in res.stderr


# ---------------------------------------------------------------------- 2. nested labels

NESTED = {
    "List(Int64)": pl.Series("y", [[1], [1], [2]]),
    "Array(Int64, shape=(1,))": pl.Series("y", [[1], [1], [2]], dtype=pl.Array(pl.Int64, 1)),
    "Struct({'a': Int64})": pl.Series("y", [{"a": 1}, {"a": 1}, {"a": 2}]),
}
KINDS = "a label must be a string, integer, boolean, categorical or float column"


@pytest.mark.parametrize("shown", list(NESTED))
def test_a_nested_label_is_refused(write_data, cli, tmp_path, shown):
    path = write_data(pl.DataFrame({"x": [1, 2, 3], "y": NESTED[shown]}), "nested.parquet")
    message = f"rebalance: data error: label column 'y' is {shown}; {KINDS}"
    res = cli("inspect", path, "-l", "y")
    assert (res.code, res.stdout) == (3, "")
    assert res.stderr.startswith(message)
    assert res.stderr.count("\n") == 1
    out = tmp_path / "o.parquet"
    res = cli("apply", path, "-l", "y", "-s", "oversample", "-o", out)
    assert res.code == 3
    assert res.stderr.startswith(message)
    assert not out.exists()
    with pytest.raises(DataError, match=re.escape(f"label column 'y' is {shown}; {KINDS}")):
        resample_frame(pl.read_parquet(path), label="y", strategy="oversample")
    res = cli("evaluate", path, "-l", "y")
    assert (res.code, res.stdout) == (3, "")
    assert res.stderr.startswith(message) and res.stderr.count("\n") == 1


# ---------------------------------------------------------------------- 3. the inspect gate


@pytest.fixture
def gate_files(write_data, tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("x,y\n")
    return {
        "header": header,
        "one": write_data(pl.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]}), "one.csv"),
        "nulls": write_data(pl.DataFrame({"x": [1, 2], "y": [None, NAN]}), "nulls.parquet"),
        "two": write_data(pl.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "b"]}), "two.csv"),
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "header",
            "rebalance: check failed: no row has a label: the imbalance ratio is undefined, "
            "so --max-ratio 50 cannot pass\n",
        ),
        (
            "nulls",
            "rebalance: check failed: no row has a label (2 null labels): the imbalance ratio "
            "is undefined, so --max-ratio 50 cannot pass\n",
        ),
        (
            "one",
            "rebalance: check failed: only one class 'a': the imbalance ratio is undefined, "
            "so --max-ratio 50 cannot pass\n",
        ),
    ],
)
def test_max_ratio_fails_closed_when_the_ratio_is_undefined(gate_files, cli, name, message):
    path = gate_files[name]
    res = cli("inspect", path, "-l", "y", "--max-ratio", "50")
    assert (res.code, res.stderr) == (6, message)
    assert "rows:" in res.stdout  # the distribution is still shown
    res = cli("inspect", path, "-l", "y", "--max-ratio", "50", "--json")
    assert (res.code, res.stderr) == (6, message)
    doc = json.loads(res.stdout)  # printed before the failing exit, as for a failing ratio
    assert doc["max_ratio"] == 50
    res = cli("inspect", path, "-l", "y")  # no gate: printed as before, exit 0
    assert (res.code, res.stderr) == (0, "")


def test_max_ratio_still_passes_and_fails_on_a_ratio(gate_files, cli):
    res = cli("inspect", gate_files["two"], "-l", "y", "--max-ratio", "2")
    assert (res.code, res.stderr) == (0, "")
    res = cli("inspect", gate_files["two"], "-l", "y", "--max-ratio", "1.5", "--json")
    assert res.code == 6
    assert res.stderr == (
        "rebalance: check failed: imbalance ratio 2 (a over b) exceeds --max-ratio 1.5\n"
    )
    assert json.loads(res.stdout)["imbalance_ratio"] == 2.0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0.5", "0", "-3"])
def test_max_ratio_must_be_finite_and_at_least_1(gate_files, cli, value):
    res = cli("inspect", gate_files["two"], "-l", "y", "--max-ratio", value)
    shown = repr(float(value))  # nan, inf, -inf, 0.5, 0.0, -3.0
    assert res.code == 2
    assert res.stderr == (
        f"rebalance: usage error: --max-ratio must be a finite number of at least 1 (got {shown})\n"
    )
    assert res.stdout == ""


# ---------------------------------------------------------------------- 4. resample_frame's seed


def test_resample_frame_seed_none_draws_a_seed():
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "i": np.arange(1000),
            "y": np.where(rng.random(1000) < 0.2, "b", "a"),
        }
    )
    kw = {"label": "y", "strategy": "undersample"}
    fixed = [resample_frame(frame, seed=0, **kw) for _ in range(2)]
    assert fixed[0].equals(fixed[1])
    assert resample_frame(frame, **kw).equals(fixed[0])  # the default seed is 0
    drawn, said = [], []
    for _ in range(2):
        with pytest.warns(SeedDrawnWarning) as caught:
            drawn.append(resample_frame(frame, seed=None, **kw))
        [w] = caught
        m = re.fullmatch(
            r"resample_frame drew seed (\d+); pass seed=(\d+) to get these rows again",
            str(w.message),
        )
        assert m is not None and m.group(1) == m.group(2), str(w.message)
        assert w.filename == __file__  # it points at the caller's line
        said.append(int(m.group(1)))
    assert drawn[0].height == drawn[1].height == fixed[0].height
    assert not drawn[0].equals(drawn[1])  # a fresh seed each call (2**32 of them)
    # the seed it names gives those rows back
    for rows, seed in zip(drawn, said, strict=True):
        assert resample_frame(frame, seed=seed, **kw).equals(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a seed given, or the default 0: no warning
        resample_frame(frame, seed=5, **kw)
        resample_frame(frame, **kw)

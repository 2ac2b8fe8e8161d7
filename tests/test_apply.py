"""`rebalance apply` end to end: exact counts, row properties, schemas, determinism."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalance_cli import make_plan, rebalance, resample_frame
from tests.conftest import digest, mixed_frame, run_process

BINARY = {"no": 900, "yes": 100}
MULTI = {"a": 500, "b": 150, "c": 60, "d": 25}
FORMS = {
    "undersample": ["auto", "majority", "not-minority", "not-majority", "all", "0.6", "counts"],
    "oversample": ["auto", "minority", "not-minority", "not-majority", "all", "0.6", "counts"],
    "smote": ["auto", "minority", "not-minority", "not-majority", "all", "0.6", "counts"],
}
EXPLICIT = {
    ("undersample", "binary"): "no=333",
    ("undersample", "multi"): "a=100,c=7",
    ("oversample", "binary"): "yes=777",
    ("oversample", "multi"): "b=400,d=333",
    ("smote", "binary"): "yes=777",
    ("smote", "multi"): "b=400,d=333",
}


def class_counts(df: pl.DataFrame, label: str = "y") -> dict[str, int]:
    return {str(k): v for k, v in df[label].value_counts().iter_rows()}


def run(src: Path, out: Path, strategy: str, **kw):
    kw.setdefault("seed", 11)
    kw.setdefault("label", "y")
    if strategy == "smote":
        kw.setdefault("id_columns", ["id"])
    return rebalance(src, out, strategy=strategy, **kw)


CASES = [
    (strategy, form, data)
    for strategy, forms in FORMS.items()
    for form in forms
    for data in ("binary", "multi")
]


@pytest.mark.parametrize(("strategy", "form", "data"), CASES)
def test_counts_equal_the_plan_exactly(tmp_path, write_data, strategy, form, data):
    counts = BINARY if data == "binary" else MULTI
    df = mixed_frame(counts, seed=len(form))
    src = write_data(df, "in.parquet")
    target = EXPLICIT[(strategy, data)] if form == "counts" else form
    plan = make_plan(sorted(counts.items()), strategy, target)
    out = tmp_path / "out.parquet"
    report = run(src, out, strategy, target=target, chunk_size=97)
    got = class_counts(pl.read_parquet(out))
    want = {c: t for c, t in zip(plan.classes, plan.after, strict=True) if t}
    assert got == want
    assert report.counts_after == dict(zip(plan.classes, plan.after, strict=True))
    assert report.rows["written"] == sum(want.values())


def test_undersample_keeps_a_subset_without_duplicates_in_order(tmp_path, write_data):
    df = mixed_frame(MULTI, seed=1)
    src = write_data(df, "in.parquet")
    out = tmp_path / "out.parquet"
    run(src, out, "undersample", target="not-majority", chunk_size=50)
    got = pl.read_parquet(out)
    assert got["id"].n_unique() == got.height
    assert got["id"].is_sorted()  # input order kept
    # every kept row is an input row, column for column
    assert got.join(df, on=got.columns, how="anti").height == 0
    assert class_counts(got) == {"a": 500, "b": 25, "c": 25, "d": 25}


def test_oversample_writes_each_row_floor_or_ceil_times_next_to_its_source(tmp_path, write_data):
    df = mixed_frame(MULTI, seed=2)
    src = write_data(df, "in.csv")
    out = tmp_path / "out.csv"
    run(src, out, "oversample", target="auto", chunk_size=64)
    got = pl.read_csv(out)
    assert got["id"].is_sorted()  # copies stand next to their source, input order kept
    times = got.group_by("id", "y").len()
    for cls, n in MULTI.items():
        per_row = times.filter(pl.col("y") == cls)["len"]
        assert per_row.len() == n  # every row of the class is there
        q, r = divmod(500, n)
        assert set(per_row.unique().to_list()) <= {q, q + 1}
        assert int((per_row == q + 1).sum()) == (r if r else 0) or (q == 1 and r == 0)
        assert int(per_row.sum()) == 500
    # duplicated rows are exact copies of their source
    assert (
        got.unique()
        .join(df.with_columns(pl.col("seen_at").cast(pl.String)), on="id", how="anti")
        .height
        == 0
    )


def _on_segment(x: np.ndarray, real: np.ndarray, float_cols: list[int], int_cols: list[int]):
    """True where a synthetic row lies on a segment between two real rows."""
    a = real[:, None, :]
    b = real[None, :, :]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ok = []
    for row in x:
        inside = ((row >= lo - 1e-6) & (row <= hi + 1e-6)).all(axis=2)
        d = (b - a)[:, :, float_cols]
        off = row[float_cols] - a[:, :, float_cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(np.abs(d) > 1e-9, off / d, np.nan)
        spread = np.fmax.reduce(u, axis=2) - np.fmin.reduce(u, axis=2)
        same_u = np.nan_to_num(spread, nan=0.0) < 1e-4
        ok.append(bool((inside & same_u).any()))
    return np.array(ok)


def test_smote_rows_lie_on_segments_between_two_real_rows_of_their_class(tmp_path, write_data):
    df = mixed_frame(MULTI, seed=3)
    src = write_data(df, "in.parquet")
    out = tmp_path / "out.parquet"
    report = run(src, out, "smote", target="auto", k_neighbors=5)
    got = pl.read_parquet(out)
    assert got.schema == df.schema
    assert got.head(df.height).equals(df)  # input rows first, untouched
    synth = got.slice(df.height)
    assert synth.height == report.rows["synthetic"] == 3 * 500 - 150 - 60 - 25
    assert synth["id"].null_count() == synth.height
    feats = ["age", "visits", "score", "ratio"]
    assert report.parameters["features"] == feats
    for cls in ("b", "c", "d"):
        real = df.filter(pl.col("y") == cls).select(feats).cast(pl.Float64).to_numpy()
        x = synth.filter(pl.col("y") == cls).select(feats).cast(pl.Float64).to_numpy()
        assert x.shape[0] == 500 - MULTI[cls]
        assert _on_segment(x, real, float_cols=[2, 3], int_cols=[0, 1]).all()
        # non-feature columns take values the class really has
        for col in ("city", "member", "seen_at"):
            have = set(df.filter(pl.col("y") == cls)[col].to_list())
            assert set(synth.filter(pl.col("y") == cls)[col].to_list()) <= have


def test_smote_spreads_seeds_evenly(tmp_path, write_data, monkeypatch):
    from rebalance_cli.samplers import smote

    seen = {}
    real_prepare = smote.prepare_smote

    def spy(pool, cls, *args, **kw):
        sc = real_prepare(pool, cls, *args, **kw)
        seen[cls] = np.diff(np.concatenate([[0], sc.seed_ends]))
        return sc

    monkeypatch.setattr("rebalance_cli.samplers.smote.prepare_smote", spy)  # imported per run
    src = write_data(mixed_frame({"a": 300, "b": 70}, seed=4), "in.parquet")
    run(src, tmp_path / "o.parquet", "smote")
    per_seed = seen["b"]
    assert per_seed.sum() == 230
    assert set(per_seed.tolist()) == {3, 4}
    assert int((per_seed == 4).sum()) == 230 % 70


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
@pytest.mark.parametrize("fmt", ["csv", "parquet", "tsv", "ipc", "ndjson"])
def test_output_schema_equals_input_schema(tmp_path, write_data, strategy, fmt):
    df = mixed_frame(MULTI, seed=5)
    if fmt in ("csv", "tsv"):
        src = write_data(df, f"in.{fmt}")
        expected = pl.read_csv(src, separator="\t" if fmt == "tsv" else ",").schema
    elif fmt == "ipc":
        src = tmp_path / "in.arrow"
        df.write_ipc(src)
        expected = df.schema
    elif fmt == "ndjson":
        src = tmp_path / "in.ndjson"
        df.write_ndjson(src)
        expected = pl.read_ndjson(src).schema
    else:
        src = write_data(df, "in.parquet")
        expected = df.schema
    out = tmp_path / f"out.{fmt}"
    run(src, out, strategy)
    reader = {
        "csv": pl.read_csv,
        "tsv": lambda p: pl.read_csv(p, separator="\t"),
        "parquet": pl.read_parquet,
        "ipc": pl.read_ipc,
        "ndjson": pl.read_ndjson,
    }[fmt]
    assert reader(out).schema == expected


def test_integer_and_bool_labels(tmp_path):
    df = pl.DataFrame(
        {
            "x": np.arange(300.0),
            "y": [True] * 250 + [False] * 50,
            "k": np.repeat(np.arange(3, dtype=np.int16), 100),
        }
    )
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    out = tmp_path / "out.parquet"
    rebalance(src, out, label="y", strategy="undersample", target="true=80", seed=1)
    got = pl.read_parquet(out)
    assert got["y"].value_counts().sort("y").rows() == [(False, 50), (True, 80)]
    out2 = tmp_path / "out2.parquet"
    rebalance(src, out2, label="k", strategy="oversample", target="0=150,2=200", seed=1)
    got = pl.read_parquet(out2)
    assert got.schema == df.schema
    assert got["k"].value_counts().sort("k").rows() == [(0, 150), (1, 100), (2, 200)]


# -- determinism -------------------------------------------------------------------------

small_tables = st.builds(
    lambda labels, seed: (labels, seed),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=12, max_size=300).filter(
        lambda ls: min(ls.count(c) for c in set(ls)) >= 6 and len(set(ls)) >= 2
    ),
    st.integers(0, 2**32 - 1),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=small_tables,
    strategy=st.sampled_from(["undersample", "oversample", "smote"]),
    target=st.sampled_from(["auto", "all", "0.7"]),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_same_seed_same_bytes_for_any_chunk_size(tmp_path_factory, table, strategy, target, fmt):
    labels, seed = table
    tmp = tmp_path_factory.mktemp("det")
    rng = np.random.default_rng(seed)
    df = pl.DataFrame(
        {
            "id": np.arange(len(labels)),
            "v": rng.normal(size=len(labels)),
            "w": rng.integers(0, 9, len(labels)),
            "y": labels,
        }
    )
    src = tmp / "in.parquet"
    df.write_parquet(src)
    digests = set()
    counts = set()
    for chunk in (1, 7, 64, 1000, 7919, 1_000_000):
        out = tmp / f"out{chunk}.{fmt}"
        rep = rebalance(
            src,
            out,
            label="y",
            strategy=strategy,
            target=target,
            seed=seed,
            chunk_size=chunk,
            id_columns=["id"] if strategy == "smote" else None,
        )
        digests.add(digest(out))
        counts.add(json.dumps(rep.counts_after, sort_keys=True))
    assert len(digests) == 1
    assert len(counts) == 1


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_larger_table_same_bytes_for_chunk_sizes(tmp_path, write_data, strategy):
    df = mixed_frame({"a": 24_000, "b": 5_000, "c": 1_000}, seed=9)
    src = write_data(df, "in.parquet")
    got = set()
    for chunk in (1000, 7919, 1_000_000):
        for fmt in ("csv", "parquet"):
            out = tmp_path / f"o{chunk}.{fmt}"
            run(src, out, strategy, chunk_size=chunk)
            got.add((fmt, digest(out)))
    assert len(got) == 2  # one digest per format


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_csv_and_parquet_inputs_select_the_same_rows(tmp_path, write_data, strategy):
    df = mixed_frame(MULTI, seed=6)
    outs = []
    for name in ("in.csv", "in.parquet"):
        src = write_data(df, name)
        out = tmp_path / f"out-{name}.parquet"
        run(src, out, strategy, chunk_size=101)
        outs.append(pl.read_parquet(out))
    assert outs[0]["id"].to_list() == outs[1]["id"].to_list()
    assert outs[0]["y"].to_list() == outs[1]["y"].to_list()
    if strategy == "smote":
        assert np.allclose(outs[0]["score"].to_numpy(), outs[1]["score"].to_numpy())


def test_different_seeds_select_different_rows(tmp_path, write_data):
    src = write_data(mixed_frame(BINARY), "in.parquet")
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    run(src, a, "undersample", seed=1)
    run(src, b, "undersample", seed=2)
    assert pl.read_parquet(a)["id"].to_list() != pl.read_parquet(b)["id"].to_list()


def test_drawn_seed_is_reported_and_replays(tmp_path, write_data):
    src = write_data(mixed_frame(BINARY), "in.csv")
    first = rebalance(src, tmp_path / "a.csv", label="y", strategy="oversample")
    assert first.parameters["seed_source"] == "drawn"
    again = rebalance(src, tmp_path / "b.csv", label="y", strategy="oversample", seed=first.seed)
    assert digest(tmp_path / "a.csv") == digest(tmp_path / "b.csv")
    assert again.parameters["seed_source"] == "given"


# -- the report and the command line -----------------------------------------------------


def test_report_file_has_the_documented_fields(tmp_path, write_data, cli):
    src = write_data(mixed_frame(MULTI), "in.csv")
    out, rep = tmp_path / "out.parquet", tmp_path / "rep.json"
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "smote",
        "--id-columns",
        "id",
        "--seed",
        "5",
        "-o",
        out,
        "--report",
        rep,
    )
    assert res.code == 0, res.stderr
    doc = json.loads(rep.read_text())
    assert doc["schema_version"] == 1
    assert set(doc["versions"]) >= {"polars", "pyarrow", "numpy", "scikit-learn", "python"}
    assert doc["tool"]["name"] == "rebalance"
    assert doc["command"][:2] == ["rebalance", "apply"]
    assert doc["input"] == {
        "path": str(src),
        "format": "csv",
        "rows": 735,
        "columns": 9,
        "bytes": src.stat().st_size,
    }
    assert doc["label"] == {"column": "y", "dtype": "String"}
    assert doc["parameters"]["seed"] == 5
    assert doc["parameters"]["k_neighbors"] == 5
    assert doc["class_counts"]["before"] == MULTI
    assert doc["class_counts"]["after"] == {c: 500 for c in MULTI}
    assert doc["plan"]["after"] == {c: 500 for c in MULTI}
    assert doc["rows"] == {
        "read": 735,
        "written": 2000,
        "synthetic": 1265,
        "dropped": 0,
        "duplicated": 0,
        "null_labels_dropped": 0,
    }
    assert doc["output"] == {"path": str(out), "format": "parquet", "bytes": out.stat().st_size}
    assert {"count", "plan", "smote_prepare", "write", "total"} <= set(doc["timings_s"])
    assert doc["warnings"] == []


def test_json_report_on_stdout(tmp_path, write_data, cli):
    src = write_data(mixed_frame(BINARY), "in.parquet")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "undersample",
        "--seed",
        "3",
        "-o",
        tmp_path / "o.csv",
        "--json",
    )
    assert res.code == 0
    doc = json.loads(res.stdout)
    assert doc["class_counts"]["after"] == {"no": 100, "yes": 100}
    assert doc["rows"]["dropped"] == 800


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, write_data, cli):
    src = write_data(mixed_frame(BINARY), "in.csv")
    before = set(tmp_path.iterdir())
    res = cli("apply", src, "-l", "y", "-s", "oversample", "--dry-run", "--json", "--seed", "1")
    assert res.code == 0
    doc = json.loads(res.stdout)
    assert doc["dry_run"] is True
    assert doc["plan"]["after"] == {"no": 900, "yes": 900}
    assert doc["output"] is None
    assert set(tmp_path.iterdir()) == before
    res = cli("apply", src, "-l", "y", "-s", "oversample", "--dry-run", "-o", tmp_path / "x.csv")
    assert res.code == 0 and "900" in res.stdout
    assert set(tmp_path.iterdir()) == before


def test_pipe_stdin_to_stdout(tmp_path, write_data):
    df = mixed_frame(BINARY)
    src = write_data(df, "in.csv")
    res = run_process(
        "apply",
        "-",
        "--label",
        "y",
        "--strategy",
        "undersample",
        "--seed",
        "4",
        "-o",
        "-",
        stdin=src.read_bytes(),
    )
    assert res.code == 0, res.stderr
    # no progress in a pipe; the one summary line, on stderr
    assert re.fullmatch(
        r"rebalance: wrote 200 rows \(no: 100, yes: 100\) to stdout in \d+\.\d s\n", res.stderr
    )
    out = tmp_path / "piped.csv"
    out.write_text(res.stdout)
    direct = tmp_path / "direct.csv"
    run(src, direct, "undersample", seed=4)
    assert digest(out) == digest(direct)


def test_parquet_through_stdin_is_sniffed(tmp_path, write_data):
    src = write_data(mixed_frame(BINARY), "in.parquet")
    out = tmp_path / "o.csv"
    res = run_process(
        "apply",
        "-",
        "-l",
        "y",
        "-s",
        "undersample",
        "--seed",
        "1",
        "-o",
        out,
        stdin=src.read_bytes(),
    )
    assert res.code == 0, res.stderr
    assert class_counts(pl.read_csv(out)) == {"no": 100, "yes": 100}


def test_drop_null_labels(tmp_path):
    df = pl.DataFrame({"x": range(10), "y": ["a", None, "a", "a", "b", None, "a", "b", "a", "a"]})
    src = tmp_path / "in.csv"
    df.write_csv(src)
    out = tmp_path / "o.csv"
    rep = rebalance(src, out, label="y", strategy="undersample", seed=1, drop_null_labels=True)
    got = pl.read_csv(out)
    assert got["y"].null_count() == 0
    assert class_counts(got) == {"a": 2, "b": 2}
    assert rep.rows["null_labels_dropped"] == 2
    assert rep.rows["dropped"] == 6
    assert any("null label" in w for w in rep.warnings)


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_resample_frame_gives_the_rows_the_file_pipeline_writes(tmp_path, strategy):
    df = mixed_frame({"a": 700, "b": 90, "c": 25}, seed=5)
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    rebalance(src, tmp_path / "out.parquet", label="y", strategy=strategy, seed=11)
    from_file = pl.read_parquet(tmp_path / "out.parquet")
    in_memory = resample_frame(df, label="y", strategy=strategy, seed=11, chunk_size=97)
    assert in_memory.schema == df.schema
    assert in_memory.equals(from_file)
    counts = dict(in_memory["y"].value_counts().iter_rows())
    expected = 25 if strategy == "undersample" else 700
    assert counts == {"a": expected, "b": expected, "c": expected}

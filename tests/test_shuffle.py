"""--shuffle: a seeded permutation of the whole output, the same for any batching."""

from __future__ import annotations

import json

import polars as pl
import pytest

from rebalance_cli import rebalance
from rebalance_cli.stages import shuffle as shuffle_mod
from tests.conftest import digest, listing, mixed_frame


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_shuffle_is_a_permutation_of_the_ordered_output(
    tmp_path, write_data, strategy, monkeypatch
):
    monkeypatch.setattr(shuffle_mod, "BUCKET_ROWS", 300)  # force several buckets
    df = mixed_frame({"a": 2000, "b": 300, "c": 90}, seed=4)
    src = write_data(df, "in.parquet")
    plain, mixed = tmp_path / "plain.parquet", tmp_path / "mixed.parquet"
    kw = {
        "label": "y",
        "strategy": strategy,
        "seed": 8,
        "id_columns": ["id"] if strategy == "smote" else None,
    }
    rebalance(src, plain, **kw)
    report = rebalance(src, mixed, shuffle=True, **kw)
    a, b = pl.read_parquet(plain), pl.read_parquet(mixed)
    assert b.schema == a.schema
    assert a.height == b.height
    key = [c for c in a.columns if c != "id"] if strategy == "smote" else a.columns
    assert a.sort(key, nulls_last=True).equals(b.sort(key, nulls_last=True))
    assert a["y"].to_list() != b["y"].to_list()  # the order really changed
    assert report.parameters["shuffle"] is True
    assert report.counts_after == {c: n for c, n in b["y"].value_counts().iter_rows()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rebalance-shuffle-")]


def test_shuffle_bytes_do_not_depend_on_chunk_size(tmp_path, write_data, monkeypatch):
    monkeypatch.setattr(shuffle_mod, "BUCKET_ROWS", 500)
    src = write_data(mixed_frame({"a": 3000, "b": 400}, seed=5), "in.csv")
    digests = set()
    for chunk in (1, 97, 1000, 1_000_000):
        for fmt in ("csv", "parquet"):
            out = tmp_path / f"o{chunk}.{fmt}"
            rebalance(
                src, out, label="y", strategy="oversample", seed=2, shuffle=True, chunk_size=chunk
            )
            digests.add((fmt, digest(out)))
    assert len(digests) == 2


def test_shuffle_seed_changes_the_order(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 500, "b": 100}, seed=6), "in.parquet")
    orders = []
    for seed in (1, 2):
        out = tmp_path / f"o{seed}.parquet"
        rebalance(src, out, label="y", strategy="undersample", seed=seed, shuffle=True)
        orders.append(pl.read_parquet(out)["id"].to_list())
    assert orders[0] != orders[1]


def test_shuffle_buckets_are_powers_of_two():
    assert shuffle_mod.bucket_count(1) == 1
    assert shuffle_mod.bucket_count(shuffle_mod.BUCKET_ROWS + 1) == 2
    assert shuffle_mod.bucket_count(10**12) == shuffle_mod.MAX_BUCKETS


def test_smote_report_names_the_knn_method(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 300, "b": 60}), "in.parquet")
    res = cli("apply", src, "-l", "y", "-s", "smote", "--json", "-o", tmp_path / "o.parquet")
    assert res.code == 0
    assert json.loads(res.stdout)["parameters"]["knn"] == {
        "b": "kd-tree, SMOTE-NC over city, member"
    }
    assert listing(tmp_path) == {"in.parquet", "o.parquet"}


@pytest.mark.parametrize("strategy", ["oversample", "smote"])
def test_shuffle_across_many_flushes_keeps_every_row(tmp_path, write_data, strategy, monkeypatch):
    """With the limits lowered, every bucket file is appended to by many flushes (and
    the synthetic rows arrive after the input's): the output is still a permutation of
    the ordered output, and the report counts the rows that are in the file."""
    monkeypatch.setattr(shuffle_mod, "BUCKET_ROWS", 100)  # 3,600 rows: 64 buckets
    monkeypatch.setattr(shuffle_mod, "FLUSH_ROWS", 150)
    appends: dict[int, int] = {}
    real_append = shuffle_mod._append

    def counting(writers, folder, bucket, df):
        appends[bucket] = appends.get(bucket, 0) + 1
        real_append(writers, folder, bucket, df)

    monkeypatch.setattr(shuffle_mod, "_append", counting)
    src = write_data(mixed_frame({"a": 1800, "b": 700, "c": 300}, seed=9), "in.parquet")
    kw = {
        "label": "y",
        "strategy": strategy,
        "seed": 4,
        "chunk_size": 97,
        "id_columns": ["id"] if strategy == "smote" else None,
    }
    plain, mixed = tmp_path / "plain.parquet", tmp_path / "mixed.parquet"
    rebalance(src, plain, **kw)
    assert appends == {}
    report = rebalance(src, mixed, shuffle=True, **kw)
    assert shuffle_mod.bucket_count(5400) == 64
    assert sorted(appends) == list(range(64))
    assert min(appends.values()) >= 10  # every bucket was flushed to many times
    a, b = pl.read_parquet(plain), pl.read_parquet(mixed)
    assert a.height == b.height == 5400
    key = [c for c in a.columns if c != "id"] if strategy == "smote" else a.columns
    assert a.sort(key, nulls_last=True).equals(b.sort(key, nulls_last=True))
    assert a["y"].to_list() != b["y"].to_list()
    counted = dict(b["y"].value_counts().iter_rows())
    assert report.counts_after == counted == {"a": 1800, "b": 1800, "c": 1800}
    assert report.rows["written"] == b.height
    assert report.output["bytes"] == mixed.stat().st_size

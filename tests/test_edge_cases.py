"""Edge cases found in review: dictionaries, thread counts, dtypes, names, special outputs."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import numpy as np
import polars as pl
import pytest

from rebalance_cli import rebalance
from rebalance_cli.knn import nearest_neighbours
from rebalance_cli.samplers.smote import interpolate_integers
from tests.conftest import argv, digest


def test_categorical_columns_give_the_same_bytes_for_any_chunk_size(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    df = pl.DataFrame(
        {
            "x": np.arange(n),
            "cat": pl.Series(rng.choice(["u", "v", "w", "zz"], n)).cast(pl.Categorical),
            "y": pl.Series(np.where(np.arange(n) % 10 == 0, "b", "a")).cast(pl.Categorical),
        }
    )
    src = tmp_path / "cat.parquet"
    df.write_parquet(src)
    for fmt in ("parquet", "arrow"):
        digests = set()
        for chunk in (7, 1000, 1_000_000):
            out = tmp_path / f"o{chunk}.{fmt}"
            rebalance(src, out, label="y", strategy="oversample", seed=5, chunk_size=chunk)
            digests.add(digest(out))
        assert len(digests) == 1, fmt
        back = pl.read_parquet(out) if fmt == "parquet" else pl.read_ipc(out)
        assert back.schema == df.schema
        assert back["y"].value_counts().sort("y").rows() == [("a", 2700), ("b", 2700)]


def _brute_reference(x: np.ndarray, k: int) -> np.ndarray:
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    idx = np.arange(x.shape[0])
    return np.array([np.lexsort((idx, row))[:k] for row in d2])


def test_brute_force_knn_is_exact_with_ties_broken_by_index():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, size=(300, 20)).astype(np.float64)  # many exact ties
    got = nearest_neighbours(x, 5)
    ref = _brute_reference(x, 5)
    d = lambda nb: ((x[:, None, :] - x[nb]) ** 2).sum(axis=2)  # noqa: E731
    assert np.array_equal(d(got), d(ref))  # same distances, so exactly the k nearest
    assert not (got == np.arange(300)[:, None]).any()  # never the row itself


def test_kd_tree_knn_is_exact():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 3))
    got = nearest_neighbours(x, 4)
    assert np.array_equal(got, _brute_reference(x, 4))


def test_smote_output_does_not_depend_on_blas_threads(tmp_path):
    rng = np.random.default_rng(3)
    n = 4000
    data = {f"f{i}": rng.integers(0, 2, n) for i in range(20)}
    data["y"] = np.where(rng.random(n) < 0.1, "b", "a")
    src = tmp_path / "ties.parquet"
    pl.DataFrame(data).write_parquet(src)
    digests = []
    for threads in ("1", "2"):
        out = tmp_path / f"o{threads}.csv"
        env = {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "POLARS_MAX_THREADS": threads,
        }
        proc = subprocess.run(
            argv("apply", str(src), "-l", "y", "-s", "smote", "--seed", "5", "-o", str(out)),
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        digests.append(digest(out))
    assert digests[0] == digests[1]


def test_float32_labels_are_named_as_in_csv(tmp_path):
    y = (np.arange(60) % 3 == 0).astype(np.float32) * np.float32(0.1)
    pq = tmp_path / "f32.parquet"
    pl.DataFrame({"x": np.arange(60), "y": y}).write_parquet(pq)
    csv = tmp_path / "f32.csv"
    pl.read_parquet(pq).write_csv(csv)
    outs = []
    for src in (pq, csv):
        out = tmp_path / f"o-{src.suffix[1:]}.csv"
        rep = rebalance(src, out, label="y", strategy="oversample", target="0.1=30", seed=1)
        assert rep.counts_after == {"0.0": 40, "0.1": 30}
        outs.append(digest(out))
    assert outs[0] == outs[1]


def test_a_label_named_like_internal_columns(tmp_path, cli):
    src = tmp_path / "len.csv"
    pl.DataFrame({"x": range(30), "len": ["a"] * 20 + ["b"] * 10}).write_csv(src)
    res = cli(
        "apply",
        src,
        "-l",
        "len",
        "-s",
        "oversample",
        "--seed",
        "1",
        "--json",
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["class_counts"]["after"] == {"a": 20, "b": 20}
    assert cli("inspect", src, "-l", "len").code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--features", "age,age"], "--features names column 'age' twice"),
        (["--features", "age", "--exclude", "age"], "'age' is in both --features and --exclude"),
        (["--features", ","], "--features names no column"),
        (["--features", "y"], "--features names the label column 'y'"),
    ],
)
def test_feature_flags_are_checked(tmp_path, write_data, cli, args, fragment):
    from tests.conftest import mixed_frame

    src = write_data(mixed_frame({"a": 40, "b": 10}), "in.csv")
    res = cli("apply", src, "-l", "y", "-s", "smote", "-o", tmp_path / "o.csv", *args)
    assert res.code == 2 and fragment in res.stderr, res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_integer_interpolation_is_exact_at_64_bits():
    a = np.array([2**62 + 44, 2**63 - 1, -(2**63), 7], dtype=np.int64)
    b = np.array([2**62 + 90, -(2**63), 2**63 - 1, 7], dtype=np.int64)
    for u in (0.0, 0.25, 0.5, 0.999999):
        v = interpolate_integers(a, b, np.full(4, u))
        assert ((v >= np.minimum(a, b)) & (v <= np.maximum(a, b))).all()
    assert interpolate_integers(a, b, np.zeros(4)).tolist() == a.tolist()
    ua = np.array([2**64 - 1, 3], dtype=np.uint64)
    ub = np.array([2**64 - 100, 2**64 - 1], dtype=np.uint64)
    v = interpolate_integers(ua, ub, np.array([0.5, 0.0]))
    assert v.tolist() == [2**64 - 50, 3]  # 2**64 - 50.5: the half goes to the even neighbour


def test_smote_on_huge_integers_stays_on_segments(tmp_path):
    base = 2**62
    vals = np.array([base + i for i in range(50)], dtype=np.int64)
    u64 = np.array([2**64 - 100 + i for i in range(50)], dtype=np.uint64)
    src = tmp_path / "big.parquet"
    pl.DataFrame({"v": vals, "w": u64, "y": ["a"] * 44 + ["b"] * 6}).write_parquet(src)
    out = tmp_path / "o.parquet"
    rebalance(src, out, label="y", strategy="smote", seed=1)
    got = pl.read_parquet(out)
    synth = got.slice(50)
    assert synth.height == 38
    assert synth["v"].min() >= base + 44 and synth["v"].max() <= base + 49
    assert synth["w"].min() >= 2**64 - 100 + 44


def test_dry_run_with_report_is_a_usage_error(tmp_path, write_data, cli):
    from tests.conftest import mixed_frame

    src = write_data(mixed_frame({"a": 40, "b": 10}), "in.csv")
    res = cli(
        "apply", src, "-l", "y", "-s", "undersample", "--dry-run", "--report", tmp_path / "r.json"
    )
    assert res.code == 2 and "--dry-run writes nothing, not even the --report" in res.stderr
    assert not (tmp_path / "r.json").exists()


def test_dev_null_and_fifo_outputs_are_written_through(tmp_path, write_data, cli):
    from tests.conftest import mixed_frame

    src = write_data(mixed_frame({"a": 40, "b": 10}), "in.csv")
    res = cli(
        "apply", src, "-l", "y", "-s", "undersample", "-o", "/dev/null", "--output-format", "csv"
    )
    assert res.code == 0, res.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "undersample",
        "--seed",
        "1",
        "-o",
        fifo,
        "--output-format",
        "csv",
    )
    out, _ = reader.communicate(timeout=60)
    assert res.code == 0, res.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert out.decode().splitlines()[0].startswith("id,age")
    assert len(out.decode().splitlines()) == 21


def test_target_names_keep_their_spaces(tmp_path):
    src = tmp_path / "sp.csv"
    pl.DataFrame({"x": range(12), "y": [" a"] * 6 + ["a"] * 4 + ["b"] * 2}).write_csv(src)
    rep = rebalance(
        src, tmp_path / "o1.csv", label="y", strategy="undersample", target=" a=3", seed=1
    )
    assert rep.counts_after == {" a": 3, "a": 4, "b": 2}
    rep = rebalance(
        src, tmp_path / "o2.csv", label="y", strategy="undersample", target="a=1, b=1", seed=1
    )
    assert rep.counts_after == {" a": 6, "a": 1, "b": 1}

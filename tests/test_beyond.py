"""Issue 5: hybrid, class weights, bags, the test split, per-group plans, the
smoothed bootstrap, mixed-type SMOTE and config files. Every check is exact."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.class_weight import compute_class_weight

from rebalance_cli import rebalance, resample_frame
from rebalance_cli.plan import round_half_up
from rebalance_cli.samplers.smote import SmoteSettings, prepare_smote
from tests.conftest import digest, listing, mixed_frame


def _counts(df: pl.DataFrame, col: str = "y") -> dict[str, int]:
    return {str(k): v for k, v in df[col].value_counts().iter_rows()}


def _report(res) -> dict:
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


# --- hybrid -----------------------------------------------------------------------------


@pytest.mark.parametrize("grow", ["oversample", "smote"])
def test_hybrid_brings_every_class_to_the_size(tmp_path, write_data, cli, grow):
    src = write_data(mixed_frame({"a": 900, "b": 120, "c": 40}), "in.parquet")
    out = tmp_path / "o.parquet"
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "hybrid",
            "-t",
            "300",
            "--grow-with",
            grow,
            "--id-columns",
            "id",
            "--seed",
            "4",
            "-o",
            out,
            "--json",
        )
    )
    df = pl.read_parquet(out)
    assert _counts(df) == {"a": 300, "b": 300, "c": 300}
    assert doc["class_counts"]["after"] == {"a": 300, "b": 300, "c": 300}
    assert doc["parameters"]["grow_with"] == grow
    assert doc["rows"]["dropped"] == 600
    if grow == "smote":
        assert doc["rows"]["synthetic"] == 180 + 260
        assert df.filter(pl.col("id").is_null()).height == 180 + 260
    else:
        assert doc["rows"]["duplicated"] == 180 + 260


def test_hybrid_counts_leave_other_classes_alone(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 900, "b": 120, "c": 40}), "in.csv")
    out = tmp_path / "o.csv"
    _report(cli("apply", src, "-l", "y", "-s", "hybrid", "-t", "a=500,c=100", "-o", out, "--json"))
    assert _counts(pl.read_csv(out)) == {"a": 500, "b": 120, "c": 100}


def test_hybrid_draws_like_the_pure_strategies(tmp_path, write_data):
    """A cut class keeps the rows undersample keeps; a grown class gets oversample's copies."""
    df = mixed_frame({"a": 900, "b": 120, "c": 40}, seed=3)
    hybrid = resample_frame(df, label="y", strategy="hybrid", target=200, seed=8)
    under = resample_frame(df, label="y", strategy="undersample", target=200, seed=8)
    over = resample_frame(df, label="y", strategy="oversample", target=200, seed=8)
    assert hybrid.filter(pl.col("y") == "a").equals(under.filter(pl.col("y") == "a"))
    assert hybrid.filter(pl.col("y") == "c").equals(over.filter(pl.col("y") == "c"))


def test_hybrid_needs_a_size_or_counts(write_data, cli, tmp_path):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    res = cli("apply", src, "-l", "y", "-s", "hybrid", "-o", tmp_path / "o.csv")
    assert res.code == 2
    assert "--target auto does not fit hybrid: it needs a class size or per-class counts" in (
        res.stderr
    )
    assert not (tmp_path / "o.csv").exists()


def test_a_size_target_works_for_every_strategy():
    df = mixed_frame({"a": 900, "b": 120, "c": 40})
    under = resample_frame(df, label="y", strategy="undersample", target="100")
    over = resample_frame(df, label="y", strategy="oversample", target="100")
    assert _counts(under) == {"a": 100, "b": 100, "c": 40}
    assert _counts(over) == {"a": 900, "b": 120, "c": 100}


# --- class weights ----------------------------------------------------------------------


def test_weight_balanced_matches_scikit_learn_and_sums_per_class(tmp_path, write_data, cli):
    frame = mixed_frame({"a": 700, "b": 250, "c": 50})
    src = write_data(frame, "in.csv")
    out = tmp_path / "o.csv"
    doc = _report(cli("apply", src, "-l", "y", "-s", "weight", "-o", out, "--json"))
    df = pl.read_csv(out)
    # every row once, in order, plus the weight column
    assert df.drop("sample_weight").equals(pl.read_csv(src))
    expected = compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=frame["y"])
    assert doc["plan"]["weights"] == pytest.approx(dict(zip("abc", expected, strict=True)))
    totals = dict(df.group_by("y").agg(pl.col("sample_weight").sum()).iter_rows())
    for cls in "abc":
        assert totals[cls] == pytest.approx(1000 / 3, rel=1e-12)
    assert doc["class_counts"]["after"] == {"a": 700, "b": 250, "c": 50}


def test_weight_counts_target_and_custom_column(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 700, "b": 250, "c": 50}), "in.parquet")
    out = tmp_path / "o.parquet"
    _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "weight",
            "-t",
            "a=350,c=500",
            "--weight-column",
            "w",
            "-o",
            out,
            "--json",
        )
    )
    df = pl.read_parquet(out)
    assert df.schema["w"] == pl.Float64
    totals = dict(df.group_by("y").agg(pl.col("w").sum()).iter_rows())
    assert totals == pytest.approx({"a": 350.0, "b": 250.0, "c": 500.0}, rel=1e-12)


def test_weight_column_that_exists_is_a_usage_error(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 70, "b": 25}), "in.csv")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "weight",
        "--weight-column",
        "score",
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == 2
    assert "the weight column 'score' is already in the input" in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_inspect_json_gives_balanced_class_weights(write_data, cli):
    frame = mixed_frame({"a": 700, "b": 250, "c": 50})
    src = write_data(frame, "in.csv")
    doc = _report(cli("inspect", src, "-l", "y", "--json"))
    expected = compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=frame["y"])
    assert doc["class_weights"] == pytest.approx(dict(zip("abc", expected, strict=True)))


# --- bags -------------------------------------------------------------------------------


def test_bags_are_balanced_hold_every_minority_row_and_replay_alone(tmp_path, write_data, cli):
    frame = mixed_frame({"a": 900, "b": 120, "c": 40}, seed=2)
    src = write_data(frame, "in.parquet")
    (tmp_path / "bags").mkdir()
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "undersample",
            "--bags",
            "4",
            "--seed",
            "6",
            "-o",
            tmp_path / "bags" / "train-{bag}.parquet",
            "--json",
        )
    )
    minority = set(frame.filter(pl.col("y") == "c")["id"].to_list())
    seeds = [b["seed"] for b in doc["bags"]]
    assert len(set(seeds)) == 4
    picked = []
    for entry in doc["bags"]:
        df = pl.read_parquet(entry["path"])
        assert _counts(df) == {"a": 40, "b": 40, "c": 40}
        assert entry["counts"] == {"a": 40, "b": 40, "c": 40}
        assert minority <= set(df["id"].to_list())
        assert df["id"].is_unique().all()
        picked.append(frozenset(df.filter(pl.col("y") == "a")["id"].to_list()))
        # a bag is the plain undersample with its recorded seed
        alone = resample_frame(frame, label="y", strategy="undersample", seed=entry["seed"])
        assert df.equals(alone)
    assert len(set(picked)) == 4


def test_bags_into_a_folder_and_refusals(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    folder = tmp_path / "out"
    folder.mkdir()
    _report(
        cli("apply", src, "-l", "y", "-s", "undersample", "--bags", "2", "-o", folder, "--json")
    )
    assert sorted(p.name for p in folder.iterdir()) == ["bag-1.csv", "bag-2.csv"]
    before = listing(tmp_path)
    for args, code, fragment in [
        (["-o", tmp_path / "one.csv"], 2, "needs an output that holds {bag} or is a folder"),
        (["-o", folder], 5, "already exists"),
        (["-s", "oversample", "-o", folder], 2, "--bags makes undersampled bags"),
    ]:
        argv = ["apply", src, "-l", "y", "-s", "undersample", "--bags", "2", *args]
        res = cli(*argv)
        assert res.code == code, res.stderr
        assert fragment in res.stderr
        assert listing(tmp_path) == before


# --- leakage-safe split -----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_split_is_stratified_disjoint_and_only_train_is_rebalanced(
    tmp_path, write_data, cli, strategy
):
    frame = mixed_frame({"a": 903, "b": 121, "c": 47}, seed=4)
    src = write_data(frame, "in.parquet")
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            strategy,
            "--test-size",
            "0.25",
            "--test-output",
            test,
            "--id-columns",
            "id",
            "--seed",
            "12",
            "-o",
            train,
            "--json",
        )
    )
    test_df = pl.read_parquet(test)
    for cls, n in {"a": 903, "b": 121, "c": 47}.items():
        want = round_half_up(Fraction(1, 4) * n)
        got = test_df.filter(pl.col("y") == cls).height
        assert got == want and abs(got - n / 4) <= 1
    # the test rows are input rows, untouched and in input order
    assert test_df.equals(frame.filter(pl.col("id").is_in(test_df["id"].implode())))
    train_df = pl.read_parquet(train)
    test_ids = set(test_df["id"].to_list())
    assert not test_ids & set(train_df["id"].drop_nulls().to_list())
    # the train output is what rebalancing the train rows alone gives
    rest = frame.filter(~pl.col("id").is_in(test_df["id"].implode()))
    alone = resample_frame(rest, label="y", strategy=strategy, seed=12, id_columns=["id"])
    assert train_df.equals(alone)
    assert doc["split"]["counts"] == _counts(test_df)
    assert doc["rows"]["test"] == test_df.height


@pytest.mark.parametrize(
    "share,counts,held",
    [
        # 2.5 -> 3 (half to even would say 2), 1.5 -> 2 (half down would say 1), 0.7 -> 1
        ("0.1", {"a": 25, "b": 15, "c": 7}, {"a": 3, "b": 2, "c": 1}),
        # 0.29 * 50 is 14.499999999999998 in floating point: the typed decimal says 14.5 -> 15
        ("0.29", {"a": 50, "b": 10, "c": 30}, {"a": 15, "b": 3, "c": 9}),
        ("0.5", {"a": 9, "b": 5, "c": 3}, {"a": 5, "b": 3, "c": 2}),
    ],
)
def test_split_rounds_exact_halves_up(tmp_path, write_data, cli, share, counts, held):
    """--test-size F holds out round-half-up(F * n_c) rows of every class, on the decimal typed."""
    src = write_data(mixed_frame(counts, seed=5), "in.parquet")
    test, train = tmp_path / "test.parquet", tmp_path / "train.parquet"
    args = [
        "apply", src, "-l", "y", "-s", "undersample", "--seed", "2",
        "--test-size", share, "--test-output", test, "-o", train, "--json",
    ]  # fmt: skip
    doc = _report(cli(*args))
    assert _counts(pl.read_parquet(test)) == held
    assert doc["split"]["counts"] == held and doc["rows"]["test"] == sum(held.values())
    rest = {c: n - held[c] for c, n in counts.items()}
    assert doc["split"]["train_counts"] == rest
    assert _counts(pl.read_parquet(train)) == dict.fromkeys(counts, min(rest.values()))


def test_split_errors(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 90, "b": 2}), "in.csv")
    before = listing(tmp_path)
    for args, code, fragment in [
        (["--test-size", "0.2"], 2, "--test-size and --test-output go together"),
        (
            ["--test-size", "1.5", "--test-output", tmp_path / "t.csv"],
            2,
            "--test-size must be between 0 and 1",
        ),
        (
            ["--test-size", "0.9", "--test-output", tmp_path / "t.csv"],
            3,
            "class 'b' has 2 rows; --test-size 0.9 leaves none of them for training",
        ),
    ]:
        res = cli("apply", src, "-l", "y", "-s", "oversample", "-o", tmp_path / "o.csv", *args)
        assert res.code == code, res.stderr
        assert fragment in res.stderr
        assert listing(tmp_path) == before


# --- per-group balance ------------------------------------------------------------------


def _grouped(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for country, counts in {"fr": (400, 60), "de": (300, 25), "it": (50, 0)}.items():
        for cls, n in zip(("no", "yes"), counts, strict=True):
            parts.append(
                pl.DataFrame(
                    {
                        "country": [country] * n,
                        "x": rng.normal(size=n),
                        "y": [cls] * n,
                    }
                )
            )
    df = pl.concat(parts)
    return df.with_row_index("id").sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("policy,it_rows", [("keep", 50), ("drop", 0)])
def test_by_group_plans_each_group_on_its_own(tmp_path, write_data, cli, policy, it_rows):
    src = write_data(_grouped(), "in.parquet")
    out = tmp_path / "o.parquet"
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "undersample",
        "--by",
        "country",
        "--group-policy",
        policy,
        "-o",
        out,
        "--json",
    )
    doc = _report(res)
    df = pl.read_parquet(out)
    got = {(c, y): n for c, y, n in df.group_by("country", "y").len().iter_rows()}
    want = {("fr", "no"): 60, ("fr", "yes"): 60, ("de", "no"): 25, ("de", "yes"): 25}
    if it_rows:
        want[("it", "no")] = it_rows
    assert got == want
    groups = {g["group"]["country"]: g for g in doc["groups"]}
    assert groups["fr"]["status"] == "planned"
    assert groups["fr"]["after"] == {"no": 60, "yes": 60}
    assert groups["it"]["status"] == ("kept" if policy == "keep" else "dropped")
    assert "single class" in groups["it"]["reason"]
    assert any("1 of 3 groups cannot serve the request" in w for w in doc["warnings"])


def test_by_group_error_policy_stops(tmp_path, write_data, cli):
    src = write_data(_grouped(), "in.csv")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "oversample",
        "--by",
        "country",
        "--group-policy",
        "error",
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == 3
    assert "group country=it: the label has a single class ('no', 50 rows)" in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_by_group_smote_grows_within_groups(tmp_path, write_data):
    df = _grouped(1)
    out = resample_frame(df, label="y", strategy="smote", by=["country"], id_columns=["id"], seed=3)
    got = {(c, y): n for c, y, n in out.group_by("country", "y").len().iter_rows()}
    assert got == {
        ("fr", "no"): 400,
        ("fr", "yes"): 400,
        ("de", "no"): 300,
        ("de", "yes"): 300,
        ("it", "no"): 50,
    }
    # synthetic rows stay inside their group's range of x
    for country in ("fr", "de"):
        real = df.filter((pl.col("country") == country) & (pl.col("y") == "yes"))["x"]
        new = out.filter(
            (pl.col("country") == country) & (pl.col("y") == "yes") & pl.col("id").is_null()
        )["x"]
        assert new.min() >= real.min() and new.max() <= real.max()


# --- smoothed bootstrap -----------------------------------------------------------------


def test_shrinkage_jitters_duplicates_only(tmp_path):
    df = mixed_frame({"a": 3000, "b": 300}, seed=9)
    plain = resample_frame(df, label="y", strategy="oversample", seed=5)
    smooth = resample_frame(
        df, label="y", strategy="oversample", seed=5, shrinkage=1.0, exclude=["id"], chunk_size=333
    )
    assert _counts(smooth) == _counts(plain) == {"a": 3000, "b": 3000}
    # same rows in the same order: ids and non-numeric columns are copied
    for col in ("id", "city", "member", "seen_at", "y"):
        assert smooth[col].equals(plain[col])
    first = ~plain["id"].is_duplicated() | (plain["id"].shift(1) != plain["id"]).fill_null(True)
    assert smooth.filter(first).equals(plain.filter(first))  # originals untouched
    dup = smooth.filter(~first)
    base = plain.filter(~first)
    assert (dup["score"] != base["score"]).all()
    # the jitter's spread is the bandwidth rule times the class's std
    d, n = 4, df.height  # age, visits, score, ratio
    bandwidth = (4 / ((d + 2) * n)) ** (1 / (d + 4))
    std_b = df.filter(pl.col("y") == "b")["score"].std(ddof=0)
    noise = (dup["score"] - base["score"]).to_numpy()
    assert abs(noise.mean()) < 0.1 * bandwidth * std_b
    assert noise.std() == pytest.approx(bandwidth * std_b, rel=0.1)
    # integer columns stay integers
    assert smooth.schema == df.schema


def test_shrinkage_zero_is_plain_oversample_and_needs_oversample():
    df = mixed_frame({"a": 300, "b": 30})
    plain = resample_frame(df, label="y", strategy="oversample", seed=5)
    zero = resample_frame(df, label="y", strategy="oversample", seed=5, shrinkage=0.0)
    assert zero.equals(plain)
    from rebalance_cli import UsageError

    with pytest.raises(UsageError, match="--shrinkage jitters duplicated rows"):
        resample_frame(df, label="y", strategy="undersample", shrinkage=1.0)


# --- mixed-type SMOTE (SMOTE-NC) --------------------------------------------------------


def _mixed_smote_frame(n_major: int = 600, n_minor: int = 80, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    return pl.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 3,
            "colour": rng.choice(["red", "green", "blue"], n),
            "shape": pl.Series(rng.choice(["round", "square"], n)).cast(pl.Categorical),
            "flag": rng.random(n) < 0.3,
            "y": ["maj"] * n_major + ["min"] * n_minor,
        }
    )


def test_smote_nc_category_is_a_most_frequent_among_the_neighbours():
    df = _mixed_smote_frame()
    pool = df.filter(pl.col("y") == "min")
    cats = ["colour", "shape", "flag"]
    sc = prepare_smote(
        pool, "min", "min", 500, "y", SmoteSettings(["x1", "x2"], (), 5, 7, categorical=cats)
    )
    # the neighbours follow the SMOTE-NC distance, computed here independently
    x = pool.select("x1", "x2").to_numpy()
    med = np.median(x.std(axis=0))
    onehot = pool.select(cats).cast(pl.String).to_dummies().to_numpy() * (med / np.sqrt(2))
    enc = np.hstack([x, onehot])
    idx = NearestNeighbors(n_neighbors=6).fit(enc).kneighbors(enc, return_distance=False)[:, 1:]
    assert (sc.nbrs == idx).all()
    synthetic = pl.concat(list(sc.batches(df.schema, 128)))
    seeds = np.searchsorted(sc.seed_ends, np.arange(500), side="right")
    for col in cats:
        values = pool[col].cast(pl.String).to_numpy()
        made = synthetic[col].cast(pl.String).to_numpy()
        for j, s in enumerate(seeds):
            held, votes = np.unique(values[sc.nbrs[s]], return_counts=True)
            assert made[j] in set(held[votes == votes.max()])


def test_smote_nc_ties_are_broken_by_the_seed():
    df = _mixed_smote_frame(seed=1)
    pool = df.filter(pl.col("y") == "min")
    a = prepare_smote(
        pool, "min", "min", 400, "y", SmoteSettings(["x1", "x2"], (), 4, 1, categorical=["colour"])
    )
    b = prepare_smote(
        pool, "min", "min", 400, "y", SmoteSettings(["x1", "x2"], (), 4, 2, categorical=["colour"])
    )
    tied = a.modes["colour"].sum(axis=1) > 1
    assert tied.any()
    rows_a = pl.concat(list(a.batches(df.schema, 400)))
    rows_b = pl.concat(list(b.batches(df.schema, 400)))
    assert not rows_a["colour"].equals(rows_b["colour"])


def test_smote_nc_cli_detects_categoricals_and_records_them(tmp_path, write_data, cli):
    src = write_data(_mixed_smote_frame(), "in.parquet")
    out = tmp_path / "o.parquet"
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "smote",
            "--scale",
            "standard",
            "--seed",
            "2",
            "-o",
            out,
            "--json",
        )
    )
    assert doc["parameters"]["categorical"] == ["colour", "shape", "flag"]
    assert doc["parameters"]["features"] == ["x1", "x2"]
    assert doc["parameters"]["scale"] == "standard"
    assert doc["parameters"]["knn"] == {"min": "kd-tree, SMOTE-NC over colour, shape, flag"}
    df = pl.read_parquet(out)
    assert _counts(df) == {"maj": 600, "min": 600}
    assert df.schema == pl.read_parquet(src).schema
    named = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "smote",
            "--categorical",
            "colour",
            "--seed",
            "2",
            "-o",
            tmp_path / "n.parquet",
            "--json",
        )
    )
    assert named["parameters"]["categorical"] == ["colour"]


def test_smote_nc_high_cardinality(tmp_path, write_data, cli):
    df = _mixed_smote_frame().with_columns(code=pl.format("c{}", pl.int_range(pl.len())))
    src = write_data(df, "in.parquet")
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "smote",
            "--k-neighbors",
            "3",
            "-o",
            tmp_path / "o.parquet",
            "--json",
        )
    )
    assert doc["parameters"]["knn"] == {"min": "kd-tree, SMOTE-NC over colour, shape, flag"}
    assert doc["parameters"]["categorical_left_out"] == {
        "code": "80 distinct values in 80 rows of class 'min': an identifier or free text, "
        "not a category (name it with --categorical to use it)"
    }
    big = pl.concat([df] * 4).with_columns(code=pl.format("c{}", pl.int_range(pl.len())))
    src2 = write_data(big, "big.parquet")
    res = cli(
        "apply",
        src2,
        "-l",
        "y",
        "-s",
        "smote",
        "--categorical",
        "code",
        "-o",
        tmp_path / "o2.parquet",
    )
    assert res.code == 3
    assert "column 'code' has 320 distinct values in class 'min', more than 256" in res.stderr
    assert not (tmp_path / "o2.parquet").exists()
    doc = _report(
        cli("apply", src2, "-l", "y", "-s", "smote", "-o", tmp_path / "o3.parquet", "--json")
    )
    assert "code" in doc["parameters"]["categorical_left_out"]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk=st.integers(1, 700), strategy=st.sampled_from(["smote", "hybrid", "weight"]))
def test_new_strategies_do_not_depend_on_the_chunk_size(tmp_path_factory, chunk, strategy):
    df = _mixed_smote_frame(seed=5).with_columns(pl.col("shape").cast(pl.String))
    folder = tmp_path_factory.mktemp("chunks")
    src = folder / "in.parquet"
    df.write_parquet(src)
    kw = {"target": 300} if strategy == "hybrid" else {}
    a = rebalance(src, folder / "a.csv", label="y", strategy=strategy, seed=3, **kw)
    b = rebalance(
        src, folder / "b.csv", label="y", strategy=strategy, seed=3, chunk_size=chunk, **kw
    )
    assert a.counts_after == b.counts_after
    assert digest(folder / "a.csv") == digest(folder / "b.csv")


# --- config and environment -------------------------------------------------------------


def test_config_precedence_flag_env_config_default(tmp_path, write_data, cli, monkeypatch):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    cfg = tmp_path / "settings.toml"
    cfg.write_text(
        '[apply]\nlabel = "y"\nstrategy = "oversample"\nseed = 1\ntarget = "all"\n'
        'chunk-size = 7\n[inspect]\nlabel = "y"\n'
    )
    monkeypatch.setenv("REBALANCE_SEED", "2")
    monkeypatch.setenv("REBALANCE_TARGET", "not-majority")
    doc = _report(
        cli(
            "apply",
            src,
            "--config",
            cfg,
            "--target",
            "minority",
            "-o",
            tmp_path / "o.csv",
            "--json",
        )
    )
    s = doc["settings"]
    assert s["target"] == {"value": "minority", "source": "flag"}
    assert s["seed"] == {"value": 2, "source": "env:REBALANCE_SEED"}
    assert s["chunk_size"] == {"value": 7, "source": f"config:{cfg}"}
    assert s["k_neighbors"] == {"value": 5, "source": "default"}
    assert doc["parameters"]["seed"] == 2
    assert doc["parameters"]["chunk_size"] == 7
    assert doc["class_counts"]["after"] == {"a": 90, "b": 90}
    assert "--chunk-size" in doc["command"] and "--config" not in doc["command"]
    ins = _report(cli("inspect", src, "--config", cfg, "--json"))
    assert ins["settings"]["label"] == {"value": "y", "source": f"config:{cfg}"}


def test_rebalance_toml_is_found_in_the_working_folder(tmp_path, write_data, cli, monkeypatch):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    (tmp_path / "rebalance.toml").write_text('[apply]\nlabel = "y"\nstrategy = "undersample"\n')
    monkeypatch.chdir(tmp_path)
    doc = _report(cli("apply", src, "-o", "o.csv", "--json"))
    assert doc["class_counts"]["after"] == {"a": 12, "b": 12}
    assert doc["settings"]["strategy"]["source"] == "config:rebalance.toml"


@pytest.mark.parametrize(
    "text,code,fragment",
    [
        ("[apply]\nlabell = 'y'\n", 2, "has an unknown key 'labell' in [apply]"),
        ("[apply]\nseed = 'seven'\n", 2, "[apply] seed = 'seven' is not valid for --seed"),
        ("[aply]\nseed = 1\n", 2, "has table 'aply'; it may hold only the tables"),
        ("[apply\n", 2, "is not valid TOML"),
    ],
)
def test_config_errors(tmp_path, write_data, cli, text, code, fragment):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    res = cli(
        "apply", src, "-l", "y", "-s", "undersample", "--config", cfg, "-o", tmp_path / "o.csv"
    )
    assert res.code == code, res.stderr
    assert fragment in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_missing_config_file_and_missing_label(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    res = cli(
        "apply",
        src,
        "-s",
        "undersample",
        "--config",
        tmp_path / "nope.toml",
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == 4
    assert "the config file" in res.stderr and "does not exist" in res.stderr
    res = cli("apply", src, "-s", "undersample", "-o", tmp_path / "o.csv")
    assert res.code == 2
    assert "missing option --label" in res.stderr


@pytest.mark.parametrize(
    "args,code,fragment",
    [
        (
            ["-s", "undersample", "--by", "zz"],
            3,
            "--by names column 'zz', which is not in the input",
        ),
        (["-s", "undersample", "--by", "y"], 2, "--by names the label column 'y'"),
        (["-s", "oversample", "--shrinkage", "-1"], 2, "--shrinkage must be 0 or more"),
        (["-s", "undersample", "--bags", "0", "-o", "{bag}.csv"], 2, "--bags must be at least 1"),
        (
            ["-s", "undersample", "--test-size", "abc", "--test-output", "t.csv"],
            2,
            "--test-size 'abc' is not a number",
        ),
        (
            ["-s", "undersample", "--group-policy", "skip"],
            2,
            "--group-policy 'skip' is not a policy",
        ),
        (["-s", "smote", "--scale", "minmax"], 2, "--scale 'minmax' is not a scaling"),
        (["-s", "hybrid", "-t", "50", "--grow-with", "copy"], 2, "--grow-with 'copy' is not a way"),
        (["-s", "smote", "--categorical", "nope"], 3, "--categorical names column 'nope'"),
        (["-s", "undersample", "-t", "balanced"], 2, "--target balanced is a class-weight target"),
    ],
)
def test_new_flags_fail_cleanly(tmp_path, write_data, cli, monkeypatch, args, code, fragment):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    res = cli("apply", src, "-l", "y", "-o", "o.csv", *args)
    assert res.code == code, res.stderr
    assert fragment in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert listing(tmp_path) == before


@pytest.mark.parametrize("n,d", [(7, 30), (40, 30), (45, 17), (200, 30)])
def test_exact_brute_search_on_small_wide_classes_matches_scikit_learn(n, d):
    from rebalance_cli.knn import nearest_neighbours

    x = np.random.default_rng(n).normal(size=(n, d))
    got = nearest_neighbours(x, 5, "brute")
    want = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    assert (got == want).all()


def test_smote_nc_with_many_categories_on_a_small_class(tmp_path, write_data, cli):
    rng = np.random.default_rng(3)
    df = pl.DataFrame(
        {
            "x": rng.normal(size=250),
            "s": rng.choice([f"v{i}" for i in range(16)], 250),
            "y": ["a"] * 210 + ["b"] * 40,
        }
    )
    src = write_data(df, "in.csv")
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "smote",
            "--categorical",
            "s",
            "--seed",
            "1",
            "-o",
            tmp_path / "o.csv",
            "--json",
        )
    )
    assert doc["parameters"]["knn"] == {"b": "brute, SMOTE-NC over s"}
    assert _counts(pl.read_csv(tmp_path / "o.csv")) == {"a": 210, "b": 210}


@pytest.mark.parametrize(
    "target,code,fragment",
    [
        ("zz=3", 3, "--target names class 'zz', which is not in the data"),
        ("majority", 2, "--target majority does not fit oversample"),
    ],
)
def test_by_group_request_errors_are_not_group_policy(
    tmp_path, write_data, cli, target, code, fragment
):
    src = write_data(_grouped(), "in.csv")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "oversample",
        "--by",
        "country",
        "-t",
        target,
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == code, res.stderr
    assert fragment in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_by_group_drop_of_every_group_is_a_data_error(tmp_path, write_data, cli):
    src = write_data(_grouped(), "in.csv")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "smote",
        "--by",
        "country",
        "-k",
        "100",
        "--group-policy",
        "drop",
        "-o",
        tmp_path / "o.csv",
    )
    assert res.code == 3, res.stderr
    assert "no group can serve the request" in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_bags_report_counts_every_bag(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    doc = _report(
        cli(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "undersample",
            "--bags",
            "3",
            "-o",
            tmp_path / "b{bag}.csv",
            "--json",
        )
    )
    assert doc["rows"]["written"] == 72 and doc["rows"]["written_per_bag"] == 24


@pytest.mark.parametrize("extra", [[], ["--shuffle"]])
def test_arrow_ipc_bytes_do_not_depend_on_the_chunk_size_with_null_strings(tmp_path, extra):
    rng = np.random.default_rng(0)
    n = 2000
    df = pl.DataFrame(
        {
            "s": pl.Series(rng.choice(["alpha", "be", None, "gamma"], n).tolist()),
            "x": rng.normal(size=n),
            "y": rng.choice(["a", "b"], n, p=[0.8, 0.2]),
        }
    )
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    digests = set()
    for chunk in (3, 777, 65536):
        out = tmp_path / f"o{chunk}.arrow"
        rebalance(
            src,
            out,
            label="y",
            strategy="oversample",
            seed=2,
            chunk_size=chunk,
            shuffle=bool(extra),
        )
        digests.add(digest(out))
    assert len(digests) == 1
    back = pl.read_ipc(tmp_path / "o3.arrow")
    want = resample_frame(df, label="y", strategy="oversample", seed=2)
    if extra:
        back, want = back.sort("x", "s", "y"), want.sort("x", "s", "y")
    assert back.equals(want)


def test_config_bool_for_a_valued_option_is_refused(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 90, "b": 12}), "in.csv")
    cfg = tmp_path / "c.toml"
    cfg.write_text("[apply]\nk-neighbors = true\n")
    res = cli("apply", src, "-l", "y", "-s", "smote", "--config", cfg, "-o", tmp_path / "o.csv")
    assert res.code == 2
    assert "[apply] k_neighbors = true is not valid for --k-neighbors" in res.stderr


def test_huge_shrinkage_keeps_integers_in_range():
    df = mixed_frame({"a": 300, "b": 30})
    out = resample_frame(
        df, label="y", strategy="oversample", seed=5, shrinkage=1e300, exclude=["id"]
    )
    assert out["visits"].null_count() == 0 and out["age"].null_count() == 0


def test_smote_messages_under_by_name_the_group_and_class(tmp_path, cli):
    """A SMOTE refusal under --by names the group and the class, not the stream's key."""
    rng = np.random.default_rng(3)
    n = 300
    frame = pl.DataFrame(
        {
            "g": rng.choice(["u", "v"], n),
            "score": rng.normal(size=n),
            "y": rng.choice(["a", "c"], n, p=[0.8, 0.2]),
        }
    ).with_columns(
        score=pl.when((pl.col("y") == "c") & ((pl.col("y") == "c").cum_sum() == 1))
        .then(None)
        .otherwise(pl.col("score"))
    )
    src = tmp_path / "d.parquet"
    frame.write_parquet(src)
    res = cli("apply", src, "-l", "y", "-s", "smote", "--seed", "1", "--by", "g",
              "-o", tmp_path / "o.parquet")  # fmt: skip
    assert res.code == 3, res.stderr
    assert "1 null, NaN or infinite value in class 'g=u / c', which SMOTE" in res.stderr
    assert not (tmp_path / "o.parquet").exists()

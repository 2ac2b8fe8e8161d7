"""`rebalance evaluate`: protocol, metrics, feasibility, output, verdict and the leakage guard."""

from __future__ import annotations

import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from rebalance_cli.cli.render import render_plain, render_rich
from rebalance_cli.evaluate import (
    ALWAYS,
    METRICS,
    decide,
    evaluate,
    fold_metrics,
    parse_strategies,
    stratified_sample,
)

from .conftest import REPO, mixed_frame


def numeric_frame(n_major: int, n_minor: int, seed: int = 0, shift: float = 1.0) -> pl.DataFrame:
    """Two informative numeric features and one noise feature; minority class 'b'."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    y = np.array(["a"] * n_major + ["b"] * n_minor)
    order = rng.permutation(n)
    y = y[order]
    signal = (y == "b") * shift
    return pl.DataFrame(
        {
            "f1": rng.normal(0, 1, n) + signal,
            "f2": rng.normal(0, 1, n) - signal,
            "noise": rng.normal(0, 1, n),
            "y": y,
        }
    )


def scores_only(doc: dict) -> dict:
    """The JSON without what legitimately changes between runs (timings)."""
    return {
        "strategies": [
            {k: v for k, v in s.items() if k not in ("fit_time_s", "relative_fit_time")}
            for s in doc["strategies"]
        ],
        "folds": [{k: v for k, v in f.items() if k != "fit_time_s"} for f in doc["folds"]],
        "verdict": doc["verdict"],
        "split_seeds": doc["protocol"]["split_seeds"],
    }


# ---------------------------------------------------------------- metrics


def test_binary_metrics_by_hand() -> None:
    # minority code 1; 6 test rows
    y = np.array([0, 0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.2, 0.6, 0.3, 0.7, 0.4])
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 >= 0.5).astype(int)  # [0,0,1,0,1,0]
    got, recall = fold_metrics(y, proba, pred, positive=1)
    # pairs (pos, neg) ranked right: 0.7 beats all 4; 0.4 beats 0.1, 0.2, 0.3 -> 7 of 8
    assert got["roc_auc"] == pytest.approx(7 / 8)
    assert got["precision"] == pytest.approx(1 / 2)
    assert got["recall"] == pytest.approx(1 / 2)
    assert got["f1"] == pytest.approx(1 / 2)
    tnr = 3 / 4
    assert got["g_mean"] == pytest.approx(np.sqrt(0.5 * tnr))
    assert got["balanced_accuracy"] == pytest.approx((0.5 + tnr) / 2)
    assert got["brier"] == pytest.approx(np.mean((p1 - (y == 1)) ** 2))
    # AP: ranks 0.7 (hit, P=1), 0.6 (miss), 0.4 (hit, P=2/3): (1 + 2/3) / 2
    assert got["average_precision"] == pytest.approx(5 / 6)
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert recall == {0: pytest.approx(0.75), 1: pytest.approx(0.5)}
    assert list(got) == list(METRICS)


def test_multiclass_metrics_are_macro_averages() -> None:
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], [20, 8, 4])
    proba = rng.dirichlet([1, 1, 1], size=y.size)
    pred = proba.argmax(axis=1)
    got, recall = fold_metrics(y, proba, pred, positive=None)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    onehot = np.eye(3)[y]
    assert got["average_precision"] == pytest.approx(
        np.mean([skm.average_precision_score(onehot[:, c], proba[:, c]) for c in range(3)])
    )
    per_class = skm.recall_score(y, pred, average=None)
    assert got["recall"] == pytest.approx(per_class.mean())
    assert got["g_mean"] == pytest.approx(np.prod(per_class) ** (1 / 3))
    assert got["brier"] == pytest.approx(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    assert [recall[c] for c in range(3)] == pytest.approx(per_class)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 4),
    n=st.integers(8, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_threshold_metrics_match_scikit_learn(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(k), rng.integers(0, k, n)])  # every class present
    proba = rng.dirichlet(np.ones(k), size=y.size)
    pred = rng.integers(0, k, y.size)  # any predictions, not only the argmax
    positive = 1 if k == 2 else None
    got, recall = fold_metrics(y, proba, pred, positive)
    average = "binary" if k == 2 else "macro"
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        want = fn(y, pred, average=average, zero_division=0)
        assert got[name] == pytest.approx(want, abs=1e-12), name
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert [recall[c] for c in range(k)] == pytest.approx(
        skm.recall_score(y, pred, average=None, labels=range(k), zero_division=0)
    )


def test_none_fold_matches_a_hand_built_pipeline() -> None:
    """Fold 0 of `none`: scaler and model fitted on the training fold alone, scored on its test."""
    frame = numeric_frame(150, 30, seed=4)
    result = evaluate(frame, label="y", strategies="oversample", folds=3, repeats=1, seed=11)
    x = frame.select("f1", "f2", "noise").to_numpy()
    y = (frame["y"] == "b").to_numpy().astype(int)
    splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=result.split_seeds[0])
    train, test = next(iter(splitter.split(x, y)))
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(x[train]), y[train])
    p = model.predict_proba(scaler.transform(x[test]))[:, 1]
    fold = next(f for f in result.fold_scores if f.strategy == "none" and f.fold == 0)
    assert fold.train_rows == train.size
    assert fold.scores["roc_auc"] == pytest.approx(skm.roc_auc_score(y[test], p), abs=1e-9)
    assert fold.scores["average_precision"] == pytest.approx(
        skm.average_precision_score(y[test], p), abs=1e-9
    )
    assert fold.scores["f1"] == pytest.approx(skm.f1_score(y[test], p >= 0.5), abs=1e-9)
    moved = next(f for f in result.fold_scores if f.strategy == "none+threshold" and f.fold == 0)
    prevalence = y[train].mean()
    assert moved.scores["recall"] == pytest.approx(skm.recall_score(y[test], p >= prevalence))
    assert moved.scores["roc_auc"] == fold.scores["roc_auc"]  # same model, same ranking
    # oversample fits on more rows than the training fold: the sampler ran on it alone
    over = next(f for f in result.fold_scores if f.strategy == "oversample" and f.fold == 0)
    majority_train = int((y[train] == 0).sum())
    assert over.fit_rows == 2 * majority_train


# ---------------------------------------------------------------- strategies, feasibility


def test_strategy_list_always_starts_with_the_baselines() -> None:
    assert parse_strategies("smote") == [*ALWAYS, "smote"]
    assert parse_strategies("none") == list(ALWAYS)
    assert parse_strategies("smote,undersample,class-weight") == [*ALWAYS, "undersample", "smote"]
    assert parse_strategies(None) == [*ALWAYS, "undersample", "oversample", "smote"]


def test_unknown_strategy_is_a_usage_error(cli, write_data) -> None:
    path = write_data(numeric_frame(60, 20), "d.csv")
    res = cli("evaluate", path, "--label", "y", "--strategies", "smote,adasyn")
    assert res.code == 2
    assert res.stderr.strip().splitlines() == [
        "rebalance: usage error: unknown strategy 'adasyn' in --strategies "
        "(choose from none, none+threshold, class-weight, undersample, oversample, smote, "
        "tomek, enn)"
    ]
    assert res.stdout == ""


def test_too_few_rows_for_the_folds(cli, write_data) -> None:
    path = write_data(numeric_frame(60, 3), "d.csv")
    res = cli("evaluate", path, "--label", "y", "--folds", "5")
    assert res.code == 3
    assert res.stderr == (
        "rebalance: data error: class 'b' has 3 rows; --folds 5 needs at least 5 rows of "
        "every class (use --folds 3 or fewer)\n"
    )


def test_smote_needs_k_plus_one_rows_per_training_fold(cli, write_data) -> None:
    path = write_data(numeric_frame(80, 10), "d.csv")
    # 10 rows in 5 folds: 8 in every training fold; k=8 needs 9
    res = cli("evaluate", path, "--label", "y", "--folds", "5", "-k", "8")
    assert res.code == 3
    assert res.stderr == (
        "rebalance: data error: class 'b' has as few as 8 rows in a training fold; SMOTE with "
        "k=8 needs at least 9 (use --k-neighbors 7 or lower, or leave smote out of "
        "--strategies)\n"
    )
    # without smote the same data runs, with a warning on the tiny test folds
    res = cli("evaluate", path, "-l", "y", "--strategies", "oversample", "--repeats", "2")
    assert res.code == 0, res.stderr
    assert "warning: class 'b' has only 2 rows per test fold (8 per training fold)" in res.stdout


def test_other_refusals(cli, write_data) -> None:
    path = write_data(numeric_frame(60, 20), "d.csv")
    res = cli("evaluate", path, "--label", "y", "--folds", "1")
    assert (res.code, res.stderr) == (
        2,
        "rebalance: usage error: --folds must be at least 2 (got 1)\n",
    )
    res = cli("evaluate", path, "--label", "y", "--classifier", "svm")
    assert res.code == 2
    assert res.stderr.startswith("rebalance: usage error: unknown classifier 'svm'")
    many = pl.DataFrame({"x": np.arange(1200.0), "y": np.arange(1200)})
    res = cli("evaluate", write_data(many, "many.csv"), "--label", "y")
    assert res.code == 3
    assert res.stderr.startswith(
        "rebalance: data error: label column 'y' has 1,200 distinct values, more than 1,000"
    )
    res = cli("evaluate", path, "--label", "target")
    assert res.code == 3
    assert res.stderr.startswith("rebalance: data error: label column 'target' is not in")
    nulls = numeric_frame(60, 20).with_columns(
        y=pl.when(pl.col("f1") > 2.5).then(None).otherwise(pl.col("y"))
    )
    n_null = int(nulls["y"].null_count())
    assert n_null > 0
    res = cli("evaluate", write_data(nulls, "n.csv"), "--label", "y")
    assert res.code == 3
    assert f"label column 'y' has {n_null} null value" in res.stderr
    res = cli(
        "evaluate",
        write_data(nulls, "n.csv"),
        "-l",
        "y",
        "--drop-null-labels",
        "--json",
        "--strategies",
        "none",
        "--repeats",
        "2",
        "--seed",
        "1",
    )
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["input"]["rows_used"] == 80 - n_null


# ---------------------------------------------------------------- columns, sampling, output


def test_datetime_and_id_columns_are_excluded_and_listed(cli, write_data) -> None:
    frame = mixed_frame({"x": 150, "z": 40}, seed=5).with_columns(
        customer_id=pl.Series([f"c{i}" for i in range(190)])
    )
    path = write_data(frame, "mixed.parquet")
    res = cli(
        "evaluate",
        path,
        "-l",
        "y",
        "--strategies",
        "smote",
        "--folds",
        "3",
        "--repeats",
        "2",
        "--seed",
        "3",
        "--json",
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["features"]["excluded"] == [
        {"column": "id", "reason": "id-like"},
        {"column": "seen_at", "reason": "datetime"},
        {"column": "customer_id", "reason": "id-like"},
    ]
    assert doc["features"]["numeric"] == ["age", "visits", "score", "ratio", "member"]
    assert doc["features"]["categorical"] == ["city"]
    res = cli(
        "evaluate",
        path,
        "-l",
        "y",
        "--strategies",
        "none",
        "--folds",
        "3",
        "--repeats",
        "2",
        "--seed",
        "3",
    )
    assert "excluded columns: id (id-like), seen_at (datetime), customer_id (id-like)" in res.stdout


def test_max_rows_takes_a_stratified_sample_and_says_so(cli, write_data) -> None:
    path = write_data(numeric_frame(900, 100, seed=2), "big.csv")
    res = cli(
        "evaluate",
        path,
        "-l",
        "y",
        "--max-rows",
        "300",
        "--strategies",
        "none",
        "--folds",
        "3",
        "--repeats",
        "2",
        "--seed",
        "9",
    )
    assert res.code == 0, res.stderr
    assert "sampled: a seeded stratified sample of 300 of 1,000 rows (--max-rows 300)" in res.stdout
    # no progress bar outside a terminal: a line per finished fold (3 folds x 2 repeats), then
    # one per strategy (none, none+threshold, class-weight)
    lines = res.stderr.splitlines()
    assert len(lines) == 6 + 3
    assert all(line.startswith("rebalance: evaluate: fold ") for line in lines[:6])
    assert all(re.match(r"rebalance: evaluate: [\w+-]+ done: ", line) for line in lines[6:])
    assert "(a 270, b 30)" in res.stdout
    doc = json.loads(
        cli(
            "evaluate",
            path,
            "-l",
            "y",
            "--max-rows",
            "300",
            "--strategies",
            "none",
            "--folds",
            "3",
            "--repeats",
            "2",
            "--seed",
            "9",
            "--json",
        ).stdout
    )
    assert doc["input"] == {
        "path": str(path),
        "rows": 1000,
        "rows_used": 300,
        "sampled": True,
        "max_rows": 300,
    }
    assert doc["warnings"][0] == (
        "evaluated on a seeded stratified sample of 300 of 1,000 rows (--max-rows 300)"
    )


def test_stratified_sample_keeps_shares_and_is_seeded() -> None:
    y = np.repeat([0, 1, 2], [700, 290, 10])
    idx = stratified_sample(y, 100, seed=5)
    assert np.bincount(y[idx]).tolist() == [70, 29, 1]
    assert np.array_equal(idx, stratified_sample(y, 100, seed=5))
    assert not np.array_equal(idx, stratified_sample(y, 100, seed=6))
    tiny = np.repeat([0, 1, 2, 3], [97, 1, 1, 1])
    assert np.bincount(tiny[stratified_sample(tiny, 10, seed=1)]).tolist() == [7, 1, 1, 1]
    assert np.all(np.diff(idx) > 0)


def test_json_document(cli, write_data, tmp_path: Path) -> None:
    path = write_data(numeric_frame(120, 30, seed=1), "d.csv")
    report = tmp_path / "eval.json"
    res = cli(
        "evaluate",
        path,
        "-l",
        "y",
        "--strategies",
        "undersample,smote",
        "--folds",
        "3",
        "--repeats",
        "2",
        "--seed",
        "21",
        "--json",
        "--report",
        report,
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert json.loads(report.read_text()) == doc
    assert doc["schema_version"] == 2  # 2: the verdict reports p-values, not two_sigma
    assert set(doc["versions"]) == {
        "python",
        "rebalance-cli",
        "polars",
        "numpy",
        "scikit-learn",
        "pyarrow",
    }
    assert doc["protocol"]["seed"] == 21
    assert len(doc["protocol"]["split_seeds"]) == 2
    names = [s["name"] for s in doc["strategies"]]
    assert names == ["none", "none+threshold", "class-weight", "undersample", "smote"]
    assert len(doc["folds"]) == 5 * 3 * 2
    first = doc["folds"][0]
    assert set(first) == {
        "strategy",
        "repeat",
        "fold",
        "seed",
        "train_rows",
        "fit_rows",
        "fit_time_s",
        "scores",
    }
    assert list(first["scores"]) == list(METRICS)
    smote = doc["strategies"][4]
    assert set(smote["metrics"]["roc_auc"]) == {"mean", "std"}
    repeat_means = smote["repeat_means"]["roc_auc"]
    fold_means = [
        np.mean(
            [
                f["scores"]["roc_auc"]
                for f in doc["folds"]
                if f["strategy"] == "smote" and f["repeat"] == r
            ]
        )
        for r in range(2)
    ]
    assert repeat_means == pytest.approx(fold_means, abs=1e-6)
    assert smote["metrics"]["roc_auc"]["std"] == pytest.approx(np.std(fold_means, ddof=1), abs=2e-6)
    assert doc["prevalence"] == pytest.approx(30 / 150)
    assert doc["positive"] == "b"
    assert doc["verdict"]["metric"] == "average_precision"
    assert doc["verdict"]["calibration"].startswith("Calibration: ")
    # a second run refuses to overwrite the report without --force
    res = cli("evaluate", path, "-l", "y", "--report", report)
    assert res.code == 5
    assert "already exists" in res.stderr


def test_same_seed_same_scores() -> None:
    frame = mixed_frame({"x": 120, "z": 30}, seed=8)
    args = dict(label="y", strategies="undersample,smote", folds=3, repeats=2, seed=5)
    a = scores_only(evaluate(frame, **args).to_dict())  # type: ignore[arg-type]
    b = scores_only(evaluate(frame, **args).to_dict())  # type: ignore[arg-type]
    assert a == b
    c = scores_only(evaluate(frame, **{**args, "seed": 6}).to_dict())  # type: ignore[arg-type]
    assert c["split_seeds"] != a["split_seeds"]
    assert c["folds"] != a["folds"]


def test_multiclass_shows_recall_per_class() -> None:
    frame = mixed_frame({"x": 100, "y2": 40, "z": 20}, seed=2)
    result = evaluate(frame, label="y", strategies="smote", folds=3, repeats=2, seed=1)
    doc = result.to_dict()
    assert doc["positive"] is None
    assert set(doc["strategies"][0]["class_recall"]) == {"x", "y2", "z"}
    text = render_plain(result)
    assert "recall per class:" in text
    assert "multi-class: macro averages" in text


def test_plain_and_rich_renderings() -> None:
    result = evaluate(
        numeric_frame(120, 30), label="y", strategies="smote", folds=3, repeats=2, seed=4
    )
    text = render_plain(result)
    assert "│" not in text and "━" not in text
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("strategy"))
    assert [line.split()[0] for line in lines[head + 1 : head + 5]] == [
        "none",
        "none+threshold",
        "class-weight",
        "smote",
    ]
    assert "average precision by chance (the prevalence) is 0.200" in text
    assert f"verdict (average_precision): {result.verdict.text}" in text
    buf = io.StringIO()
    render_rich(result, Console(file=buf, width=200, force_terminal=True, color_system=None))
    shown = buf.getvalue()
    assert result.verdict.calibration in shown
    rows = [line.split() for line in shown.splitlines() if line.split()[:1] == ["strategy"]]
    assert rows and rows[0][1:3] == ["ROC-AUC", "AP"]  # one header line, no cell wrapped


# ---------------------------------------------------------------- the verdict (pure)
# decide() takes each strategy's score per (repeat, fold) and tests the paired
# differences against none (one-sided corrected resampled t-test, Holm). The tests that
# fed it repeat means and asserted the old "more than 2 standard deviations" rule were
# rewritten for the paired rule: same situations, per-fold inputs, the new wording.


def folds_of(values: list[float], folds: int = 5) -> dict[tuple[int, int], float]:
    """Per-(repeat, fold) scores from a flat list, ``folds`` folds per repeat."""
    return {(i // folds, i % folds): v for i, v in enumerate(values)}


def around(centre: float, seed: int, sd: float = 0.02, n: int = 15) -> list[float]:
    return list(centre + np.random.default_rng(seed).normal(0, sd, n))


def test_verdict_constant_gain_with_tiny_spread_is_significant() -> None:
    none = around(0.50, 1)
    jitter = np.random.default_rng(2).normal(0, 1e-4, 15)
    table = {"none": folds_of(none), "smote": folds_of(list(np.add(none, 0.01) + jitter))}
    v = decide(table, "average_precision", {"none": 0.05, "smote": 0.15})
    assert v.recommended == "smote"
    assert v.gains["smote"] == pytest.approx(0.01, abs=1e-4)
    assert v.p_values["smote"] < 0.001 and v.pairs == 15
    assert v.text.startswith("Use smote: average precision ")
    assert "(+0.010 per fold, significant: p < 0.001, below 0.05; one-sided corrected " in v.text
    assert v.calibration == (
        "Calibration: Brier score 0.1500 for smote (the recommended strategy) against 0.0500 "
        "for none (3.0x): its probabilities overstate the minority: use them to rank, or "
        "recalibrate them."
    )


def test_verdict_noise_is_not_significant() -> None:
    named = 0
    for seed in range(40):
        none = around(0.50, seed)
        table = {"none": folds_of(none)}
        for j, s in enumerate(("class-weight", "undersample", "oversample", "smote")):
            table[s] = folds_of(list(np.add(none, around(0.0, 1000 * seed + j, sd=0.01))))
        named += decide(table, "average_precision").recommended is not None
    assert named <= 2  # 5% family-wise at most: 2 of 40 is already generous


def test_verdict_old_rule_bug_zero_spread_of_none() -> None:
    """The reported bug: none's scores did not move, a sampler's moved by +0.001 on
    average with fold noise. The old rule (2 sd of the repeat means) crowned it."""
    table = {
        "none": folds_of([0.05] * 15),
        "oversample": folds_of(around(0.051, 3, sd=0.004)),
    }
    v = decide(table, "average_precision", {"none": 0.05, "oversample": 0.35})
    assert v.recommended is None
    assert v.text.startswith("No strategy beats none on average precision beyond noise")
    assert "(7.0x)" in v.calibration


def test_verdict_zero_variance_of_the_differences() -> None:
    none = folds_of(around(0.5, 4))
    up = {k: v + 0.01 for k, v in none.items()}  # every d_i = +0.01 exactly
    v = decide({"none": none, "smote": up}, "f1")
    assert v.recommended == "smote" and v.p_values["smote"] == 0.0
    same = decide({"none": none, "smote": dict(none)}, "f1")  # every d_i = 0
    assert same.recommended is None and same.p_values["smote"] == 1.0
    assert "every strategy scores the same or worse" in same.text
    down = {k: v - 0.01 for k, v in none.items()}
    worse = decide({"none": none, "smote": down}, "f1")
    assert worse.recommended is None
    assert worse.text.endswith("Significantly worse than none (p < 0.05): smote.")


def test_verdict_holm_over_the_strategies() -> None:
    """p-values are Holm-adjusted: a borderline gain that passes alone fails among many."""
    from rebalance_cli.evaluate.verdict import corrected_t_test, holm

    none = around(0.5, 5)
    z = np.random.default_rng(6).normal(size=15)
    d = 0.0259 + 0.02 * (z - z.mean()) / z.std(ddof=1)  # corrected t = 2.3 on 14 df
    _, p = corrected_t_test(d, 0.25)
    assert 0.01 < p < 0.05  # significant alone, not after a 5-way correction
    alone = decide({"none": folds_of(none), "smote": folds_of(list(np.add(none, d)))}, "f1")
    assert alone.recommended == "smote"
    table = {"none": folds_of(none), "smote": folds_of(list(np.add(none, d)))}
    for j, s in enumerate(("class-weight", "undersample", "oversample", "none+threshold")):
        table[s] = folds_of(list(np.add(none, around(-0.01, 70 + j, sd=0.02))))
    assert decide(table, "f1").recommended is None
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx(
        {"a": 0.03, "b": 0.06, "c": 0.06}
    )


def test_verdict_variance_correction() -> None:
    """Nadeau & Bengio: t = mean / sqrt((1/n + n_test/n_train) s^2), n - 1 df."""
    from scipy.stats import t as student

    from rebalance_cli.evaluate.verdict import corrected_t_test

    d = np.array([0.02, 0.01, 0.03, -0.01, 0.02, 0.01])
    mean, p = corrected_t_test(d, 0.25)
    t = d.mean() / np.sqrt((1 / 6 + 0.25) * d.var(ddof=1))
    assert mean == pytest.approx(d.mean()) and p == pytest.approx(student.sf(t, 5))
    naive = student.sf(d.mean() / np.sqrt(d.var(ddof=1) / 6), 5)
    assert p > naive  # the correction only ever makes it harder


def test_verdict_needs_the_same_splits() -> None:
    with pytest.raises(ValueError, match="same \\(repeat, fold\\) splits"):
        decide({"none": folds_of([0.5, 0.6, 0.5]), "smote": folds_of([0.6, 0.7])}, "f1")


def test_verdict_loss() -> None:
    none = around(0.80, 7, sd=0.01)
    table = {
        "none": folds_of(none),
        "none+threshold": folds_of(none),
        "undersample": folds_of(list(np.add(none, around(-0.10, 8, sd=0.01)))),
        "oversample": folds_of(list(np.add(none, around(-0.003, 9, sd=0.01)))),
    }
    v = decide(table, "roc_auc")
    assert v.recommended is None
    assert v.text.startswith(
        "No strategy beats none on ROC-AUC beyond noise: every strategy scores the same or "
        "worse (best: oversample, "  # none+threshold ranks as none: it is not named
    )
    assert v.text.endswith("Significantly worse than none (p < 0.05): undersample.")
    assert v.calibration == "Calibration: no Brier scores to compare."


def test_verdict_prefers_the_moved_threshold_when_it_is_as_good() -> None:
    none = around(0.20, 10, sd=0.01)
    threshold = list(np.add(none, 0.30) + around(0.0, 11, sd=0.01))
    table = {
        "none": folds_of(none),
        "none+threshold": folds_of(threshold),
        "smote": folds_of(list(np.add(threshold, around(0.002, 12, sd=0.01)))),  # noise
        "undersample": folds_of(list(np.add(none, 0.25) + around(0.0, 13, sd=0.01))),
    }
    v = decide(table, "f1", {"none": 0.04, "none+threshold": 0.04, "smote": 0.09})
    assert v.recommended == "none+threshold"
    assert "Also significantly better than none: " in v.text
    assert v.text.endswith("needs no resampling.")
    assert "no calibration cost" in v.calibration
    table["smote"] = folds_of(list(np.add(threshold, 0.1)))  # now clearly better
    assert decide(table, "f1").recommended == "smote"


def test_verdict_lower_is_better_and_a_single_fold() -> None:
    none = around(0.10, 14, sd=0.01)
    brier = {"none": folds_of(none), "class-weight": folds_of(list(np.subtract(none, 0.05)))}
    assert decide(brier, "brier").recommended == "class-weight"
    one = decide({"none": {(0, 0): 0.5}, "smote": {(0, 0): 0.9}}, "f1")
    assert one.recommended is None
    assert one.text.startswith("With a single fold score per strategy there is no test")
    assert "--repeats 3" in one.text
    threshold = decide(
        {"none": folds_of(none), "none+threshold": folds_of(list(np.add(none, 0.3)))},
        "f1",
        {"none": 0.04, "none+threshold": 0.04},
    )
    assert threshold.recommended == "none+threshold"
    assert "no calibration cost" in threshold.calibration


# ---------------------------------------------------------------- the verdict on data


def random_labels(n: int, prevalence: float, seed: int) -> pl.DataFrame:
    """Mixed features and a label drawn independently of them."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "c": rng.choice(["x", "y", "z", "w"], n),
            "y": np.where(rng.random(n) < prevalence, "pos", "neg"),
        }
    )


def _noise_verdict(classifier: str, rows: int, prevalence: float, seed: int, **kw: Any):
    """The verdict of a 3 x 2-fold evaluate of undersample and oversample on random labels."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # hgb's OpenMP threads only fight on a shared machine
        result = evaluate(
            random_labels(rows, prevalence, seed),
            label="y",
            strategies="undersample,oversample",
            classifier=classifier,
            folds=3,
            repeats=2,
            seed=seed,
            **kw,
        )
    return result.verdict


@pytest.mark.parametrize(
    ("classifier", "rows", "prevalence", "seed"),
    [
        ("logreg", 600, 0.05, 1),
        ("logreg", 600, 0.5, 2),
        ("logreg", 2000, 0.2, 3),
        ("logreg", 2000, 0.05, 4),
        ("logreg", 5000, 0.05, 5),
        ("logreg", 5000, 0.5, 6),
        ("hgb", 600, 0.2, 7),
        ("hgb", 600, 0.05, 8),
        ("hgb", 2000, 0.5, 9),
    ],
)
def test_random_labels_name_no_winner(classifier, rows, prevalence, seed) -> None:
    v = _noise_verdict(classifier, rows, prevalence, seed)
    assert v.recommended is None, v.text
    assert v.text.startswith("No strategy beats none on average precision beyond noise")
    assert v.pairs == 6


def test_planted_signal_names_the_helping_strategy() -> None:
    """A rare class with real signal: at threshold 0.5 none predicts almost no positive,
    so recall is near 0; undersampling moves the boundary and truly helps recall."""
    rng = np.random.default_rng(21)
    n = 1500
    y = rng.random(n) < 0.08
    frame = pl.DataFrame(
        {"f1": rng.normal(0, 1, n) + 1.2 * y, "f2": rng.normal(0, 1, n) + 0.8 * y, "y": y}
    )
    result = evaluate(
        frame, label="y", strategies="undersample", folds=3, repeats=2, metric="recall", seed=2
    )
    v = result.verdict
    assert v.recommended in ("undersample", "none+threshold", "class-weight"), v.text
    assert v.p_values["undersample"] < 0.05
    assert v.text.startswith(f"Use {v.recommended}: recall ")
    named = v.text.split("Also significantly better than none: ")[-1].split(".")[0]
    assert v.recommended == "undersample" or "undersample" in named.split(", ")


# ---------------------------------------------------------------- leakage guard


def test_resampling_before_the_split_inflates_roc_auc(cli, write_data) -> None:
    """On pure noise, honest cross-validation gives ROC-AUC near 0.5; resampling first does not."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pl.DataFrame(
        {f"x{i}": rng.normal(size=n) for i in range(4)}
        | {"y": np.where(rng.random(n) < 0.12, "rare", "common")}
    )
    honest = evaluate(
        frame, label="y", strategies="oversample", classifier="rf", folds=3, repeats=1, seed=3
    )
    fair = honest.summary("oversample", "roc_auc")[0]
    assert 0.35 < fair < 0.65
    # the hidden flag: the same run, with the sampler applied to the whole data first
    path = write_data(frame, "noise.csv")
    res = cli(
        "evaluate",
        path,
        "-l",
        "y",
        "--strategies",
        "oversample",
        "-c",
        "rf",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--seed",
        "3",
        "--json",
        "--debug-resample-before-split",
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    over = next(s for s in doc["strategies"] if s["name"] == "oversample")
    assert over["metrics"]["roc_auc"]["mean"] > 0.85
    assert doc["protocol"]["resample_before_split"] is True
    assert doc["warnings"][-1].startswith("DEBUG: the samplers ran on the whole data")
    # the untouched model is not affected by the flag: the same splits, the same scores
    none = next(s for s in doc["strategies"] if s["name"] == "none")
    assert none["metrics"]["roc_auc"]["mean"] == pytest.approx(
        honest.summary("none", "roc_auc")[0], abs=1e-6
    )
    assert "--debug-resample-before-split" not in cli("evaluate", "--help").stdout


# ---------------------------------------------------------------- the README example


def test_readme_example_runs(cli) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Does rebalancing help? `rebalance evaluate`") :]
    commands = re.findall(r"^\s*(rebalance evaluate .+)$", section, flags=re.M)
    assert commands, "the evaluate section of the README has no example command"
    words = shlex.split(commands[0])
    assert words[:2] == ["rebalance", "evaluate"]
    res = cli(*[str(REPO / w) if w.startswith("sample_data/") else w for w in words[1:]])
    assert res.code == 0, res.stderr
    assert "verdict (average_precision): " in res.stdout
    assert "excluded columns: ticket_id (id-like), created_at (datetime)" in res.stdout


def test_settings_come_from_the_config_file(cli, write_data, tmp_path: Path, monkeypatch) -> None:
    path = write_data(numeric_frame(60, 20), "d.csv")
    (tmp_path / "rebalance.toml").write_text(
        '[evaluate]\nlabel = "y"\nfolds = 2\nrepeats = 2\nstrategies = ["smote"]\nseed = 4\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    res = cli("evaluate", path, "--json", "--folds", "3")
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["protocol"]["folds"], doc["protocol"]["repeats"], doc["protocol"]["seed"]) == (
        3,
        2,
        4,
    )
    assert [s["name"] for s in doc["strategies"]] == [*ALWAYS, "smote"]
    assert doc["settings"]["folds"] == {"value": 3, "source": "flag"}
    assert doc["settings"]["label"] == {"value": "y", "source": "config:rebalance.toml"}
    (tmp_path / "rebalance.toml").unlink()
    res = cli("evaluate", path)
    assert res.code == 2
    assert res.stderr.startswith("rebalance: usage error: missing option --label")


THRESHOLD_METRICS = ["f1", "recall", "g_mean", "precision", "balanced_accuracy", "mcc"]


@pytest.mark.parametrize("metric", THRESHOLD_METRICS)
@pytest.mark.parametrize(
    ("classifier", "rows", "prevalence", "seed"),
    [("logreg", 2000, 0.05, 31), ("logreg", 2000, 0.2, 32), ("hgb", 600, 0.1, 33)],
)
def test_random_labels_name_no_winner_on_a_threshold_metric(
    classifier, rows, prevalence, seed, metric
) -> None:
    """On noise, answering the minority more often raises F1, recall and G-mean over
    ``none`` (which, at threshold 0.5, answers it almost never): that is no reason to
    resample, and a guess blind to the features at the same rate does as well."""
    v = _noise_verdict(classifier, rows, prevalence, seed, metric=metric)
    assert v.recommended is None, v.text
    assert v.text.startswith("No strateg"), v.text


def test_chance_scores_are_a_guess_at_the_same_rate() -> None:
    from rebalance_cli.evaluate.metrics import chance_scores

    y = np.array([1] * 10 + [0] * 90)  # p = 0.1
    pred = np.array([1] * 40 + [0] * 60)  # q = 0.4
    got = chance_scores(y, 1, 2, pred)
    assert got["precision"] == pytest.approx(0.1)
    assert got["recall"] == pytest.approx(0.4)
    assert got["f1"] == pytest.approx(2 * 0.1 * 0.4 / 0.5)
    assert got["g_mean"] == pytest.approx(np.sqrt(0.4 * 0.6))
    assert (got["balanced_accuracy"], got["mcc"], got["roc_auc"]) == (0.5, 0.0, 0.5)
    assert got["average_precision"] == pytest.approx(0.1)
    assert got["brier"] == pytest.approx(0.09)
    # a blind guess at that rate, simulated, scores what the formulas say
    rng = np.random.default_rng(0)
    truth = rng.random(200_000) < 0.1
    guess = rng.random(200_000) < 0.4
    assert skm.f1_score(truth, guess) == pytest.approx(got["f1"], abs=0.005)
    assert skm.recall_score(truth, guess) == pytest.approx(got["recall"], abs=0.005)
    three = chance_scores(np.array([0, 0, 1, 2] * 25), None, 3, np.zeros(100, dtype=int))
    assert three["recall"] == three["balanced_accuracy"] == three["g_mean"] == 1 / 3
    assert three["brier"] == pytest.approx(1 - (0.5**2 + 0.25**2 + 0.25**2))


def test_a_gain_over_none_that_a_blind_guess_matches_names_nothing() -> None:
    keys = [(r, f) for r in range(3) for f in range(5)]
    none = {k: 0.0 for k in keys}
    under = {k: 0.18 + 0.01 * (i % 3) for i, k in enumerate(keys)}
    table = {"none": none, "undersample": under}
    blind = {"none": none, "undersample": {k: 0.19 for k in keys}}
    v = decide(table, "f1", chance=blind)
    assert v.recommended is None
    assert v.text.startswith("No strategy is named: the best on F1, undersample")
    assert v.chance == pytest.approx(0.19) and v.chance_p is not None and v.chance_p > 0.05
    assert v.to_dict()["chance"]["score"] == pytest.approx(0.19)
    low = {"none": none, "undersample": {k: 0.05 for k in keys}}
    named = decide(table, "f1", chance=low)
    assert named.recommended == "undersample"
    assert named.chance_p is not None and named.chance_p < 0.05

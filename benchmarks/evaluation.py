"""`evaluate` against the same protocol run with imbalanced-learn's samplers; writes EVALUATION.md.

Install once, then run from the repository root (about 10 minutes on 2 cores):

    .venv/bin/python -m pip install -e '.[eval]'      # or just: make evaluation
    .venv/bin/python benchmarks/evaluation.py        # --out EVALUATION.md --seed 2026

Four real public imbalanced datasets, all shipped inside installable packages
(nothing is downloaded at run time; see SOURCES below). For each dataset and
classifier (logreg, hgb) the protocol of `rebalance evaluate` runs twice with the
same seed, so the splits, the fold encoders and the classifiers' seeds are the
same: once with this project's samplers (`resample_frame`) and once with
imbalanced-learn's RandomUnderSampler, RandomOverSampler and SMOTE through the
`resampler` hook. A cell agrees when |mean_rebalance - mean_imblearn| is at most
max(0.01, 3 sigma), sigma the larger of the two standard deviations of the repeat
means.
"""

from __future__ import annotations

import os

# One OpenMP thread per fit, set before scikit-learn loads its runtime: on a busy 2-core
# machine HistGradientBoosting's spinning threads made one fit 80x slower (20 s instead of
# 0.25 s on breast-cancer). The scores do not depend on it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

from rebalance_cli.evaluate import EvaluationResult, evaluate

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = ("none", "class-weight", "undersample", "oversample", "smote")
COMPARED = ("roc_auc", "average_precision", "balanced_accuracy")
CLASSIFIERS = ("logreg", "hgb")

SOURCES = {
    "breast-cancer": (
        "Breast Cancer Wisconsin (Diagnostic), W. Wolberg, W. N. Street, O. Mangasarian (1995), "
        "UCI Machine Learning Repository (CC BY 4.0); shipped in scikit-learn as "
        "`sklearn.datasets.load_breast_cancer`. Minority: malignant (212 of 569)."
    ),
    "digits-8": (
        "Optical Recognition of Handwritten Digits, E. Alpaydin, C. Kaynak (1998), UCI Machine "
        "Learning Repository (CC BY 4.0); shipped in scikit-learn as `load_digits` (1,797 "
        "8x8 images). Made binary: digit 8 against the rest (174 of 1,797)."
    ),
    "fair-affairs": (
        "R. Fair (1978), 'A Theory of Extramarital Affairs', Journal of Political Economy "
        "86(1), 45-61 (the 1974 Redbook survey); shipped in statsmodels as "
        "`statsmodels.datasets.fair` ('included with permission of the author'). Made binary: "
        "any affair (affairs > 0, 2,053 of 6,366)."
    ),
    "seattle-snow": (
        "Seattle daily weather 2012-2015 from public-domain NOAA records, as shipped in the "
        "vega_datasets package (`seattle-weather.csv`, MIT-licensed package). Made binary: "
        "weather == 'snow' (23 of 1,461 days); the date column is excluded by "
        "evaluate as a datetime."
    ),
}


def load_datasets() -> dict[str, pl.DataFrame]:
    """Each dataset as a polars frame with a string label column `y`."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from statsmodels.datasets import fair
    from vega_datasets import data as vega

    out: dict[str, pl.DataFrame] = {}
    bc = load_breast_cancer()
    frame = pl.DataFrame(bc.data, schema=[str(n) for n in bc.feature_names], orient="row")
    out["breast-cancer"] = frame.with_columns(
        y=pl.Series(np.where(bc.target == 0, "malignant", "benign"))
    )
    digits = load_digits()
    frame = pl.DataFrame(digits.data, schema=[f"px{i}" for i in range(64)], orient="row")
    out["digits-8"] = frame.with_columns(y=pl.Series(np.where(digits.target == 8, "8", "other")))
    affairs = pl.from_pandas(fair.load_pandas().data)
    out["fair-affairs"] = affairs.with_columns(
        y=pl.when(pl.col("affairs") > 0).then(pl.lit("affair")).otherwise(pl.lit("none"))
    ).drop("affairs")
    weather = pl.from_pandas(vega.seattle_weather())
    out["seattle-snow"] = weather.with_columns(
        pl.col("date").cast(pl.Datetime("us")),
        y=pl.when(pl.col("weather") == "snow").then(pl.lit("snow")).otherwise(pl.lit("other")),
    ).drop("weather")
    return out


def imblearn_resampler(k_neighbors: int) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    def resample(strategy: str, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
        if strategy == "undersample":
            sampler: object = RandomUnderSampler(random_state=seed)
        elif strategy == "oversample":
            sampler = RandomOverSampler(random_state=seed)
        else:
            sampler = SMOTE(k_neighbors=k_neighbors, random_state=seed)
        return sampler.fit_resample(x, y)  # type: ignore[attr-defined]

    return resample


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def sigma_of(a: EvaluationResult, b: EvaluationResult, strategy: str, metric: str) -> float:
    return max(a.summary(strategy, metric)[1], b.summary(strategy, metric)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "EVALUATION.md"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated dataset names (for a quick look)")
    args = parser.parse_args(argv)

    datasets = load_datasets()
    if args.only:
        datasets = {k: v for k, v in datasets.items() if k in args.only.split(",")}
    started = time.perf_counter()
    rows: list[str] = []
    verdicts: list[str] = []
    notes: list[str] = []
    checked = agreed = 0
    for name, frame in datasets.items():
        for clf in CLASSIFIERS:
            common = dict(
                label="y",
                strategies="undersample,oversample,smote",
                classifier=clf,
                folds=args.folds,
                repeats=args.repeats,
                seed=args.seed,
            )
            t0 = time.perf_counter()
            ours = evaluate(frame, **common)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            theirs = evaluate(frame, resampler=imblearn_resampler(5), **common)  # type: ignore[arg-type]
            t2 = time.perf_counter()
            print(
                f"{name} {clf}: rebalance {t1 - t0:.1f} s, imbalanced-learn {t2 - t1:.1f} s",
                file=sys.stderr,
            )
            for strategy in STRATEGIES:
                cells = []
                worst = 0.0
                for metric in COMPARED:
                    m_ours, s_ours = ours.summary(strategy, metric)
                    m_theirs, s_theirs = theirs.summary(strategy, metric)
                    tol = max(0.01, 3 * sigma_of(ours, theirs, strategy, metric))
                    diff = abs(m_ours - m_theirs)
                    worst = max(worst, diff / tol)
                    checked += 1
                    agreed += diff <= tol
                    cells.append(f"{m_ours:.3f} ± {s_ours:.3f} | {m_theirs:.3f} ± {s_theirs:.3f}")
                ok = "yes" if worst <= 1 else "**no**"
                rows.append(
                    f"| {name} | {clf} | {strategy} | {' | '.join(cells)} | {worst:.2f} | {ok} |"
                )
            for strategy in ours.strategies:
                auc, sd = ours.summary(strategy, "roc_auc")
                if auc == 0.5 and sd == 0.0:
                    fit_rows = sorted(
                        {f.fit_rows for f in ours.fold_scores if f.strategy == strategy}
                    )
                    notes.append(
                        f"- {name}, {clf}, {strategy}: ROC-AUC 0.500 in every fold, for both "
                        f"libraries: the model is a constant. It was fitted on "
                        f"{fit_rows[0]}-{fit_rows[-1]} rows, too few for a tree to split "
                        "(HistGradientBoosting needs 20 rows per leaf by default)."
                    )
            brier_none = ours.summary("none", "brier")[0]
            worst_brier = max(
                ("class-weight", "undersample", "oversample", "smote"),
                key=lambda s: ours.summary(s, "brier")[0],
            )
            ratio = ours.summary(worst_brier, "brier")[0] / brier_none
            verdicts.append(
                f"| {name} | {clf} | {ours.positive} ({ours.prevalence:.1%}) | "
                f"{ours.verdict.recommended or '-'} | {worst_brier} {ratio:.1f}x | "
                f"{ours.verdict.text} |"
            )
    elapsed = time.perf_counter() - started

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    head = (
        "| dataset | classifier | strategy | ROC-AUC rebalance | ROC-AUC imblearn | "
        "AP rebalance | AP imblearn | bal.acc rebalance | bal.acc imblearn | "
        "worst diff / tolerance | agree |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    versions = ", ".join(
        f"{d} {version(d)}"
        for d in (
            "rebalance-cli",
            "polars",
            "numpy",
            "scikit-learn",
            "imbalanced-learn",
            "statsmodels",
            "vega_datasets",
        )
    )
    sources = "\n".join(f"- **{k}**: {v}" for k, v in SOURCES.items() if k in datasets)
    doc = f"""# EVALUATION: `rebalance evaluate` against imbalanced-learn's samplers

Generated on {today} by `benchmarks/evaluation.py` in {elapsed / 60:.1f} minutes on 2 cores.
Python {sys.version.split()[0]}; {versions}.

Reproduce (from the repository root):

    .venv/bin/python -m pip install -e '.[eval]'
    .venv/bin/python benchmarks/evaluation.py --seed {args.seed} --folds {args.folds} \\
        --repeats {args.repeats}

## What is compared

The protocol of `rebalance evaluate` (stratified {args.folds}-fold cross-validation repeated
{args.repeats} times; median imputation, one-hot encoding and standardisation fitted on each
training fold; the sampler applied to the encoded training fold only; test folds at their
natural prevalence) is run twice with the same seed, so that the splits, the fold encoders
and the classifiers' random states are identical:

- **rebalance**: this project's samplers (`rebalance_cli.resample_frame`, the code of `apply`);
- **imblearn**: imbalanced-learn's `RandomUnderSampler`, `RandomOverSampler` and
  `SMOTE(k_neighbors=5)`, passed through `evaluate(..., resampler=...)`.

`none` and `class-weight` use no sampler, so the two columns must be identical there: they
check that the harness is the same. For the samplers the two libraries draw different rows,
so the means may differ by noise only. Each cell is the mean ± the standard deviation of the
{args.repeats} repeat means. A cell agrees when |difference| <= max(0.01, 3 sigma), sigma being
the larger of the two standard deviations; the column "worst diff / tolerance" is the largest
ratio over the three metrics of the row (agreement when at most 1).

**Result: {agreed} of {checked} comparisons agree.**
{chr(10).join(["", "Notes:", *notes]) if notes else ""}

{head}
{chr(10).join(rows)}

## What `evaluate` concluded (primary metric: average precision)

Prevalence is that of the minority class; "worst Brier" is the rebalanced strategy with the
worst Brier score and its ratio to `none`'s.

| dataset | classifier | minority | recommended | worst Brier | verdict |
|---|---|---|---|---|---|
{chr(10).join(verdicts)}

## Datasets

{sources}
"""
    Path(args.out).write_text(doc, encoding="utf-8")
    print(f"wrote {args.out}: {agreed}/{checked} comparisons agree", file=sys.stderr)
    return 0 if agreed == checked else 6


if __name__ == "__main__":
    raise SystemExit(main())

"""``evaluate``: does rebalancing help this data? Repeated stratified k-fold, honestly.

Every step that learns from data (imputation, one-hot encoding, scaling, the
sampler, the classifier) is fitted on the training fold only; the test fold
keeps the natural prevalence. The samplers are this project's own
(:func:`rebalance_cli.api.resample_frame`, the same code as ``apply``).

Strategies always shown: ``none``; ``none+threshold`` (the ``none`` model with
its decision threshold moved to the training prevalence: no refit);
``class-weight`` (the classifier's ``class_weight="balanced"``); then the
requested samplers.

The verdict (:func:`decide`) is a pure function of the per-fold scores: a paired,
one-sided corrected resampled t-test of each strategy against ``none``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .. import strategies as registry
from ..api import resample_frame
from ..classes import has_label
from ..columns import check_label
from ..errors import DataError, UsageError, did_you_mean
from ..io import ReadOptions, open_source, reading
from ..request import resolve_seed
from ..strategies.smote import check_k_neighbors
from .choices import (
    ALWAYS,
    CLASSIFIERS,
    DEFAULT_MAX_ROWS,
    DEFAULT_METRIC,
    METRICS,
    evaluable,
)

SCHEMA_VERSION = 2  # 2: the verdict gives p-values of a paired test (was: two_sigma)
MAX_CLASSES = 1000  # as inspect and apply: more looks like an id or a continuous column
MAX_CATEGORIES = 50  # one-hot columns per categorical feature (the most frequent in training)

SAMPLERS = evaluable()
STRATEGIES = ALWAYS + SAMPLERS
LOWER_IS_BETTER = frozenset({"brier"})
METRIC_NAMES = {
    "roc_auc": "ROC-AUC",
    "average_precision": "average precision",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "g_mean": "G-mean",
    "mcc": "MCC",
    "brier": "Brier score",
}

# (strategy, X, y codes, seed) -> (X, y): the hook that lets a benchmark swap in other samplers.
Resampler = Callable[[str, np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Step:
    """Where a cross-validation is, for a progress display.

    Given before every fit (``finished`` false: ``strategy`` is about to be fitted on
    fold ``fold`` of repeat ``repeat``, both counted from 1; an empty ``strategy``
    while the fold is encoded), and when every strategy has been scored on that fold
    (``finished`` true, ``strategy`` empty): ``scores`` holds each strategy's score on
    the primary metric in this fold, ``seconds`` the fold's time. ``done`` of ``total``
    fits are done. The folds are the outer loop (each is encoded once for every
    strategy), so a fold is the unit that completes as a run goes.
    """

    strategy: str
    repeat: int
    fold: int
    done: int
    total: int
    finished: bool = False
    scores: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0


Steps = Callable[[Step], None]


# ---------------------------------------------------------------- the verdict (pure)

ALPHA = 0.05  # one-sided level of the verdict's test, family-wise over the strategies (Holm)

FoldKey = tuple[int, int]  # (repeat, fold)


@dataclass(frozen=True)
class Verdict:
    """The plain-words answer, and the numbers behind it.

    ``gains`` is the mean per-fold difference against ``none`` (positive: better),
    ``p_values`` the Holm-adjusted one-sided p-value that the strategy is better
    than ``none`` (the corrected resampled t-test), ``pairs`` the number of paired folds.
    """

    metric: str
    recommended: str | None
    text: str
    calibration: str
    gains: dict[str, float]
    p_values: dict[str, float]
    pairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "recommended": self.recommended,
            "text": self.text,
            "calibration": self.calibration,
            "test": {
                "name": "corrected resampled t-test (Nadeau & Bengio 2003), paired folds",
                "one_sided_alpha": ALPHA,
                "correction": "Holm over the strategies compared with none",
                "paired_folds": self.pairs,
            },
            "gain_over_none": {k: round(v, 6) for k, v in self.gains.items()},
            "p_value": {k: round(v, 6) for k, v in self.p_values.items()},
        }


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), sd


def _keyed(scores: Mapping[FoldKey, float] | Sequence[float]) -> dict[FoldKey, float]:
    if isinstance(scores, Mapping):
        return {(int(r), int(f)): float(v) for (r, f), v in scores.items()}
    return {(0, i): float(v) for i, v in enumerate(scores)}


def corrected_t_test(diffs: Sequence[float], test_train_ratio: float) -> tuple[float, float]:
    """Mean of the paired differences and the one-sided p-value that it is above 0.

    Nadeau & Bengio's corrected resampled t-test: t = mean / sqrt((1/n + n_test/n_train)
    · s²), s² the sample variance of the n differences, n - 1 degrees of freedom. The
    overlap of the training sets across folds and repeats makes the differences
    correlated; the n_test/n_train term inflates the variance for it. With no spread at
    all (every difference equal) the sign decides: p = 0 above 0, p = 1 otherwise.
    """
    from scipy.stats import t as student

    d = np.asarray(diffs, dtype=np.float64)
    n = d.size
    if n < 2:
        raise ValueError("the corrected resampled t-test needs at least 2 paired folds")
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    scale = max(abs(mean), float(np.abs(d).max()), 1e-300)
    if var <= (1e-12 * scale) ** 2:  # every difference equal, up to rounding
        return mean, 0.0 if mean > 1e-12 * scale else 1.0
    t = mean / np.sqrt((1.0 / n + test_train_ratio) * var)
    return mean, float(student.sf(t, n - 1))


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values: family-wise error at most alpha when a
    strategy is called significant for adjusted p < alpha."""
    order = sorted(p_values, key=lambda s: p_values[s])
    m = len(order)
    out: dict[str, float] = {}
    running = 0.0
    for i, s in enumerate(order):
        running = max(running, min(1.0, (m - i) * p_values[s]))
        out[s] = running
    return out


def decide(
    fold_scores: Mapping[str, Mapping[FoldKey, float] | Sequence[float]],
    metric: str,
    brier: Mapping[str, float] | None = None,
    test_train_ratio: float | None = None,
) -> Verdict:
    """Name a strategy only when it is significantly better than ``none``, fold by fold.

    ``fold_scores`` maps each strategy (``none`` included) to its score on ``metric``
    in each (repeat, fold); every strategy must have run on the same splits, so the
    differences d_i = score(strategy, i) - score(none, i) are paired. Each strategy is
    tested with the one-sided corrected resampled t-test (:func:`corrected_t_test`,
    ``test_train_ratio`` n_test/n_train, by default 1/(folds - 1)), the p-values
    Holm-adjusted over the strategies compared, at level :data:`ALPHA`. With a
    single fold score per strategy there is no test, so nothing is named. ``brier``
    (mean Brier score per strategy) gives the calibration sentence.
    """
    if "none" not in fold_scores:
        raise ValueError("the score table needs a 'none' row")
    table = {s: _keyed(v) for s, v in fold_scores.items()}
    keys = sorted(table["none"])
    for s, scores in table.items():
        if sorted(scores) != keys:
            raise ValueError(f"{s!r} was not scored on the same (repeat, fold) splits as 'none'")
    if len(table) < 2:
        raise ValueError("the score table needs at least one strategy besides 'none'")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    name = METRIC_NAMES.get(metric, metric)
    n = len(keys)
    if test_train_ratio is None:
        folds = len({f for _, f in keys})
        test_train_ratio = 1.0 / (folds - 1) if folds > 1 else 0.0
    base = np.array([table["none"][k] for k in keys])
    base_mean = float(base.mean())
    diffs = {
        s: sign * (np.array([v[k] for k in keys]) - base) for s, v in table.items() if s != "none"
    }
    gains = {s: float(d.mean()) for s, d in diffs.items()}
    # a strategy that scores exactly as none (none+threshold on a ranking metric) says nothing
    moved = [s for s in gains if np.any(diffs[s] != 0)] or list(gains)
    if n < 2:
        best = max(moved, key=lambda s: gains[s])
        text = (
            f"With a single fold score per strategy there is no test, so no strategy is named; "
            f"the best on {name} is {best} ({_signed(gains[best])} against none). "
            "Rerun with --folds 5 --repeats 3 or more."
        )
        nan = {s: float("nan") for s in gains}
        return Verdict(metric, None, text, _calibration(brier, None), gains, nan, n)
    better = holm({s: corrected_t_test(d, test_train_ratio)[1] for s, d in diffs.items()})
    worse = holm({s: corrected_t_test(-d, test_train_ratio)[1] for s, d in diffs.items()})
    winners = [s for s in gains if better[s] < ALPHA]
    losers = [s for s in gains if worse[s] < ALPHA]
    best = max(moved, key=lambda s: (gains[s], -better[s]))
    test = (
        f"one-sided corrected resampled t-test over {n} paired folds, Holm-adjusted over "
        f"{len(gains)} strateg{'y' if len(gains) == 1 else 'ies'}"
    )
    recommended: str | None = None
    if winners:
        recommended = max(winners, key=lambda s: gains[s])
        free = "none+threshold"
        if recommended != free and free in winners:
            # the untouched model with a moved threshold costs nothing: prefer it unless the
            # best is significantly better than it, fold by fold
            _, p = corrected_t_test(diffs[recommended] - diffs[free], test_train_ratio)
            if p >= ALPHA:
                recommended = free
        mean = base_mean + sign * gains[recommended]
        text = (
            f"Use {recommended}: {name} {mean:.3f} against {base_mean:.3f} for none "
            f"({_signed(gains[recommended])} per fold, significant: {_p(better[recommended])}, "
            f"below {ALPHA}; {test})."
        )
        others = [s for s in winners if s != recommended]
        if others:
            text += f" Also significantly better than none: {', '.join(others)}."
        if recommended == "none+threshold" and others:
            text += (
                " The moved threshold is not significantly worse than the best and needs "
                "no resampling."
            )
    elif gains[best] > 0:
        text = (
            f"No strategy beats none on {name} beyond noise: the best, {best}, is "
            f"{_signed(gains[best])} per fold, not significant ({_p(better[best])}, needs below "
            f"{ALPHA}; "
            f"{test}). Rebalancing does not help here: keep the data as it is."
        )
    else:
        text = (
            f"No strategy beats none on {name} beyond noise: every strategy scores the same "
            f"or worse (best: {best}, {_signed(gains[best])}). Keep the data as it is."
        )
    if losers:
        text += f" Significantly worse than none (p < {ALPHA}): {', '.join(losers)}."
    return Verdict(metric, recommended, text, _calibration(brier, recommended), gains, better, n)


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def _calibration(brier: Mapping[str, float] | None, recommended: str | None) -> str:
    if not brier or "none" not in brier:
        return "Calibration: no Brier scores to compare."
    base = brier["none"]
    if recommended in ("none", "none+threshold"):
        return (
            f"Calibration: none+threshold keeps the probabilities of none "
            f"(Brier score {base:.4f}): no calibration cost."
        )
    others = {s: b for s, b in brier.items() if s not in ("none", "none+threshold")}
    if not others:
        return f"Calibration: Brier score {base:.4f} for none."
    worst = recommended if recommended in others else max(others, key=lambda s: others[s])
    ratio = others[worst] / base if base > 0 else float("inf")
    what = "the recommended strategy" if worst == recommended else "the worst"
    cost = (
        "its probabilities overstate the minority: use them to rank, or recalibrate them"
        if ratio > 1.05
        else "no real calibration cost"
    )
    return (
        f"Calibration: Brier score {others[worst]:.4f} for {worst} ({what}) against "
        f"{base:.4f} for none ({ratio:.1f}x): {cost}."
    )


# ---------------------------------------------------------------- columns and data


ID_NAME = re.compile(r"(^|[_\-. ])(id|uuid|guid|key)$|^index$|^row_?(nr|number|num)$|[a-z]Id$")
MAX_TEXT_CARDINALITY = 200


def classify_columns(
    frame: pl.DataFrame, label: str, exclude: Sequence[str] = ()
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Split the columns into (numeric, categorical, excluded with the reason)."""
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: list[tuple[str, str]] = []
    rows = frame.height
    for name, dtype in frame.schema.items():
        if name == label:
            continue
        if name in exclude:
            excluded.append((name, "--exclude"))
        elif dtype.is_temporal():
            excluded.append((name, "datetime"))
        elif _id_like(name, frame[name], rows):
            excluded.append((name, "id-like"))
        elif dtype.is_numeric() or dtype == pl.Boolean:
            numeric.append(name)
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            distinct = frame[name].n_unique()
            if distinct > MAX_TEXT_CARDINALITY and distinct > rows // 2:
                excluded.append((name, f"free text ({distinct:,} distinct values)"))
            else:
                categorical.append(name)
        else:
            excluded.append((name, f"unsupported type {dtype}"))
    return numeric, categorical, excluded


def _id_like(name: str, s: pl.Series, rows: int) -> bool:
    if not (s.dtype.is_integer() or s.dtype == pl.String):
        return False
    if ID_NAME.search(name.lower()) or ID_NAME.search(name):
        return True
    if rows < 20 or s.null_count() or s.n_unique() != rows:
        return False
    if s.dtype == pl.String:
        return True
    span = int(s.max()) - int(s.min()) + 1  # type: ignore[arg-type]
    return span == rows  # a row counter


@dataclass
class _Data:
    frame: pl.DataFrame  # features only
    y: np.ndarray  # class codes 0..K-1 (classes sorted as strings)
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    rows_total: int
    sampled: bool
    numeric: list[str]
    categorical: list[str]
    excluded: list[tuple[str, str]]
    display: str


def _class_codes(values: pl.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..K-1 of the (non-null) labels, the classes sorted as text."""
    text = values.cast(pl.String).to_numpy().astype(str)
    classes, codes = np.unique(text, return_inverse=True)
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def stratified_sample(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded stratified sample of at most ``max_rows`` rows.

    Each class keeps its share (largest remainder), and at least one row.

    """
    n = y.size
    if n <= max_rows:
        return np.arange(n)
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * (max_rows / n)
    take = np.maximum(np.floor(exact).astype(np.int64), 1)
    short = max_rows - int(take.sum())
    if short > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        take[order[:short]] += 1
    while short < 0:  # the one-row floors overshot: trim the largest classes
        take[int(np.argmax(take))] -= 1
        short += 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3]))
    parts = []
    for cls, k in zip(classes, take, strict=True):
        rows = np.flatnonzero(y == cls)
        parts.append(rng.choice(rows, size=min(int(k), rows.size), replace=False))
    return np.sort(np.concatenate(parts))


def _check_columns(schema: pl.Schema, label: str, exclude: Sequence[str], display: str) -> None:
    """The label (a column that can name classes) and every ``--exclude`` column must be
    in the data."""
    check_label(schema, label, display)
    for name in exclude:
        if name not in schema:
            raise DataError(f"--exclude names column {name!r}, which is not in {display}")


def _labelled_sample(
    lf: pl.LazyFrame,
    label: str,
    max_rows: int,
    seed: int,
    drop_null_labels: bool,
    warnings: list[str],
) -> tuple[pl.DataFrame, int, bool]:
    """The rows to evaluate on (labelled ones, a stratified sample of at most
    ``max_rows``), how many rows have a label, and whether it is a sample."""
    labels = lf.select(pl.col(label)).collect()[label]
    # NaN in a float label is a null label, as in apply and inspect: never a class
    labelled = labels.to_frame().select(has_label(label, labels.dtype))[label].fill_null(False)
    keep = np.flatnonzero(labelled.to_numpy())
    nulls = labels.len() - keep.size
    if nulls and not drop_null_labels:
        raise DataError(
            f"label column {label!r} has {nulls:,} null value{'s' if nulls != 1 else ''}",
            hint="pass --drop-null-labels to leave those rows out",
        )
    if nulls:
        warnings.append(f"left out {nulls:,} rows whose label is null")
    y_all, _ = _class_codes(labels.filter(labelled))
    chosen = keep[stratified_sample(y_all, max_rows, seed)]
    sampled = chosen.size < keep.size
    if sampled or nulls:
        idx = pl.Series("__row", chosen, dtype=pl.UInt32)
        frame = (
            lf.with_row_index("__row")
            .join(idx.to_frame().lazy(), on="__row", how="semi")
            .drop("__row")
            .collect()
        )
    else:
        frame = lf.collect()
    return frame, int(keep.size), sampled


def _data_of(
    frame: pl.DataFrame,
    label: str,
    exclude: Sequence[str],
    display: str,
    rows_total: int,
    sampled: bool,
) -> _Data:
    """The class codes and feature columns of the rows read, refused when they
    leave nothing to evaluate."""
    y, classes = _class_codes(frame[label])
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"label column {label!r} has {len(classes):,} distinct values, more than "
            f"{MAX_CLASSES:,}",
            hint="it looks like an id or a continuous column; evaluate needs class labels",
        )
    counts = tuple(int(c) for c in np.bincount(y, minlength=len(classes)))
    if len(classes) < 2:
        raise DataError(
            f"label column {label!r} has a single class ({classes[0] if classes else 'none'}); "
            "there is nothing to evaluate"
        )
    numeric, categorical, excluded = classify_columns(frame, label, exclude)
    if not numeric and not categorical:
        raise DataError(
            "no feature column is left to learn from",
            hint="excluded: " + ", ".join(f"{c} ({why})" for c, why in excluded)
            if excluded
            else None,
        )
    return _Data(
        frame.select(numeric + categorical),
        y,
        classes,
        counts,
        rows_total,
        sampled,
        numeric,
        categorical,
        excluded,
        display,
    )


def _load(
    data: str | os.PathLike[str] | pl.DataFrame,
    label: str,
    read: ReadOptions | None,
    max_rows: int,
    seed: int,
    exclude: Sequence[str],
    drop_null_labels: bool,
) -> tuple[_Data, list[str]]:
    warnings: list[str] = []
    if isinstance(data, pl.DataFrame):
        display = "<frame>"
        lf = data.lazy()
        source = None
    else:
        source = open_source(data, read)
        display = source.display
        lf = source.scan()
    try:
        with source.guard() if source is not None else contextlib.nullcontext(), reading(display):
            _check_columns(lf.collect_schema(), label, exclude, display)
            frame, rows_total, sampled = _labelled_sample(
                lf, label, max_rows, seed, drop_null_labels, warnings
            )
    finally:
        if source is not None:
            source.close()
    return _data_of(frame, label, exclude, display, rows_total, sampled), warnings


# ---------------------------------------------------------------- encoding inside a fold


class _Encoder:
    """Median imputation, one-hot encoding and standardisation, fitted on one training fold."""

    def __init__(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.medians: np.ndarray = np.empty(0)
        self.levels: dict[str, list[str]] = {}
        self.mean: np.ndarray = np.empty(0)
        self.scale: np.ndarray = np.empty(0)

    def _numeric(self, frame: pl.DataFrame) -> np.ndarray:
        if not self.numeric:
            return np.empty((frame.height, 0))
        x = frame.select(pl.col(self.numeric).cast(pl.Float64)).to_numpy().astype(np.float64)
        x[~np.isfinite(x)] = np.nan
        return x

    def _onehot(self, frame: pl.DataFrame) -> np.ndarray:
        cols = []
        for name in self.categorical:
            s = frame[name].cast(pl.String).fill_null("\x00null")
            for level in self.levels[name]:
                cols.append(s.eq(level).to_numpy().astype(np.float64))
        if not cols:
            return np.empty((frame.height, 0))
        return np.column_stack(cols)

    def fit(self, frame: pl.DataFrame) -> _Encoder:
        x = self._numeric(frame)
        if x.shape[1]:
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
            self.medians = np.nan_to_num(med)
        for name in self.categorical:
            counts = (
                frame[name]
                .cast(pl.String)
                .fill_null("\x00null")
                .value_counts(sort=True, name="n")
                .sort(["n", name], descending=[True, False])
            )
            self.levels[name] = counts[name].head(MAX_CATEGORIES).to_list()
        raw = self._raw(frame)
        self.mean = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        return self

    def _raw(self, frame: pl.DataFrame) -> np.ndarray:
        x = self._numeric(frame)
        if x.shape[1]:
            bad = np.isnan(x)
            x = np.where(bad, self.medians[np.newaxis, :], x)
        return np.hstack([x, self._onehot(frame)])

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        return (self._raw(frame) - self.mean) / self.scale


# ---------------------------------------------------------------- classifiers, samplers


def make_classifier(name: str, seed: int, balanced: bool = False) -> Any:
    """A fresh scikit-learn classifier; ``balanced`` sets class_weight='balanced'."""
    weight = "balanced" if balanced else None
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000, class_weight=weight)
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed, class_weight=weight)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=100, min_samples_leaf=2, random_state=seed, class_weight=weight
        )
    raise UsageError(f"unknown classifier {name!r}", hint=f"choose one of {', '.join(CLASSIFIERS)}")


def own_resampler(k_neighbors: int) -> Resampler:
    """This project's samplers (``resample_frame``) on an encoded training fold."""

    def resample(strategy: str, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
        names = [f"x{i}" for i in range(x.shape[1])]
        frame = pl.DataFrame(
            {**{n: x[:, i] for i, n in enumerate(names)}, "__y": pl.Series(y, dtype=pl.Int64)}
        )
        out = resample_frame(
            frame, label="__y", strategy=strategy, seed=seed, k_neighbors=k_neighbors
        )
        return out.select(names).to_numpy().astype(np.float64), out["__y"].to_numpy()

    return resample  # type: ignore[return-value]


# ---------------------------------------------------------------- metrics


def fold_metrics(
    y: np.ndarray, proba: np.ndarray, pred: np.ndarray, positive: int | None
) -> tuple[dict[str, float], dict[int, float]]:
    """Scores on one test fold, and the recall of each class.

    Binary (``positive`` is the minority code): ranking metrics on its
    probability, precision/recall/F1 of the minority, G-mean of the two recalls,
    Brier on the minority probability. Multi-class: one-vs-rest macro averages,
    and the Brier score summed over the classes. The threshold metrics come from
    one confusion matrix (scikit-learn's definitions; tests hold them to it).
    """
    from sklearn import metrics as m

    k = proba.shape[1]
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
    hits = np.diag(cm)
    true_n, pred_n = cm.sum(axis=1), cm.sum(axis=0)
    recalls = np.divide(hits, true_n, out=np.zeros(k), where=true_n > 0)
    precisions = np.divide(hits, pred_n, out=np.zeros(k), where=pred_n > 0)
    both = precisions + recalls
    f1s = np.divide(2 * precisions * recalls, both, out=np.zeros(k), where=both > 0)
    total = cm.sum()
    denom = (total**2 - np.dot(pred_n, pred_n)) * (total**2 - np.dot(true_n, true_n))
    mcc = (hits.sum() * total - np.dot(pred_n, true_n)) / np.sqrt(denom) if denom > 0 else 0.0
    out: dict[str, float] = {}
    if positive is not None:
        truth = (y == positive).astype(np.int64)
        p = proba[:, positive]
        out["roc_auc"] = m.roc_auc_score(truth, p)
        out["average_precision"] = m.average_precision_score(truth, p)
        out["precision"] = precisions[positive]
        out["recall"] = recalls[positive]
        out["f1"] = f1s[positive]
        out["brier"] = float(np.mean((p - truth) ** 2))
    else:
        onehot = (y[:, None] == np.arange(k)[None, :]).astype(np.int64)
        out["roc_auc"] = m.roc_auc_score(onehot, proba, average="macro")
        out["average_precision"] = m.average_precision_score(onehot, proba, average="macro")
        out["precision"] = precisions.mean()
        out["recall"] = recalls.mean()
        out["f1"] = f1s.mean()
        out["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    out["balanced_accuracy"] = recalls[true_n > 0].mean()
    out["g_mean"] = float(np.prod(recalls) ** (1.0 / k))
    out["mcc"] = mcc
    ordered = {name: float(out[name]) for name in METRICS}
    return ordered, {c: float(r) for c, r in enumerate(recalls)}


def _predict(proba: np.ndarray, positive: int | None, threshold: float = 0.5) -> np.ndarray:
    if positive is None:
        return proba.argmax(axis=1)
    other = 1 - positive
    return np.where(proba[:, positive] >= threshold, positive, other)


def _full_proba(clf: Any, x: np.ndarray, k: int) -> np.ndarray:
    p = clf.predict_proba(x)
    if p.shape[1] == k:
        return p
    full = np.zeros((x.shape[0], k))
    full[:, clf.classes_.astype(np.int64)] = p
    return full


# ---------------------------------------------------------------- the protocol


@dataclass
class FoldScore:
    strategy: str
    repeat: int
    fold: int
    seed: int
    train_rows: int
    fit_rows: int
    fit_time_s: float
    scores: dict[str, float]
    class_recall: dict[int, float]


@dataclass
class EvaluationResult:
    """Everything ``evaluate`` measured; ``to_dict()`` is the ``--json`` document."""

    label: str
    display: str
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    positive: str | None
    prevalence: float
    chance_average_precision: float
    rows_total: int
    rows_used: int
    sampled: bool
    max_rows: int
    numeric: list[str]
    categorical: list[str]
    excluded: list[tuple[str, str]]
    classifier: str
    folds: int
    repeats: int
    metric: str
    seed: int
    k_neighbors: int
    strategies: list[str]
    split_seeds: list[int]
    fold_scores: list[FoldScore]
    verdict: Verdict
    warnings: list[str] = field(default_factory=list)
    resample_before_split: bool = False
    command: list[str] | None = None

    def repeat_means(self, strategy: str, metric: str) -> list[float]:
        """The mean over the folds of each repeat."""
        out = []
        for r in range(self.repeats):
            vals = [
                f.scores[metric]
                for f in self.fold_scores
                if f.strategy == strategy and f.repeat == r
            ]
            out.append(float(np.mean(vals)))
        return out

    def summary(self, strategy: str, metric: str) -> tuple[float, float]:
        """Mean and standard deviation of the repeat means."""
        return _mean_sd(self.repeat_means(strategy, metric))

    def fit_time(self, strategy: str) -> float:
        return float(np.mean([f.fit_time_s for f in self.fold_scores if f.strategy == strategy]))

    def relative_fit_time(self, strategy: str) -> float:
        base = self.fit_time("none")
        return self.fit_time(strategy) / base if base > 0 else float("nan")

    def class_recall(self, strategy: str) -> dict[str, float]:
        rows = [f.class_recall for f in self.fold_scores if f.strategy == strategy]
        return {c: float(np.mean([r[i] for r in rows])) for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict[str, Any]:
        def r6(x: float) -> float:
            return round(float(x), 6)

        strategies = []
        for s in self.strategies:
            entry: dict[str, Any] = {
                "name": s,
                "metrics": {
                    m: {"mean": r6(self.summary(s, m)[0]), "std": r6(self.summary(s, m)[1])}
                    for m in METRICS
                },
                "repeat_means": {m: [r6(v) for v in self.repeat_means(s, m)] for m in METRICS},
                "fit_time_s": r6(self.fit_time(s)),
                "relative_fit_time": r6(self.relative_fit_time(s)),
            }
            if self.positive is None:
                entry["class_recall"] = {c: r6(v) for c, v in self.class_recall(s).items()}
            strategies.append(entry)
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": "rebalance evaluate",
            "versions": versions(),
            "command": self.command,
            "input": {
                "path": self.display,
                "rows": self.rows_total,
                "rows_used": self.rows_used,
                "sampled": self.sampled,
                "max_rows": self.max_rows,
            },
            "label": self.label,
            "classes": [
                {"class": c, "count": n} for c, n in zip(self.classes, self.counts, strict=True)
            ],
            "positive": self.positive,
            "prevalence": r6(self.prevalence),
            "chance_average_precision": r6(self.chance_average_precision),
            "features": {
                "numeric": self.numeric,
                "categorical": self.categorical,
                "excluded": [{"column": c, "reason": why} for c, why in self.excluded],
            },
            "protocol": {
                "classifier": self.classifier,
                "folds": self.folds,
                "repeats": self.repeats,
                "metric": self.metric,
                "seed": self.seed,
                "k_neighbors": self.k_neighbors,
                "split_seeds": self.split_seeds,
                "fitted_inside_training_folds": [
                    "imputation",
                    "one-hot encoding",
                    "scaling",
                    "sampler",
                    "classifier",
                ],
                "resample_before_split": self.resample_before_split,
            },
            "strategies": strategies,
            "folds": [
                {
                    "strategy": f.strategy,
                    "repeat": f.repeat,
                    "fold": f.fold,
                    "seed": f.seed,
                    "train_rows": f.train_rows,
                    "fit_rows": f.fit_rows,
                    "fit_time_s": r6(f.fit_time_s),
                    "scores": {m: r6(v) for m, v in f.scores.items()},
                }
                for f in self.fold_scores
            ],
            "verdict": self.verdict.to_dict(),
            "warnings": self.warnings,
        }


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("rebalance-cli", "polars", "numpy", "scikit-learn", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _derive(*words: int) -> int:
    return int(np.random.SeedSequence(list(words)).generate_state(1, dtype=np.uint32)[0])


def parse_strategies(requested: Sequence[str] | str | None) -> list[str]:
    """The strategies to run: none, none+threshold and class-weight first, always."""
    if requested is None:
        names: list[str] = [s for s in SAMPLERS if registry.get(s).evaluated_by_default]
    elif isinstance(requested, str):
        names = [s.strip() for s in requested.split(",") if s.strip()]
    else:
        names = list(requested)
    for s in names:
        if s not in STRATEGIES:
            raise UsageError(
                f"unknown strategy {s!r} in --strategies",
                hint=f"{did_you_mean(s, STRATEGIES)}choose from {', '.join(STRATEGIES)}",
            )
    return list(ALWAYS) + [s for s in SAMPLERS if s in names]


def check_feasible(
    classes: Sequence[str],
    counts: Sequence[int],
    folds: int,
    strategies: Sequence[str],
    k_neighbors: int,
) -> list[str]:
    """Refuse what cannot run, before any fit; return the warnings for what runs badly."""
    warnings: list[str] = []
    for cls, n in zip(classes, counts, strict=True):
        if n < folds:
            raise DataError(
                f"class {cls!r} has {n} row{'s' if n != 1 else ''}; --folds {folds} needs at "
                f"least {folds} rows of every class",
                hint=f"use --folds {max(n, 2)} or fewer" if n >= 2 else "collect more rows",
            )
    minority = min(range(len(counts)), key=lambda i: (counts[i], classes[i]))
    m = counts[minority]
    train_min = m - -(-m // folds)  # the fewest rows of the class in a training fold
    synthesisers = [s for s in strategies if s in SAMPLERS and registry.get(s).needs == "grown"]
    for name in synthesisers:
        for cls, n in zip(classes, counts, strict=True):
            if n == max(counts):
                continue
            fewest = n - -(-n // folds)
            if fewest < k_neighbors + 1:
                fits = f"--k-neighbors {fewest - 1} or lower" if fewest > 1 else "fewer --folds"
                raise DataError(
                    f"class {cls!r} has as few as {fewest} row{'s' if fewest != 1 else ''} in a "
                    f"training fold; SMOTE with k={k_neighbors} needs at least {k_neighbors + 1}",
                    hint=f"use {fits}, or leave {name} out of --strategies",
                )
    test_min, test_max = m // folds, -(-m // folds)
    if test_min < 5:
        per_test = f"{test_min}" if test_min == test_max else f"{test_min}-{test_max}"
        warnings.append(
            f"class {classes[minority]!r} has only {per_test} rows per test fold "
            f"({train_min} per training fold): the scores will be noisy"
        )
    return warnings


def _check_settings(
    folds: int, repeats: int, metric: str, classifier: str, max_rows: int, k_neighbors: int
) -> None:
    """Refuse settings that cannot make a protocol, before the data is read."""
    if folds < 2:
        raise UsageError(f"--folds must be at least 2 (got {folds})")
    if repeats < 1:
        raise UsageError(f"--repeats must be at least 1 (got {repeats})")
    if metric not in METRICS:
        raise UsageError(
            f"unknown metric {metric!r}",
            hint=f"{did_you_mean(metric, METRICS)}choose one of {', '.join(METRICS)}",
        )
    if classifier not in CLASSIFIERS:
        raise UsageError(
            f"unknown classifier {classifier!r}",
            hint=f"{did_you_mean(classifier, CLASSIFIERS)}choose one of {', '.join(CLASSIFIERS)}",
        )
    if max_rows < 2:
        raise UsageError(f"--max-rows must be at least 2 (got {max_rows})")
    check_k_neighbors(k_neighbors)


@dataclass(frozen=True)
class _Protocol:
    """The cross-validation settings of one :func:`evaluate` call, checked."""

    classifier: str
    folds: int
    repeats: int
    metric: str
    seed: int
    k_neighbors: int
    max_rows: int
    resample_before_split: bool


def _add_protocol_warnings(
    warnings: list[str], data_: _Data, protocol: _Protocol, chosen: list[str]
) -> None:
    """Add the warnings of the protocol on this data to those of the load (a sample
    first, then few rows, the debugging leak); raises for what
    cannot run at all."""
    warnings += check_feasible(
        data_.classes, data_.counts, protocol.folds, chosen, protocol.k_neighbors
    )
    if data_.sampled:
        warnings.insert(
            0,
            f"evaluated on a seeded stratified sample of {data_.y.size:,} of "
            f"{data_.rows_total:,} rows (--max-rows {protocol.max_rows:,})",
        )
    if protocol.resample_before_split:
        warnings.append(
            "DEBUG: the samplers ran on the whole data before the split; their scores are "
            "leaked and meaningless"
        )


def _positive_class(data_: _Data) -> int | None:
    """The positive class of a binary label (the smaller, then the first); None otherwise."""
    k = len(data_.classes)
    if k != 2:
        return None
    counts = np.bincount(data_.y, minlength=k)
    return int(min(range(k), key=lambda i: (counts[i], data_.classes[i])))


@dataclass
class _Fold:
    """One training/test split of one repeat, encoded inside its training rows."""

    repeat: int
    index: int
    seed: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class _CrossValidation:
    """Every fit of every fold; the scores in the report's order."""

    def __init__(
        self,
        data_: _Data,
        protocol: _Protocol,
        samplers: list[str],
        resample: Resampler,
        progress: Progress | None,
        steps: Steps | None = None,
    ) -> None:
        self.data = data_
        self.protocol = protocol
        self.samplers = samplers
        self.resample = resample
        self.progress = progress
        self.steps = steps
        self.k = len(data_.classes)
        self.positive = _positive_class(data_)
        self.split_seeds = [_derive(protocol.seed, 1, r) for r in range(protocol.repeats)]
        self.scores: list[FoldScore] = []
        self.total = protocol.repeats * protocol.folds * (2 + len(samplers))
        self.done = 0
        self.leaked: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def run(self) -> None:
        from sklearn.model_selection import StratifiedKFold
        from threadpoolctl import threadpool_limits

        p, y = self.protocol, self.data.y
        if p.resample_before_split:
            enc = _Encoder(self.data.numeric, self.data.categorical).fit(self.data.frame)
            x_all = enc.transform(self.data.frame)
            for s in self.samplers:
                self.leaked[s] = self.resample(s, x_all, y, _derive(p.seed, 3))
        make_classifier(p.classifier, 0)  # import it now, so that no fit time counts an import
        # The fits are small dense problems: BLAS threads only fight each other (4x slower here).
        with threadpool_limits(1, user_api="blas"):
            for r in range(p.repeats):
                splitter = StratifiedKFold(
                    n_splits=p.folds, shuffle=True, random_state=self.split_seeds[r]
                )
                for f, (train, test) in enumerate(splitter.split(np.zeros(y.size), y)):
                    started, first = time.perf_counter(), len(self.scores)
                    self._announce("", r, f)  # encoding the fold
                    fold = self._fold(r, f, train, test)
                    self._baselines(fold)
                    self._sampled(fold)
                    if self.steps:
                        scores = {s.strategy: s.scores[p.metric] for s in self.scores[first:]}
                        seconds = time.perf_counter() - started
                        self.steps(
                            Step("", r + 1, f + 1, self.done, self.total, True, scores, seconds)
                        )

    def _announce(self, name: str, r: int, f: int) -> None:
        if self.steps:
            self.steps(Step(name, r + 1, f + 1, self.done, self.total))

    def _fold(self, r: int, f: int, train: np.ndarray, test: np.ndarray) -> _Fold:
        frame, y = self.data.frame, self.data.y
        enc = _Encoder(self.data.numeric, self.data.categorical).fit(frame[train])
        return _Fold(
            r,
            f,
            _derive(self.protocol.seed, 2, r, f),
            enc.transform(frame[train]),
            y[train],
            enc.transform(frame[test]),
            y[test],
        )

    def _record(
        self,
        fold: _Fold,
        name: str,
        proba: np.ndarray,
        pred: np.ndarray,
        fit_rows: int,
        seconds: float,
        y_true: np.ndarray,
    ) -> None:
        values, recall = fold_metrics(y_true, proba, pred, self.positive)
        self.scores.append(
            FoldScore(
                name,
                fold.repeat,
                fold.index,
                fold.seed,
                fold.y_train.size,
                fit_rows,
                seconds,
                values,
                recall,
            )
        )

    def _tick(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)

    def _baselines(self, fold: _Fold) -> None:
        """``none`` (and ``none+threshold``, its probabilities moved by the prior)
        and ``class-weight``."""
        positive, k = self.positive, self.k
        y_train = fold.y_train
        prior = np.bincount(y_train, minlength=k) / y_train.size
        for name in ("none", "class-weight"):
            self._announce(name, fold.repeat, fold.index)
            t0 = time.perf_counter()
            clf = make_classifier(
                self.protocol.classifier, fold.seed, balanced=name == "class-weight"
            )
            clf.fit(fold.x_train, y_train)
            seconds = time.perf_counter() - t0
            proba = _full_proba(clf, fold.x_test, k)
            pred = _predict(proba, positive)
            self._record(fold, name, proba, pred, y_train.size, seconds, fold.y_test)
            if name == "none":
                if positive is not None:
                    moved = _predict(proba, positive, float(prior[positive]))
                else:
                    moved = (proba / np.maximum(prior, 1e-12)).argmax(axis=1)
                self._record(
                    fold, "none+threshold", proba, moved, y_train.size, seconds, fold.y_test
                )
            self._tick()

    def _sampled(self, fold: _Fold) -> None:
        """Each sampler, fitted on its resampled training rows."""
        for name in self.samplers:
            self._announce(name, fold.repeat, fold.index)
            t0 = time.perf_counter()
            if self.protocol.resample_before_split:
                xl, yl = self.leaked[name]
                rng = np.random.default_rng(fold.seed)
                order = rng.permutation(yl.size)
                cut = yl.size // self.protocol.folds
                test_l, train_l = order[:cut], order[cut:]
                x_fit, y_fit = xl[train_l], yl[train_l]
                x_eval, y_eval = xl[test_l], yl[test_l]
            else:
                x_fit, y_fit = self.resample(name, fold.x_train, fold.y_train, fold.seed)
                x_eval, y_eval = fold.x_test, fold.y_test
            clf = make_classifier(self.protocol.classifier, fold.seed)
            clf.fit(x_fit, y_fit)
            seconds = time.perf_counter() - t0
            proba = _full_proba(clf, x_eval, self.k)
            pred = _predict(proba, self.positive)
            self._record(fold, name, proba, pred, y_fit.size, seconds, y_eval)
            self._tick()


def _result(
    label: str,
    data_: _Data,
    protocol: _Protocol,
    chosen: list[str],
    cv: _CrossValidation,
    warnings: list[str],
    command: list[str] | None,
) -> EvaluationResult:
    """The result of a finished cross-validation, its verdict decided."""
    positive, y = cv.positive, data_.y
    k = len(data_.classes)
    counts = np.bincount(y, minlength=k)
    prevalence = float(counts[positive] / y.size) if positive is not None else 1.0 / k
    metric = protocol.metric
    result = EvaluationResult(
        label=label,
        display=data_.display,
        classes=data_.classes,
        counts=data_.counts,
        positive=data_.classes[positive] if positive is not None else None,
        prevalence=prevalence,
        chance_average_precision=prevalence,
        rows_total=data_.rows_total,
        rows_used=int(y.size),
        sampled=data_.sampled,
        max_rows=protocol.max_rows,
        numeric=data_.numeric,
        categorical=data_.categorical,
        excluded=data_.excluded,
        classifier=protocol.classifier,
        folds=protocol.folds,
        repeats=protocol.repeats,
        metric=metric,
        seed=protocol.seed,
        k_neighbors=protocol.k_neighbors,
        strategies=chosen,
        split_seeds=cv.split_seeds,
        fold_scores=cv.scores,
        verdict=Verdict(metric, None, "", "", {}, {}),
        warnings=warnings,
        resample_before_split=protocol.resample_before_split,
        command=command,
    )
    table, ratio = paired_fold_scores(cv.scores, chosen, metric, int(y.size))
    brier = {s: result.summary(s, "brier")[0] for s in chosen}
    result.verdict = decide(table, metric, brier, test_train_ratio=ratio)
    return result


def paired_fold_scores(
    scores: Sequence[FoldScore], strategies: Sequence[str], metric: str, rows: int
) -> tuple[dict[str, dict[FoldKey, float]], float]:
    """Each strategy's score on ``metric`` per (repeat, fold), checked to be paired, and
    the mean n_test/n_train of the splits (the variance correction of :func:`decide`).

    Every strategy must have been scored once on every split, and on the same split: the
    same fold seed and the same training rows as ``none`` in that (repeat, fold).
    """
    table: dict[str, dict[FoldKey, float]] = {s: {} for s in strategies}
    split: dict[FoldKey, tuple[int, int]] = {}
    for f in scores:
        key = (f.repeat, f.fold)
        if key in table[f.strategy]:
            raise ValueError(f"{f.strategy!r} was scored twice on repeat {f.repeat} fold {f.fold}")
        table[f.strategy][key] = f.scores[metric]
        if split.setdefault(key, (f.seed, f.train_rows)) != (f.seed, f.train_rows):
            raise ValueError(
                f"the strategies did not share the split of repeat {f.repeat} fold {f.fold}"
            )
    for s, values in table.items():
        if values.keys() != split.keys():
            raise ValueError(f"{s!r} was not scored on every split")
    ratio = float(np.mean([(rows - train) / train for _, train in split.values()]))
    return table, ratio


def evaluate(
    data: str | os.PathLike[str] | pl.DataFrame,
    *,
    label: str,
    strategies: Sequence[str] | str | None = None,
    classifier: str = "logreg",
    folds: int = 5,
    repeats: int = 3,
    metric: str = DEFAULT_METRIC,
    seed: int | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    k_neighbors: int = 5,
    exclude: Sequence[str] = (),
    drop_null_labels: bool = False,
    read: ReadOptions | None = None,
    resampler: Resampler | None = None,
    progress: Progress | None = None,
    resample_before_split: bool = False,
    command: list[str] | None = None,
    steps: Steps | None = None,
) -> EvaluationResult:
    """Cross-validate ``none``, ``none+threshold``, ``class-weight`` and the samplers.

    ``data`` is a file path (any format ``apply`` reads) or a polars frame.
    ``resampler`` replaces this project's samplers (benchmarks compare other
    libraries through it). ``resample_before_split`` is a debugging aid that
    commits the classic leakage on purpose (resampling the whole data before the
    split); its scores are meaningless. ``progress(done, total)`` is called after
    every fit; ``steps`` gets a :class:`Step` before every fit and after every fold.
    """
    _check_settings(folds, repeats, metric, classifier, max_rows, k_neighbors)
    protocol = _Protocol(
        classifier=classifier,
        folds=folds,
        repeats=repeats,
        metric=metric,
        seed=resolve_seed(seed)[0],
        k_neighbors=k_neighbors,
        max_rows=max_rows,
        resample_before_split=resample_before_split,
    )
    chosen = parse_strategies(strategies)
    data_, warnings = _load(data, label, read, max_rows, protocol.seed, exclude, drop_null_labels)
    _add_protocol_warnings(warnings, data_, protocol, chosen)
    samplers = [s for s in chosen if s in SAMPLERS]
    cv = _CrossValidation(
        data_, protocol, samplers, resampler or own_resampler(k_neighbors), progress, steps
    )
    cv.run()
    return _result(label, data_, protocol, chosen, cv, warnings, command)

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

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .. import strategies as registry
from ..errors import DataError, UsageError, did_you_mean
from ..io import ReadOptions
from ..request import resolve_seed
from ..strategies.smote import check_k_neighbors
from .choices import (
    ALWAYS,
    CLASSIFIERS,
    DEFAULT_MAX_ROWS,
    DEFAULT_METRIC,
    METRICS,
    evaluable,
    run_by_default,
)
from .data import _Data, _Encoder, _load
from .metrics import (
    Resampler,
    _full_proba,
    _predict,
    chance_scores,
    fold_metrics,
    make_classifier,
    own_resampler,
)
from .verdict import FoldKey, Verdict, _mean_sd, decide

SCHEMA_VERSION = 2  # 2: the verdict gives p-values of a paired test (was: two_sigma)


samplers = evaluable  # the registered strategies `evaluate` offers, read when called


def choices() -> tuple[str, ...]:
    """Everything ``--strategies`` accepts: the baselines, then the samplers."""
    return ALWAYS + samplers()


def __getattr__(name: str) -> tuple[str, ...]:
    """``SAMPLERS`` and ``STRATEGIES``, read from the registry when asked for."""
    if name == "SAMPLERS":
        return samplers()
    if name == "STRATEGIES":
        return choices()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        names: list[str] = list(run_by_default())
    elif isinstance(requested, str):
        names = [s.strip() for s in requested.split(",") if s.strip()]
    else:
        names = list(requested)
    for s in names:
        if s not in choices():
            raise UsageError(
                f"unknown strategy {s!r} in --strategies",
                hint=f"{did_you_mean(s, choices())}choose from {', '.join(choices())}",
            )
    offered = samplers()
    return list(ALWAYS) + [s for s in offered if s in names]


def planned_fits(strategies: Sequence[str] | str | None, folds: int, repeats: int) -> int:
    """How many fits a run makes (``Step.total``): ``none`` and ``class-weight`` (whose fit
    ``none+threshold`` shares) and each sampler, on every fold of every repeat."""
    offered = samplers()
    chosen = [s for s in parse_strategies(strategies) if s in offered]
    return _fits(folds, repeats, len(chosen))


def _fits(folds: int, repeats: int, samplers: int) -> int:
    return max(repeats, 0) * max(folds, 0) * (2 + samplers)


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
    offered = samplers()
    synthesisers = [s for s in strategies if s in offered and registry.get(s).needs == "grown"]
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
        # what a guess blind to the features scores, per (strategy, repeat, fold)
        self.chance: dict[tuple[str, int, int], dict[str, float]] = {}
        self.total = _fits(protocol.folds, protocol.repeats, len(samplers))
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
        blind = chance_scores(y_true, self.positive, self.k, pred)
        self.chance[(name, fold.repeat, fold.index)] = blind
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
    chance: dict[str, dict[FoldKey, float]] = {s: {} for s in chosen}
    for (s, r, f), scores in cv.chance.items():
        chance[s][(r, f)] = scores[metric]
    result.verdict = decide(table, metric, brier, test_train_ratio=ratio, chance=chance)
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
    offered = samplers()
    chosen_samplers = [s for s in chosen if s in offered]
    cv = _CrossValidation(
        data_, protocol, chosen_samplers, resampler or own_resampler(k_neighbors), progress, steps
    )
    cv.run()
    return _result(label, data_, protocol, chosen, cv, warnings, command)

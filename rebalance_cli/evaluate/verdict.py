"""The verdict of ``evaluate``: a pure function of the per-fold scores.

Each strategy is compared with ``none`` fold by fold (paired), by a one-sided corrected
resampled t-test (Nadeau and Bengio), the p-values Holm-adjusted over the strategies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    chance: float | None = None  # the mean score of a guess blind to the features
    chance_p: float | None = None  # one-sided p that the best strategy beats it

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
            "chance": None
            if self.chance is None
            else {
                "score": round(self.chance, 6),
                "p_value_best_above": None if self.chance_p is None else round(self.chance_p, 6),
            },
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


def _paired(
    fold_scores: Mapping[str, Mapping[FoldKey, float] | Sequence[float]],
) -> tuple[list[FoldKey], dict[str, dict[FoldKey, float]]]:
    """The (repeat, fold) keys and every strategy's scores by key, once they are known to
    be paired: every strategy scored on the same splits as ``none``."""
    if "none" not in fold_scores:
        raise ValueError("the score table needs a 'none' row")
    table = {s: _keyed(v) for s, v in fold_scores.items()}
    keys = sorted(table["none"])
    for s, scores in table.items():
        if sorted(scores) != keys:
            raise ValueError(f"{s!r} was not scored on the same (repeat, fold) splits as 'none'")
    if len(table) < 2:
        raise ValueError("the score table needs at least one strategy besides 'none'")
    return keys, table


def _recommend(
    winners: list[str], gains: dict[str, float], diffs: dict[str, np.ndarray], ratio: float
) -> str:
    """The best of the significant strategies; the untouched model with a moved threshold
    (free: no resampling) instead, unless the best is significantly better than it."""
    best = max(winners, key=lambda s: gains[s])
    free = "none+threshold"
    if best != free and free in winners:
        _, p = corrected_t_test(diffs[best] - diffs[free], ratio)
        if p >= ALPHA:
            return free
    return best


def _named(
    recommended: str, winners: list[str], gains: dict[str, float], better: dict[str, float],
    name: str, base_mean: float, sign: float, test: str,
) -> str:  # fmt: skip
    """The verdict's text when a strategy is named."""
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
            " The moved threshold is not significantly worse than the best and needs no resampling."
        )
    return text


def _unnamed(
    best: str, gains: dict[str, float], better: dict[str, float], name: str, test: str
) -> str:
    """The verdict's text when no strategy beats none beyond noise."""
    if gains[best] > 0:
        return (
            f"No strategy beats none on {name} beyond noise: the best, {best}, is "
            f"{_signed(gains[best])} per fold, not significant ({_p(better[best])}, needs below "
            f"{ALPHA}; "
            f"{test}). Rebalancing does not help here: keep the data as it is."
        )
    return (
        f"No strategy beats none on {name} beyond noise: every strategy scores the same "
        f"or worse (best: {best}, {_signed(gains[best])}). Keep the data as it is."
    )


def _blind(best: str, gain: float, name: str, score: float, floor: float, p: float) -> str:
    """The verdict's text when the best strategy beats none but not a blind predictor."""
    return (
        f"No strategy is named: the best on {name}, {best} ({_signed(gain)} per fold over "
        f"none), scores {score:.3f}, no better than a guess that ignores the features "
        f"and answers the minority as often ({floor:.3f}; {_p(p)}, needs below {ALPHA}). "
        "Its gain over none comes from answering the minority more often, not from the "
        "features; keep the data as it is, or judge by a ranking metric (average_precision, "
        "roc_auc)."
    )


def _above_chance(
    scores: np.ndarray, floor: np.ndarray, sign: float, ratio: float
) -> float:  # fmt: skip
    """One-sided p that ``scores`` beat the blind predictor's ``floor``, fold by fold."""
    return corrected_t_test(sign * (scores - floor), ratio)[1]


def decide(
    fold_scores: Mapping[str, Mapping[FoldKey, float] | Sequence[float]],
    metric: str,
    brier: Mapping[str, float] | None = None,
    test_train_ratio: float | None = None,
    chance: Mapping[str, Mapping[FoldKey, float]] | None = None,
) -> Verdict:
    """Name a strategy only when it is significantly better than ``none``, fold by fold.

    ``fold_scores`` maps each strategy (``none`` included) to its score on ``metric``
    in each (repeat, fold); every strategy must have run on the same splits, so the
    differences d_i = score(strategy, i) - score(none, i) are paired. Each strategy is
    tested with the one-sided corrected resampled t-test (:func:`corrected_t_test`,
    ``test_train_ratio`` n_test/n_train, by default 1/(folds - 1)), the p-values
    Holm-adjusted over the strategies compared, at level :data:`ALPHA`. With a
    single fold score per strategy there is no test, so nothing is named. ``brier``
    (mean Brier score per strategy) gives the calibration sentence. ``chance``, per
    strategy and (repeat, fold), is what a guess blind to the features scores
    (:func:`~rebalance_cli.evaluate.metrics.chance_scores`): a strategy is named only if it
    also beats that, by the same test (on noise, the threshold metrics reward answering the
    minority more often, which beats ``none`` but not a guess at the same rate).
    """
    keys, table = _paired(fold_scores)
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
    floor, chance_p = None, None
    recommended: str | None = None
    if winners:
        recommended = _recommend(winners, gains, diffs, test_train_ratio)
        text = _named(recommended, winners, gains, better, name, base_mean, sign, test)
        if chance is not None:
            floor = np.array([chance[recommended][k] for k in keys])
            scores = np.array([table[recommended][k] for k in keys])
            chance_p = _above_chance(scores, floor, sign, test_train_ratio)
            if chance_p >= ALPHA:
                gain, score = gains[recommended], float(scores.mean())
                text = _blind(recommended, gain, name, score, float(floor.mean()), chance_p)
                recommended = None
    else:
        text = _unnamed(best, gains, better, name, test)
    if losers:
        text += f" Significantly worse than none (p < {ALPHA}): {', '.join(losers)}."
    mean_floor = None if floor is None else float(floor.mean())
    return Verdict(
        metric, recommended, text, _calibration(brier, recommended), gains, better, n,
        mean_floor, chance_p,
    )  # fmt: skip


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

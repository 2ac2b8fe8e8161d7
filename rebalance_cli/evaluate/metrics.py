"""The classifiers, this project's samplers as a fold's resampler, and the metrics of a
fold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from ..api import resample_frame
from ..errors import UsageError
from .choices import (
    CLASSIFIERS,
    METRICS,
)

# (strategy, X, y codes, seed) -> (X, y): the hook that lets a benchmark swap in other samplers.
Resampler = Callable[[str, np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]

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


def chance_scores(
    y: np.ndarray, positive: int | None, k: int, pred: np.ndarray
) -> dict[str, float]:  # fmt: skip
    """What a predictor that never looks at the features scores on the test labels ``y``,
    in expectation: the floor a recommended strategy must clear.

    Binary (``positive``, the minority, of share p): a guess that answers the minority as
    often as ``pred`` does (a share q of the rows): precision p, recall q, F1 2pq/(p + q),
    G-mean sqrt(q(1 - q)), balanced accuracy 1/2, MCC 0; the constant probability p for
    the ranking metrics (ROC-AUC 1/2, average precision p) and Brier p(1 - p).
    Multi-class, macro: a guess at the shares of ``pred`` has recall 1/k whatever they are;
    precision, balanced accuracy and G-mean 1/k; F1 the better of a uniform guess and one
    class always; average precision 1/k; Brier 1 - the sum of the squared shares.
    """
    shares = np.bincount(y, minlength=k).astype(np.float64) / max(int(y.size), 1)
    out: dict[str, float] = {"roc_auc": 0.5, "mcc": 0.0}
    out["balanced_accuracy"] = out["g_mean"] = 1.0 / k
    if positive is not None:
        p = float(shares[positive])
        q = float(np.mean(pred == positive)) if pred.size else 0.0
        f1 = 2 * p * q / (p + q) if p + q > 0 else 0.0
        out.update(average_precision=p, precision=p, recall=q, f1=f1)
        out["g_mean"] = float(np.sqrt(q * (1 - q)))
        out["brier"] = p * (1 - p)
    else:
        uniform = float(np.mean(2 * shares / k / np.maximum(shares + 1 / k, 1e-300)))
        one_class = float(np.max(2 * shares / (1 + shares))) / k
        out.update(average_precision=1.0 / k, precision=1.0 / k, recall=1.0 / k)
        out["f1"] = max(uniform, one_class)
        out["brier"] = float(1 - np.sum(shares**2))
    return {name: float(out[name]) for name in METRICS}

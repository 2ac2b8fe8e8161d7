"""What ``rebalance evaluate`` offers: classifiers, metrics, strategies and defaults.

Declarations only (no numpy, polars or scikit-learn), so ``rebalance evaluate
--help`` can list them; :mod:`.core` does the work.
"""

from __future__ import annotations

from .. import strategies as registry

DEFAULT_MAX_ROWS = 200_000
DEFAULT_METRIC = "average_precision"
ALWAYS = ("none", "none+threshold", "class-weight")
CLASSIFIERS = ("logreg", "hgb", "rf")
METRICS = (
    "roc_auc",
    "average_precision",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "g_mean",
    "mcc",
    "brier",
)


def evaluable() -> tuple[str, ...]:
    """The registered strategies `evaluate --strategies` offers (their ``evaluable``)."""
    return tuple(s.name for s in registry.all_strategies() if s.evaluable)


def run_by_default() -> tuple[str, ...]:
    """Those `evaluate` runs without ``--strategies`` (``evaluated_by_default``: not the
    cleaners, which run when asked)."""
    return tuple(
        s.name for s in registry.all_strategies() if s.evaluable and s.evaluated_by_default
    )

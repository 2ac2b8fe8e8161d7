"""``rebalance evaluate``: does rebalancing help a model on this data? (cross-validated)"""

from .core import (
    ALWAYS,
    CLASSIFIERS,
    DEFAULT_MAX_ROWS,
    DEFAULT_METRIC,
    METRICS,
    SAMPLERS,
    STRATEGIES,
    EvaluationResult,
    Step,
    decide,
    evaluate,
    fold_metrics,
    parse_strategies,
    stratified_sample,
)

__all__ = [
    "ALWAYS",
    "CLASSIFIERS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_METRIC",
    "METRICS",
    "SAMPLERS",
    "STRATEGIES",
    "EvaluationResult",
    "Step",
    "decide",
    "evaluate",
    "fold_metrics",
    "parse_strategies",
    "stratified_sample",
]

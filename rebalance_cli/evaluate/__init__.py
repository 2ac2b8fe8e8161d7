"""``rebalance evaluate``: does rebalancing help a model on this data? (cross-validated)

The choices (classifiers, metrics, defaults) are importable alone from
:mod:`.choices`; the rest comes from :mod:`.core`, :mod:`.data`, :mod:`.metrics` and
:mod:`.verdict` (numpy, polars, scikit-learn)
on first use, so ``rebalance evaluate --help`` imports none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .choices import ALWAYS, CLASSIFIERS, DEFAULT_MAX_ROWS, DEFAULT_METRIC, METRICS

if TYPE_CHECKING:
    from .core import (
        SAMPLERS,
        STRATEGIES,
        EvaluationResult,
        Step,
        evaluate,
        parse_strategies,
        planned_fits,
    )
    from .data import stratified_sample
    from .metrics import fold_metrics
    from .verdict import decide

# where each name lives, imported on first use
_LAZY = {
    "SAMPLERS": ".core",
    "STRATEGIES": ".core",
    "EvaluationResult": ".core",
    "Step": ".core",
    "evaluate": ".core",
    "parse_strategies": ".core",
    "planned_fits": ".core",
    "stratified_sample": ".data",
    "fold_metrics": ".metrics",
    "decide": ".verdict",
}
_READ_EACH_TIME = {"SAMPLERS", "STRATEGIES"}  # from the registry, as it is now


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        if name not in _READ_EACH_TIME:
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "planned_fits",
    "stratified_sample",
]

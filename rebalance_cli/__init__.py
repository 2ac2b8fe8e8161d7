"""rebalance: fix class imbalance in tabular files, streaming and deterministic.

The command line is a thin layer over this API::

    from rebalance_cli import inspect, rebalance, make_plan

    dist = inspect("train.csv", label="y")
    report = rebalance("train.csv", "balanced.parquet", label="y",
                       strategy="undersample", seed=7)
"""

from typing import Any

from .api import Distribution, inspect, rebalance, resample_frame
from .errors import (
    CheckFailed,
    DataError,
    InputOutputError,
    Interrupted,
    RebalanceError,
    RefusedError,
    UsageError,
)
from .plan import Plan, TargetSpec, make_plan, parse_target
from .report import Report


def __getattr__(name: str) -> Any:
    # importlib.metadata costs ~0.1 s at start-up: look the version up only when asked
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("rebalance-cli")
        except metadata.PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CheckFailed",
    "DataError",
    "Distribution",
    "InputOutputError",
    "Interrupted",
    "Plan",
    "RebalanceError",
    "RefusedError",
    "Report",
    "TargetSpec",
    "UsageError",
    "__version__",
    "inspect",
    "make_plan",
    "parse_target",
    "rebalance",
    "resample_frame",
]

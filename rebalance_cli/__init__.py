"""rebalance: fix class imbalance in tabular files, streaming and deterministic.

The command line is a thin layer over this API::

    from rebalance_cli import inspect, rebalance, make_plan

    dist = inspect("train.csv", label="y")
    report = rebalance("train.csv", "balanced.parquet", label="y",
                       strategy="undersample", seed=7)

The names are imported on first use (module ``__getattr__``), so that importing
the package, as ``rebalance --help`` does, costs no polars, numpy or pyarrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    CheckFailed,
    DataError,
    InputOutputError,
    Interrupted,
    RebalanceError,
    RefusedError,
    SeedDrawnWarning,
    UsageError,
)

if TYPE_CHECKING:
    from .api import Distribution, inspect, rebalance, resample_frame
    from .plan import Plan, TargetSpec, make_plan, parse_target
    from .report import Report

    __version__: str

# public name -> the module that defines it
_LAZY = {
    "Distribution": ".api",
    "inspect": ".api",
    "rebalance": ".api",
    "resample_frame": ".api",
    "Plan": ".plan",
    "TargetSpec": ".plan",
    "make_plan": ".plan",
    "parse_target": ".plan",
    "Report": ".report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(import_module(module, __name__), name)
        globals()[name] = value  # looked up once
        return value
    if name == "__version__":
        from ._version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "__version__"})


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
    "SeedDrawnWarning",
    "TargetSpec",
    "UsageError",
    "__version__",
    "inspect",
    "make_plan",
    "parse_target",
    "rebalance",
    "resample_frame",
]

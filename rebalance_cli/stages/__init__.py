"""Stages: the cross-cutting features, composed around any strategy in one fixed order
(the order below, which is the order of pass 2's program: engines/program.py).

    by         the cell layout: classes, or (group, class) pairs, each group planned alone
    split      tee the test rows of every cell to the test split (before the strategy)
    strategy   the registered strategy selects, duplicates, weighs or synthesises
    shrinkage  jitter the duplicates the strategy made (a transform of its output)
    bags       K selectors into K sinks instead of one
    shuffle    the whole output in a seeded random order (bounded memory)

Which stages go together, and with which strategies, is the table below; the
request checks read it (``check``), in this order, so the first error wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import strategies as registry
from ..cells import GROUP_POLICIES
from ..errors import UsageError
from ..strategies import Strategy
from .shrinkage import check_shrinkage


@dataclass(frozen=True)
class Stages:
    """The stages a request asks for (None / False: not asked)."""

    by: tuple[str, ...] | None = None
    group_policy: str = "keep"
    test_size: float | str | None = None
    test_output: str | None = None
    shrinkage: float | None = None
    bags: int | None = None
    shuffle: bool = False

    def active(self) -> set[str]:
        on = {"strategy"}
        if self.by:
            on.add("by")
        if self.test_size is not None:
            on.add("split")
        if self.shrinkage is not None:
            on.add("shrinkage")
        if self.bags is not None:
            on.add("bags")
        if self.shuffle:
            on.add("shuffle")
        return on


# (stage, stage): why they cannot go together, and what to do instead
EXCLUSIVE: tuple[tuple[str, str, str, str | None], ...] = (
    ("bags", "shuffle", "--bags and --shuffle do not go together", None),
    (
        "bags",
        "split",
        "--bags and --test-size do not go together",
        "split first with --test-size, then make bags from the train file",
    ),
)


def _fits_bags(strategy: Strategy, options: Mapping[str, Any]) -> bool:
    return strategy.kind == "select" and strategy.direction == "under"


def _fits_shrinkage(strategy: Strategy, options: Mapping[str, Any]) -> bool:
    return strategy.grows_by_duplicates(options)


def _duplicators() -> str:
    """The registered strategies that duplicate rows, as --shrinkage's error names them:
    those that do (``grows_rows``), then the composites that can grow with one of them."""
    growers = [s.name for s in registry.all_strategies() if s.grows_rows]
    composites = [
        f"{s.name} growing with {part}"
        for s in registry.all_strategies()
        if s.kind == "composite"
        for part in s.parts
        if part in growers
    ]
    return " or ".join(growers) + (f" (or {', '.join(composites)})" if composites else "")


def _bag_makers() -> str:
    """The registered strategies --bags fits."""
    return " or ".join(s.name for s in registry.all_strategies() if _fits_bags(s, {}))


def check(
    stages: Stages, strategy: Strategy, options: Mapping[str, Any], output: str | None
) -> None:
    """The stages' own values, then what fits the strategy and each other."""
    if stages.group_policy not in GROUP_POLICIES:
        raise UsageError(
            f"--group-policy {stages.group_policy!r} is not a policy",
            hint=f"use {', '.join(GROUP_POLICIES)}",
        )
    if stages.shrinkage is not None:
        if not _fits_shrinkage(strategy, options):
            raise UsageError(
                f"--shrinkage jitters duplicated rows: it needs --strategy {_duplicators()}"
            )
        check_shrinkage(stages.shrinkage)
    if (stages.test_size is None) != (stages.test_output is None):
        raise UsageError(
            "--test-size and --test-output go together",
            hint="e.g. --test-size 0.2 --test-output test.parquet",
        )
    active = stages.active()
    if stages.bags is not None:
        if stages.bags < 1:
            raise UsageError(f"--bags must be at least 1 (got {stages.bags})")
        if not _fits_bags(strategy, options):
            raise UsageError(
                f"--bags makes undersampled bags; --strategy {strategy.name} does not fit",
                hint=f"use --strategy {_bag_makers()}",
            )
    for a, b, message, hint in EXCLUSIVE:
        if a in active and b in active:
            raise UsageError(message, hint=hint)
    if stages.bags is not None and output == "-":
        raise UsageError("--bags writes several files; -o - (stdout) cannot hold them")

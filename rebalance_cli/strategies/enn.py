"""Edited nearest neighbours: remove rows of the cleaned classes that their
neighbours disagree with (imbalanced-learn's ``EditedNearestNeighbours``).

A row of a cleaned class is removed when, among its ``--enn-neighbors``
nearest rows of any class, ``--enn-keep all``: not every one is of its class;
``--enn-keep mode``: its class is not the most frequent one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from .base import Option
from .cleaning import FEATURE_OPTIONS, CleaningStrategy, Kernel

KEEP_RULES: tuple[str, ...] = ("all", "mode")  # --enn-keep: samplers.clean.edited's rules


def _check_neighbours(value: int) -> None:
    if value < 1:
        raise UsageError(f"--enn-neighbors must be at least 1 (got {value})")


def _check_keep(value: str) -> None:
    if value not in KEEP_RULES:
        raise UsageError(f"--enn-keep {value!r} is not a rule", hint="use all or mode")


OPTIONS = (
    Option(
        "enn_neighbors",
        "--enn-neighbors",
        "enn: neighbours that judge each row.",
        type=int,
        default=3,
        owner="enn",
        check=_check_neighbours,
    ),
    Option(
        "enn_keep",
        "--enn-keep",
        "enn: keep a row when all its neighbours share its class, or their mode does.",
        default="all",
        owner="enn",
        check=_check_keep,
        choices=KEEP_RULES,
    ),
)


class EditedNearestNeighbours(CleaningStrategy):
    name = "enn"
    summary = "remove rows of the big classes that their neighbours disagree with (cleaning)"
    options = (*OPTIONS, *FEATURE_OPTIONS)

    def kernel(self, options: Mapping[str, Any]) -> Kernel:
        from ..samplers.clean import edited

        k, rule = options.get("enn_neighbors") or 3, options.get("enn_keep") or "all"
        return functools.partial(edited, k=k, rule=rule)

    def setup(self, ctx: Any) -> Any:
        setup = super().setup(ctx)
        o = ctx.options
        setup.parameters.update(
            enn_neighbors=o.get("enn_neighbors") or 3, enn_keep=o.get("enn_keep") or "all"
        )
        return setup

"""Hybrid: every class to the target, cutting the big ones and growing the small ones.

A composite of undersample and a grower (oversample, or smote with
``--grow-with smote``): each cell draws exactly as the pure strategy would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import UsageError, did_you_mean
from .base import Direction, Kind, Needs, Option, Outcome, Setup, SetupContext, Strategy
from .smote import OPTIONS as SMOTE_OPTIONS
from .smote import smote_report, smote_setup

GROW_WITH: tuple[str, ...] = ("oversample", "smote")


def _check_grow_with(value: str) -> None:
    if value not in GROW_WITH:
        raise UsageError(
            f"--grow-with {value!r} is not a way to grow",
            hint=f"{did_you_mean(value, GROW_WITH)}use oversample or smote",
        )


GROW_WITH_OPTION = Option(
    "grow_with",
    "--grow-with",
    "hybrid: grow small classes by oversample or smote.",
    owner="hybrid",
    check=_check_grow_with,
    metavar="NAME",
)


def _grower(options: Mapping[str, Any]) -> str:
    return options.get("grow_with") or "oversample"


class Hybrid(Strategy):
    name = "hybrid"
    summary = "cut big classes and grow small ones to one size (--grow-with oversample|smote)"
    kind: ClassVar[Kind] = "composite"
    direction: ClassVar[Direction] = "both"
    options = (GROW_WITH_OPTION, *SMOTE_OPTIONS)
    target_kinds = frozenset({"size", "counts"})
    parts = ("undersample", "oversample", "smote")
    needs: ClassVar[Needs] = "grown"
    evaluable = False

    def uses(self, options: Mapping[str, Any]) -> set[str]:
        if _grower(options) == "smote":
            return {o.name for o in self.options}
        return {"grow_with"}

    def grows_by_duplicates(self, options: Mapping[str, Any]) -> bool:
        return _grower(options) == "oversample"

    def setup(self, ctx: SetupContext) -> Setup:
        grow_with = _grower(ctx.options)
        setup = smote_setup(ctx) if grow_with == "smote" else Setup()
        setup.parameters = {"grow_with": grow_with, **setup.parameters}
        return setup

    def streams(self, before: Sequence[int], after: Sequence[int]) -> list[str]:
        """Cells draw like the pure strategy they use: cut ones as undersample."""
        return [
            "undersample" if a < b else "oversample" for b, a in zip(before, after, strict=True)
        ]

    def report(self, setup: Setup, outcome: Outcome | None) -> dict[str, Any]:
        if setup.synthesiser is None:
            return dict(setup.parameters)
        return smote_report(setup, outcome)

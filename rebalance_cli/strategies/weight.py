"""Class weights: every row kept once, plus a weight column (n / (K * n_c) by default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from ..errors import UsageError
from .base import Direction, Kind, Option, Setup, SetupContext, Strategy

if TYPE_CHECKING:
    import numpy as np

DEFAULT_WEIGHT_COLUMN = "sample_weight"


def _check_column(value: str) -> None:
    if not value.strip():
        raise UsageError("--weight-column must not be empty")


WEIGHT_COLUMN = Option(
    "weight_column",
    "--weight-column",
    f"weight: the new column (default {DEFAULT_WEIGHT_COLUMN}).",
    owner="--strategy weight",
    check=_check_column,
    metavar="NAME",
)


class Weight(Strategy):
    name = "weight"
    summary = "keep every row and add a weight column (balanced: n / (classes * n_c))"
    kind: ClassVar[Kind] = "weight"
    direction: ClassVar[Direction] = "over"  # targets read like oversampling's
    options = (WEIGHT_COLUMN,)
    weighs = True
    random = False
    evaluable = False  # evaluate always runs class-weight on its own

    def setup(self, ctx: SetupContext) -> Setup:
        column = ctx.options.get("weight_column") or DEFAULT_WEIGHT_COLUMN
        if column in ctx.schema:
            raise UsageError(
                f"the weight column {column!r} is already in the input",
                hint="name another with --weight-column",
            )
        spec = ctx.target
        balanced = spec.kind == "keyword" and spec.keyword in ("auto", "balanced")
        parameters = {
            "weight_column": column,
            "weighting": "balanced: n / (classes * n_c)" if balanced else "class total / n_c",
        }
        return Setup(parameters=parameters, weight_column=column)

    def weights(self, plan_weights: Sequence[float] | None) -> np.ndarray | None:
        import numpy as np

        assert plan_weights is not None
        return np.array(plan_weights, dtype=np.float64)

"""What the cleaning strategies (tomek, enn) share: their feature columns, and the
cleaner that runs a kernel of ``samplers/clean.py`` over every group.

A cleaning strategy declares ``kind = "clean"``, ``needs = "all"`` and
``exact_counts = False``: the driver reads every row's features before pass 2,
the cleaner's keep flags decide the counts after, and pass 2 drops the rows by
(cell, position in cell) like any other selection.

The declarations import neither numpy nor the kernels (``--help`` reads them);
the cleaner imports them when it runs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import DataError
from ..phases import wait_for
from .base import (
    CleanCells,
    Cleaner,
    Direction,
    Kind,
    Needs,
    Outcome,
    Setup,
    SetupContext,
    Strategy,
)
from .smote import OPTIONS as SMOTE_OPTIONS

if TYPE_CHECKING:
    import numpy as np

# --features and --exclude choose the columns of the distance, as for SMOTE
FEATURE_OPTIONS = tuple(o for o in SMOTE_OPTIONS if o.name in ("features", "exclude"))
Kernel = Callable[["np.ndarray", "np.ndarray"], "np.ndarray"]


@dataclass
class GroupCleaner(Cleaner):
    """Runs ``drops(x, codes)`` (which rows disagree with their neighbours) on the rows of
    every group, and keeps all but the rows it names of the cleaned cells."""

    columns: list[str]
    drops: Kernel
    lenient: bool
    who: str

    def fit(
        self, x: np.ndarray, codes: np.ndarray, cells: CleanCells, outcome: Outcome
    ) -> np.ndarray:
        import numpy as np

        from ..samplers.clean import exact_method, group_rows

        started = time.perf_counter()
        usable = self._usable(x, outcome)
        keep = np.ones(x.shape[0], dtype=bool)
        for g, rows in group_rows(codes, cells.group, usable):
            c = codes[rows]
            where = cells.shown[int(np.flatnonzero(cells.group == g)[0])].rpartition(" / ")[0]
            detail = f"group {where}" if where else "all rows"
            with outcome.phases.phase("neighbours", rows.size, detail=detail):
                # in a worker thread: a signal does not wait for the search
                search = functools.partial(self.drops, x[rows], c)
                gone = wait_for(search, "rebalance-knn") & cells.cleaned[c]
            keep[rows[gone]] = False
            outcome.knn[where or "all rows"] = exact_method(rows.size, x.shape[1])
        outcome.seconds += time.perf_counter() - started
        return keep

    def _usable(self, x: np.ndarray, outcome: Outcome) -> np.ndarray:
        """Rows with every feature finite; the others are refused, or with --lenient kept
        out of the search (and kept)."""
        import numpy as np

        finite = np.isfinite(x).all(axis=1)
        bad = int(finite.size - finite.sum())
        if bad == 0:
            return finite
        if not self.lenient:
            j = int(np.flatnonzero(~np.isfinite(x).all(axis=0))[0])
            raise DataError(
                f"feature {self.columns[j]!r} has a null, NaN or infinite value; "
                f"{self.who} compares every row's features",
                hint="pass --lenient to leave such rows out of the neighbour search "
                "(they are kept), or --exclude the column",
            )
        outcome.warnings.append(
            f"{bad} rows with a null, NaN or infinite feature took no part in {self.who}'s "
            "neighbour search and were kept (--lenient)"
        )
        return finite


class CleaningStrategy(Strategy):
    """A sampler that removes rows by looking at their neighbourhood (subclass it:
    ``kernel`` and the declaration)."""

    kind: ClassVar[Kind] = "clean"
    direction: ClassVar[Direction] = "under"
    exact_counts = False
    needs: ClassVar[Needs] = "all"
    target_kinds = frozenset({"keyword"})
    random = False  # the neighbours decide, not the seed
    evaluated_by_default = False  # `evaluate --strategies tomek,enn` runs them

    def kernel(self, options: Any) -> Kernel:
        raise NotImplementedError

    def setup(self, ctx: SetupContext) -> Setup:
        from ..columns import resolve_features

        o = ctx.options
        features = resolve_features(
            ctx.schema, ctx.label, o.get("features"), o.get("exclude"), None, who=self.name
        )
        features = [c for c in features if c not in ctx.by]
        if not features:
            raise DataError(
                f"{self.name} needs at least one numeric feature column and the input has "
                "none left",
                hint="check --features/--exclude/--by",
            )
        cleaner = GroupCleaner(features, self.kernel(o), ctx.lenient, self.name)
        return Setup(parameters={"features": features}, cleaner=cleaner)

    def report(self, setup: Setup, outcome: Outcome | None) -> dict[str, Any]:
        out = dict(setup.parameters)
        if outcome is not None:
            out["knn"] = dict(outcome.knn)
        return out

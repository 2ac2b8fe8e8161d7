"""SMOTE and SMOTE-NC: synthetic rows between a row and one of its k nearest neighbours.

The rows of the classes it grows are pooled as pass 2 streams by; once the
input has ended, each grown cell finds its neighbours and its synthetic rows
follow the input rows (samplers/smote.py holds the kernel).

The declaration (options, flags, help) imports neither polars nor numpy: the
command line reads it to build ``--help``, so the kernel is imported when a
run sets SMOTE up.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import UsageError
from .base import (
    Direction,
    Kind,
    Needs,
    Option,
    Outcome,
    Setup,
    SetupContext,
    Strategy,
    Synthesiser,
)

if TYPE_CHECKING:
    import polars as pl

    from ..samplers.smote import SmoteClass, SmoteSettings

SCALES: tuple[str, ...] = ("none", "standard")


def check_k_neighbors(k_neighbors: int) -> None:
    """SMOTE's k must be at least 1."""
    if k_neighbors < 1:
        raise UsageError(f"--k-neighbors must be at least 1 (got {k_neighbors})")


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise UsageError(f"--scale {scale!r} is not a scaling", hint="use none or standard")


SHRINKAGE_TOO = ("shrinkage",)  # --features/--exclude/--id-columns also pick its columns
OPTIONS: tuple[Option, ...] = (
    Option(
        "k_neighbors",
        "--k-neighbors",
        "SMOTE: neighbours per row.",
        type=int,
        default=5,
        short="-k",
        owner="smote",
        check=check_k_neighbors,
        metavar="K",
    ),
    Option(
        "features",
        "--features",
        "SMOTE/--shrinkage: comma-separated numeric features.",
        owner="smote",
        listed=True,
        also=SHRINKAGE_TOO,
    ),
    Option(
        "exclude",
        "--exclude",
        "SMOTE: columns to leave out of the features.",
        owner="smote",
        listed=True,
        also=SHRINKAGE_TOO,
    ),
    Option(
        "id_columns",
        "--id-columns",
        "SMOTE: identifier columns, null in synthetic rows.",
        owner="smote",
        listed=True,
        also=SHRINKAGE_TOO,
    ),
    Option(
        "categorical",
        "--categorical",
        "SMOTE: categorical features (SMOTE-NC distance); default: the string, "
        "categorical and boolean columns.",
        owner="smote",
        listed=True,
    ),
    Option(
        "scale",
        "--scale",
        "SMOTE: numeric distance on raw values (none) or standard.",
        default="none",
        owner="smote",
        check=_check_scale,
        metavar="NAME",
    ),
)


@dataclass
class SmoteSynthesiser(Synthesiser):
    """Neighbours and draws of each grown cell, then its synthetic rows."""

    label: str
    settings: SmoteSettings
    timing: ClassVar[str] = "smote_prepare"

    def reseeded(self, seed: int) -> SmoteSynthesiser:
        """The same synthesiser on another seed (Spark's within-partition fallback)."""
        return SmoteSynthesiser(self.label, dataclasses.replace(self.settings, seed=seed))

    def prepare(self, pool: pl.DataFrame, cell: Any, new_rows: int, outcome: Outcome) -> SmoteClass:
        from ..samplers.smote import prepare_smote

        started = time.perf_counter()
        detail = f"class {cell.shown!r}"
        with outcome.phases.phase("neighbours", pool.height, detail=detail) as phase:
            sc = prepare_smote(
                pool,
                cell.name,
                cell.value,
                new_rows,
                self.label,
                self.settings,
                left_out_columns=outcome.left_out_columns,
                shown=cell.shown,
                tick=phase.tick,
            )
        if sc.left_out:
            outcome.warnings.append(left_out_warning(sc.left_out, cell.shown))
        outcome.knn[cell.shown] = sc.knn_method
        outcome.categorical.update(sc.categorical)
        outcome.seconds += time.perf_counter() - started
        return sc

    def batches(self, prepared: Any, schema: pl.Schema, size: int) -> Iterator[pl.DataFrame]:
        return prepared.batches(schema, size)


def left_out_warning(rows: int, shown: str) -> str:
    """The warning for a class's rows that --lenient left out of the SMOTE seeds (both
    engines)."""
    one = rows == 1
    return (
        f"{rows} row{'' if one else 's'} of class {shown!r} with a null, NaN or infinite "
        f"feature {'was' if one else 'were'} left out of the SMOTE seeds (--lenient)"
    )


def smote_setup(ctx: SetupContext) -> Setup:
    """SMOTE's columns for this input, its synthesiser, its k + 1 rule and its parameters."""
    from ..columns import resolve_smote_columns
    from ..samplers.smote import SmoteSettings, check_class_size

    o = ctx.options
    features, categorical, named = resolve_smote_columns(
        ctx.schema,
        ctx.label,
        o.get("features"),
        o.get("exclude"),
        o.get("id_columns"),
        o.get("categorical"),
        ctx.by,
    )
    k = o.get("k_neighbors", 5)
    scale = o.get("scale") or "none"
    ids = tuple(o.get("id_columns") or ())
    settings = SmoteSettings(
        features=features,
        id_columns=ids,
        k=k,
        seed=ctx.seed,
        drop_invalid=ctx.lenient,
        categorical=categorical,
        named_categorical=named,
        scale=scale,
    )
    synth = SmoteSynthesiser(ctx.label, settings)

    def cell_check(cls: str, n: int, t: int) -> None:
        if t > n:
            check_class_size(cls, n, k)

    parameters = {
        "k_neighbors": k,
        "features": features,
        "categorical": categorical,
        "scale": scale,
        "id_columns": list(ids),
        "distance": "euclidean" if not categorical else "euclidean, SMOTE-NC one-hot",
    }
    return Setup(parameters=parameters, synthesiser=synth, cell_check=cell_check)


def smote_report(setup: Setup, outcome: Outcome | None) -> dict[str, Any]:
    """SMOTE's parameters, with what the neighbour search found once it ran."""
    out = dict(setup.parameters)
    if outcome is not None:
        out["knn"] = outcome.knn
        out["categorical"] = [c for c in out["categorical"] if c in outcome.categorical]
        if outcome.left_out_columns:
            out["categorical_left_out"] = outcome.left_out_columns
    return out


class Smote(Strategy):
    name = "smote"
    summary = "synthesise rows of the small classes between near neighbours (SMOTE, SMOTE-NC)"
    kind: ClassVar[Kind] = "synthesise"
    direction: ClassVar[Direction] = "over"
    options = OPTIONS
    needs: ClassVar[Needs] = "grown"

    def setup(self, ctx: SetupContext) -> Setup:
        return smote_setup(ctx)

    def report(self, setup: Setup, outcome: Outcome | None) -> dict[str, Any]:
        return smote_report(setup, outcome)

    def uses(self, options: Mapping[str, Any]) -> set[str]:
        return {o.name for o in OPTIONS}

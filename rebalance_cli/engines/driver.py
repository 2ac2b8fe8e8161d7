"""The run short of writing, for every engine: data checks, pass 1, the plan, the program.

An engine supplies the schema and the two queries that read data before pass
2 (cell counts; per-cell standard deviations for ``--shrinkage``); the rest —
which columns a strategy takes, the stages, the plan of every cell, the
program and the report — is decided here, once, the same for every engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import polars as pl

from ..cells import CellPlan, Layout, per_class, plan_cells
from ..classes import ClassIndex
from ..columns import check_label, named_columns, resolve_features
from ..errors import DataError, null_labels
from ..phases import Phases
from ..report import Report
from ..request import Request
from ..stages.bags import bag_seeds
from ..stages.shrinkage import shrink_setup
from ..stages.split import Split, make_split
from ..strategies import CleanCells, Cleaner, Outcome, Setup, SetupContext
from .program import Program, shown_cell


class Counter(Protocol):
    """What the driver asks of an engine before pass 2."""

    def count(self, label: str, by: list[str], max_classes: int | None) -> Layout: ...

    def cell_std(self, layout: Layout, columns: list[str]) -> np.ndarray: ...

    def feature_batches(
        self, layout: Layout, columns: list[str]
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """The labelled rows in input order (``columns`` only), each batch with its cells."""
        ...


def label_warnings(index: ClassIndex) -> list[str]:
    """Warnings about class names that are probably typos of each other."""
    out = []
    by_fold: dict[str, list[str]] = {}
    for t in index.tokens:
        by_fold.setdefault(t.strip().casefold(), []).append(t)
    for names in by_fold.values():
        if len(names) > 1:
            shown = ", ".join(repr(n) for n in names)
            out.append(f"classes {shown} differ only by case or surrounding spaces")
    return out


@dataclass
class Prepared:
    """The request checked against the data: the plan, and the program of pass 2."""

    program: Program
    cellplan: CellPlan
    setup: Setup
    parameters: dict[str, Any]
    extra: dict[str, Any]
    out_schema: pl.Schema


def _null_labels(layout: Layout, request: Request, input_format: str | None) -> None:
    if layout.nulls and not request.drop_null_labels:
        raise null_labels(request.label, layout.nulls, csv=input_format in ("csv", "tsv"))


def prepare(
    engine: Counter,
    schema: pl.Schema,
    display: str,
    request: Request,
    timings: dict[str, float],
    warnings: list[str],
    input_format: str | None = None,
    phases: Phases | None = None,
) -> Prepared:
    """Pass 1 and the plan: everything short of writing a row (the phases ``count``
    and ``plan``)."""
    phases = phases or Phases()
    label, strategy, o = request.label, request.strategy, request.options
    check_label(schema, label, display)
    by = named_columns("--by", request.stages.by, schema, label)
    ctx = SetupContext(schema, label, by, o, request.target, request.seed, request.lenient)
    setup = strategy.setup(ctx)
    shrink_cols: list[str] = []
    if request.stages.shrinkage is not None:
        chosen = resolve_features(
            schema,
            label,
            o.get("features"),
            o.get("exclude"),
            o.get("id_columns"),
            who="--shrinkage",
        )
        shrink_cols = [c for c in chosen if c not in by]

    with phases.phase("count"):
        layout = _count(engine, by, display, request, timings, warnings, input_format)
    with phases.phase("plan"):
        return _plan(
            engine, schema, request, setup, by, shrink_cols, layout, timings, warnings, phases
        )


def _plan(
    engine: Counter,
    schema: pl.Schema,
    request: Request,
    setup: Setup,
    by: list[str],
    shrink_cols: list[str],
    layout: Layout,
    timings: dict[str, float],
    warnings: list[str],
    phases: Phases,
) -> Prepared:
    """The plan of every cell and the program of pass 2, from pass 1's layout."""
    strategy = request.strategy
    split = None
    before = layout.counts
    if request.test_share is not None:
        split = make_split(layout.names, layout.counts, request.test_share, request.seed)
        before = tuple(n - t for n, t in zip(layout.counts, split.counts, strict=True))
        if not by:
            _check_train_rows(layout, before, request)

    t0 = time.perf_counter()
    cellplan = plan_cells(
        layout, before, strategy, request.target, request.stages.group_policy, setup.cell_check
    )
    timings["plan"] = time.perf_counter() - t0
    keep, fit = None, None
    if setup.cleaner is not None:
        if strategy.exact_counts:  # only a strategy that says so may change its plan
            raise RuntimeError(
                f"strategy {strategy.name} declares exact_counts but fits a cleaner, "
                "whose counts are only known after fitting"
            )
        keep, fit = _fit(engine, setup.cleaner, layout, cellplan, split, timings, warnings, phases)
        cellplan = cellplan.fitted(layout, [int(m.size - m.sum()) for m in keep])
    warnings.extend(cellplan.warnings)
    program = Program(
        layout=layout,
        before=cellplan.before,
        after=cellplan.after,
        streams=strategy.streams(cellplan.before, cellplan.after),
        seed=request.seed,
        split=split,
        keep=keep,
    )
    if setup.synthesiser is not None:
        program.synthesiser = setup.synthesiser
        pairs = zip(cellplan.before, cellplan.after, strict=True)
        program.grow = [i for i, (b, a) in enumerate(pairs) if a > b]
    if request.stages.shrinkage is not None and shrink_cols:
        std = engine.cell_std(layout, shrink_cols)
        program.shrink = shrink_setup(
            std,
            layout,
            shrink_cols,
            request.stages.shrinkage,
            request.seed,
            sum(layout.counts),
        )
    if request.stages.bags:
        program.bag_seeds = bag_seeds(request.seed, request.stages.bags)
    out_schema = schema
    if setup.weight_column is not None:
        program.weights = strategy.weights(cellplan.weights)
        program.weight_column = setup.weight_column
        out_schema = pl.Schema([*schema.items(), (setup.weight_column, pl.Float64)])
    parameters, extra = _parameters(request, setup, cellplan, by, shrink_cols, split, fit)
    return Prepared(program, cellplan, setup, parameters, extra, out_schema)


def _fit(
    engine: Counter,
    cleaner: Cleaner,
    layout: Layout,
    cellplan: CellPlan,
    split: Split | None,
    timings: dict[str, float],
    warnings: list[str],
    phases: Phases,
) -> tuple[list[np.ndarray], Outcome]:
    """A cleaning strategy before pass 2: every row's features (the train rows, with a
    split), in input order, and the cleaner's keep flag of each, as flags per cell by
    position in cell; and what the fit found, for the report."""
    t0 = time.perf_counter()
    chosen = None if split is None else split.selector(layout.counts)
    parts, part_codes = [], []
    for batch, codes in engine.feature_batches(layout, cleaner.columns):
        if chosen is not None:
            train = chosen.copies(codes) == 0
            batch, codes = batch.filter(pl.Series(train)), codes[train]
        parts.append(batch.select(pl.col(cleaner.columns).cast(pl.Float64)).to_numpy())
        part_codes.append(codes)
    x = np.concatenate(parts) if parts else np.zeros((0, len(cleaner.columns)))
    codes = np.concatenate(part_codes) if part_codes else np.zeros(0, dtype=np.int32)
    groups = {g: j for j, g in enumerate(dict.fromkeys(layout.groups))}
    cells = CleanCells(
        cleaned=np.array(cellplan.cleaned, dtype=bool),
        group=np.array([groups[g] for g in layout.groups], dtype=np.int64),
        shown=tuple(shown_cell(layout, i) for i in range(len(layout))),
    )
    outcome = Outcome(warnings=warnings, phases=phases)
    flags = np.asarray(cleaner.fit(x, codes, cells, outcome), dtype=bool)
    if (~flags & ~cells.cleaned[codes]).any():
        raise RuntimeError("the cleaner removed rows of a cell it does not clean")
    order = np.argsort(codes, kind="stable")  # each cell's rows in input order
    bounds = np.cumsum(np.bincount(codes, minlength=len(layout)))
    keep = np.split(flags[order], bounds[:-1])
    if tuple(m.size for m in keep) != cellplan.before:
        raise RuntimeError("the rows read for the cleaner differ from pass 1's counts")
    timings["clean"] = time.perf_counter() - t0
    return keep, outcome


def _count(
    engine: Counter,
    by: list[str],
    display: str,
    request: Request,
    timings: dict[str, float],
    warnings: list[str],
    input_format: str | None,
) -> Layout:
    """Pass 1, and what its counts refuse or warn about."""
    t0 = time.perf_counter()
    layout = engine.count(request.label, by, request.max_classes)
    timings["count"] = time.perf_counter() - t0
    _null_labels(layout, request, input_format)
    if layout.nulls:
        warnings.append(f"{layout.nulls} rows with a null label were dropped")
    if layout.index is not None:
        warnings.extend(label_warnings(layout.index))
    if len(layout) == 0:
        raise DataError(f"{display} has no rows with a label")
    return layout


def _parameters(
    request: Request,
    setup: Setup,
    cellplan: CellPlan,
    by: list[str],
    shrink_cols: list[str],
    split: Any,
    fit: Outcome | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``parameters`` as the plan fixes them (and a cleaner's fit: ``fit``),
    and its group sections."""
    parameters: dict[str, Any] = {"target": request.target.to_json(), "seed": request.seed}
    parameters.update(request.strategy.report(setup, fit))
    if request.stages.shrinkage is not None:
        parameters.update(shrinkage=request.stages.shrinkage, shrinkage_columns=shrink_cols)
    extra: dict[str, Any] = {}
    if by:
        parameters.update(by=by, group_policy=request.stages.group_policy)
        extra["groups"] = [g.to_dict() for g in cellplan.groups]
    if split is not None:
        parameters["test_size"] = float(split.share)
    return parameters, extra


def _check_train_rows(layout: Layout, before: Sequence[int], request: Request) -> None:
    share = request.test_share
    assert share is not None
    for cls, n, b in zip(layout.classes, layout.counts, before, strict=True):
        if b == 0:
            raise DataError(
                f"class {cls!r} has {n} row{'s' if n != 1 else ''}; --test-size "
                f"{float(share):g} leaves none of them for training",
                hint="use a smaller --test-size",
            )


def check_output_rows(prepared: Prepared, request: Request) -> None:
    from ..errors import UsageError

    rows_out = sum(prepared.program.after) * (request.stages.bags or 1)
    limit = request.max_output_rows
    if limit is not None and rows_out > limit:
        raise UsageError(
            f"the plan writes {rows_out:,} rows, more than --max-output-rows {limit:,}",
            hint="check --target for a typo, or raise --max-output-rows",
        )


def report_plan(prepared: Prepared, request: Request) -> dict[str, Any]:
    """The report's plan: the one plan, or the sums over the groups' plans."""
    program = prepared.program
    if not program.layout.by and prepared.cellplan.plans:
        return prepared.cellplan.plans[0].to_dict()
    before = per_class(program.layout, program.before)
    after = per_class(program.layout, program.after)
    return {
        "strategy": request.strategy.name,
        "target": request.target.to_json(),
        "by": list(program.layout.by),
        "classes": list(before),
        "before": before,
        "after": after,
        "rows_in": sum(before.values()),
        "rows_out": sum(after.values()),
        "groups": len(prepared.cellplan.groups),
        "groups_planned": sum(g.status == "planned" for g in prepared.cellplan.groups),
    }


def row_counts(program: Program, nulls: int, test_rows: int) -> dict[str, int]:
    """The report's row counts: the plan fixes them all before a row is written."""
    pairs = list(zip(program.after, program.before, strict=True))
    grown = sum(max(0, a - b) for a, b in pairs)
    cut = sum(max(0, b - a) for a, b in pairs)
    synthetic = sum(program.after[i] - program.before[i] for i in program.grow)
    out = {
        "read": sum(program.before) + test_rows + nulls,
        "written": sum(program.after),
        "synthetic": synthetic,
        "dropped": cut + nulls,
        "duplicated": grown - synthetic,
        "null_labels_dropped": nulls,
    }
    if test_rows:
        out["test"] = test_rows
    return out


def base_report(
    prepared: Prepared,
    request: Request,
    input_info: dict[str, Any],
    label_dtype: str,
    timings: dict[str, float],
    warnings: list[str],
) -> Report:
    """The report as the plan fixes it; pass 2 fills in the output and what it found."""
    program = prepared.program
    layout = program.layout
    test_rows = sum(program.split.counts) if program.split is not None else 0
    return Report(
        input=input_info,
        label=request.label,
        label_dtype=label_dtype,
        strategy=request.strategy.name,
        parameters=prepared.parameters,
        plan=report_plan(prepared, request),
        counts_before=per_class(layout, layout.counts),
        counts_after=per_class(layout, program.after),
        rows=row_counts(program, layout.nulls, test_rows),
        output=None,
        timings=timings,
        warnings=warnings,
        command=request.command,
        dry_run=request.dry_run,
        extra=dict(prepared.extra),
    )


def finish_report(report: Report, prepared: Prepared, request: Request, outcome: Outcome) -> None:
    """What the synthesiser found while it ran, into the report."""
    synth = prepared.setup.synthesiser
    if synth is None:
        return
    report.timings[synth.timing] = outcome.seconds
    report.parameters.update(request.strategy.report(prepared.setup, outcome))


def stage_sections(
    prepared: Prepared, request: Request, test_fmt: str | None, bag_names: Sequence[str]
) -> dict[str, Any]:
    """The report's ``split`` and ``bags`` sections, as the plan fixes them."""
    program = prepared.program
    layout = program.layout
    out: dict[str, Any] = {}
    if program.split is not None:
        out["split"] = {
            "test_size": float(program.split.share),
            "path": request.stages.test_output,
            "format": test_fmt,
            "counts": per_class(layout, program.split.counts),
            "rows": sum(program.split.counts),
            "train_counts": per_class(layout, program.before),
        }
    if program.bag_seeds:
        names: list[str | None] = list(bag_names) or [None] * len(program.bag_seeds)
        out["bags"] = [
            {"bag": b + 1, "seed": s, **({"path": n} if n is not None else {})}
            for b, (s, n) in enumerate(zip(program.bag_seeds, names, strict=True))
        ]
    return out

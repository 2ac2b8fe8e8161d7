"""Cells: the units a plan applies to.

Without ``--by`` a cell is a class. With ``--by COL[,COL]`` a cell is a
(group, class) pair, and every group gets its own plan from its own counts.
Each cell has its own random stream, named after the class (and the group), so
a row's fate depends only on (seed, group, class, position within the cell).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .classes import COUNT, ClassIndex, has_label, nan_as_null, tokens_of
from .errors import DataError, RebalanceError, UsageError, no_labelled_rows
from .plan import Plan, TargetSpec, check_target, make_plan, strategy_of
from .strategies import Strategy

GROUP_POLICIES: tuple[str, ...] = ("keep", "drop", "error")
CODE = "__rebalance_cell__"


@dataclass
class Layout:
    """Every cell in order, with its counts before and after, and how rows map to cells."""

    label: str
    by: tuple[str, ...]
    classes: tuple[str, ...]  # class name of each cell
    groups: tuple[str | None, ...]  # group name of each cell (None without --by)
    values: list[Any]  # label value of each cell
    counts: tuple[int, ...]  # input rows of each cell
    nulls: int
    codes: Callable[[pl.DataFrame], np.ndarray]
    index: ClassIndex | None = None  # the classes, without --by
    group_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: tuple[str, ...] = ()  # distinct class names in sort order, with --by
    dtype: pl.DataType = field(default_factory=pl.Null)  # the label column's

    def labelled(self) -> pl.Expr:
        """The rows that have a class (not null, not NaN): pass 2's row filter."""
        return has_label(self.label, self.dtype)

    @property
    def names(self) -> tuple[str, ...]:
        """Random-stream names: the class, or the group and the class."""
        return tuple(
            c if g is None else f"{g}\x1f{c}"
            for c, g in zip(self.classes, self.groups, strict=True)
        )

    def __len__(self) -> int:
        return len(self.classes)

    def class_names(self) -> list[str]:
        """Distinct class names in sort order."""
        if self.index is not None:
            return list(self.index.tokens)
        return list(self.order)


def class_layout(index: ClassIndex) -> Layout:
    """One cell per class (no ``--by``)."""
    label = index.label
    return Layout(
        label=label,
        by=(),
        classes=index.tokens,
        groups=(None,) * len(index),
        values=[index.value(i) for i in range(len(index))],
        counts=index.counts,
        nulls=index.nulls,
        codes=lambda batch: index.codes(batch[label]),
        index=index,
        dtype=index.values.dtype,
    )


def group_name(values: Sequence[Any]) -> str:
    """A group's name: its key values as JSON (unambiguous, null included)."""
    return json.dumps([None if v is None else str(v) for v in values], ensure_ascii=False)


def _sortable(s: pl.Series) -> pl.Series:
    if s.dtype == pl.Categorical or isinstance(s.dtype, pl.Enum):
        return s.cast(pl.String)
    return s


def grouped_layout(
    lf: pl.LazyFrame, label: str, by: Sequence[str], max_cells: int | None
) -> Layout:
    """Pass 1 with ``--by``: rows per (group, class), reading those columns only."""
    keys = [*by, label]
    frame = lf.select(keys).group_by(keys).agg(pl.len().alias(COUNT)).collect()
    return grouped_counts_layout(frame, label, by, max_cells)


def check_classes(frame: pl.DataFrame, label: str, max_classes: int | None) -> None:
    """``--max-classes`` against a (label, count) frame (one row per value; NaN is null)."""
    frame = nan_as_null(frame, label)
    distinct = frame.height - frame[label].null_count()
    if max_classes is not None and distinct > max_classes:
        raise DataError(
            f"label column {label!r} has {distinct} distinct values, more than "
            f"--max-classes {max_classes}",
            hint="it looks like an id or a continuous column; check --label, "
            "or raise --max-classes",
        )


def counts_layout(
    frame: pl.DataFrame, label: str, by: Sequence[str], max_classes: int | None
) -> Layout:
    """The layout of counted rows: ``frame`` holds [*by, label, COUNT], one row per key.

    Any engine's pass 1 ends here (the local one with a polars group-by, Spark's
    with a collected ``groupBy``); ``--max-classes`` limits the classes, or the
    (group, class) pairs to 1000 times it with ``--by``.
    """
    if by:
        limit = None if max_classes is None else max_classes * 1000
        return grouped_counts_layout(frame, label, by, limit)
    check_classes(frame, label, max_classes)
    return class_layout(ClassIndex.from_counts(label, frame))


def grouped_counts_layout(
    frame: pl.DataFrame, label: str, by: Sequence[str], max_cells: int | None
) -> Layout:
    """The ``--by`` layout of a [*by, label, COUNT] frame (one row per key; a NaN
    label is a null one)."""
    keys = [*by, label]
    frame = nan_as_null(frame, label)
    dtype = frame.schema[label]
    nulls = int(frame.filter(pl.col(label).is_null())[COUNT].sum() or 0)
    frame = frame.filter(pl.col(label).is_not_null())
    if max_cells is not None and frame.height > max_cells:
        raise DataError(
            f"--by {','.join(by)} and label {label!r} make {frame.height} (group, class) "
            f"pairs, more than the limit {max_cells}",
            hint="group by fewer or coarser columns, or raise --max-classes",
        )
    frame = frame.sort(
        [pl.col(k).cast(pl.String) if _is_cat(frame[k]) else pl.col(k) for k in keys],
        nulls_last=True,
        maintain_order=True,
    )
    classes = tokens_of(frame[label])
    distinct = frame[label].unique()
    order = tokens_of(distinct.sort() if not _is_cat(distinct) else distinct.cast(pl.String).sort())
    groups: list[str] = []
    group_values: dict[str, dict[str, Any]] = {}
    rows = frame.select(by).rows()
    for vals in rows:
        name = group_name(vals)
        groups.append(name)
        group_values.setdefault(name, dict(zip(by, vals, strict=True)))
    table = frame.select(keys).with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(CODE))

    def codes(batch: pl.DataFrame) -> np.ndarray:
        found = batch.select(keys).join(
            table, on=keys, how="left", nulls_equal=True, maintain_order="left"
        )[CODE]
        if found.null_count():
            missing = batch.filter(found.is_null()).select(keys).row(0)
            raise LookupError(f"group and label {missing!r} were not seen when counting")
        return found.to_numpy()

    return Layout(
        label=label,
        by=tuple(by),
        classes=classes,
        groups=tuple(groups),
        values=frame[label].to_list(),
        counts=tuple(int(v) for v in frame[COUNT]),
        nulls=nulls,
        codes=codes,
        group_values=group_values,
        order=order,
        dtype=dtype,
    )


def _is_cat(s: pl.Series) -> bool:
    return s.dtype == pl.Categorical or isinstance(s.dtype, pl.Enum)


@dataclass
class GroupOutcome:
    """What happened to one group: its plan, or why it was kept or dropped."""

    name: str
    values: dict[str, Any]
    status: str  # "planned", "kept" or "dropped"
    before: dict[str, int]
    after: dict[str, int]
    reason: str | None = None
    weights: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": {k: _jsonable(v) for k, v in self.values.items()},
            "status": self.status,
            "before": self.before,
            "after": self.after,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.weights is not None:
            out["weights"] = self.weights
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN or infinity
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


@dataclass
class CellPlan:
    """The plan of every cell: rows in, rows out, weights, and the per-group story."""

    before: tuple[int, ...]
    after: tuple[int, ...]
    weights: tuple[float, ...] | None
    groups: list[GroupOutcome]
    plans: list[Plan]
    warnings: list[str]
    cleaned: tuple[bool, ...] = ()  # cells a cleaning strategy may remove rows of

    def fitted(self, layout: Layout, removed: Sequence[int]) -> CellPlan:
        """The plan of a cleaning strategy once fitted: ``removed[i]`` rows of cell i go
        (the plans, the groups' stories and their warnings follow)."""
        after = tuple(a - r for a, r in zip(self.after, removed, strict=True))
        members: dict[str | None, list[int]] = {}
        for i, g in enumerate(layout.groups):
            members.setdefault(g, []).append(i)
        planned = [g for g, cells in members.items() if any(self.cleaned[i] for i in cells)]
        plans = [
            plan.fitted([removed[i] for i in members[g] if self.before[i] > 0])
            for g, plan in zip(planned, self.plans, strict=True)
        ]
        warnings = list(self.warnings)
        if not layout.by:
            warnings.extend(w for w in plans[0].warnings if w not in warnings)
        groups = [
            dataclasses.replace(
                o, after={c: v - _removed(layout, o.name, c, removed) for c, v in o.after.items()}
            )
            for o in self.groups
        ]
        return dataclasses.replace(self, after=after, plans=plans, groups=groups, warnings=warnings)


def _members(layout: Layout, before: Sequence[int]) -> dict[str | None, list[int]]:
    """The cells of every group (one group, None, without ``--by``) that have rows."""
    members: dict[str | None, list[int]] = {}
    for i, g in enumerate(layout.groups):
        if before[i] > 0:
            members.setdefault(g, []).append(i)
    return members


def _group_plan(
    layout: Layout,
    cells: list[int],
    before: Sequence[int],
    strategy: str | Strategy,
    spec: TargetSpec,
    check: Callable[[str, int, int], None] | None,
) -> Plan:
    """One group's plan, and its cells' checks."""
    pairs = [(layout.classes[i], before[i]) for i in cells]
    plan = make_plan(pairs, strategy, spec)
    if check is not None:
        for i, t in zip(cells, plan.after, strict=True):
            check(layout.classes[i], before[i], t)
    return plan


def _policy_warning(layout: Layout, outcomes: list[GroupOutcome], policy: str) -> list[str]:
    """Refuse a run whose every group was dropped; warn about the groups kept or dropped."""
    if outcomes and all(o.status == "dropped" for o in outcomes):
        raise DataError(
            f"no group can serve the request, and --group-policy drop would leave nothing: "
            f"{_shown(layout, outcomes[0].name)}: {outcomes[0].reason}",
            hint="use --group-policy keep, coarser --by columns, or another --target",
        )
    odd = [o for o in outcomes if o.status != "planned"]
    if not odd:
        return []
    verb = "kept as they are" if policy == "keep" else "dropped"
    shown = "; ".join(f"{_shown(layout, o.name)}: {o.reason}" for o in odd[:3])
    return [
        f"{len(odd)} of {len(outcomes)} groups cannot serve the request and were "
        f"{verb} (--group-policy {policy}): {shown}{' …' if len(odd) > 3 else ''}"
    ]


def plan_cells(
    layout: Layout,
    before: Sequence[int],
    strategy: str | Strategy,
    spec: TargetSpec,
    policy: str,
    check: Callable[[str, int, int], None] | None = None,
) -> CellPlan:
    """One plan per group (or one for all without ``--by``), over the cells' ``before`` counts.

    ``check(class, n, t)`` may refuse a cell (SMOTE's k + 1 rule); a group whose
    plan or check fails is handled by ``policy``: keep its rows as they are,
    drop them, or stop with the error.
    """
    after = list(before)
    weights: list[float] | None = [1.0] * len(before) if strategy_of(strategy).weighs else None
    cleaned = [False] * len(before)
    outcomes: list[GroupOutcome] = []
    plans: list[Plan] = []
    warnings: list[str] = []
    members = _members(layout, before)
    if not layout.by and not members:
        raise no_labelled_rows()
    if layout.by:
        # errors of the request itself stop the run whatever a group's counts: a target
        # the strategy cannot take, or a class the input does not have, is no group's fault
        check_target(strategy, spec, layout.class_names())
    for g, cells in members.items():
        try:
            plan = _group_plan(layout, cells, before, strategy, spec, check)
        except RebalanceError as err:
            if g is None:
                raise
            if policy == "error":
                kind = DataError if isinstance(err, DataError) else UsageError
                raise kind(f"group {_shown(layout, g)}: {err.message}", hint=err.hint) from None
            status = "kept" if policy == "keep" else "dropped"
            for i in cells:
                after[i] = before[i] if policy == "keep" else 0
            outcomes.append(_outcome(layout, g, cells, before, after, status, err.message))
            continue
        plans.append(plan)
        for i, t in zip(cells, plan.after, strict=True):
            after[i] = t
            cleaned[i] = layout.classes[i] in plan.cleaned
        if weights is not None and plan.weights is not None:
            for i, w in zip(cells, plan.weights, strict=True):
                weights[i] = w
        if g is None:
            warnings.extend(plan.warnings)
        else:
            out = _outcome(layout, g, cells, before, after, "planned", None)
            if plan.weights is not None:
                out.weights = dict(zip(plan.classes, plan.weights, strict=True))
            outcomes.append(out)
    if layout.by:
        warnings.extend(_policy_warning(layout, outcomes, policy))
    return CellPlan(
        before=tuple(before),
        after=tuple(after),
        weights=None if weights is None else tuple(weights),
        groups=outcomes,
        plans=plans,
        warnings=warnings,
        cleaned=tuple(cleaned),
    )


def _removed(layout: Layout, group: str, cls: str, removed: Sequence[int]) -> int:
    return sum(
        int(r)
        for c, g, r in zip(layout.classes, layout.groups, removed, strict=True)
        if g == group and c == cls
    )


def _shown(layout: Layout, g: str) -> str:
    vals = layout.group_values.get(g, {})
    return ", ".join(f"{k}={v}" for k, v in vals.items()) or g


def _outcome(
    layout: Layout,
    g: str,
    cells: list[int],
    before: Sequence[int],
    after: Sequence[int],
    status: str,
    reason: str | None,
) -> GroupOutcome:
    return GroupOutcome(
        name=g,
        values=layout.group_values.get(g, {}),
        status=status,
        before={layout.classes[i]: int(before[i]) for i in cells},
        after={layout.classes[i]: int(after[i]) for i in cells},
        reason=reason,
    )


def per_class(layout: Layout, values: Sequence[int]) -> dict[str, int]:
    """Sum per-cell numbers per class, classes in sort order."""
    out = dict.fromkeys(layout.class_names(), 0)
    for cls, v in zip(layout.classes, values, strict=True):
        out[cls] += int(v)
    return out

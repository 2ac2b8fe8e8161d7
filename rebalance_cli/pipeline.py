"""The public Python API: ``inspect`` and ``rebalance``.

A run is two streaming passes and a pure plan between them:

    pass 1  label column only -> class counts
    plan    counts + target -> per-class targets (plan.py, no I/O)
    pass 2  batches -> per-row copy counts (0, 1, 2, ...) -> atomic sink
    smote   grown classes held in memory -> synthetic rows appended in batches
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import math
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import rng
from .cells import (
    GROUP_POLICIES,
    CellPlan,
    Layout,
    class_layout,
    grouped_layout,
    per_class,
    plan_cells,
    test_counts,
)
from .classes import COUNT, ClassIndex, class_positions
from .errors import DataError, InputOutputError, RebalanceError, UsageError
from .io import (
    STDIO,
    AtomicFile,
    ReadOptions,
    SinkStopped,
    Source,
    check_target,
    dictionary_columns,
    frame_batches,
    open_frame_writer,
    open_source,
    resolve_output_format,
    write_frames,
)
from .plan import GROW_WITH, STRATEGIES, TargetSpec, parse_target
from .report import Report, write_report
from .samplers import (
    RowSelector,
    SmoteClass,
    check_class_size,
    expand,
    expanded_rows,
    index_series,
    prepare_smote,
)
from .shuffle import shuffled

DEFAULT_CHUNK_SIZE = 65_536
Progress = Callable[[str, int, int], None]


def _library_errors() -> tuple[type[BaseException], ...]:
    """polars' errors, and pyarrow's when pyarrow was loaded (it is imported lazily)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return (pl.exceptions.PolarsError,)
    return (pl.exceptions.PolarsError, pa.ArrowException)


@contextlib.contextmanager
def reading(display: str) -> Iterator[None]:
    """Turn reader failures (polars, pyarrow, the OS) into one-line user errors."""
    try:
        yield
    except RebalanceError:
        raise
    except _library_errors() as exc:
        text = _first_line(exc)
        hint = None
        if "utf-8" in text.lower() or "utf8" in text.lower():
            hint = (
                "the file is not UTF-8: pass --encoding utf8-lossy to replace the bad bytes, "
                "or convert it first, e.g. iconv -f latin1 -t utf-8"
            )
        elif "out of specification" in text.lower() or "corrupt" in text.lower():
            hint = "the file looks truncated or corrupt"
        elif "more fields" in text.lower():
            hint = (
                "a row has more fields than the header (a ragged CSV): fix the file, "
                "or check --separator"
            )
        elif "schema" in text.lower() or "could not parse" in text.lower():
            hint = (
                "a column's type was guessed from the first rows; "
                "--infer-schema-length 0 reads them all"
            )
        raise DataError(f"cannot read {display}: {text}", hint=hint) from None
    except OSError as exc:
        if exc.errno is None:  # not the OS: a decoder (gzip, zstd) found corrupt data
            raise DataError(
                f"cannot read {display}: {_first_line(exc)}",
                hint="the file looks truncated or corrupt",
            ) from None
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {display}: it is not valid UTF-8 ({exc.reason})",
            hint="pass --encoding utf8-lossy, or convert it first with iconv",
        ) from None


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Turn writer failures (a full disk, a lost folder) into one-line I/O errors."""
    try:
        yield
    except RebalanceError:
        raise
    except OSError as exc:
        raise InputOutputError(f"cannot write the output: {exc.strerror or exc}") from None
    except _library_errors() as exc:
        raise InputOutputError(f"cannot write the output: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def resolve_seed(seed: int | None) -> tuple[int, str]:
    """The seed of a run and where it came from: ``given``, or ``drawn`` (and reported)
    when absent. A negative seed is a usage error."""
    if seed is None:
        return secrets.randbelow(2**32), "drawn"
    if seed < 0:
        raise UsageError(f"--seed must not be negative (got {seed})")
    return seed, "given"


def check_k_neighbors(k_neighbors: int) -> None:
    """SMOTE's k must be at least 1."""
    if k_neighbors < 1:
        raise UsageError(f"--k-neighbors must be at least 1 (got {k_neighbors})")


def check_label(schema: pl.Schema, label: str, display: str) -> None:
    """The label column is in the schema; if not, a data error naming the nearest columns."""
    if label in schema:
        return
    near = difflib.get_close_matches(label, list(schema.names()), n=3, cutoff=0.6)
    if not near:
        near = [c for c in schema.names() if c.lower() == label.lower()]
    hint = f"did you mean {', '.join(repr(c) for c in near)}?" if near else None
    names = list(schema.names())
    if hint is None and len(names) == 1:
        guess = next((sep for sep in (";", "\t", "|", ",", ":") if sep in names[0]), None)
        if guess is not None:
            flag = "tab" if guess == "\t" else repr(guess)
            hint = (
                f"the header was read as one column {names[0]!r}: the separator looks like "
                f"{flag}; pass --separator {flag}"
            )
    if hint is None:
        shown = ", ".join(list(schema.names())[:12])
        hint = f"the columns are: {shown}{' …' if len(schema) > 12 else ''}"
    raise DataError(f"label column {label!r} is not in {display}", hint=hint)


DEFAULT_MAX_CLASSES = 1000
DEFAULT_MAX_OUTPUT_ROWS = 10_000_000_000


def count_classes(
    lf: pl.LazyFrame, label: str, display: str, max_classes: int | None = None
) -> ClassIndex:
    """Pass 1: the class counts, reading the label column only (streaming)."""
    with reading(display):
        frame = lf.select(pl.col(label)).group_by(label).agg(pl.len().alias(COUNT)).collect()
    distinct = frame.height - int(frame[label].null_count() > 0)
    if max_classes is not None and distinct > max_classes:
        raise DataError(
            f"label column {label!r} has {distinct} distinct values, more than "
            f"--max-classes {max_classes}",
            hint="it looks like an id or a continuous column; check --label, "
            "or raise --max-classes",
        )
    return ClassIndex.from_counts(label, frame)


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


@dataclass(frozen=True)
class Distribution:
    """The class distribution of a label column, as ``inspect`` reports it."""

    label: str
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    nulls: int
    majority: str | None
    minority: str | None

    @property
    def rows(self) -> int:
        return sum(self.counts) + self.nulls

    @property
    def imbalance_ratio(self) -> float | None:
        """Majority count over minority count (1.0 when balanced)."""
        if not self.counts:
            return None
        return max(self.counts) / min(self.counts)

    def shares(self) -> dict[str, float]:
        total = sum(self.counts)
        return {c: n / total for c, n in zip(self.classes, self.counts, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        shares = self.shares() if self.counts else {}
        return {
            "label": self.label,
            "rows": self.rows,
            "null_labels": self.nulls,
            "classes": [
                {"class": c, "count": n, "share": round(shares[c], 6)}
                for c, n in zip(self.classes, self.counts, strict=True)
            ],
            "majority": self.majority,
            "minority": self.minority,
            "imbalance_ratio": (
                None if self.imbalance_ratio is None else round(self.imbalance_ratio, 6)
            ),
            "class_weights": self.balanced_weights(),
        }

    def balanced_weights(self) -> dict[str, float]:
        """scikit-learn's ``class_weight="balanced"``: n / (classes * n_c), for a trainer."""
        total, k = sum(self.counts), len(self.counts)
        return {c: total / (k * n) for c, n in zip(self.classes, self.counts, strict=True)}


def inspect(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
) -> Distribution:
    """Count the classes of ``label`` in a file (or ``-`` for stdin)."""
    source = open_source(data, read)
    try:
        lf = source.scan()
        with reading(source.display):
            schema = lf.collect_schema()
        check_label(schema, label, source.display)
        index = count_classes(lf, label, source.display, max_classes)
    finally:
        source.close()
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


def resolve_features(
    schema: pl.Schema,
    label: str,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    allow_empty: bool = False,
) -> list[str]:
    """SMOTE's feature columns: the numeric columns but the label, or those named."""
    for flag, names in (
        ("--features", features),
        ("--exclude", exclude),
        ("--id-columns", id_columns),
    ):
        if names is None:
            continue
        if not names:
            raise UsageError(f"{flag} names no column")
        twice = sorted({n for n in names if list(names).count(n) > 1})
        if twice:
            raise UsageError(f"{flag} names column {twice[0]!r} twice")
        for name in names:
            if name not in schema:
                raise DataError(f"{flag} names column {name!r}, which is not in the input")
    if label in (features or ()):
        raise UsageError(f"--features names the label column {label!r}")
    for other, names in (("--exclude", exclude), ("--id-columns", id_columns)):
        both = [f for f in features or () if f in (names or ())]
        if both:
            raise UsageError(f"column {both[0]!r} is in both --features and {other}")
    skip = {label, *(exclude or ()), *(id_columns or ())}
    if features:
        chosen = list(features)  # overlaps with the label, --exclude and ids were refused above
        for f in chosen:
            if not schema[f].is_numeric():
                raise UsageError(
                    f"feature column {f!r} is {schema[f]}; SMOTE interpolates numeric columns only",
                    hint="leave it out of --features: non-numeric columns take the most "
                    "frequent value among the neighbours",
                )
    else:
        chosen = [c for c, t in schema.items() if c not in skip and t.is_numeric()]
    if not chosen and not allow_empty:
        raise DataError(
            "SMOTE needs at least one numeric feature column and the input has none left",
            hint="check --features/--exclude, or use oversample",
        )
    return chosen


def _names(flag: str, names: Sequence[str] | None, schema: pl.Schema, label: str) -> list[str]:
    """Check a list of column names given by a flag: present, not twice, not the label."""
    if names is None:
        return []
    if not names:
        raise UsageError(f"{flag} names no column")
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise UsageError(f"{flag} names column {twice[0]!r} twice")
    for name in names:
        if name not in schema:
            raise DataError(f"{flag} names column {name!r}, which is not in the input")
        if name == label:
            raise UsageError(f"{flag} names the label column {label!r}")
    return list(names)


def _fraction(text: float | str, flag: str) -> Fraction:
    """A share in (0, 1), kept exact as the decimal the user typed."""
    try:
        value = Fraction(Decimal(str(text).strip()))
    except (InvalidOperation, ValueError):
        raise UsageError(f"{flag} {text!r} is not a number") from None
    if not 0 < value < 1:
        raise UsageError(f"{flag} must be between 0 and 1, exclusive (got {text})")
    return value


def derived_seed(seed: int, what: str, i: int) -> int:
    """A seed of its own for bag ``i``: recorded in the report, replayable alone."""
    digest = hashlib.blake2b(f"{seed}\x1f{what}\x1f{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 33  # 31 bits: easy to retype


def bag_paths(output: str, bags: int, fmt_flag: str | None, input_fmt: str) -> list[str]:
    """The file of every bag: OUT with ``{bag}`` replaced, or files in the folder OUT."""
    if "{bag}" in output:
        return [output.replace("{bag}", str(b)) for b in range(1, bags + 1)]
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        fmt = fmt_flag or input_fmt
        ext = {"tsv": "tsv", "csv": "csv", "parquet": "parquet", "ipc": "arrow"}.get(fmt, fmt)
        return [str(Path(output) / f"bag-{b}.{ext}") for b in range(1, bags + 1)]
    raise UsageError(
        f"--bags {bags} needs an output that holds {{bag}} or is a folder (got {output!r})",
        hint="e.g. -o 'bags/train-{bag}.parquet' or -o bags/",
    )


@dataclass(frozen=True)
class _Smote:
    """What SMOTE needs besides the plan."""

    features: list[str]
    categorical: list[str]
    named_categorical: bool
    scale: str
    id_columns: tuple[str, ...]
    k: int
    seed: int
    lenient: bool


@dataclass
class _Split:
    """The held-out test split: which rows (a ``RowSelector`` keeping t rows of each
    cell, on its own stream), and where they go."""

    share: Fraction
    counts: tuple[int, ...]
    selector: RowSelector
    path: Path | None = None
    fmt: str = "csv"
    writer: Any = None


def _make_split(names: Sequence[str], counts: Sequence[int], share: Fraction, seed: int) -> _Split:
    test = test_counts(counts, share)
    return _Split(share, test, RowSelector(names, counts, test, seed, "test-split"))


@dataclass
class _Shrink:
    """Smoothed bootstrap: Gaussian jitter on the numeric columns of duplicated rows."""

    columns: list[str]
    scales: np.ndarray  # cells x columns: shrinkage * bandwidth * the cell's std
    bases: np.ndarray  # cells x columns
    offsets: np.ndarray  # duplicates of each cell so far
    shrinkage: float

    def apply(self, df: pl.DataFrame, codes: np.ndarray, dup: np.ndarray) -> pl.DataFrame:
        rows = np.flatnonzero(dup)
        if rows.size == 0:
            return df
        c = codes[rows]
        d = class_positions(c, self.offsets).astype(np.uint64)
        changed = []
        for j, name in enumerate(self.columns):
            u1 = rng.uniform(rng.keys(self.bases[c, j], d * np.uint64(2)))
            u2 = rng.uniform(rng.keys(self.bases[c, j], d * np.uint64(2) + np.uint64(1)))
            z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)  # Box-Muller
            col = df[name]
            values = col.cast(pl.Float64).to_numpy().copy()
            values[rows] += z * self.scales[c, j]
            if col.dtype.is_integer():
                info = np.iinfo(pl.Series([], dtype=col.dtype).to_numpy().dtype)
                # float(max) rounds up to 2**63 for int64: stay just inside the type
                top = float(np.nextafter(float(info.max), 0.0))
                values = np.clip(np.rint(values), float(info.min), top)
            new = pl.Series(name, values).cast(col.dtype, strict=False)
            changed.append(new.zip_with(col.is_not_null(), col))
        return df.with_columns(changed)


def _shrink_setup(
    lf: pl.LazyFrame,
    layout: Layout,
    columns: list[str],
    shrinkage: float,
    seed: int,
    rows_total: int,
    display: str,
) -> _Shrink:
    """Per-cell standard deviations (one streaming group-by), and the bandwidth.

    imbalanced-learn's rule: scale = shrinkage * (4 / ((d + 2) n)) ** (1 / (d + 4)) * std,
    with n the rows of the input and the population std of the class.
    """
    keys = [*layout.by, layout.label]
    with reading(display):
        stats = (
            lf.filter(pl.col(layout.label).is_not_null())
            .group_by(keys)
            .agg(pl.col(c).cast(pl.Float64).std(ddof=0).alias(c) for c in columns)
            .collect()
        )
    codes = layout.codes(stats)
    std = np.zeros((len(layout), len(columns)))
    std[codes] = stats.select(columns).fill_null(0.0).fill_nan(0.0).to_numpy()
    d = len(columns)
    bandwidth = (4.0 / ((d + 2) * max(rows_total, 1))) ** (1.0 / (d + 4))
    bases = np.zeros((len(layout), d), dtype=np.uint64)
    for i, name in enumerate(layout.names):
        for j, col in enumerate(columns):
            bases[i, j] = rng.stream_base(seed, f"shrinkage\x1f{col}", name)
    return _Shrink(
        columns, shrinkage * bandwidth * std, bases, np.zeros(len(layout), np.int64), shrinkage
    )


@dataclass
class _Pass2:
    """Everything pass 2 needs: the cells, their counts, and the optional parts."""

    layout: Layout
    before: tuple[int, ...]  # rows of each cell that take part (the train rows with a split)
    after: tuple[int, ...]
    streams: list[str]
    grow: list[int]  # cells SMOTE grows
    smote: _Smote | None = None
    shrink: _Shrink | None = None
    split: _Split | None = None
    weights: np.ndarray | None = None
    weight_column: str | None = None

    @property
    def kept(self) -> tuple[int, ...]:
        """Rows of each cell written from the input (SMOTE adds the rest)."""
        grown = set(self.grow)
        return tuple(
            min(b, a) if i in grown else a
            for i, (b, a) in enumerate(zip(self.before, self.after, strict=True))
        )

    def selector(self, seed: int) -> RowSelector:
        return RowSelector(self.layout.names, self.before, self.kept, seed, self.streams)


def _streams(strategy: str, before: Sequence[int], after: Sequence[int]) -> list[str]:
    """The random stream of each cell: hybrid cells draw like the pure strategy they use."""
    if strategy != "hybrid":
        return [strategy] * len(before)
    return ["undersample" if a < b else "oversample" for b, a in zip(before, after, strict=True)]


@dataclass
class _Prepared:
    """The request checked against the data: the plan, and what pass 2 needs."""

    pass2: _Pass2
    cellplan: CellPlan
    parameters: dict[str, Any]
    warnings: list[str]
    extra: dict[str, Any]
    out_schema: pl.Schema


def _prepare(
    lf: pl.LazyFrame,
    schema: pl.Schema,
    display: str,
    *,
    label: str,
    strategy: str,
    spec: TargetSpec,
    seed: int,
    k_neighbors: int,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    categorical: Sequence[str] | None,
    scale: str,
    grow_with: str,
    weight_column: str,
    by: Sequence[str] | None,
    group_policy: str,
    shrinkage: float | None,
    test_share: Fraction | None,
    drop_null_labels: bool,
    lenient: bool,
    max_classes: int | None,
    timings: dict[str, float],
    warnings: list[str],
    input_format: str | None = None,
) -> _Prepared:
    """Pass 1 and the plan: everything short of writing a row."""
    check_label(schema, label, display)
    by_cols = _names("--by", by, schema, label)
    smote_grows = strategy == "smote" or (strategy == "hybrid" and grow_with == "smote")
    smote = None
    if smote_grows:
        feature_cols, cat_cols, named = resolve_smote_columns(
            schema, label, features, exclude, id_columns, categorical, by_cols
        )
        smote = _Smote(
            feature_cols,
            cat_cols,
            named,
            scale,
            tuple(id_columns or ()),
            k_neighbors,
            seed,
            lenient,
        )
    shrink_cols: list[str] = []
    if shrinkage is not None:
        shrink_cols = [
            c
            for c in resolve_features(schema, label, features, exclude, id_columns)
            if c not in by_cols
        ]
    if strategy == "weight" and weight_column in schema:
        raise UsageError(
            f"the weight column {weight_column!r} is already in the input",
            hint="name another with --weight-column",
        )

    t0 = time.perf_counter()
    if by_cols:
        with reading(display):
            layout = grouped_layout(
                lf, label, by_cols, None if max_classes is None else max_classes * 1000
            )
    else:
        layout = class_layout(count_classes(lf, label, display, max_classes))
    timings["count"] = time.perf_counter() - t0
    if layout.nulls and not drop_null_labels:
        raise DataError(
            f"label column {label!r} has {layout.nulls} null value"
            f"{'s' if layout.nulls != 1 else ''}",
            hint="pass --drop-null-labels to leave those rows out"
            + (
                "; in a CSV, a short (ragged) row also reads as a null label"
                if input_format in ("csv", "tsv")
                else ""
            ),
        )
    if layout.nulls:
        warnings.append(f"{layout.nulls} rows with a null label were dropped")
    if layout.index is not None:
        warnings.extend(label_warnings(layout.index))
    if len(layout) == 0:
        raise DataError(f"{display} has no rows with a label")

    split = None
    before = layout.counts
    if test_share is not None:
        split = _make_split(layout.names, layout.counts, test_share, seed)
        before = tuple(n - t for n, t in zip(layout.counts, split.counts, strict=True))
        if not by_cols:
            for cls, n, b in zip(layout.classes, layout.counts, before, strict=True):
                if b == 0:
                    raise DataError(
                        f"class {cls!r} has {n} row{'s' if n != 1 else ''}; --test-size "
                        f"{float(test_share):g} leaves none of them for training",
                        hint="use a smaller --test-size",
                    )

    def check(cls: str, n: int, t: int) -> None:
        if smote_grows and t > n:
            check_class_size(cls, n, k_neighbors)

    t0 = time.perf_counter()
    cellplan = plan_cells(layout, before, strategy, spec, group_policy, check)
    timings["plan"] = time.perf_counter() - t0
    warnings.extend(cellplan.warnings)
    grow = (
        [i for i, (b, a) in enumerate(zip(cellplan.before, cellplan.after, strict=True)) if a > b]
        if smote_grows
        else []
    )
    shrink = None
    if shrinkage is not None and shrink_cols:
        shrink = _shrink_setup(
            lf, layout, shrink_cols, shrinkage, seed, sum(layout.counts), display
        )
    pass2 = _Pass2(
        layout=layout,
        before=cellplan.before,
        after=cellplan.after,
        streams=_streams(strategy, cellplan.before, cellplan.after),
        grow=grow,
        smote=smote,
        shrink=shrink,
        split=split,
    )
    out_schema = schema
    if strategy == "weight":
        assert cellplan.weights is not None
        pass2.weights = np.array(cellplan.weights, dtype=np.float64)
        pass2.weight_column = weight_column
        out_schema = pl.Schema([*schema.items(), (weight_column, pl.Float64)])

    parameters: dict[str, Any] = {"target": spec.to_json(), "seed": seed}
    if strategy == "hybrid":
        parameters["grow_with"] = grow_with
    if strategy == "weight":
        parameters["weight_column"] = weight_column
        parameters["weighting"] = (
            "balanced: n / (classes * n_c)"
            if spec.kind == "keyword" and spec.keyword in ("auto", "balanced")
            else "class total / n_c"
        )
    if smote is not None:
        parameters.update(
            k_neighbors=k_neighbors,
            features=smote.features,
            categorical=smote.categorical,
            scale=scale,
            id_columns=list(id_columns or ()),
            distance="euclidean" if not smote.categorical else "euclidean, SMOTE-NC one-hot",
        )
    if shrinkage is not None:
        parameters.update(shrinkage=shrinkage, shrinkage_columns=shrink_cols)
    extra: dict[str, Any] = {}
    if by_cols:
        parameters.update(by=by_cols, group_policy=group_policy)
        extra["groups"] = [g.to_dict() for g in cellplan.groups]
    if split is not None:
        parameters["test_size"] = float(split.share)
    return _Prepared(pass2, cellplan, parameters, warnings, extra, out_schema)


def _report_plan(prepared: _Prepared, strategy: str, spec: TargetSpec) -> dict[str, Any]:
    """The report's plan: the one plan, or the sums over the groups' plans."""
    p2 = prepared.pass2
    if not p2.layout.by and prepared.cellplan.plans:
        return prepared.cellplan.plans[0].to_dict()
    before = per_class(p2.layout, p2.before)
    after = per_class(p2.layout, p2.after)
    return {
        "strategy": strategy,
        "target": spec.to_json(),
        "by": list(p2.layout.by),
        "classes": list(before),
        "before": before,
        "after": after,
        "rows_in": sum(before.values()),
        "rows_out": sum(after.values()),
        "groups": len(prepared.cellplan.groups),
        "groups_planned": sum(g.status == "planned" for g in prepared.cellplan.groups),
    }


def _row_counts(p2: _Pass2, strategy: str, nulls: int, test_rows: int) -> dict[str, int]:
    """The report's row counts: the plan fixes them all before a row is written."""
    grown = sum(max(0, a - b) for a, b in zip(p2.after, p2.before, strict=True))
    cut = sum(max(0, b - a) for a, b in zip(p2.after, p2.before, strict=True))
    synthetic = sum(p2.after[i] - p2.before[i] for i in p2.grow)
    out = {
        "read": sum(p2.before) + test_rows + nulls,
        "written": sum(p2.after),
        "synthetic": synthetic,
        "dropped": cut + nulls,
        "duplicated": grown - synthetic,
        "null_labels_dropped": nulls,
    }
    if test_rows:
        out["test"] = test_rows
    return out


def rebalance(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = None,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    bags: int | None = None,
    test_size: float | str | None = None,
    test_output: str | os.PathLike[str] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    read: ReadOptions | None = None,
    output_format: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    drop_null_labels: bool = False,
    shuffle: bool = False,
    lenient: bool = False,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS,
    report_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    command: list[str] | None = None,
    settings: dict[str, Any] | None = None,
) -> Report:
    """Rebalance ``data`` into ``output`` (``-`` for stdout) and return the report.

    Nothing is written when ``dry_run`` is true. The output and the report are
    written to temporary files and renamed into place only when all succeeded.
    ``lenient`` drops rows with a null label and, for SMOTE, leaves rows with a
    null, NaN or infinite feature out of the seed pool, instead of failing.

    Beyond the three sampling strategies: ``strategy="weight"`` adds a weight
    column instead of changing rows; ``"hybrid"`` brings every class to the
    target, cutting the big ones and growing the small ones ``grow_with``
    oversample or smote; ``bags=K`` writes K undersampled bags in one pass;
    ``test_size`` holds out a stratified test split, untouched, in
    ``test_output``; ``by`` plans each group on its own.
    ``settings`` (effective option values and their sources) goes into the report.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1 (got {chunk_size})")
    if dry_run and report_path is not None:
        raise UsageError(
            "--dry-run writes nothing, not even the --report", hint="use --json to see the plan"
        )
    if output is None and not dry_run:
        raise UsageError("an output is needed (-o PATH, or -o - for stdout)")
    seed, seed_source = resolve_seed(seed)
    warnings: list[str] = []
    spec = _check_options(
        strategy,
        target=target,
        seed=seed,
        k_neighbors=k_neighbors,
        features=features,
        exclude=exclude,
        id_columns=id_columns,
        categorical=categorical,
        scale=scale,
        grow_with=grow_with,
        weight_column=weight_column,
        bags=bags,
        test_size=test_size,
        test_output=test_output,
        shuffle=shuffle,
        group_policy=group_policy,
        shrinkage=shrinkage,
        output=output,
        warnings=warnings,
    )
    test_share = None if test_size is None else _fraction(test_size, "--test-size")

    drop_null_labels = drop_null_labels or lenient
    source = open_source(data, read)
    try:
        out_str = None if output is None else str(output)
        out_fmt = None
        out_path: Path | None = None
        bag_targets: list[tuple[str, Path | None, str]] = []
        inputs = [] if source.display == "<stdin>" else [source.path]
        if out_str is not None:
            if bags:
                for name in bag_paths(out_str, bags, output_format, source.format):
                    fmt = resolve_output_format(name, output_format, source.format)
                    bag_targets.append((name, check_target(name, force, inputs, "bag"), fmt))
                out_fmt = bag_targets[0][2]
            else:
                out_fmt = resolve_output_format(out_str, output_format, source.format)
                out_path = check_target(out_str, force, inputs, "output")
        test_path = None
        test_fmt = None
        if test_output is not None and not dry_run:
            test_str = str(test_output)
            if test_str == STDIO:
                raise UsageError("--test-output needs a file path, not stdout")
            if out_path is not None and Path(test_str).resolve() == out_path.resolve():
                raise UsageError("--test-output and -o name the same file", hint="give two paths")
            test_fmt = resolve_output_format(test_str, output_format, source.format)
            test_path = check_target(test_str, force, inputs, "test output")
        rep_path = None
        if report_path is not None:
            if str(report_path) == STDIO:
                raise UsageError("--report needs a file path; use --json for the report on stdout")
            if out_path is not None and Path(report_path).resolve() == out_path.resolve():
                raise UsageError("--report and -o name the same file", hint="give them two paths")
            rep_path = check_target(str(report_path), force, inputs, "report")

        lf = source.scan()
        with reading(source.display):
            schema = lf.collect_schema()
        prepared = _prepare(
            lf,
            schema,
            source.display,
            label=label,
            strategy=strategy,
            spec=spec,
            seed=seed,
            k_neighbors=k_neighbors,
            features=features,
            exclude=exclude,
            id_columns=id_columns,
            categorical=categorical,
            scale=scale,
            grow_with=grow_with or "oversample",
            weight_column=weight_column or DEFAULT_WEIGHT_COLUMN,
            by=by,
            group_policy=group_policy,
            shrinkage=shrinkage,
            test_share=test_share,
            drop_null_labels=drop_null_labels,
            lenient=lenient,
            max_classes=max_classes,
            timings=timings,
            warnings=warnings,
            input_format=source.format,
        )
        p2 = prepared.pass2
        layout = p2.layout
        rows_out = sum(p2.after) * (bags or 1)
        if max_output_rows is not None and rows_out > max_output_rows:
            raise UsageError(
                f"the plan writes {rows_out:,} rows, more than --max-output-rows "
                f"{max_output_rows:,}",
                hint="check --target for a typo, or raise --max-output-rows",
            )
        parameters = prepared.parameters
        parameters.update(
            seed_source=seed_source,
            chunk_size=chunk_size,
            drop_null_labels=drop_null_labels,
            shuffle=shuffle,
            infer_schema_length=source.read.infer_schema_length,
            policy="lenient" if lenient else "strict",
            max_classes=max_classes,
            max_output_rows=max_output_rows,
            input_format=source.format,
            output_format=out_fmt,
        )
        test_rows = sum(p2.split.counts) if p2.split is not None else 0
        input_info = {
            "path": source.display,
            "format": source.format,
            "rows": sum(layout.counts) + layout.nulls,
            "columns": len(schema),
            "bytes": source.size,
        }
        extra = dict(prepared.extra)
        if settings is not None:
            extra["settings"] = settings
        if p2.split is not None:
            extra["split"] = {
                "test_size": float(test_share) if test_share is not None else None,
                "path": None if test_output is None else str(test_output),
                "format": test_fmt,
                "counts": per_class(layout, p2.split.counts),
                "rows": test_rows,
                "train_counts": per_class(layout, p2.before),
            }
        report = Report(
            input=input_info,
            label=label,
            label_dtype=str(schema[label]),
            strategy=strategy,
            parameters=parameters,
            plan=_report_plan(prepared, strategy, spec),
            counts_before=per_class(layout, layout.counts),
            counts_after=per_class(layout, p2.after),
            rows=_row_counts(p2, strategy, layout.nulls, test_rows),
            output=None,
            timings=timings,
            warnings=warnings,
            command=command,
            dry_run=dry_run,
            extra=extra,
        )
        if bags:
            report.extra["bags"] = [
                {"bag": b + 1, "seed": derived_seed(seed, "bag", b + 1), "path": name}
                for b, (name, _, _) in enumerate(bag_targets)
            ] or [{"bag": b + 1, "seed": derived_seed(seed, "bag", b + 1)} for b in range(bags)]
        if dry_run:
            timings["total"] = time.perf_counter() - started
            return report

        assert out_fmt is not None
        t0 = time.perf_counter()
        sinks: list[AtomicFile] = []
        try:
            if bags:
                _write_bags(
                    source,
                    lf,
                    schema,
                    p2,
                    seed,
                    chunk_size,
                    drop_null_labels,
                    bag_targets,
                    sinks,
                    report,
                    progress,
                )
            else:
                sink = AtomicFile(out_path)
                sinks.append(sink)
                if p2.split is not None:
                    test_sink = AtomicFile(test_path, what="test output")
                    sinks.append(test_sink)
                    p2.split.path = test_sink.tmp
                    assert test_fmt is not None
                    p2.split.fmt = test_fmt
                outcome = _Outcome(warnings=warnings)
                _write(
                    source,
                    lf,
                    sink.tmp,
                    out_fmt,
                    schema,
                    prepared.out_schema,
                    p2,
                    seed,
                    chunk_size,
                    drop_null_labels,
                    progress,
                    shuffle,
                    outcome,
                )
                if p2.smote is not None:
                    timings["smote_prepare"] = outcome.smote_seconds
                    parameters["knn"] = outcome.knn
                    parameters["categorical"] = [
                        c for c in p2.smote.categorical if c in outcome.categorical
                    ]
                    if outcome.left_out_columns:
                        parameters["categorical_left_out"] = outcome.left_out_columns
                report.counts_after = per_class(layout, outcome.written)
                report.output = {
                    "path": out_str,
                    "format": out_fmt,
                    "bytes": sink.tmp.stat().st_size,
                }
                if p2.split is not None:
                    report.extra["split"]["bytes"] = sinks[1].tmp.stat().st_size
            timings["write"] = time.perf_counter() - t0
            timings["total"] = time.perf_counter() - started
            if rep_path is not None:
                sinks.append(write_report(report, rep_path))
            for s in sinks:
                s.commit()
        finally:
            for s in sinks:
                s.discard()
        return report
    finally:
        source.close()


DEFAULT_WEIGHT_COLUMN = "sample_weight"
SCALES: tuple[str, ...] = ("none", "standard")


def _check_options(
    strategy: str,
    *,
    target: str | float | dict[str, int] | TargetSpec | None,
    seed: int,
    k_neighbors: int,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    categorical: Sequence[str] | None,
    scale: str,
    grow_with: str | None,
    weight_column: str | None,
    bags: int | None,
    test_size: float | str | None,
    test_output: str | os.PathLike[str] | None,
    shuffle: bool,
    group_policy: str,
    shrinkage: float | None,
    output: str | os.PathLike[str] | None,
    warnings: list[str],
) -> TargetSpec:
    """The parsed target, once the strategy, the seed and every flag are checked.

    Flags that do not fit the strategy or each other are usage errors, or warnings.
    """
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    check_k_neighbors(k_neighbors)
    resolve_seed(seed)
    if grow_with is not None and grow_with not in GROW_WITH:
        raise UsageError(
            f"--grow-with {grow_with!r} is not a way to grow", hint="use oversample or smote"
        )
    smote_grows = strategy == "smote" or (strategy == "hybrid" and grow_with == "smote")
    if not smote_grows:
        for flag, given in (
            ("--features", features if shrinkage is None else None),
            ("--exclude", exclude if shrinkage is None else None),
            ("--id-columns", id_columns if shrinkage is None else None),
            ("--categorical", categorical),
            ("--scale", None if scale == "none" else scale),
        ):
            if given:
                warnings.append(f"{flag} is used by smote only and was ignored")
    if scale not in SCALES:
        raise UsageError(f"--scale {scale!r} is not a scaling", hint="use none or standard")
    if grow_with is not None and strategy != "hybrid":
        warnings.append("--grow-with is used by hybrid only and was ignored")
    if weight_column is not None and strategy != "weight":
        warnings.append("--weight-column is used by --strategy weight only and was ignored")
    if weight_column is not None and not weight_column.strip():
        raise UsageError("--weight-column must not be empty")
    if group_policy not in GROUP_POLICIES:
        raise UsageError(
            f"--group-policy {group_policy!r} is not a policy",
            hint=f"use {', '.join(GROUP_POLICIES)}",
        )
    if shrinkage is not None:
        oversampling = strategy == "oversample" or (
            strategy == "hybrid" and (grow_with or "oversample") == "oversample"
        )
        if not oversampling:
            raise UsageError(
                "--shrinkage jitters duplicated rows: it needs --strategy oversample "
                "(or hybrid growing with oversample)"
            )
        if not (shrinkage >= 0 and math.isfinite(shrinkage)):
            raise UsageError(f"--shrinkage must be 0 or more (got {shrinkage})")
    if (test_size is None) != (test_output is None):
        raise UsageError(
            "--test-size and --test-output go together",
            hint="e.g. --test-size 0.2 --test-output test.parquet",
        )
    if bags is not None:
        if bags < 1:
            raise UsageError(f"--bags must be at least 1 (got {bags})")
        if strategy != "undersample":
            raise UsageError(
                f"--bags makes undersampled bags; --strategy {strategy} does not fit",
                hint="use --strategy undersample",
            )
        if shuffle:
            raise UsageError("--bags and --shuffle do not go together")
        if test_size is not None:
            raise UsageError(
                "--bags and --test-size do not go together",
                hint="split first with --test-size, then make bags from the train file",
            )
        if output is not None and str(output) == STDIO:
            raise UsageError("--bags writes several files; -o - (stdout) cannot hold them")
    return spec


def resolve_smote_columns(
    schema: pl.Schema,
    label: str,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    categorical: Sequence[str] | None,
    by: Sequence[str],
) -> tuple[list[str], list[str], bool]:
    """SMOTE's numeric features, its categorical features, and whether those were named.

    Without ``--categorical``, string, categorical and boolean columns other than
    the label, ``--by``, ``--exclude`` and ``--id-columns`` take part in the distance
    (SMOTE-NC); ``--categorical`` names them instead.
    """
    numeric = [
        c
        for c in resolve_features(schema, label, features, exclude, id_columns, allow_empty=True)
        if c not in by
    ]
    cats = _names("--categorical", categorical, schema, label)
    for c in cats:
        if c in (id_columns or ()) or c in (exclude or ()):
            raise UsageError(f"column {c!r} is in both --categorical and --id-columns/--exclude")
    skip = {label, *(exclude or ()), *(id_columns or ()), *by}
    if categorical is None:
        cats = [
            c
            for c, t in schema.items()
            if c not in skip and c not in numeric and _is_categorical(t)
        ]
    numeric = [c for c in numeric if c not in cats]
    if not numeric and not cats:
        raise DataError(
            "SMOTE needs at least one feature column and the input has none left",
            hint="check --features/--exclude/--categorical, or use oversample",
        )
    return numeric, cats, categorical is not None


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)


def resample_frame(
    frame: pl.DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pl.DataFrame:
    """Rebalance an in-memory frame; the same rows, in the same order, as ``rebalance``.

    For notebooks, cross-validation folds and other engines: no file is read or
    written. Errors are the exceptions of :mod:`rebalance_cli.errors`.
    """
    warnings: list[str] = []
    spec = _check_options(
        strategy,
        target=target,
        seed=seed,
        k_neighbors=k_neighbors,
        features=features,
        exclude=exclude,
        id_columns=id_columns,
        categorical=categorical,
        scale=scale,
        grow_with=grow_with,
        weight_column=weight_column,
        bags=None,
        test_size=None,
        test_output=None,
        shuffle=False,
        group_policy=group_policy,
        shrinkage=shrinkage,
        output=None,
        warnings=warnings,
    )
    display = "<frame>"
    lf = frame.lazy()
    prepared = _prepare(
        lf,
        frame.schema,
        display,
        label=label,
        strategy=strategy,
        spec=spec,
        seed=seed,
        k_neighbors=k_neighbors,
        features=features,
        exclude=exclude,
        id_columns=id_columns,
        categorical=categorical,
        scale=scale,
        grow_with=grow_with or "oversample",
        weight_column=weight_column or DEFAULT_WEIGHT_COLUMN,
        by=by,
        group_policy=group_policy,
        shrinkage=shrinkage,
        test_share=None,
        drop_null_labels=drop_null_labels or lenient,
        lenient=lenient,
        max_classes=None,
        timings={},
        warnings=warnings,
    )
    p2 = prepared.pass2
    outcome = _Outcome(warnings=warnings)
    parts = list(
        _output_frames(
            display,
            lf,
            frame.schema,
            p2,
            p2.selector(seed),
            chunk_size,
            drop_null_labels or lenient,
            None,
            outcome,
            threading.Event(),
        )
    )
    if not parts:
        return pl.DataFrame(schema=prepared.out_schema)
    return pl.concat(parts, rechunk=True)


@dataclass
class _Outcome:
    """What pass 2 learns while it streams; complete once the stream has ended."""

    warnings: list[str]
    written: list[int] = field(default_factory=list)
    knn: dict[str, str] = field(default_factory=dict)
    categorical: set[str] = field(default_factory=set)
    left_out_columns: dict[str, str] = field(default_factory=dict)
    smote_seconds: float = 0.0


def _prepare_smote(
    pool: pl.DataFrame, codes: np.ndarray, p2: _Pass2, outcome: _Outcome
) -> list[SmoteClass]:
    """Neighbours and draws of every cell to grow, from its rows (``pool``, input order)."""
    started = time.perf_counter()
    smote = p2.smote
    assert smote is not None
    layout = p2.layout
    out = []
    for i in p2.grow:
        sc = prepare_smote(
            pool.filter(pl.Series(codes == i)),
            layout.names[i],
            layout.values[i],
            p2.after[i] - p2.before[i],
            layout.label,
            smote.features,
            smote.id_columns,
            smote.k,
            smote.seed,
            drop_invalid=smote.lenient,
            categorical=smote.categorical,
            named_categorical=smote.named_categorical,
            scale=smote.scale,
            left_out_columns=outcome.left_out_columns,
        )
        shown = layout.classes[i]
        if layout.groups[i] is not None:
            values = layout.group_values.get(layout.groups[i] or "", {})
            shown = ", ".join(f"{k}={v}" for k, v in values.items()) + f" / {shown}"
        if sc.left_out:
            outcome.warnings.append(
                f"{sc.left_out} rows of class {shown!r} with a null, NaN or infinite feature "
                "were left out of the SMOTE seeds (--lenient)"
            )
        outcome.knn[shown] = sc.knn_method
        outcome.categorical.update(sc.categorical)
        out.append(sc)
    outcome.smote_seconds = time.perf_counter() - started
    return out


def _write(
    source: Source,
    lf: pl.LazyFrame,
    path: Path,
    fmt: str,
    schema: pl.Schema,
    out_schema: pl.Schema,
    p2: _Pass2,
    seed: int,
    chunk_size: int,
    drop_null_labels: bool,
    progress: Progress | None,
    shuffle: bool,
    outcome: _Outcome,
) -> None:
    """Pass 2 (and SMOTE's synthetic rows) into ``path``; fills ``outcome``."""
    selector = p2.selector(seed)
    dictionaries = _dictionaries(source, lf, schema, fmt)
    split = p2.split
    if split is not None:
        assert split.path is not None
        test_dicts = _dictionaries(source, lf, schema, split.fmt)
        with writing():
            split.writer = open_frame_writer(split.path, split.fmt, schema, test_dicts)
    stop = threading.Event()
    frames = _output_frames(
        source.display,
        lf,
        schema,
        p2,
        selector,
        chunk_size,
        drop_null_labels,
        progress,
        outcome,
        stop,
    )
    folder = None
    if shuffle:
        folder = Path(tempfile.mkdtemp(prefix=".rebalance-shuffle-", dir=path.parent))
        frames = shuffled(frames, out_schema, seed, sum(p2.after), folder, chunk_size)
    try:
        with writing():
            write_frames(frames, path, fmt, out_schema, dictionaries, stop)
            if split is not None:
                split.writer.close()
                split.writer = None
    finally:
        if split is not None and split.writer is not None:
            with contextlib.suppress(Exception):
                split.writer.close()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if tuple(outcome.written) != p2.after:
        raise RuntimeError(
            f"rows written per cell {outcome.written} differ from the plan {p2.after}"
        )
    if split is not None and tuple(int(v) for v in split.selector.written) != split.counts:
        raise RuntimeError(
            f"test rows {split.selector.written} differ from the plan {split.counts}"
        )


def _dictionaries(
    source: Source, lf: pl.LazyFrame, schema: pl.Schema, fmt: str
) -> dict[str, list[str]]:
    """Fixed sorted dictionaries of Categorical columns, for Parquet/IPC bytes that
    do not depend on the batching (one extra scan of those columns)."""
    cats = dictionary_columns(schema, fmt)
    if not cats:
        return {}
    with reading(source.display):
        found = lf.select(
            pl.col(c).cast(pl.String).drop_nulls().unique().sort().implode() for c in cats
        ).collect()
    return {c: found[c][0].to_list() for c in cats}


def _coded_batches(
    display: str, lf: pl.LazyFrame, layout: Layout, chunk_size: int, drop_null_labels: bool
) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
    """Pass 2's input: each batch, in order, with the cell code of every row."""
    scan = lf.filter(pl.col(layout.label).is_not_null()) if drop_null_labels else lf
    with reading(display):
        for batch in frame_batches(scan, chunk_size):
            try:
                codes = layout.codes(batch)
            except LookupError as exc:
                raise DataError(f"{display} changed while it was read: {exc}") from None
            yield batch, codes


def _write_bags(
    source: Source,
    lf: pl.LazyFrame,
    schema: pl.Schema,
    p2: _Pass2,
    seed: int,
    chunk_size: int,
    drop_null_labels: bool,
    targets: list[tuple[str, Path | None, str]],
    sinks: list[AtomicFile],
    report: Report,
    progress: Progress | None,
) -> None:
    """K undersampled bags from one pass over the input, each with its own derived seed."""
    layout = p2.layout
    selectors = [
        RowSelector(
            layout.names, p2.before, p2.after, derived_seed(seed, "bag", b + 1), "undersample"
        )
        for b in range(len(targets))
    ]
    writers: list[Any] = []
    try:
        for name, path, fmt in targets:
            sink = AtomicFile(path, what=f"bag {name}")
            sinks.append(sink)
            dicts = _dictionaries(source, lf, schema, fmt)
            with writing():
                writers.append(open_frame_writer(sink.tmp, fmt, schema, dicts))
        done = 0
        for batch, codes in _coded_batches(
            source.display, lf, layout, chunk_size, drop_null_labels
        ):
            for selector, writer in zip(selectors, writers, strict=True):
                keep = selector.copies(codes).astype(bool)
                with writing():
                    writer.write(batch.filter(pl.Series(keep)))
            done += batch.height
            if progress:
                progress("write", done, sum(p2.before))
        with writing():
            while writers:
                writers.pop(0).close()
    finally:
        for w in writers:
            with contextlib.suppress(Exception):
                w.close()
    for selector in selectors:
        if not np.array_equal(selector.offsets, np.array(p2.before)):
            raise DataError(f"{source.display} changed while it was read (class counts differ)")
        if tuple(int(v) for v in selector.written) != p2.after:
            raise RuntimeError(f"bag rows {selector.written} differ from the plan {p2.after}")
    report.rows["written"] = sum(int(s.written.sum()) for s in selectors)
    report.rows["written_per_bag"] = int(selectors[0].written.sum())
    for entry, sink, selector in zip(report.extra["bags"], sinks, selectors, strict=True):
        entry["rows"] = int(selector.written.sum())
        entry["counts"] = per_class(layout, [int(v) for v in selector.written])
        entry["format"] = targets[entry["bag"] - 1][2]
        entry["bytes"] = sink.tmp.stat().st_size
    report.output = {
        "path": "; ".join(t[0] for t in targets),
        "format": targets[0][2],
        "bytes": sum(s.tmp.stat().st_size for s in sinks),
    }


def _output_frames(
    display: str,
    lf: pl.LazyFrame,
    schema: pl.Schema,
    p2: _Pass2,
    selector: RowSelector,
    chunk_size: int,
    drop_null_labels: bool,
    progress: Progress | None,
    outcome: _Outcome,
    stop: threading.Event,
) -> Iterator[pl.DataFrame]:
    """The output, in order, as frames of at most ``chunk_size`` rows.

    The rows of the cells SMOTE grows are kept as they stream by (they are the
    pool), so the synthetic rows that follow the input need no second scan.
    Test-split rows go to their own writer as they stream by. ``outcome`` is
    complete once the stream has ended.
    """
    layout = p2.layout
    grow = p2.grow
    split = p2.split
    pool: list[pl.DataFrame] = []
    pool_codes: list[np.ndarray] = []
    total = sum(layout.counts)
    done = 0
    weights = p2.weights
    with reading(display):
        for batch, codes in _coded_batches(display, lf, layout, chunk_size, drop_null_labels):
            if stop.is_set():
                raise SinkStopped
            done += batch.height
            if split is not None:
                test = split.selector.copies(codes).astype(bool)
                if test.any():
                    with writing():
                        split.writer.write(batch.filter(pl.Series(test)))
                    batch = batch.filter(pl.Series(~test))
                    codes = codes[~test]
            copies = selector.copies(codes)
            if grow:
                mine = np.isin(codes, grow)
                if mine.any():
                    pool.append(batch.filter(pl.Series(mine)))
                    pool_codes.append(codes[mine])
            if weights is not None:
                assert p2.weight_column is not None
                batch = batch.with_columns(pl.Series(p2.weight_column, weights[codes]))
            if p2.shrink is None:
                yield from expand(batch, copies, chunk_size)
            else:
                yield from _expand_jittered(batch, codes, copies, chunk_size, p2.shrink)
            if progress:
                progress("write", done, total)
    if not np.array_equal(selector.offsets, np.array(p2.before)):
        raise DataError(f"{display} changed while it was read (class counts differ)")
    counts = selector.written.copy()
    smote_classes: list[SmoteClass] = []
    if p2.smote is not None and grow:
        smote_classes = _prepare_smote(pl.concat(pool), np.concatenate(pool_codes), p2, outcome)
        pool.clear()  # each class keeps its own rows
    for i, sc in zip(grow, smote_classes, strict=True):
        for part in sc.batches(schema, chunk_size):
            if stop.is_set():
                raise SinkStopped
            yield part
            counts[i] += part.height
            if progress:
                progress("smote", int(counts[i] - p2.before[i]), sc.new_rows)
    outcome.written = [int(v) for v in counts]


def _expand_jittered(
    df: pl.DataFrame, codes: np.ndarray, copies: np.ndarray, max_rows: int, shrink: _Shrink
) -> Iterator[pl.DataFrame]:
    """Like ``expand``, with the smoothed-bootstrap jitter on every copy but the first."""
    last = -1  # the row before a part: a part may start on a later copy of it
    for part in expanded_rows(copies, max_rows):
        dup = np.empty(part.size, dtype=bool)
        dup[0] = part[0] == last
        dup[1:] = part[1:] == part[:-1]
        last = int(part[-1])
        yield shrink.apply(df.gather(index_series(part)), codes[part], dup)

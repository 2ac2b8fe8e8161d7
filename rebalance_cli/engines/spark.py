"""The Spark engine: the local plan and the local rows, on a Spark DataFrame.

The plan is ``make_plan`` on class counts from a ``groupBy``; every row's fate
is the local engine's key of (seed, strategy, class, position within class),
never ``rand()`` or ``sampleBy``. So counts are exact and the selected rows are
those of the local engine, whatever the partitioning.

Row order, and therefore a row's position within its class, is the order of
(partition, row within partition): for one file read by Spark that is the file
order, however many splits it is cut into. Two passes see it:

    pass 1  groupBy(spark_partition_id(), label).count() -> class counts per partition
            -> ClassIndex and plan on the driver; prefix sums give each (partition,
            class) the position of its first row
    pass 2  mapInArrow: per batch, class codes and positions (the local numpy
            code), copies per row; filter the zeros, explode the copies

Pass 2 checks that every partition held the rows pass 1 counted, so an input
whose order changes between two reads fails instead of giving other rows.

SMOTE keeps every input row. A class it grows is collected to the driver when
it has at most ``smote_driver_rows`` rows, ordered by position and synthesised
by the local code (the rows are the local engine's); a larger class is grown
within each partition instead (approximate: neighbours come from the same
partition only; the counts stay exact), with a warning.

pyspark is imported inside the functions, so the base install needs no JVM.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .. import rng
from .. import strategies as registry
from ..api import Distribution
from ..classes import COUNT, ClassIndex, class_positions
from ..columns import check_label, resolve_smote_columns
from ..errors import DataError, InputOutputError, RebalanceError, RefusedError, UsageError
from ..io import STDIO, ReadOptions, check_target, format_from_name, resolve_output_format
from ..plan import Plan, TargetSpec, make_plan, parse_target
from ..report import Report, write_report
from ..request import DEFAULT_MAX_CLASSES, DEFAULT_MAX_OUTPUT_ROWS, resolve_seed
from ..samplers import RowSelector, SmoteSettings, check_class_size, prepare_smote
from ..strategies.smote import check_k_neighbors
from .driver import label_warnings

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# pyspark 4 warns about pandas 3 on every Arrow job; this engine hands it Arrow, not pandas.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

PID = "__rebalance_partition__"
CODE = "__rebalance_class__"
POS = "__rebalance_position__"
COPIES = "__rebalance_copies__"
REPEAT = "__rebalance_repeat__"
BAD = "__rebalance_bad__"
SPARK_FORMATS = ("csv", "tsv", "parquet")
SPARK_STRATEGIES = ("undersample", "oversample", "smote")
DEFAULT_SMOTE_DRIVER_ROWS = 2_000_000
SMOTE_DRIVER_ROWS_CONF = "spark.rebalance.smote.driverRows"
SYNTHETIC_BATCH = 65_536


# --------------------------------------------------------------------------- session


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(
            "the Spark engine needs pyspark, which is not installed",
            hint='pip install "rebalance-cli[spark]" (and a Java runtime)',
        ) from None


def get_session(master: str | None = None) -> tuple[SparkSession, bool]:
    """The active Spark session, or a new one; the flag says whether it was created here.

    Under spark-submit or in a notebook the active session is used as it is
    (``master`` is then ignored). A new local session runs its Python workers
    with this interpreter unless PYSPARK_PYTHON says otherwise.
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("rebalance")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
    )
    if master:
        builder = builder.master(master)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise InputOutputError(
            f"cannot start Spark: {_first_line(exc)}",
            hint="check --spark-master, and that java is on the PATH (or JAVA_HOME is set)",
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


@contextlib.contextmanager
def _spark_errors(display: str) -> Iterator[None]:
    """Spark's errors as one-line user errors; ours pass through."""
    try:
        yield
    except RebalanceError:
        raise
    except Exception as exc:
        from pyspark.errors import AnalysisException, PySparkException

        if not isinstance(exc, PySparkException | AnalysisException):
            py4j = sys.modules.get("py4j.protocol")
            if py4j is None or not isinstance(exc, py4j.Py4JJavaError):
                raise
        text = str(exc)
        for line in text.splitlines():  # a Python error raised on an executor
            for kind in (DataError, UsageError):
                marker = f"rebalance_cli.errors.{kind.__name__}: "
                if marker in line:
                    raise kind(line.split(marker, 1)[1]) from None
        if "PATH_NOT_FOUND" in text or "FileNotFoundException" in text:
            raise InputOutputError(f"cannot read {display}: {_first_line(exc)}") from None
        if "changed between" in text:
            raise DataError(
                f"{display} changed while it was read (its rows moved between Spark's passes)",
                hint="read a stable input, or pass order_by= a unique column",
            ) from None
        raise DataError(f"Spark failed on {display}: {_first_line(exc)}") from None


# --------------------------------------------------------------------------- frames


def _collect(df: DataFrame) -> pl.DataFrame:
    """A small Spark DataFrame on the driver as a polars frame (through Arrow)."""
    if hasattr(df, "toArrow"):
        return pl.from_arrow(df.toArrow())  # type: ignore[return-value]
    return pl.from_pandas(df.toPandas())  # pyspark 3.5


def _arrow_schema(df: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    tz = df.sparkSession.conf.get("spark.sql.session.timeZone")
    return to_arrow_schema(df.schema, timezone=tz)


def polars_schema(df: DataFrame) -> pl.Schema:
    """The polars schema of a Spark DataFrame's rows as they reach Python through Arrow."""
    return pl.from_arrow(_arrow_schema(df).empty_table()).schema  # type: ignore[union-attr]


def _from_arrow(spark: SparkSession, table: pa.Table, df: DataFrame) -> DataFrame:
    """A driver-side Arrow table as a Spark DataFrame with ``df``'s schema."""
    table = table.cast(_arrow_schema(df))
    try:
        return spark.createDataFrame(table, schema=df.schema)
    except TypeError:  # pyspark 3.5 takes pandas, not Arrow
        return spark.createDataFrame(table.to_pandas(), schema=df.schema)


def _with_fields(df: DataFrame, *extra: tuple[str, Any]) -> Any:
    """``df``'s schema plus non-null columns (a new StructType: ``add`` mutates in place)."""
    from pyspark.sql.types import StructField, StructType

    fields = list(df.schema.fields) + [StructField(n, t, nullable=False) for n, t in extra]
    return StructType(fields)


def _labels(batch: pa.RecordBatch, label: str) -> tuple[pl.Series, np.ndarray | None]:
    """The label column of a batch, and a mask of its non-null rows (None when all are)."""
    labels = pl.from_arrow(batch.column(label))
    assert isinstance(labels, pl.Series)
    if not labels.null_count():
        return labels, None
    valid = labels.is_not_null()
    return labels.filter(valid), valid.to_numpy()


def _map(df: DataFrame, body: Any, schema: Any) -> DataFrame:
    """``mapInArrow`` over ``df`` with each row's partition id in a last column.

    The id is ``spark_partition_id()`` of ``df``'s own partitions, the one pass 1
    grouped by; the task's partition id would not be, once the result is in a union.
    """
    from pyspark.sql import functions as F

    return df.withColumn(PID, F.spark_partition_id()).mapInArrow(body, schema)


def _stamped(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The batches of one partition without the partition-id column, with the id."""
    for batch in batches:
        if batch.num_rows:
            yield int(batch.column(PID)[0].as_py()), batch.drop_columns([PID])


def _changed(pid: int) -> RuntimeError:
    return RuntimeError(f"partition {pid}: the input changed between Spark's two passes")


# --------------------------------------------------------------------------- pass 1


@dataclass(frozen=True)
class Layout:
    """Class counts, per partition, as pass 1 found them."""

    index: ClassIndex
    per_partition: np.ndarray  # (partitions, classes) rows

    @property
    def starts(self) -> np.ndarray:
        """Position, within its class, of each (partition, class)'s first row."""
        return np.cumsum(self.per_partition, axis=0) - self.per_partition

    @property
    def partitions(self) -> int:
        return int(self.per_partition.shape[0])


def count_layout(df: DataFrame, label: str, max_classes: int | None = None) -> Layout:
    """Pass 1: ``groupBy(partition, label).count()``, collected and indexed on the driver."""
    from pyspark.sql import functions as F

    parts = df.rdd.getNumPartitions()
    grouped = _collect(
        df.select(F.spark_partition_id().alias(PID), F.col(label))
        .groupBy(PID, label)
        .agg(F.count(F.lit(1)).alias(COUNT))
    )
    totals = grouped.group_by(label).agg(pl.col(COUNT).sum())
    distinct = totals.height - int(totals[label].null_count() > 0)
    if max_classes is not None and distinct > max_classes:
        raise DataError(
            f"label column {label!r} has {distinct} distinct values, more than "
            f"--max-classes {max_classes}",
            hint="it looks like an id or a continuous column; check --label, "
            "or raise --max-classes",
        )
    index = ClassIndex.from_counts(label, totals)
    known = grouped.filter(pl.col(label).is_not_null())
    pids = known[PID].to_numpy().astype(np.int64)
    size = max(parts, int(pids.max()) + 1 if pids.size else 0)
    per = np.zeros((size, len(index)), dtype=np.int64)
    if pids.size:
        np.add.at(per, (pids, index.codes(known[label])), known[COUNT].to_numpy())
    return Layout(index, per)


# --------------------------------------------------------------------------- pass 2 (executors)


@dataclass(frozen=True)
class _Copies:
    """mapInArrow body: copies per row by the local RowSelector, zeros filtered out."""

    label: str
    index: ClassIndex
    selector: RowSelector
    starts: np.ndarray
    per_partition: np.ndarray
    with_copies: bool

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        pid = -1
        sel = copy.copy(self.selector)  # shares the thresholds; own counters below
        for pid, batch in _stamped(batches):
            if sel.offsets is self.selector.offsets:  # the partition's first batch
                sel.offsets = self.starts[pid].copy()
                sel.written = np.zeros_like(sel.written)
            labels, valid = _labels(batch, self.label)
            got = sel.copies(self.index.codes(labels))
            if valid is None:
                copies = got
            else:
                copies = np.zeros(batch.num_rows, dtype=np.int64)
                copies[valid] = got
            keep = copies > 0
            out = batch if keep.all() else batch.filter(pa.array(keep))
            if self.with_copies:
                out = out.append_column(COPIES, pa.array(copies[keep].astype(np.int32)))
            if out.num_rows:
                yield out
        if pid >= 0 and not np.array_equal(sel.offsets, self.starts[pid] + self.per_partition[pid]):
            raise _changed(pid)


@dataclass(frozen=True)
class _Pool:
    """mapInArrow body: the rows of some classes, with their class code and position."""

    label: str
    index: ClassIndex
    starts: np.ndarray
    wanted: np.ndarray  # bool per class

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        offsets = None
        for pid, batch in _stamped(batches):
            if offsets is None:
                offsets = self.starts[pid].copy()
            labels, valid = _labels(batch, self.label)
            codes = self.index.codes(labels)
            pos = class_positions(codes, offsets)
            mine = self.wanted[codes]
            if not mine.any():
                continue
            rows = np.flatnonzero(valid)[mine] if valid is not None else np.flatnonzero(mine)
            out = batch.take(pa.array(rows))
            out = out.append_column(CODE, pa.array(codes[mine].astype(np.int32)))
            yield out.append_column(POS, pa.array(pos[mine]))


@dataclass(frozen=True)
class _SmoteSpec:
    """What SMOTE needs besides the plan (the local engine's _Smote, plus the label)."""

    label: str
    features: tuple[str, ...]
    id_columns: tuple[str, ...]
    k: int
    seed: int
    lenient: bool
    categorical: tuple[str, ...] = ()
    named_categorical: bool = False
    scale: str = "none"


def partition_seed(seed: int, cls: str, pid: int) -> int:
    """The seed of one class's SMOTE inside one partition (the approximate path)."""
    return int(rng.stream_base(seed, "smote-partition", f"{cls}\x1f{pid}"))


@dataclass(frozen=True)
class _PartitionSmote:
    """mapInArrow body: SMOTE within one partition for the classes too big for the driver."""

    index: ClassIndex
    spec: _SmoteSpec
    new_rows: np.ndarray  # (partitions, classes) synthetic rows to make

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pid = -1
        need = None
        pool: list[pl.DataFrame] = []
        pool_codes: list[np.ndarray] = []
        schema = None
        for pid, batch in _stamped(batches):
            need = self.new_rows[pid]
            if not need.any():
                continue
            schema = batch.schema
            labels, valid = _labels(batch, self.spec.label)
            codes = self.index.codes(labels)
            mine = need[codes] > 0
            if mine.any():
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                if valid is not None:
                    frame = frame.filter(pl.Series(valid))
                pool.append(frame.filter(pl.Series(mine)))
                pool_codes.append(codes[mine])
        if not pool or schema is None or need is None:
            return
        frame = pl.concat(pool)
        codes = np.concatenate(pool_codes)
        for i in np.flatnonzero(need):
            part = frame.filter(pl.Series(codes == i))
            token = self.index.tokens[i]
            sc = prepare_smote(
                part,
                token,
                self.index.value(int(i)),
                int(need[i]),
                self.spec.label,
                SmoteSettings(
                    features=self.spec.features,
                    id_columns=self.spec.id_columns,
                    k=self.spec.k,
                    seed=partition_seed(self.spec.seed, token, pid),
                    drop_invalid=self.spec.lenient,
                    categorical=self.spec.categorical,
                    named_categorical=self.spec.named_categorical,
                    scale=self.spec.scale,
                ),
            )
            for out in sc.batches(part.schema, SYNTHETIC_BATCH):
                yield from out.to_arrow().cast(schema).to_batches()


# --------------------------------------------------------------------------- the run


@dataclass
class SparkRun:
    """A planned Spark resample: the output DataFrame (lazy) and what the report needs."""

    frame: DataFrame
    plan: Plan
    layout: Layout
    seed: int
    warnings: list[str]
    engine: dict[str, Any]
    features: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    knn: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def nulls(self) -> int:
        return self.layout.index.nulls


def _smote_driver_rows(spark: SparkSession, given: int | None) -> int:
    if given is not None:
        value: Any = given
    else:
        value = spark.conf.get(SMOTE_DRIVER_ROWS_CONF, str(DEFAULT_SMOTE_DRIVER_ROWS))
    try:
        rows = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{SMOTE_DRIVER_ROWS_CONF} {value!r} is not a whole number") from None
    if rows < 0:
        raise UsageError(f"{SMOTE_DRIVER_ROWS_CONF} must not be negative (got {rows})")
    return rows


def allocate(counts: np.ndarray, total: int, k: int) -> np.ndarray:
    """Split ``total`` synthetic rows over partitions in proportion to their usable rows.

    Only partitions with at least k + 1 rows take part (SMOTE needs k neighbours);
    the largest remainders (then the lower partition id) take the leftover rows.
    """
    counts = np.where(counts >= k + 1, counts, 0).astype(np.int64)
    pool = int(counts.sum())
    out = np.zeros(counts.shape[0], dtype=np.int64)
    if total == 0 or pool == 0:
        return out
    share = counts * total
    out[:] = share // pool
    left = total - int(out.sum())
    rem = share % pool
    order = np.lexsort((np.arange(counts.shape[0]), -rem))
    out[order[:left]] += 1
    return out


def resample_dataframe(
    df: DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    drop_null_labels: bool = False,
    lenient: bool = False,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS,
    plan_only: bool = False,
    display: str = "<DataFrame>",
) -> SparkRun:
    """Plan a resample of a Spark DataFrame; ``SparkRun.frame`` is the (lazy) result.

    Row order (which decides each row's random key) is ``order_by`` when given
    (a column with unique values, e.g. an id), else the DataFrame's own order:
    partition by partition, for one file read by Spark the file order. That
    order must be the same each time the DataFrame is computed (a file read is;
    a shuffle without a sort is not, and fails loudly rather than silently).
    Synthetic rows made on the driver come after all input rows, as locally.
    """
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    if registry.get(strategy).name not in SPARK_STRATEGIES:
        raise UsageError(
            f"--strategy {strategy} is not supported with --engine spark",
            hint=f"the Spark engine runs {', '.join(SPARK_STRATEGIES)}; use --engine local",
        )
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    check_k_neighbors(k_neighbors)
    seed = resolve_seed(seed)[0]
    spark = df.sparkSession
    schema = polars_schema(df)
    check_label(schema, label, display)
    if order_by is not None:
        if order_by not in schema:
            raise DataError(f"order_by names column {order_by!r}, which is not in {display}")
        df = df.orderBy(order_by)
    feature_cols: list[str] = []
    cat_cols: list[str] = []
    named = False
    if strategy == "smote":
        feature_cols, cat_cols, named = resolve_smote_columns(
            schema, label, features, exclude, id_columns, categorical, []
        )
    warnings: list[str] = []
    if strategy != "smote":
        for flag, given in (
            ("--features", features),
            ("--exclude", exclude),
            ("--id-columns", id_columns),
        ):
            if given:
                warnings.append(f"{flag} is used by smote only and was ignored")

    t0 = time.perf_counter()
    with _spark_errors(display):
        layout = count_layout(df, label, max_classes)
    timings["count"] = time.perf_counter() - t0
    index = layout.index
    drop_null_labels = drop_null_labels or lenient
    if index.nulls and not drop_null_labels:
        raise DataError(
            f"label column {label!r} has {index.nulls} null value{'s' if index.nulls != 1 else ''}",
            hint="pass --drop-null-labels to leave those rows out",
        )
    if index.nulls:
        warnings.append(f"{index.nulls} rows with a null label were dropped")
    warnings.extend(label_warnings(index))
    if len(index) == 0:
        raise DataError(f"{display} has no rows with a label")
    t0 = time.perf_counter()
    plan = make_plan(index.pairs(), strategy, spec)
    timings["plan"] = time.perf_counter() - t0
    if max_output_rows is not None and plan.rows_out > max_output_rows:
        raise UsageError(
            f"the plan writes {plan.rows_out:,} rows, more than --max-output-rows "
            f"{max_output_rows:,}",
            hint="check --target for a typo, or raise --max-output-rows",
        )
    warnings.extend(plan.warnings)
    engine: dict[str, Any] = {
        "name": "spark",
        "spark_version": spark.version,
        "master": spark.sparkContext.master,
        "input_partitions": layout.partitions,
        "row_order": f"order_by {order_by}" if order_by else "partition order",
    }
    run = SparkRun(
        df, plan, layout, seed, warnings, engine, feature_cols, cat_cols, timings=timings
    )
    if plan_only:
        return run

    if strategy != "smote":
        selector = RowSelector(plan.classes, plan.before, plan.after, seed, strategy)
        explode = bool((selector.q + selector.extra).max() > 1)
        out_schema = df.schema
        if explode:
            from pyspark.sql.types import IntegerType

            out_schema = _with_fields(df, (COPIES, IntegerType()))
        body = _Copies(label, index, selector, layout.starts, layout.per_partition, explode)
        frame = _map(df, body, out_schema)
        if explode:
            frame = frame.withColumn(
                REPEAT, F.explode(F.array_repeat(F.lit(True), F.col(COPIES)))
            ).drop(COPIES, REPEAT)
        run.frame = frame
        engine["selection"] = (
            "explode of per-row copy counts" if explode else "filter (each row kept 0 or 1 time)"
        )
        return run

    smote = _SmoteSpec(
        label,
        tuple(feature_cols),
        tuple(id_columns or ()),
        k_neighbors,
        seed,
        lenient,
        tuple(cat_cols),
        named,
        scale,
    )
    base = df.filter(F.col(label).isNotNull()) if index.nulls else df
    grow = [i for i, (b, a) in enumerate(zip(plan.before, plan.after, strict=True)) if a > b]
    for i in grow:
        check_class_size(plan.classes[i], plan.before[i], k_neighbors)
    limit = _smote_driver_rows(spark, smote_driver_rows)
    on_driver = [i for i in grow if plan.before[i] <= limit]
    in_partitions = [i for i in grow if plan.before[i] > limit]
    engine["smote"] = {
        "driver_rows_limit": limit,
        "driver_classes": [plan.classes[i] for i in on_driver],
        "partition_classes": [plan.classes[i] for i in in_partitions],
    }
    parts = [base]
    t0 = time.perf_counter()
    if on_driver:
        parts.append(_driver_smote(df, run, smote, on_driver))
    if in_partitions:
        parts.append(_partition_smote(df, run, smote, in_partitions))
    timings["smote_prepare"] = time.perf_counter() - t0
    frame = parts[0]
    for extra in parts[1:]:
        frame = frame.unionByName(extra)
    run.frame = frame
    return run


def _driver_smote(df: DataFrame, run: SparkRun, smote: _SmoteSpec, grow: list[int]) -> DataFrame:
    """The synthetic rows of classes that fit on the driver: the local engine's rows."""
    import pyarrow as pa
    from pyspark.sql.types import IntegerType, LongType

    index, plan = run.layout.index, run.plan
    wanted = np.zeros(len(index), dtype=bool)
    wanted[grow] = True
    schema = _with_fields(df, (CODE, IntegerType()), (POS, LongType()))
    body = _Pool(smote.label, index, run.layout.starts, wanted)
    with _spark_errors("the SMOTE pool"):
        pool = _collect(_map(df, body, schema)).sort(CODE, POS)
    tables: list[pa.Table] = []
    for i in grow:
        part = pool.filter(pl.col(CODE) == i).drop(CODE, POS)
        if part.height != plan.before[i]:
            raise DataError(f"class {plan.classes[i]!r} changed while it was read")
        sc = prepare_smote(
            part,
            index.tokens[i],
            index.value(i),
            plan.after[i] - plan.before[i],
            smote.label,
            SmoteSettings(
                features=smote.features,
                id_columns=smote.id_columns,
                k=smote.k,
                seed=smote.seed,
                drop_invalid=smote.lenient,
                categorical=smote.categorical,
                named_categorical=smote.named_categorical,
                scale=smote.scale,
            ),
        )
        if sc.left_out:
            run.warnings.append(
                f"{sc.left_out} rows of class {sc.cls!r} with a null, NaN or infinite feature "
                "were left out of the SMOTE seeds (--lenient)"
            )
        run.knn[sc.cls] = sc.knn_method
        tables.extend(b.to_arrow() for b in sc.batches(part.schema, SYNTHETIC_BATCH))
    del pool
    target = _arrow_schema(df)
    table = pa.concat_tables([t.cast(target) for t in tables])
    return _from_arrow(df.sparkSession, table, df)


def _partition_smote(df: DataFrame, run: SparkRun, smote: _SmoteSpec, grow: list[int]) -> DataFrame:
    """Synthetic rows of classes too big for the driver, made within each partition."""
    from pyspark.sql import functions as F

    index, plan, layout = run.layout.index, run.plan, run.layout
    new_rows = np.zeros_like(layout.per_partition)
    for i in grow:
        token = plan.classes[i]
        value = index.value(i)
        checks = [_bad(F.col(f), df.schema[f].dataType) for f in smote.features]
        stats = _collect(
            df.filter(F.col(smote.label) == F.lit(value))
            .select(
                F.spark_partition_id().alias(PID),
                *[c.alias(f) for c, f in zip(checks, smote.features, strict=True)],
            )
            .withColumn(
                BAD,
                F.greatest(*[F.col(f) for f in smote.features])
                if len(checks) > 1
                else F.col(smote.features[0]),
            )
            .groupBy(PID)
            .agg(
                F.count(F.lit(1)).alias(COUNT),
                F.sum(BAD).alias(BAD),
                *[F.sum(f).alias(f) for f in smote.features],
            )
        )
        bad_rows = int(stats[BAD].sum() or 0)
        if bad_rows and not smote.lenient:
            for f in smote.features:
                n = int(stats[f].sum() or 0)
                if n:
                    raise DataError(
                        f"feature column {f!r} has {n} null, NaN or infinite value"
                        f"{'s' if n != 1 else ''} in class {token!r}, which SMOTE must grow",
                        hint=f"clean them first, leave the column out with --exclude {f}, "
                        "or pass --lenient to leave those rows out of the seeds",
                    )
        if bad_rows:
            run.warnings.append(
                f"{bad_rows} rows of class {token!r} with a null, NaN or infinite feature "
                "were left out of the SMOTE seeds (--lenient)"
            )
        usable = np.zeros(layout.partitions, dtype=np.int64)
        pids = stats[PID].to_numpy().astype(np.int64)
        usable[pids] = (stats[COUNT] - stats[BAD]).to_numpy()
        alloc = allocate(usable, plan.after[i] - plan.before[i], smote.k)
        if not alloc.any():
            raise DataError(
                f"class {token!r} has {plan.before[i]:,} rows, more than the driver limit "
                f"({SMOTE_DRIVER_ROWS_CONF}), and no partition holds {smote.k + 1} usable rows "
                "of it",
                hint=f"raise {SMOTE_DRIVER_ROWS_CONF}, or use fewer, larger partitions",
            )
        new_rows[:, i] = alloc
        run.knn[token] = "per partition"
        run.warnings.append(
            f"class {token!r} ({plan.before[i]:,} rows) is over the SMOTE driver limit "
            f"({SMOTE_DRIVER_ROWS_CONF}): its {plan.after[i] - plan.before[i]:,} synthetic "
            f"rows were made within {_plural(int((alloc > 0).sum()), 'partition')} "
            "(neighbours from the same partition only), so they differ from the local "
            "engine's; the counts are exact"
        )
    body = _PartitionSmote(index, smote, new_rows)
    return _map(df, body, df.schema)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _bad(col: Any, dtype: Any) -> Any:
    """1 where a feature value is null, NaN or infinite, else 0 (a Spark column)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    cond = col.isNull()
    if isinstance(dtype, DoubleType | FloatType):
        cond = cond | F.isnan(col) | (F.abs(col) == F.lit(float("inf")))
    return F.when(cond, 1).otherwise(0)


def resample_spark(
    df: DataFrame,
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
    drop_null_labels: bool = False,
    lenient: bool = False,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
) -> DataFrame:
    """Rebalance a Spark DataFrame; the rows of ``rebalance_cli.resample_frame`` on the same data.

    The counts are computed now (one Spark job); the returned DataFrame is lazy.
    See :func:`resample_dataframe` for the row order and the SMOTE driver limit.
    """
    return resample_dataframe(
        df,
        label=label,
        strategy=strategy,
        target=target,
        seed=seed,
        k_neighbors=k_neighbors,
        features=features,
        exclude=exclude,
        id_columns=id_columns,
        categorical=categorical,
        scale=scale,
        drop_null_labels=drop_null_labels,
        lenient=lenient,
        order_by=order_by,
        smote_driver_rows=smote_driver_rows,
    ).frame


# --------------------------------------------------------------------------- files


_IGNORED = frozenset({"chunk_size", "progress"})
_UNSET: tuple[Any, ...] = (None, False, "keep")


def row_counts(plan: Plan, nulls: int) -> dict[str, int]:
    """The report's row counts (the local report's fields), fixed by the plan."""
    grown = sum(max(0, a - b) for a, b in zip(plan.after, plan.before, strict=True))
    cut = sum(max(0, b - a) for a, b in zip(plan.after, plan.before, strict=True))
    return {
        "read": plan.rows_in + nulls,
        "written": plan.rows_out,
        "synthetic": grown if plan.strategy == "smote" else 0,
        "dropped": cut + nulls,
        "duplicated": 0 if plan.strategy == "smote" else grown,
        "null_labels_dropped": nulls,
    }


class _Files:
    """Hadoop FileSystem calls through the driver's JVM: local paths, s3a://, hdfs://, ..."""

    def __init__(self, spark: SparkSession) -> None:
        self.jvm: Any = spark.sparkContext._jvm
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()

    def path(self, name: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(name)

    def fs(self, name: str) -> Any:
        return self.path(name).getFileSystem(self.conf)

    def qualified(self, name: str) -> str:
        fs = self.fs(name)
        return str(fs.makeQualified(self.path(name)).toString())

    def exists(self, name: str) -> bool:
        return bool(self.fs(name).exists(self.path(name)))

    def size(self, name: str) -> int:
        return int(self.fs(name).getContentSummary(self.path(name)).getLength())

    def rename(self, src: str, dst: str) -> None:
        if not self.fs(src).rename(self.path(src), self.path(dst)):
            raise InputOutputError(f"cannot rename {src} to {dst}")

    def delete(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.fs(name).delete(self.path(name), True)


def _sibling(target: str, tag: str) -> str:
    """A hidden name beside ``target`` (same folder, so the rename stays in one filesystem)."""
    head, _, name = target.rstrip("/").rpartition("/")
    hidden = f".{name}.{uuid.uuid4().hex[:12]}.{tag}"
    return f"{head}/{hidden}" if head else hidden


def _is_local(name: str) -> bool:
    return "://" not in name and not name.startswith("file:")


def _input_format(data: str, read: ReadOptions) -> str:
    fmt = read.input_format or format_from_name(Path(data.rstrip("/")).name)
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {data}", hint="pass --input-format csv or parquet"
        )
    if fmt not in SPARK_FORMATS:
        raise UsageError(
            f"the Spark engine reads {', '.join(SPARK_FORMATS)}, not {fmt}",
            hint="use --engine local for this file, or convert it to Parquet",
        )
    return fmt


def read_input(spark: SparkSession, data: str, fmt: str, read: ReadOptions) -> DataFrame:
    """The input as a Spark DataFrame (CSV: a header row, types inferred from every row)."""
    if fmt == "parquet":
        return spark.read.parquet(data)
    sep = read.separator or ("\t" if fmt == "tsv" else ",")
    return (
        spark.read.option("header", True)
        .option("inferSchema", True)
        .option("sep", sep)
        .option("mode", "FAILFAST")
        .csv(data)
    )


def _write(frame: DataFrame, path: str, fmt: str, sep: str) -> None:
    writer = frame.write.mode("errorifexists")
    if fmt == "parquet":
        writer.parquet(path)
    else:
        writer.option("header", True).option("sep", sep).csv(path)


def _read_back_counts(
    spark: SparkSession, path: str, fmt: str, sep: str, frame: DataFrame, label: str
) -> dict[str, int]:
    """Class counts of a written directory, read again (the check that the plan was met)."""
    from pyspark.sql import functions as F

    reader = spark.read.schema(frame.schema)
    if fmt == "parquet":
        back = reader.parquet(path)
    else:
        back = reader.option("header", True).option("sep", sep).csv(path)
    got = _collect(back.groupBy(label).agg(F.count(F.lit(1)).alias(COUNT)))
    index = ClassIndex.from_counts(label, got)
    return dict(index.pairs())


@dataclass
class SparkReport(Report):
    """The local report plus an ``engine`` section (Spark version, master, partitions)."""

    engine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc = super().to_dict()
        try:
            doc["versions"]["pyspark"] = metadata.version("pyspark")
        except metadata.PackageNotFoundError:
            doc["versions"]["pyspark"] = "unknown"
        doc["engine"] = self.engine
        return doc


def inspect_spark(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    master: str | None = None,
) -> Distribution:
    """``inspect`` with Spark: the class distribution from one ``groupBy``."""
    spark, created = get_session(master)
    try:
        name = str(data)
        read = (read or ReadOptions()).checked()
        fmt = _input_format(name, read)
        files = _Files(spark)
        if not files.exists(name):
            raise InputOutputError(f"cannot read {name}: no such file or directory")
        with _spark_errors(name):
            df = read_input(spark, name, fmt, read)
            check_label(polars_schema(df), label, name)
            index = count_layout(df, label, max_classes).index
    finally:
        if created:
            spark.stop()
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


def rebalance_spark(
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
    command: list[str] | None = None,
    master: str | None = None,
    smote_driver_rows: int | None = None,
    settings: dict[str, Any] | None = None,
    **local_only: Any,
) -> Report:
    """``rebalance`` with Spark: a folder of part files at ``output``, written atomically.

    The rows go to a hidden folder beside ``output``, their class counts are
    read back and checked against the plan, and the folder is renamed into
    place; an existing ``output`` is refused unless ``force``. The JSON report
    is written by the driver. ``chunk_size`` and ``progress`` (local engine
    only) are accepted and ignored; any other local-only option that is set is
    a usage error rather than silently ignored.
    """
    started = time.perf_counter()
    unsupported = [
        k for k, v in local_only.items() if k not in _IGNORED and v not in _UNSET and v != ()
    ]
    if unsupported:
        flag = "--" + unsupported[0].replace("_", "-")
        raise UsageError(f"{flag} is not supported with --engine spark")
    if shuffle:
        raise UsageError("--shuffle is not supported with --engine spark")
    if output is None and not dry_run:
        raise UsageError("an output is needed (-o PATH)")
    if output is not None and str(output) == STDIO:
        raise UsageError(
            "--engine spark writes a folder of part files, not stdout", hint="give -o a path"
        )
    if dry_run and report_path is not None:
        raise UsageError(
            "--dry-run writes nothing, not even the --report", hint="use --json to see the plan"
        )
    seed, seed_source = resolve_seed(seed)
    read = (read or ReadOptions()).checked()
    name = str(data)
    fmt = _input_format(name, read)
    out_name = None if output is None else str(output).rstrip("/")
    out_fmt = None
    if out_name is not None:
        out_fmt = resolve_output_format(out_name, output_format, fmt)
        if out_fmt not in SPARK_FORMATS:
            raise UsageError(
                f"the Spark engine writes {', '.join(SPARK_FORMATS)}, not {out_fmt}",
                hint="name the output .parquet or .csv",
            )
    rep_path = None
    if report_path is not None:
        rep_path = check_target(str(report_path), force, [Path(name)], "report")

    spark, created = get_session(master)
    try:
        files = _Files(spark)
        if not files.exists(name):
            raise InputOutputError(f"cannot read {name}: no such file or directory")
        if out_name is not None:
            if files.qualified(out_name) == files.qualified(name):
                raise RefusedError(
                    f"the output {out_name} is the input; refusing to overwrite it",
                    hint="write to another path",
                )
            if files.exists(out_name) and not force:
                raise RefusedError(
                    f"the output {out_name} already exists", hint="pass --force to replace it"
                )
            parent = Path(out_name).parent
            if _is_local(out_name) and not parent.exists():
                raise InputOutputError(f"the folder of the output ({parent}) does not exist")
        with _spark_errors(name):
            df = read_input(spark, name, fmt, read)
            run = resample_dataframe(
                df,
                label=label,
                strategy=strategy,
                target=target,
                seed=seed,
                k_neighbors=k_neighbors,
                features=features,
                exclude=exclude,
                id_columns=id_columns,
                categorical=categorical,
                scale=scale,
                drop_null_labels=drop_null_labels,
                lenient=lenient,
                smote_driver_rows=smote_driver_rows,
                max_classes=max_classes,
                max_output_rows=max_output_rows,
                plan_only=dry_run,
                display=name,
            )
        plan = run.plan
        if not created and master and master != spark.sparkContext.master:
            run.warnings.append(
                f"--spark-master {master} was ignored: the active Spark session runs on "
                f"{spark.sparkContext.master}"
            )
        schema = polars_schema(df)
        parameters: dict[str, Any] = {
            "target": plan.target.to_json(),
            "seed": seed,
            "seed_source": seed_source,
            "chunk_size": None,
            "drop_null_labels": drop_null_labels or lenient,
            "shuffle": False,
            "infer_schema_length": None,
            "policy": "lenient" if lenient else "strict",
            "max_classes": max_classes,
            "max_output_rows": max_output_rows,
            "input_format": fmt,
            "output_format": out_fmt,
        }
        if strategy == "smote":
            parameters.update(
                k_neighbors=k_neighbors,
                features=run.features,
                categorical=run.categorical,
                scale=scale,
                id_columns=list(id_columns or ()),
                distance="euclidean" if not run.categorical else "euclidean, SMOTE-NC one-hot",
            )
        report = SparkReport(
            input={
                "path": name,
                "format": fmt,
                "rows": plan.rows_in + run.nulls,
                "columns": len(schema),
                "bytes": files.size(name),
            },
            label=label,
            label_dtype=str(schema[label]),
            strategy=strategy,
            parameters=parameters,
            plan=plan.to_dict(),
            counts_before=dict(zip(plan.classes, plan.before, strict=True)),
            counts_after=dict(zip(plan.classes, plan.after, strict=True)),
            rows=row_counts(plan, run.nulls),
            output=None,
            timings=run.timings,
            warnings=run.warnings,
            command=command,
            dry_run=dry_run,
            engine=run.engine,
        )
        if settings is not None:
            report.extra["settings"] = settings
        if dry_run:
            run.timings["total"] = time.perf_counter() - started
            return report
        assert out_name is not None and out_fmt is not None
        if strategy == "smote":
            parameters["knn"] = run.knn
        sep = read.separator if out_fmt == fmt and read.separator else None
        sep = sep or ("\t" if out_fmt == "tsv" else ",")
        _commit(spark, files, run, report, out_name, out_fmt, sep, force, rep_path, name)
        report.timings["total"] = time.perf_counter() - started
        return report
    finally:
        if created:
            spark.stop()


def _commit(
    spark: SparkSession,
    files: _Files,
    run: SparkRun,
    report: SparkReport,
    out_name: str,
    out_fmt: str,
    sep: str,
    force: bool,
    rep_path: Path | None,
    display: str,
) -> None:
    """Write to a hidden folder, check the counts, then rename it (and the report) into place."""
    tmp = _sibling(out_name, "rebalance-tmp")
    old = None
    report_sink = None
    try:
        t0 = time.perf_counter()
        with _spark_errors(display):
            _write(run.frame, tmp, out_fmt, sep)
        report.timings["write"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with _spark_errors(tmp):
            got = _read_back_counts(spark, tmp, out_fmt, sep, run.frame, report.label)
        report.timings["verify"] = time.perf_counter() - t0
        want = dict(zip(run.plan.classes, run.plan.after, strict=True))
        if {c: got.get(c, 0) for c in want} != want or set(got) - set(want):
            raise RuntimeError(f"rows written per class {got} differ from the plan {want}")
        report.counts_after = {c: got.get(c, 0) for c in want}
        report.output = {
            "path": out_name,
            "format": out_fmt,
            "bytes": files.size(tmp),
            "layout": "folder of part files",
        }
        report.engine["output_files"] = _part_files(files, tmp)
        if rep_path is not None:
            report_sink = write_report(report, rep_path)
        if files.exists(out_name):
            if not force:
                raise RefusedError(
                    f"the output {out_name} already exists", hint="pass --force to replace it"
                )
            old = _sibling(out_name, "rebalance-old")
            files.rename(out_name, old)
        files.rename(tmp, out_name)
        if report_sink is not None:
            report_sink.commit()
        if old is not None:
            files.delete(old)
    except BaseException:
        files.delete(tmp)
        if old is not None and not files.exists(out_name):
            files.rename(old, out_name)
        raise
    finally:
        if report_sink is not None:
            report_sink.discard()


def _part_files(files: _Files, folder: str) -> int:
    statuses = files.fs(folder).listStatus(files.path(folder))
    return sum(1 for s in statuses if str(s.getPath().getName()).startswith("part-"))


def spark_available() -> bool:
    """True when pyspark is importable (Java is found when a session starts)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True

"""The Spark engine: the one program of engines/program.py, run inside ``mapInArrow``.

The driver does what every engine does (``driver.prepare``): pass 1 is one
``groupBy(spark_partition_id(), *by, label).count()``, collected into the
local ``Layout`` (``cells.counts_layout``); the plan, the program and the
report are the local ones. Pass 2 runs the program in every partition: the
partition's runner is first moved to the position of its first row within
every cell (``Program.positions``: one pass on the driver over the
per-partition counts; ``Runner.move_to`` in the partition), then fed each
Arrow batch with its cell codes. A row's fate depends only on
(seed, stream, cell, position in cell), so every partitioning gives the local
rows, in the local order.

One ``mapInArrow`` per sink (the output, the test split, each bag) and one for
the pool of the cells a synthesiser grows: the program is deterministic, so
each pass selects the same rows. The pool is collected to the driver in input
order and synthesised there; the new rows follow the input rows, as locally.

Row order is (partition, row within partition): for one file read by Spark,
the file order however it is split. Every partition checks that it held the
rows pass 1 counted, so an input whose order changes between two reads fails
instead of giving other rows.

The one approximate path: a grown cell larger than ``smote_driver_rows`` is
synthesised within each partition (neighbours from the same partition only;
the counts stay exact), with a warning. It needs a SMOTE-like synthesiser
(``k``, ``features``, ``seed``) and runs without ``--by`` and ``--test-size``.

pyspark is imported inside the functions, so the base install needs no JVM.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from ..cells import Layout, counts_layout, per_class
from ..classes import COUNT, ClassIndex, Distribution, has_label
from ..columns import check_label
from ..errors import DataError, InputOutputError, RebalanceError, RefusedError, UsageError
from ..io import (
    STDIO,
    ReadOptions,
    check_target,
    compression_from_name,
    format_from_name,
    resolve_output_format,
)
from ..phases import Observer, Phases
from ..plan import Plan, TargetSpec
from ..report import Report, write_report
from ..request import DEFAULT_MAX_CLASSES, DEFAULT_MAX_OUTPUT_ROWS, Request, from_keywords
from ..stages.bags import bag_paths
from ..stages.shrinkage import Moments, cell_moments
from ..strategies import Outcome
from .driver import (
    Prepared,
    base_report,
    check_output_rows,
    finish_report,
    prepare,
    stage_sections,
)
from .program import TEST, Cell, Position, Program, shown_cell

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
BAD = "__rebalance_bad__"
POOL = "pool"  # the sink of the rows a synthesiser grows (program.TEST: the test split)
SPARK_FORMATS = ("csv", "tsv", "parquet")
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


@dataclass
class SparkEngine:
    """The driver's queries on a Spark DataFrame: pass 1 and the per-cell std."""

    df: DataFrame
    display: str
    name: str = "spark"
    per_partition: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    def count(self, label: str, by: list[str], max_classes: int | None) -> Layout:
        """``groupBy(partition, *by, label).count()``, collected: the layout, and the
        rows of every cell in every partition."""
        from pyspark.sql import functions as F

        keys = [*by, label]
        with _spark_errors(self.display):
            parts = self.df.rdd.getNumPartitions()
            grouped = _collect(
                self.df.select(F.spark_partition_id().alias(PID), *keys)
                .groupBy(PID, *keys)
                .agg(F.count(F.lit(1)).alias(COUNT))
            )
        totals = grouped.group_by(keys).agg(pl.col(COUNT).sum())
        layout = counts_layout(totals, label, by, max_classes)
        known = grouped.filter(layout.labelled())
        pids = known[PID].to_numpy().astype(np.int64)
        size = max(parts, int(pids.max()) + 1 if pids.size else 0)
        per = np.zeros((size, len(layout)), dtype=np.int64)
        if pids.size:
            np.add.at(per, (pids, layout.codes(known)), known[COUNT].to_numpy())
        self.per_partition = per
        return layout

    def cell_std(self, layout: Layout, columns: list[str]) -> np.ndarray:
        """Population std of ``columns`` per cell: each partition's moments by the local
        code (``cell_moments``), merged on the driver in partition order, so a rerun on
        the same partitioning gives the same bits (Spark's own stddev_pop merges partial
        results in task order)."""
        from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

        fields = [StructField(PID, IntegerType()), StructField("j", IntegerType())]
        fields += [StructField(k, DoubleType()) for k in ("n", "mean", "m2")]
        schema = StructType(fields)
        keys = [*layout.by, layout.label]
        df = self.df.select(*keys, *(c for c in columns if c not in keys))
        body = _MomentsPass(layout, columns, len(layout))
        with _spark_errors(self.display):
            parts = _collect(_map(df, body, schema)).sort(PID, "j", maintain_order=True)
        total = Moments.zero(len(layout), len(columns))
        cells = len(layout)
        for _, part in parts.group_by(PID, maintain_order=True):
            nb, mb, qb = (np.zeros((cells, len(columns))) for _ in range(3))
            for j in range(len(columns)):
                rows = part.filter(pl.col("j") == j)
                nb[:, j], mb[:, j], qb[:, j] = (rows[k].to_numpy() for k in ("n", "mean", "m2"))
            total.merge(nb, mb, qb)
        return total.std()

    def feature_batches(
        self, layout: Layout, columns: list[str]
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """Every labelled row's ``columns``, collected in partition order (the order pass 2
        numbers them in: partition by partition, from ``per_partition``)."""
        keys = [*layout.by, layout.label]
        df = self.df.select(*keys, *(c for c in columns if c not in keys))
        with _spark_errors(self.display):
            frame = _collect(df)
        frame = frame.filter(layout.labelled())
        yield frame, layout.codes(frame)

    @property
    def starts(self) -> np.ndarray:
        """Position, within its cell, of each (partition, cell)'s first row."""
        return np.cumsum(self.per_partition, axis=0) - self.per_partition


# --------------------------------------------------------------------------- pass 2 (executors)


@dataclass(frozen=True)
class _MomentsPass:
    """mapInArrow body: the moments of one partition's cells, one row per (column, cell)."""

    layout: Layout
    columns: list[str]
    cells: int

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        seen: list[int] = []
        label = self.layout.label

        def coded() -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
            for part, batch in _stamped(batches):
                seen.append(part)
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.filter(has_label(label, frame.schema[label]))
                yield frame, self.layout.codes(frame)

        m = cell_moments(coded(), self.cells, self.columns)
        if not seen:
            return
        pid = seen[0]
        k = len(self.columns)
        yield pa.RecordBatch.from_pydict(
            {
                PID: pa.array(np.full(k * self.cells, pid, dtype=np.int32)),
                "j": pa.array(np.repeat(np.arange(k, dtype=np.int32), self.cells)),
                "n": pa.array(m.n.T.ravel()),
                "mean": pa.array(m.mean.T.ravel()),
                "m2": pa.array(m.m2.T.ravel()),
            }
        )


@dataclass(frozen=True)
class _Pass:
    """mapInArrow body: one partition through the program; the frames of one sink out.

    ``sink`` is an output (0 .. K-1), ``program.TEST`` or ``POOL`` (the pooled
    rows with their cell code, partition and position among the partition's pool).
    """

    program: Program
    positions: list[Position]
    starts: np.ndarray
    per_partition: np.ndarray
    sink: int | str
    drop_nulls: bool
    arrow: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        runner = None
        pid, pooled = -1, 0
        label = self.program.layout.label
        for pid, batch in _stamped(batches):
            if runner is None:
                runner = self.program.start(SYNTHETIC_BATCH)
                runner.move_to(self.positions[pid])
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if self.drop_nulls:
                frame = frame.filter(has_label(label, frame.schema[label]))
            try:
                codes = self.program.layout.codes(frame)
            except LookupError:
                raise _changed(pid) from None
            fed = runner.feed(frame, codes)
            if self.sink == TEST:
                frames = [] if fed.test is None else [fed.test]
            elif self.sink == POOL:
                frames = [] if fed.pool is None else [self._pooled(fed, pid, pooled)]
                pooled += 0 if fed.pool is None else fed.pool.height
            else:
                frames = fed.outputs[int(self.sink)]
            for out in frames:
                yield from out.to_arrow().cast(self.arrow).to_batches()
        if runner is not None:
            counter = runner.split if runner.split is not None else runner.selectors[0]
            if not np.array_equal(counter.offsets, self.starts[pid] + self.per_partition[pid]):
                raise _changed(pid)

    @staticmethod
    def _pooled(fed: Any, pid: int, pooled: int) -> pl.DataFrame:
        n = fed.pool.height
        return fed.pool.with_columns(
            pl.Series(PID, np.full(n, pid, dtype=np.int32)),
            pl.Series(CODE, fed.pool_codes.astype(np.int32)),
            pl.Series(POS, np.arange(pooled, pooled + n, dtype=np.int64)),
        )


def _sink(df: DataFrame, run: SparkRun, sink: int | str, schema: Any) -> DataFrame:
    """The rows of one sink: the program over every partition (lazy)."""
    program = run.prepared.program
    body = _Pass(
        program,
        program.positions(run.counter.per_partition),
        run.counter.starts,
        run.counter.per_partition,
        sink,
        run.drop_nulls,
        _to_arrow_schema(df, schema),
    )
    return _map(df, body, schema)


def _to_arrow_schema(df: DataFrame, schema: Any) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    tz = df.sparkSession.conf.get("spark.sql.session.timeZone")
    return to_arrow_schema(schema, timezone=tz)


# --------------------------------------------------------------------------- the run


@dataclass
class SparkRun:
    """A planned Spark run: the output DataFrames (lazy) and what the report needs."""

    prepared: Prepared
    counter: SparkEngine
    schema: pl.Schema
    warnings: list[str]
    engine: dict[str, Any]
    outcome: Outcome
    drop_nulls: bool
    timings: dict[str, float]
    frame: DataFrame | None = None  # the output (the first bag with --bags)
    test: DataFrame | None = None  # the test split with --test-size
    bags: list[DataFrame] = field(default_factory=list)

    @property
    def program(self) -> Program:
        return self.prepared.program

    @property
    def plan(self) -> Plan | None:
        """The plan, without ``--by`` (with it, every group has one: ``prepared.cellplan``)."""
        plans = self.prepared.cellplan.plans
        return plans[0] if plans and not self.program.layout.by else None

    @property
    def nulls(self) -> int:
        return self.program.layout.nulls


def check_engine(request: Request) -> None:
    """What the request asks that the Spark engine does not do."""
    strategy = request.strategy
    if "spark" not in strategy.engines:
        runs = [s.name for s in registry.all_strategies() if "spark" in s.engines]
        raise UsageError(
            f"--strategy {strategy.name} is not supported with --engine spark",
            hint=f"the Spark engine runs {', '.join(runs)}; use --engine local",
        )
    if request.stages.shuffle:
        raise UsageError(
            "--shuffle is not supported with --engine spark (it orders the whole output in one "
            "bounded-memory stream, and Spark writes its partitions in parallel)",
            hint="use --engine local, or shuffle the folder in Spark afterwards",
        )


def plan_run(
    df: DataFrame,
    request: Request,
    display: str,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
    input_format: str | None = None,
) -> SparkRun:
    """Pass 1, the plan and the program on ``df``; then (unless a dry run) every sink."""
    check_engine(request)
    schema = polars_schema(df)
    if order_by is not None:
        if order_by not in schema:
            raise DataError(f"order_by names column {order_by!r}, which is not in {display}")
        df = df.orderBy(order_by)
    counter = SparkEngine(df, display)
    timings: dict[str, float] = {}
    warnings = list(request.warnings)
    phases = Phases.for_run(request.progress)
    prepared = prepare(counter, schema, display, request, timings, warnings, input_format, phases)
    check_output_rows(prepared, request)
    spark = df.sparkSession
    engine: dict[str, Any] = {
        "name": "spark",
        "spark_version": spark.version,
        "master": spark.sparkContext.master,
        "input_partitions": int(counter.per_partition.shape[0]),
        "row_order": f"order_by {order_by}" if order_by else "partition order",
    }
    outcome = Outcome(warnings=warnings, phases=phases)
    run = SparkRun(
        prepared, counter, schema, warnings, engine, outcome, request.drop_null_labels, timings
    )
    if not request.dry_run:
        _build_frames(df, run, smote_driver_rows)
    return run


def _build_frames(df: DataFrame, run: SparkRun, smote_driver_rows: int | None) -> None:
    """The lazy frame of every sink; the synthetic rows (made now, on the driver) appended."""
    from pyspark.sql.types import DoubleType

    program = run.program
    out_schema = df.schema
    if program.weight_column is not None:
        out_schema = _with_fields(df, (program.weight_column, DoubleType()))
    if program.bag_seeds:
        run.bags = [_sink(df, run, k, out_schema) for k in range(program.sinks)]
        run.frame = run.bags[0]
    else:
        run.frame = _sink(df, run, 0, out_schema)
    if program.split is not None:
        run.test = _sink(df, run, TEST, df.schema)
    if program.synthesiser is None:
        tops = [s.most_copies() for s in program.selectors()]
        run.engine["selection"] = (
            "explode of per-row copy counts"
            if max(tops) > 1
            else "filter (each row kept 0 or 1 time)"
        )
        return
    limit = _smote_driver_rows(df.sparkSession, smote_driver_rows)
    on_driver = [i for i in program.grow if program.before[i] <= limit]
    in_partitions = [i for i in program.grow if program.before[i] > limit]
    layout = program.layout
    run.engine["smote"] = {
        "driver_rows_limit": limit,
        "driver_classes": [shown_cell(layout, i) for i in on_driver],
        "partition_classes": [shown_cell(layout, i) for i in in_partitions],
    }
    frame = run.frame
    if on_driver:
        frame = frame.unionByName(_driver_synthesis(df, run, on_driver))
    if in_partitions:
        frame = frame.unionByName(_partition_synthesis(df, run, in_partitions))
    run.frame = frame


def _driver_synthesis(df: DataFrame, run: SparkRun, cells: list[int]) -> DataFrame:
    """The new rows of the grown cells that fit on the driver: the local engine's rows."""
    import pyarrow as pa
    from pyspark.sql.types import IntegerType, LongType

    program = run.program
    display = run.counter.display
    schema = _with_fields(df, (PID, IntegerType()), (CODE, IntegerType()), (POS, LongType()))
    with _spark_errors(display):
        pool = _collect(_sink(df, run, POOL, schema))
    pool = pool.filter(pl.col(CODE).is_in(cells)).sort(PID, POS)
    codes = pool[CODE].to_numpy().astype(np.int64)
    got = np.bincount(codes, minlength=len(program.layout))
    for i in cells:
        if got[i] != program.before[i]:
            raise DataError(f"{display} changed while it was read (class counts differ)")
    driver = dataclasses.replace(program, grow=list(cells))
    rows = pool.drop(PID, CODE, POS)
    del pool
    target = _arrow_schema(df)
    made = driver.synthesise(rows, codes, run.schema, SYNTHETIC_BATCH, run.outcome)
    tables = [part.to_arrow().cast(target) for _, part in made]
    table = pa.concat_tables(tables) if tables else target.empty_table()
    return _from_arrow(df.sparkSession, table, df)


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


# --------------------------------------------------------------------------- the approximate path


def partition_seed(seed: int, cls: str, pid: int) -> int:
    """The seed of one cell's synthesis inside one partition (the approximate path)."""
    return int(rng.stream_base(seed, "smote-partition", f"{cls}\x1f{pid}"))


@dataclass(frozen=True)
class _PartitionSynthesis:
    """mapInArrow body: the synthesiser within one partition, for cells too big for the driver."""

    program: Program
    new_rows: np.ndarray  # (partitions, cells) new rows to make
    drop_nulls: bool
    arrow: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        layout = self.program.layout
        pid, need = -1, None
        pool: list[pl.DataFrame] = []
        pool_codes: list[np.ndarray] = []
        for pid, batch in _stamped(batches):
            need = self.new_rows[pid]
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if self.drop_nulls:
                frame = frame.filter(has_label(layout.label, frame.schema[layout.label]))
            codes = layout.codes(frame)
            mine = need[codes] > 0
            if mine.any():
                pool.append(frame.filter(pl.Series(mine)))
                pool_codes.append(codes[mine])
        if not pool or need is None:
            return
        frame, codes = pl.concat(pool), np.concatenate(pool_codes)
        synth: Any = self.program.synthesiser
        for i in np.flatnonzero(need):
            name = layout.names[i]
            own = synth.reseeded(partition_seed(synth.settings.seed, name, pid))
            cell = Cell(int(i), name, layout.values[i], shown_cell(layout, int(i)))
            rows = frame.filter(pl.Series(codes == i))
            made = own.prepare(rows, cell, int(need[i]), Outcome(warnings=[]))
            for out in own.batches(made, frame.schema, SYNTHETIC_BATCH):
                yield from out.to_arrow().cast(self.arrow).to_batches()


def _partition_synthesis(df: DataFrame, run: SparkRun, cells: list[int]) -> DataFrame:
    """New rows of cells too big for the driver, made within each partition."""
    program = run.program
    layout = program.layout
    synth = program.synthesiser
    like_smote = hasattr(synth, "reseeded") and hasattr(synth, "settings")
    if layout.by or program.split is not None or not like_smote:
        i = cells[0]
        raise UsageError(
            f"class {shown_cell(layout, i)!r} has {program.before[i]:,} rows, more than the "
            f"driver limit ({SMOTE_DRIVER_ROWS_CONF}); growing it within partitions is not "
            "done with --by or --test-size",
            hint=f"raise {SMOTE_DRIVER_ROWS_CONF}, or use --engine local",
        )
    new_rows = np.zeros_like(run.counter.per_partition)
    for i in cells:
        new_rows[:, i] = _allocation(df, run, i)
    body = _PartitionSynthesis(program, new_rows, run.drop_nulls, _arrow_schema(df))
    return _map(df, body, df.schema)


def _allocation(df: DataFrame, run: SparkRun, i: int) -> np.ndarray:
    """New rows of cell ``i`` per partition: split over the partitions with k + 1 usable rows."""
    from pyspark.sql import functions as F

    program = run.program
    synth: Any = program.synthesiser
    token = program.layout.classes[i]
    features = list(synth.settings.features)
    checks = [_bad(F.col(f), df.schema[f].dataType) for f in features]
    with _spark_errors(run.counter.display):
        stats = _collect(
            df.filter(F.col(program.layout.label) == F.lit(program.layout.values[i]))
            .select(
                F.spark_partition_id().alias(PID),
                *[c.alias(f) for c, f in zip(checks, features, strict=True)],
            )
            .withColumn(
                BAD, F.greatest(*map(F.col, features)) if len(checks) > 1 else F.col(features[0])
            )
            .groupBy(PID)
            .agg(
                F.count(F.lit(1)).alias(COUNT),
                F.sum(BAD).alias(BAD),
                *[F.sum(f).alias(f) for f in features],
            )
        )
    bad_rows = int(stats[BAD].sum() or 0)
    if bad_rows and not synth.settings.drop_invalid:
        for f in features:
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
    usable = np.zeros(run.counter.per_partition.shape[0], dtype=np.int64)
    usable[stats[PID].to_numpy().astype(np.int64)] = (stats[COUNT] - stats[BAD]).to_numpy()
    new = program.after[i] - program.before[i]
    alloc = allocate(usable, new, synth.settings.k)
    if not alloc.any():
        raise DataError(
            f"class {token!r} has {program.before[i]:,} rows, more than the driver limit "
            f"({SMOTE_DRIVER_ROWS_CONF}), and no partition holds "
            f"{synth.settings.k + 1} usable rows of it",
            hint=f"raise {SMOTE_DRIVER_ROWS_CONF}, or use fewer, larger partitions",
        )
    run.outcome.knn[token] = "per partition"
    run.warnings.append(
        f"class {token!r} ({program.before[i]:,} rows) is over the SMOTE driver limit "
        f"({SMOTE_DRIVER_ROWS_CONF}): its {new:,} synthetic rows were made within "
        f"{_plural(int((alloc > 0).sum()), 'partition')} (neighbours from the same partition "
        "only), so they differ from the local engine's; the counts are exact"
    )
    return alloc


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


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


def _bad(col: Any, dtype: Any) -> Any:
    """1 where a feature value is null, NaN or infinite, else 0 (a Spark column)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    cond = col.isNull()
    if isinstance(dtype, DoubleType | FloatType):
        cond = cond | F.isnan(col) | (F.abs(col) == F.lit(float("inf")))
    return F.when(cond, 1).otherwise(0)


# --------------------------------------------------------------------------- public functions


def inspect_spark(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    master: str | None = None,
) -> Any:
    """``inspect`` with Spark: the class distribution from one ``groupBy``."""

    spark, created = get_session(master)
    try:
        name = str(data)
        read = (read or ReadOptions()).checked()
        fmt = _input_format(name, read)
        if not _Files(spark).exists(name):
            raise InputOutputError(f"cannot read {name}: no such file or directory")
        with _spark_errors(name):
            df = read_input(spark, name, fmt, read)
            check_label(polars_schema(df), label, name)
            layout = SparkEngine(df, name).count(label, [], max_classes)
    finally:
        if created:
            spark.stop()
    assert layout.index is not None
    index = layout.index
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


# the keywords of the Spark shims that are not the request's (the engine's own, or ignored)
_FRAME_ONLY = frozenset({"df", "order_by", "smote_driver_rows", "plan_only", "display"})
_FILE_ONLY = frozenset({"data", "chunk_size", "master", "smote_driver_rows"})


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
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    test_size: float | str | None = None,
    bags: int | None = None,
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

    ``SparkRun.test`` holds the test split with ``test_size``, ``SparkRun.bags``
    the K bags with ``bags``. Row order (which decides each row's random key) is
    ``order_by`` when given (a column with unique values, e.g. an id), else the
    DataFrame's own order: partition by partition, for one file read by Spark the
    file order. That order must be the same each time the DataFrame is computed (a
    file read is; a shuffle without a sort is not, and fails loudly rather than
    silently). Synthetic rows come after all input rows, as locally.
    """
    keywords = {k: v for k, v in locals().items() if k not in _FRAME_ONLY}
    request = from_keywords(
        {
            **keywords,
            "test_output": None if test_size is None else "<test DataFrame>",
            "dry_run": plan_only,
            "file_run": False,
        }
    )
    with _spark_errors(display):
        return plan_run(df, request, display, order_by, smote_driver_rows)


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
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
) -> DataFrame:
    """Rebalance a Spark DataFrame; the rows of ``rebalance_cli.resample_frame`` on the same data.

    The counts are computed now (one Spark job); the returned DataFrame is lazy.
    See :func:`resample_dataframe` for the row order and the SMOTE driver limit.
    """
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
        grow_with=grow_with,
        weight_column=weight_column,
        options=options,
        by=by,
        group_policy=group_policy,
        shrinkage=shrinkage,
        drop_null_labels=drop_null_labels,
        lenient=lenient,
        order_by=order_by,
        smote_driver_rows=smote_driver_rows,
    )
    assert run.frame is not None
    return run.frame


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
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    bags: int | None = None,
    test_size: float | str | None = None,
    test_output: str | os.PathLike[str] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    chunk_size: int | None = None,
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
    progress: Observer | None = None,
    command: list[str] | None = None,
    settings: dict[str, Any] | None = None,
    master: str | None = None,
    smote_driver_rows: int | None = None,
) -> Report:
    """``rebalance`` with Spark: folders of part files, written atomically.

    Every folder (the output or the bags, the test split) goes to a hidden
    folder beside its target, its class counts are read back and checked
    against the plan, and only when all are written are they renamed into
    place; an existing target is refused unless ``force``. The JSON report is
    written by the driver. ``progress`` hears of the phases the driver runs (``count``,
    ``plan``, and SMOTE's ``neighbours`` and ``synthesise`` when the driver grows the
    cells); ``chunk_size`` (local engine only) is accepted and ignored.
    """
    keywords = {k: v for k, v in locals().items() if k not in _FILE_ONLY}
    started = time.perf_counter()
    request = from_keywords(
        {
            **keywords,
            "output": None if output is None else str(output),
            "read": (read or ReadOptions()).checked(),
        }
    )
    check_engine(request)
    name = str(data)
    assert request.read is not None
    fmt = _input_format(name, request.read)
    targets = _targets(request, fmt)
    rep_path = None
    if report_path is not None:
        rep_path = check_target(str(report_path), force, [Path(name)], "report")
    spark, created = get_session(master)
    try:
        return _run_files(spark, request, name, fmt, targets, rep_path, master, created, started)
    finally:
        if created:
            spark.stop()


@dataclass
class _Target:
    """One folder the run writes: where, how, and the class counts it must hold."""

    name: str
    fmt: str
    what: str  # "output", "test output", "bag 2"
    frame: Any = None
    want: dict[str, int] = field(default_factory=dict)
    tmp: str | None = None
    old: str | None = None
    done: bool = False
    entry: dict[str, Any] = field(default_factory=dict)


def _targets(request: Request, fmt: str) -> list[_Target]:
    """The output (or the bags), then the test split: their names and formats."""
    out, flag = request.output, request.output_format
    if out is None:
        return []
    if out == STDIO or request.stages.test_output == STDIO:
        raise UsageError(
            "--engine spark writes a folder of part files, not stdout", hint="give -o a path"
        )
    found: list[tuple[str, str]] = []
    if request.stages.bags:
        names = bag_paths(out, request.stages.bags, flag, fmt)
        found += [(n.rstrip("/"), f"bag {b + 1}") for b, n in enumerate(names)]
    else:
        found.append((out.rstrip("/"), "output"))
    if request.stages.test_output is not None:
        found.append((str(request.stages.test_output).rstrip("/"), "test output"))
    targets = []
    for name, what in found:
        out_fmt = resolve_output_format(name, flag, fmt, "-o" if what == "output" else what)
        if compression_from_name(name) is not None:
            raise UsageError(
                f"the Spark engine writes a folder of uncompressed part files, not {name}",
                hint="name the output without its compressed ending (Parquet is compressed "
                "inside), or run without --engine spark",
            )
        if out_fmt not in SPARK_FORMATS:
            raise UsageError(
                f"the Spark engine writes {', '.join(SPARK_FORMATS)}, not {out_fmt}",
                hint="name the output .parquet or .csv",
            )
        targets.append(_Target(name, out_fmt, what))
    return targets


def _check_folders(files: _Files, targets: list[_Target], name: str, force: bool) -> None:
    seen = {files.qualified(name)}
    for t in targets:
        where = files.qualified(t.name)
        if where in seen:
            raise RefusedError(
                f"the {t.what} {t.name} is the input or another output; refusing to overwrite it",
                hint="write to another path",
            )
        seen.add(where)
        if files.exists(t.name) and not force:
            raise RefusedError(
                f"the {t.what} {t.name} already exists", hint="pass --force to replace it"
            )
        parent = Path(t.name).parent
        if _is_local(t.name) and not parent.exists():
            raise InputOutputError(f"the folder of the {t.what} ({parent}) does not exist")


def _run_files(
    spark: SparkSession,
    request: Request,
    name: str,
    fmt: str,
    targets: list[_Target],
    rep_path: Path | None,
    master: str | None,
    created: bool,
    started: float,
) -> Report:
    """The file run once a session is up: checks, the plan, the report, the commit."""
    assert request.read is not None
    files = _Files(spark)
    if not files.exists(name):
        raise InputOutputError(f"cannot read {name}: no such file or directory")
    _check_folders(files, targets, name, request.force)
    with _spark_errors(name):
        df = read_input(spark, name, fmt, request.read)
        run = plan_run(df, request, name, input_format=fmt)
    if not created and master and master != spark.sparkContext.master:
        run.warnings.append(
            f"--spark-master {master} was ignored: the active Spark session runs on "
            f"{spark.sparkContext.master}"
        )
    report = _report(run, request, name, fmt, targets, files.size(name))
    if request.dry_run:
        run.timings["total"] = time.perf_counter() - started
        return report
    _assign(run, targets)
    finish_report(report, run.prepared, request, run.outcome)
    sep = request.read.separator if targets[0].fmt == fmt and request.read.separator else None
    sep = sep or ("\t" if targets[0].fmt == "tsv" else ",")
    _commit(spark, files, targets, report, sep, request.force, rep_path, name)
    report.timings["total"] = time.perf_counter() - started
    return report


def _report(
    run: SparkRun, request: Request, name: str, fmt: str, targets: list[_Target], size: int
) -> SparkReport:
    """The local report as the plan fixes it, with the engine section."""
    prepared = run.prepared
    layout = run.program.layout
    main = [t for t in targets if t.what != "test output"]
    prepared.parameters.update(
        seed_source=request.seed_source,
        chunk_size=None,
        drop_null_labels=request.drop_null_labels,
        shuffle=False,
        infer_schema_length=None,
        policy="lenient" if request.lenient else "strict",
        max_classes=request.max_classes,
        max_output_rows=request.max_output_rows,
        input_format=fmt,
        output_format=main[0].fmt if main else None,
    )
    info = {
        "path": name,
        "format": fmt,
        "rows": sum(layout.counts) + layout.nulls,
        "columns": len(run.schema),
        "bytes": size,
    }
    label_dtype = str(run.schema[request.label])
    base = base_report(prepared, request, info, label_dtype, run.timings, run.warnings)
    report = SparkReport(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, engine=run.engine
    )
    if request.settings is not None:
        report.extra["settings"] = request.settings
    test = [t for t in targets if t.what == "test output"]
    report.extra.update(
        stage_sections(
            prepared,
            request,
            test[0].fmt if test else None,
            [t.name for t in main] if run.program.bag_seeds else [],
        )
    )
    return report


def _assign(run: SparkRun, targets: list[_Target]) -> None:
    """Each target's frame and the class counts it must hold."""
    program = run.program
    layout = program.layout
    frames = run.bags if program.bag_seeds else [run.frame]
    for t, frame in zip(targets, frames, strict=False):
        t.frame, t.want = frame, per_class(layout, program.after)
    if program.split is not None:
        targets[-1].frame = run.test
        targets[-1].want = per_class(layout, program.split.counts)


def _commit(
    spark: SparkSession,
    files: _Files,
    targets: list[_Target],
    report: SparkReport,
    sep: str,
    force: bool,
    rep_path: Path | None,
    display: str,
) -> None:
    """Write every target to a hidden folder, check its counts, then rename them all."""
    report_sink = None
    try:
        t0 = time.perf_counter()
        for t in targets:
            t.tmp = tmp = _sibling(t.name, "rebalance-tmp")
            with _spark_errors(display):
                _write(t.frame, tmp, t.fmt, sep)
        report.timings["write"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for t in targets:
            assert t.tmp is not None
            with _spark_errors(t.tmp):
                got = _read_back_counts(spark, t.tmp, t.fmt, sep, t.frame, report.label)
            if {c: got.get(c, 0) for c in t.want} != t.want or set(got) - set(t.want):
                raise RuntimeError(f"rows written per class {got} differ from the plan {t.want}")
            counts = {c: got.get(c, 0) for c in t.want}
            t.entry = {
                "counts": counts,
                "bytes": files.size(t.tmp),
                "files": _part_files(files, t.tmp),
            }
        report.timings["verify"] = time.perf_counter() - t0
        _fill_report(report, targets)
        if rep_path is not None:
            report_sink = write_report(report, rep_path)
        for t in targets:
            _swap(files, t, force)
        if report_sink is not None:
            report_sink.commit()
        for t in targets:
            if t.old is not None:
                files.delete(t.old)
    except BaseException:
        for t in targets:
            _undo(files, t)
        raise
    finally:
        if report_sink is not None:
            report_sink.discard()


def _swap(files: _Files, t: _Target, force: bool) -> None:
    assert t.tmp is not None
    if files.exists(t.name):
        if not force:
            raise RefusedError(
                f"the {t.what} {t.name} already exists", hint="pass --force to replace it"
            )
        t.old = _sibling(t.name, "rebalance-old")
        files.rename(t.name, t.old)
    files.rename(t.tmp, t.name)
    t.done = True


def _undo(files: _Files, t: _Target) -> None:
    if t.done:
        files.delete(t.name)
    elif t.tmp is not None:
        files.delete(t.tmp)
    if t.old is not None and not files.exists(t.name):
        files.rename(t.old, t.name)


def _fill_report(report: SparkReport, targets: list[_Target]) -> None:
    """What the folders hold, read back: counts, bytes, part files."""
    main = [t for t in targets if t.what != "test output"]
    report.output = {
        "path": "; ".join(t.name for t in main),
        "format": main[0].fmt,
        "bytes": sum(t.entry["bytes"] for t in main),
        "layout": "folder of part files",
    }
    report.engine["output_files"] = sum(t.entry["files"] for t in main)
    if "bags" in report.extra:
        rows = [sum(t.entry["counts"].values()) for t in main]
        report.rows["written"] = sum(rows)
        report.rows["written_per_bag"] = rows[0]
        for entry, t, n in zip(report.extra["bags"], main, rows, strict=True):
            entry.update(rows=n, counts=t.entry["counts"], format=t.fmt, bytes=t.entry["bytes"])
    else:
        report.counts_after = {c: main[0].entry["counts"].get(c, 0) for c in main[0].want}
    if "split" in report.extra:
        test = targets[-1]
        report.extra["split"].update(bytes=test.entry["bytes"], files=test.entry["files"])


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

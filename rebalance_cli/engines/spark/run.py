"""A planned Spark run: pass 1, the plan and the program on a DataFrame, the lazy frame of
every sink, and SMOTE's synthesis (on the driver, or within partitions for big cells)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ... import rng
from ... import strategies as registry
from ...classes import COUNT, has_label
from ...errors import DataError, UsageError
from ...phases import Phases
from ...plan import Plan
from ...request import Request
from ...strategies import Outcome
from ...strategies.smote import left_out_warning
from ..driver import (
    Prepared,
    check_output_rows,
    prepare,
)
from ..program import TEST, Cell, Program, shown_cell
from .passes import SparkEngine, _Pass
from .session import (
    BAD,
    CODE,
    DEFAULT_SMOTE_DRIVER_ROWS,
    PID,
    POOL,
    POS,
    SMOTE_DRIVER_ROWS_CONF,
    SYNTHETIC_BATCH,
    _arrow_schema,
    _collect,
    _from_arrow,
    _map,
    _spark_errors,
    _stamped,
    _with_fields,
    polars_schema,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

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
        run.warnings.append(left_out_warning(bad_rows, token))
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

"""The driver's queries (pass 1, the per-cell moments, every row's features) and the
mapInArrow bodies that run the program in every partition."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ...cells import Layout, counts_layout
from ...classes import COUNT, has_label
from ...stages.shrinkage import Moments, cell_moments
from ..program import TEST, Position, Program
from .session import (
    CODE,
    PID,
    POOL,
    POS,
    SYNTHETIC_BATCH,
    _changed,
    _collect,
    _map,
    _spark_errors,
    _stamped,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame


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
                frames: Iterable[pl.DataFrame] = [] if fed.test is None else [fed.test]
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

"""Pass 2 as one program: what happens to the rows of a batch, whatever the engine.

A :class:`Program` is built once from the plan. Each engine feeds it the
batches of the input in order (the local engine: the whole file; the Spark
engine: one partition, with the positions it starts at from the driver), with
the cell code of every row, and writes what comes out:

    split      the test rows leave for the test sink (stage "split")
    select     copies per row from each selector (one, or one per bag; a cleaning
               strategy's fitted keep flags)
    pool       rows of the cells a synthesiser grows are kept (strategy needs "grown")
    weights    a weighting strategy's column
    expand     each row written its number of copies; shrinkage jitters the duplicates

After the input, :meth:`Program.synthesise` makes the grown cells' new rows
from the pool. A row's fate depends only on (seed, stream, cell, position in
cell), so any cut of the input into batches or partitions gives the same rows.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ..cells import Layout
from ..samplers import KeepSelector, RowSelector, expand
from ..stages.shrinkage import Shrink, expand_jittered
from ..stages.split import Split
from ..strategies import Outcome, Synthesiser

TEST = "test"  # the sink of the test split; the outputs are sinks 0 .. K-1


@dataclass(frozen=True)
class Cell:
    """What a synthesiser is told of the cell it grows."""

    index: int
    name: str  # its random-stream name
    value: Any  # its label value
    shown: str  # how messages name it ("g=1 / a" under --by)


def shown_cell(layout: Layout, i: int) -> str:
    shown = layout.classes[i]
    group = layout.groups[i]
    if group is not None:
        values = layout.group_values.get(group, {})
        shown = ", ".join(f"{k}={v}" for k, v in values.items()) + f" / {shown}"
    return shown


@dataclass
class Program:
    """The plan made executable: selectors, tees, pool, transforms."""

    layout: Layout
    before: tuple[int, ...]  # rows of each cell that take part (the train rows with a split)
    after: tuple[int, ...]
    streams: list[str]
    seed: int
    grow: list[int] = field(default_factory=list)  # cells the synthesiser grows
    synthesiser: Synthesiser | None = None
    split: Split | None = None
    shrink: Shrink | None = None
    weights: np.ndarray | None = None
    weight_column: str | None = None
    bag_seeds: tuple[int, ...] = ()
    keep: list[np.ndarray] | None = None  # a cleaning strategy's fitted rows, per cell

    @property
    def kept(self) -> tuple[int, ...]:
        """Rows of each cell written from the input (a synthesiser adds the rest)."""
        grown = set(self.grow)
        return tuple(
            min(b, a) if i in grown else a
            for i, (b, a) in enumerate(zip(self.before, self.after, strict=True))
        )

    @property
    def sinks(self) -> int:
        return len(self.bag_seeds) or 1

    def selectors(self) -> list[RowSelector | KeepSelector]:
        names = self.layout.names
        if self.keep is not None:
            return [KeepSelector(self.keep)]
        if self.bag_seeds:
            return [
                RowSelector(names, self.before, self.after, s, self.streams) for s in self.bag_seeds
            ]
        return [RowSelector(names, self.before, self.kept, self.seed, self.streams)]

    def start(self, chunk_size: int) -> Runner:
        """A fresh pass from the first row of every cell."""
        split = None if self.split is None else self.split.selector(self.layout.counts)
        shrink = None if self.shrink is None else copy.deepcopy(self.shrink)
        return Runner(self, self.selectors(), split, shrink, chunk_size)

    def positions(self, per_part: np.ndarray) -> list[Position]:
        """Where the runner stands at the first row of every part (a Spark partition),
        from the rows of each cell in each part: one pass over the counts, in order."""
        runner = self.start(1)
        out = []
        for counts in per_part:
            out.append(runner.position())
            runner.skip(np.asarray(counts, dtype=np.int64))
        return out

    def synthesise(
        self,
        pool: pl.DataFrame,
        codes: np.ndarray,
        schema: pl.Schema,
        chunk_size: int,
        outcome: Outcome,
    ) -> Iterator[tuple[int, pl.DataFrame]]:
        """The new rows of every grown cell, in cell order, as (cell, frame) pairs.

        Every grown cell is prepared first (SMOTE announces a ``neighbours`` phase for
        each, through ``outcome.phases``); the batches are the ``synthesise`` phase."""
        if self.synthesiser is None or not self.grow:
            return
        layout = self.layout
        prepared = []
        for i in self.grow:
            cell = Cell(i, layout.names[i], layout.values[i], shown_cell(layout, i))
            rows = pool.filter(pl.Series(codes == i))
            new = self.after[i] - self.before[i]
            prepared.append(self.synthesiser.prepare(rows, cell, new, outcome))
        total = sum(self.after[i] - self.before[i] for i in self.grow)
        with outcome.phases.phase("synthesise", total) as phase:
            for i, p in zip(self.grow, prepared, strict=True):
                for part in self.synthesiser.batches(p, schema, chunk_size):
                    yield i, part
                    phase.advance(part.height)


@dataclass(frozen=True)
class Position:
    """The counters of a runner at one point of the input: each selector's, the split's,
    the shrinkage's (duplicates so far). Small: a few numbers per cell."""

    selectors: tuple[np.ndarray, ...]
    split: np.ndarray | None
    shrink: np.ndarray | None


@dataclass
class Fed:
    """What one batch gave: frames per sink, test rows, rows to pool.

    A sink's frames are made as they are read (a batch that grows many times is not
    held whole), so read each sink's frames before the next batch is fed."""

    outputs: list[Iterable[pl.DataFrame]]
    test: pl.DataFrame | None = None
    pool: pl.DataFrame | None = None
    pool_codes: np.ndarray | None = None


@dataclass
class Runner:
    """One pass of a program over rows in order: the counters of every selector."""

    program: Program
    selectors: list[RowSelector | KeepSelector]
    split: RowSelector | None
    shrink: Shrink | None
    chunk_size: int

    def seek(self, offsets: np.ndarray) -> None:
        """Start at these positions within every cell (a Spark partition's first row)."""
        self.skip(offsets)
        self.move_to(self.position())

    def skip(self, counts: np.ndarray) -> None:
        """Advance as if ``counts[c]`` more rows of every cell c went by (no data)."""
        self.feed_codes(np.repeat(np.arange(counts.size, dtype=np.int32), counts))

    def position(self) -> Position:
        """Where every counter stands (with nothing written yet)."""
        return Position(
            tuple(s.offsets.copy() for s in self.selectors),
            None if self.split is None else self.split.offsets.copy(),
            None if self.shrink is None else self.shrink.offsets.copy(),
        )

    def move_to(self, position: Position) -> None:
        """Stand where ``position`` says, with every count of rows written at zero."""
        for s, offsets in zip(self.selectors, position.selectors, strict=True):
            s.offsets = offsets.copy()
            s.written[:] = 0
        if self.split is not None:
            assert position.split is not None
            self.split.offsets = position.split.copy()
            self.split.written[:] = 0
        if self.shrink is not None:
            assert position.shrink is not None
            self.shrink.offsets = position.shrink.copy()

    def feed_codes(self, codes: np.ndarray) -> None:
        """Advance every counter as if rows with these cell codes went by (no data)."""
        if self.split is not None:
            codes = codes[self.split.copies(codes) == 0]
        for s in self.selectors:
            copies = s.copies(codes)
            if self.shrink is not None:
                dups = np.maximum(copies - 1, 0)
                self.shrink.offsets += np.bincount(
                    codes, weights=dups, minlength=self.shrink.offsets.size
                ).astype(np.int64)

    def feed(self, batch: pl.DataFrame, codes: np.ndarray) -> Fed:
        program = self.program
        fed = Fed(outputs=[])
        if self.split is not None:
            test = self.split.copies(codes).astype(bool)
            if test.any():
                fed.test = batch.filter(pl.Series(test))
                batch = batch.filter(pl.Series(~test))
                codes = codes[~test]
        if program.grow:
            mine = np.isin(codes, program.grow)
            if mine.any():
                fed.pool = batch.filter(pl.Series(mine))
                fed.pool_codes = codes[mine]
        if program.weights is not None:
            assert program.weight_column is not None
            batch = batch.with_columns(pl.Series(program.weight_column, program.weights[codes]))
        for selector in self.selectors:
            copies = selector.copies(codes)
            if self.shrink is None:
                fed.outputs.append(expand(batch, copies, self.chunk_size))
            else:  # made now: the jitter's counters must advance with this batch
                jittered = expand_jittered(batch, codes, copies, self.chunk_size, self.shrink)
                fed.outputs.append(list(jittered))
        return fed

    def check_complete(self, display: str) -> None:
        """Every cell saw the rows pass 1 counted (else the input changed under us)."""
        from ..errors import changed_while_read

        for s in self.selectors:
            if not np.array_equal(s.offsets, np.array(self.program.before)):
                raise changed_while_read(display)

    def written(self) -> list[tuple[int, ...]]:
        return [tuple(int(v) for v in s.written) for s in self.selectors]


def sum_cells(values: Sequence[Sequence[int]]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.sum(np.array(values), axis=0))

"""``--shuffle``: a seeded shuffle of the whole output in bounded memory.

Every output row gets the key of its output position (a SplitMix64 key, so
keys are distinct). Rows are spread over bucket files by the top bits of
their key, then each bucket is read back, sorted by key and emitted, bucket by
bucket. The result is the output sorted by key: a uniform random permutation
that depends only on the seed and the output, never on the batching. Memory is
one bucket (about ``BUCKET_ROWS`` rows) at a time.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .. import rng
from ..errors import InputOutputError
from ..io import fs
from ..phases import Phase, Phases, check

if TYPE_CHECKING:
    import pyarrow as pa

BUCKET_ROWS = 400_000
MAX_BUCKETS = 512
KEY = "__rebalance_shuffle_key__"
FLUSH_ROWS = 200_000


def bucket_count(rows: int) -> int:
    """A power of two, so a bucket is the top bits of a key."""
    want = max(1, math.ceil(rows / BUCKET_ROWS))
    return min(MAX_BUCKETS, 1 << (want - 1).bit_length())


def shuffled(
    frames: Iterator[pl.DataFrame],
    schema: pl.Schema,
    seed: int,
    rows: int,
    folder: Path,
    chunk_size: int,
    phases: Phases | None = None,
) -> Iterator[pl.DataFrame]:
    """The rows of ``frames`` (``rows`` in all) in a seeded random order.

    Bucket files go in ``folder``, which the caller creates and removes. A failure
    to write or read them is an I/O error that names them. Reading the buckets back
    is the phase ``shuffle`` (rows written); a stopped run stops before it writes a
    block of buckets or reads one.
    """
    try:
        yield from _shuffled(frames, schema, seed, rows, folder, chunk_size, phases or Phases())
    except OSError as exc:
        raise InputOutputError(
            f"cannot write the --shuffle bucket files in {folder}: {exc.strerror or exc}",
            hint="they need about the output's size of free space beside the output",
        ) from None


def _shuffled(
    frames: Iterator[pl.DataFrame],
    schema: pl.Schema,
    seed: int,
    rows: int,
    folder: Path,
    chunk_size: int,
    phases: Phases,
) -> Iterator[pl.DataFrame]:
    buckets = bucket_count(rows)
    bits = buckets.bit_length() - 1
    base = rng.stream_base(seed, "shuffle", "")
    writers: dict[int, _Bucket] = {}
    pending: list[pl.DataFrame] = []
    held = 0

    def flush() -> None:
        # one sort by bucket for everything held, then a zero-copy slice per bucket
        nonlocal pending, held
        if not pending:
            return
        check()
        block = pl.concat(pending, rechunk=False)
        pending, held = [], 0
        keys = block[KEY].to_numpy()
        which = (
            (keys >> np.uint64(64 - bits)).astype(np.int64)
            if bits
            else np.zeros(keys.size, dtype=np.int64)
        )
        order = np.argsort(which, kind="stable")
        which = which[order]
        block = block.gather(pl.Series(order.astype(np.uint64)))
        cuts = np.flatnonzero(np.diff(which)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [which.size]])
        for a, b in zip(starts, ends, strict=True):
            _append(writers, folder, int(which[a]), block.slice(int(a), int(b - a)))

    try:
        position = 0
        for frame in frames:
            if frame.height == 0:
                continue
            keys = rng.keys(base, np.arange(position, position + frame.height, dtype=np.uint64))
            position += frame.height
            pending.append(frame.with_columns(pl.Series(KEY, keys)))
            held += frame.height
            if held >= FLUSH_ROWS:
                flush()
        flush()
        while writers:
            writers.popitem()[1].close()
        emitted = 0
        with phases.phase("shuffle", position) as phase:
            for piece in _read_back(folder, buckets, schema, chunk_size, phase):
                emitted += piece.height
                yield piece
        if not emitted == position == rows:  # a bucket lost or gained rows: never commit that
            raise RuntimeError(f"the shuffle took {position} rows of {rows} and gave {emitted}")
    finally:
        for writer in writers.values():
            writer.abandon()
        for leftover in folder.glob("*.arrows"):
            fs.remove(leftover)


class _Bucket:
    """One bucket file: an Arrow IPC stream written through the file layer."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.ipc as pa_ipc

        self.file = fs.create(path)
        try:
            self.writer = pa_ipc.new_stream(self.file, schema)
        except BaseException:
            self.file.abandon()
            raise

    def write(self, table: pa.Table) -> None:
        for batch in table.to_batches():
            self.writer.write_batch(batch)

    def close(self) -> None:
        self.writer.close()
        self.file.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        self.file.abandon()


def _read_back(
    folder: Path, buckets: int, schema: pl.Schema, chunk_size: int, phase: Phase
) -> Iterator[pl.DataFrame]:
    """Each bucket file in turn, sorted by key, in slices of ``chunk_size`` rows."""
    import pyarrow as pa
    import pyarrow.ipc as pa_ipc

    for b in range(buckets):
        path = folder / f"{b}.arrows"
        if not path.exists():
            continue
        check()
        with pa.memory_map(str(path)) as source:
            table = pa_ipc.open_stream(source).read_all()
        part = pl.from_arrow(table)
        assert isinstance(part, pl.DataFrame)
        part = part.sort(KEY).drop(KEY).cast(schema)
        fs.unlink(path)
        for start in range(0, part.height, chunk_size):
            piece = part.slice(start, chunk_size)
            yield piece
            phase.advance(piece.height)


def _append(writers: dict[int, _Bucket], folder: Path, bucket: int, df: pl.DataFrame) -> None:
    # Arrow has no 128-bit integers: they travel as their digits, cast back on reading
    wide = [c for c, t in df.schema.items() if t in (pl.Int128, pl.UInt128)]
    table = df.with_columns(pl.col(wide).cast(pl.String)).to_arrow() if wide else df.to_arrow()
    writer = writers.get(bucket)
    if writer is None:
        writer = _Bucket(folder / f"{bucket}.arrows", table.schema)
        writers[bucket] = writer
    writer.write(table)

"""Undersample and oversample: how many times each input row is written.

For class c with n_c input rows and target t_c, every row is written
q = t_c // n_c times, and the r = t_c % n_c rows with the smallest keys are
written once more. For undersampling (t_c < n_c) that is "keep the t_c rows
with the smallest keys"; for oversampling it is the floor/ceil rule of
semantics.md. Keys come from (seed, strategy, class, position in class).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

from .. import rng
from ..classes import class_positions


class RowSelector:
    """The pass-2 state: per-class counters, copy counts and key thresholds."""

    def __init__(
        self,
        classes: Sequence[str],
        before: Sequence[int],
        after: Sequence[int],
        seed: int,
        stream: str | Sequence[str],
    ) -> None:
        k = len(classes)
        streams = [stream] * k if isinstance(stream, str) else list(stream)
        self.q = np.zeros(k, dtype=np.int64)
        self.extra = np.zeros(k, dtype=bool)
        self.threshold = np.zeros(k, dtype=np.uint64)
        self.bases = np.zeros(k, dtype=np.uint64)
        self.offsets = np.zeros(k, dtype=np.int64)
        self.written = np.zeros(k, dtype=np.int64)
        for i, (cls, n, t) in enumerate(zip(classes, before, after, strict=True)):
            if n == 0:
                continue
            self.q[i], r = divmod(t, n)
            if r:
                self.bases[i] = rng.stream_base(seed, streams[i], cls)
                self.extra[i], self.threshold[i] = rng.chosen(self.bases[i], n, r)
        self.random = bool(self.extra.any())

    def most_copies(self) -> int:
        """The most times any row is written."""
        return int((self.q + self.extra).max(initial=0))

    def copies(self, codes: np.ndarray) -> np.ndarray:
        """Copies of each row of a batch (codes in stream order); advances the counters."""
        pos = class_positions(codes, self.offsets)
        out = self.q[codes]
        if self.random:
            sel = np.flatnonzero(self.extra[codes])
            if sel.size:
                c = codes[sel]
                k = rng.keys(self.bases[c], pos[sel])
                out[sel] += k <= self.threshold[c]
        self.written += np.bincount(codes, weights=out, minlength=self.written.shape[0]).astype(
            np.int64
        )
        return out


class KeepSelector:
    """The pass-2 state of a cleaning strategy: row i of cell c is written once if
    ``keep[c][i]`` (its fitted decision), else not at all; same counters as RowSelector."""

    def __init__(self, keep: Sequence[np.ndarray]) -> None:
        k = len(keep)
        sizes = np.array([m.size for m in keep], dtype=np.int64)
        self.flat = np.concatenate([*keep, np.zeros(0, dtype=bool)]).astype(np.int64)
        self.starts = np.cumsum(sizes) - sizes
        self.offsets = np.zeros(k, dtype=np.int64)
        self.written = np.zeros(k, dtype=np.int64)

    def most_copies(self) -> int:
        return 1

    def copies(self, codes: np.ndarray) -> np.ndarray:
        pos = class_positions(codes, self.offsets)
        out = self.flat[self.starts[codes] + pos]
        self.written += np.bincount(codes, weights=out, minlength=self.written.shape[0]).astype(
            np.int64
        )
        return out


def expand(df: pl.DataFrame, copies: np.ndarray, max_rows: int) -> Iterator[pl.DataFrame]:
    """The rows of ``df`` each repeated ``copies`` times, in order, in frames of <= max_rows.

    A duplicated row stands next to its source.
    """
    if copies.size == 0:
        return
    top = int(copies.max())
    if top <= 1:
        if top == 1:
            yield df.filter(pl.Series(copies.astype(bool))) if copies.min() == 0 else df
        return
    for rows in expanded_rows(copies, max_rows):
        yield df.gather(index_series(rows))


def expanded_rows(copies: np.ndarray, max_rows: int) -> Iterator[np.ndarray]:
    """Row numbers 0..n-1, each repeated ``copies`` times, in order, ``max_rows`` at a time."""
    total = int(copies.sum())
    if total == 0:
        return
    if total <= max_rows:
        yield np.repeat(np.arange(copies.size), copies)
        return
    ends = np.cumsum(copies)
    for start in range(0, total, max_rows):
        wanted = np.arange(start, min(total, start + max_rows), dtype=np.int64)
        yield np.searchsorted(ends, wanted, side="right")


def index_series(rows: np.ndarray) -> pl.Series:
    """Row numbers as a polars index Series (4x faster to gather by than a numpy array)."""
    return pl.Series(rows.astype(np.uint32))  # a batch has far fewer than 2**32 rows

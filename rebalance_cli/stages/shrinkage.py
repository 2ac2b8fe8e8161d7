"""``--shrinkage H``: the smoothed bootstrap, Gaussian jitter on duplicated rows.

A transform of the rows a strategy duplicates (oversample, hybrid growing by
oversample): every copy but the first of a row gets, on each numeric feature,
N(0, (H * bandwidth * the cell's std)^2), keyed by (seed, column, cell, the
copy's ordinal among the cell's duplicates), so it does not depend on batching.
imbalanced-learn's rule: bandwidth = (4 / ((d + 2) n)) ** (1 / (d + 4)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from .. import rng
from ..cells import Layout
from ..classes import class_positions
from ..errors import UsageError
from ..samplers import expanded_rows, index_series


def check_shrinkage(shrinkage: float) -> None:
    if not (shrinkage >= 0 and math.isfinite(shrinkage)):
        raise UsageError(f"--shrinkage must be 0 or more (got {shrinkage})")


@dataclass
class Shrink:
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
            k1 = rng.keys(self.bases[c, j], d * np.uint64(2))
            z = rng.normal(k1, rng.keys(self.bases[c, j], d * np.uint64(2) + np.uint64(1)))
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


STD_BATCH = 65_536  # fixed, so the sums do not depend on --chunk-size


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of every column in every cell."""

    n: np.ndarray  # cells x columns
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def zero(cls, cells: int, columns: int) -> Moments:
        return cls(*(np.zeros((cells, columns)) for _ in range(3)))

    def merge(self, nb: np.ndarray, mb: np.ndarray, qb: np.ndarray) -> None:
        """Chan's rule: add a part's moments (a batch, a partition) after these."""
        total = self.n + nb
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, nb / total, 0.0)
        delta = mb - self.mean
        self.m2 += qb + delta**2 * self.n * share
        self.mean += delta * share
        self.n = total

    def std(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(np.where(self.n > 0, self.m2 / self.n, 0.0))
        return np.nan_to_num(std, nan=0.0, posinf=0.0, neginf=0.0)


def cell_moments(
    batches: Iterable[tuple[pl.DataFrame, np.ndarray]], cells: int, columns: list[str]
) -> Moments:
    """The moments of every column in every cell, batch by batch in input order.

    numpy's bincount adds in row order and batches merge in input order, so the
    result is the same on every run for the same batches (polars' parallel
    group-by std is not: its last bits vary). Nulls are skipped; a NaN makes
    the cell's std NaN, taken as 0.
    """
    out = Moments.zero(cells, len(columns))
    for batch, codes in batches:
        nb, mb, qb = (np.zeros((cells, len(columns))) for _ in range(3))
        for j, name in enumerate(columns):
            col = batch[name]
            valid = col.is_not_null().to_numpy()
            x = col.cast(pl.Float64).fill_null(0.0).to_numpy()[valid]
            c = codes[valid]
            nb[:, j] = np.bincount(c, minlength=cells)
            with np.errstate(invalid="ignore", divide="ignore"):
                mb[:, j] = np.where(nb[:, j] > 0, np.bincount(c, x, cells) / nb[:, j], 0.0)
            qb[:, j] = np.bincount(c, (x - mb[c, j]) ** 2, cells)
        out.merge(nb, mb, qb)
    return out


def cell_std(
    batches: Iterable[tuple[pl.DataFrame, np.ndarray]], cells: int, columns: list[str]
) -> np.ndarray:
    """Population standard deviation of every column in every cell (cells x columns)."""
    return cell_moments(batches, cells, columns).std()


def shrink_setup(
    std: np.ndarray,
    layout: Layout,
    columns: list[str],
    shrinkage: float,
    seed: int,
    rows_total: int,
) -> Shrink:
    """The jitter of every cell from its standard deviations (``std``) and the bandwidth.

    imbalanced-learn's rule: scale = shrinkage * (4 / ((d + 2) n)) ** (1 / (d + 4)) * std,
    with n the rows of the input and the population std of the class.
    """
    d = len(columns)
    bandwidth = (4.0 / ((d + 2) * max(rows_total, 1))) ** (1.0 / (d + 4))
    bases = np.zeros((len(layout), d), dtype=np.uint64)
    for i, name in enumerate(layout.names):
        for j, col in enumerate(columns):
            bases[i, j] = rng.stream_base(seed, f"shrinkage\x1f{col}", name)
    return Shrink(
        columns, shrinkage * bandwidth * std, bases, np.zeros(len(layout), np.int64), shrinkage
    )


def expand_jittered(
    df: pl.DataFrame, codes: np.ndarray, copies: np.ndarray, max_rows: int, shrink: Shrink
) -> Iterator[pl.DataFrame]:
    """Like ``expand``, with the smoothed-bootstrap jitter on every copy but the first."""
    last = -1  # the row before a part: a part may start on a later copy of it
    for part in expanded_rows(copies, max_rows):
        dup = np.empty(part.size, dtype=bool)
        dup[0] = part[0] == last
        dup[1:] = part[1:] == part[:-1]
        last = int(part[-1])
        yield shrink.apply(df.gather(index_series(part)), codes[part], dup)

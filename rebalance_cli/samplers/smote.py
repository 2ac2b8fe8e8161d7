"""SMOTE: synthetic rows on segments between a real row and a near neighbour.

For a class grown from n to t rows, s = t - n synthetic rows are made. Seeds
are spread evenly: every real row seeds s // n rows, and the s % n rows with
the smallest keys seed one more. Synthetic row j (0-based, in seed order) takes
its neighbour and its u ~ U[0, 1) from keys of (seed, class, j), so the rows are
the same whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .. import rng
from ..errors import DataError
from ..knn import neighbours


def interpolate_integers(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """a + u * (b - a) rounded to the nearest integer, exact for any 64-bit integers.

    Works in an order-preserving unsigned image of the values, so spans up to
    2**64 - 1 neither overflow nor lose the endpoints to float rounding; the
    result always lies between a and b.
    """
    signed = a.dtype.kind == "i"
    flip = np.uint64(1 << 63)
    ua = a.astype(np.int64).view(np.uint64) ^ flip if signed else a.astype(np.uint64)
    ub = b.astype(np.int64).view(np.uint64) ^ flip if signed else b.astype(np.uint64)
    lo, hi = np.minimum(ua, ub), np.maximum(ua, ub)
    span = hi - lo
    t = np.where(ua <= ub, u, 1.0 - u)
    # Measure from the nearer end, so the step is at most half the span (< 2**63 + 1)
    # and its float never overflows the cast.
    near_lo = t <= 0.5
    step = np.rint(np.where(near_lo, t, 1.0 - t) * span.astype(np.float64)).astype(np.uint64)
    step = np.minimum(step, span)
    out = np.where(near_lo, lo + step, hi - step)
    return (out ^ flip).view(np.int64) if signed else out


def _value_codes(s: pl.Series) -> np.ndarray:
    """Small integers equal exactly where the values are equal (null is a value)."""
    if s.dtype == pl.Boolean:
        s = s.cast(pl.UInt8)
    elif s.dtype == pl.Categorical or isinstance(s.dtype, pl.Enum):
        s = s.cast(pl.String)
    try:
        ranked = s.rank("dense")
    except pl.exceptions.PolarsError:
        ranked = s.hash()
    return ranked.fill_null(0).cast(pl.UInt64).to_numpy()


def mode_source(codes: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """For each row, the neighbour whose value is the most frequent among its k neighbours.

    Ties go to the nearer neighbour. Memory is n * k * k booleans.
    """
    nc = codes[nbrs]
    votes = (nc[:, :, None] == nc[:, None, :]).sum(axis=2)
    best = votes.argmax(axis=1)
    return nbrs[np.arange(nbrs.shape[0]), best]


@dataclass
class SmoteClass:
    """One class being grown: its pool (input order), neighbours and draws."""

    cls: str
    value: Any
    pool: pl.DataFrame
    label: str
    features: tuple[str, ...]
    id_columns: tuple[str, ...]
    x: np.ndarray
    nbrs: np.ndarray
    seed_ends: np.ndarray
    base_nb: np.uint64
    base_u: np.uint64
    new_rows: int
    k: int
    mode_rows: dict[str, np.ndarray]
    left_out: int = 0
    knn_method: str = "kd-tree"
    integers: dict[str, np.ndarray] = field(default_factory=dict)

    def batches(self, schema: pl.Schema, size: int) -> Iterator[pl.DataFrame]:
        """The synthetic rows, in order, ``size`` at a time."""
        for start in range(0, self.new_rows, size):
            j = np.arange(start, min(self.new_rows, start + size), dtype=np.int64)
            yield self._rows(j, schema)

    def _rows(self, j: np.ndarray, schema: pl.Schema) -> pl.DataFrame:
        seeds = np.searchsorted(self.seed_ends, j, side="right")
        pick = rng.below(rng.keys(self.base_nb, j), self.k).astype(np.intp)
        mates = self.nbrs[seeds, pick]
        u = rng.uniform(rng.keys(self.base_u, j))
        cols: list[pl.Series] = []
        feature_index = {f: i for i, f in enumerate(self.features)}
        for name, dtype in schema.items():
            if name in self.integers:
                col = self.integers[name]
                v = interpolate_integers(col[seeds], col[mates], u)
                cols.append(pl.Series(name, v).cast(dtype))
            elif name in feature_index:
                col = self.x[:, feature_index[name]]
                a, b = col[seeds], col[mates]
                v = np.clip(a + u * (b - a), np.minimum(a, b), np.maximum(a, b))
                cols.append(pl.Series(name, v).cast(dtype))
            elif name == self.label:
                cols.append(pl.repeat(self.value, len(j), dtype=dtype, eager=True).alias(name))
            elif name in self.id_columns:
                cols.append(pl.repeat(None, len(j), dtype=dtype, eager=True).alias(name))
            else:
                rows = pl.Series(self.mode_rows[name][seeds].astype(np.uint64))
                cols.append(self.pool[name].gather(rows))
        return pl.DataFrame(cols)


def check_class_size(cls: str, n: int, k: int, usable: bool = False) -> None:
    """A class SMOTE grows needs k + 1 rows: each row and k neighbours."""
    if n >= k + 1:
        return
    fits = f"--k-neighbors {n - 1} or lower" if n > 1 else "oversample for this class"
    raise DataError(
        f"class {cls!r} has {n}{' usable' if usable else ''} row{'s' if n != 1 else ''}; "
        f"SMOTE with k={k} needs at least {k + 1}",
        hint=f"use {fits}",
    )


def prepare_smote(
    pool: pl.DataFrame,
    cls: str,
    value: Any,
    new_rows: int,
    label: str,
    features: Sequence[str],
    id_columns: Sequence[str],
    k: int,
    seed: int,
    drop_invalid: bool = False,
) -> SmoteClass:
    """Validate one class's pool, find its neighbours, and set up its draws.

    With ``drop_invalid``, rows with a null, NaN or infinite feature are left
    out of the seeds and neighbours instead of failing the run.
    """
    bad = np.zeros(pool.height, dtype=bool)
    for f in features:
        col = pool[f]
        col_bad = col.is_null().to_numpy()
        if col.dtype.is_float():
            col_bad |= ~col.is_finite().fill_null(True).to_numpy()
        if col_bad.any() and not drop_invalid:
            count = int(col_bad.sum())
            raise DataError(
                f"feature column {f!r} has {count} null, NaN or infinite value"
                f"{'s' if count != 1 else ''} in class {cls!r}, which SMOTE must grow",
                hint=f"clean them first, leave the column out with --exclude {f}, "
                "or pass --lenient to leave those rows out of the seeds",
            )
        bad |= col_bad
    left_out = int(bad.sum())
    if left_out:
        pool = pool.filter(pl.Series(~bad))
    n = pool.height
    check_class_size(cls, n, k, usable=bool(left_out))
    x = pool.select(pl.col(list(features)).cast(pl.Float64)).to_numpy()
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    nbrs, knn_method = neighbours(x, k)
    q, r = divmod(new_rows, n)
    per_seed = np.full(n, q, dtype=np.int64)
    if r:
        base = rng.stream_base(seed, "smote-seed", cls)
        _, thr = rng.chosen(base, n, r)
        per_seed += rng.keys(base, np.arange(n, dtype=np.uint64)) <= thr
    mode_rows: dict[str, np.ndarray] = {}
    for name in pool.columns:
        if name in features or name == label or name in id_columns:
            continue
        mode_rows[name] = mode_source(_value_codes(pool[name]), nbrs)
    return SmoteClass(
        cls=cls,
        value=value,
        pool=pool,
        label=label,
        features=tuple(features),
        id_columns=tuple(id_columns),
        x=x,
        nbrs=nbrs,
        seed_ends=np.cumsum(per_seed),
        base_nb=rng.stream_base(seed, "smote-neighbour", cls),
        base_u=rng.stream_base(seed, "smote-gap", cls),
        new_rows=new_rows,
        k=k,
        mode_rows=mode_rows,
        left_out=left_out,
        knn_method=knn_method,
        integers={f: pool[f].to_numpy() for f in features if pool[f].dtype.is_integer()},
    )

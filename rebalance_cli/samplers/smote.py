"""SMOTE: synthetic rows on segments between a real row and a near neighbour.

For a class grown from n to t rows, s = t - n synthetic rows are made. Seeds
are spread evenly: every real row seeds s // n rows, and the s % n rows with
the smallest keys seed one more. Synthetic row j (0-based, in seed order) takes
its neighbour and its u ~ U[0, 1) from keys of (seed, class, j), so the rows are
the same whatever the batch size.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .. import rng
from ..errors import DataError
from ..knn import Tick, neighbours
from ..phases import wait_for

_LOW32 = np.uint64(0xFFFF_FFFF)
_FRACTION_BITS = 53  # rng.uniform's u is a whole number of 2**-53
_HALF = np.uint64(1 << (_FRACTION_BITS - 1))


def _times_fraction(m: np.ndarray, span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(floor, remainder) of m * span / 2**53, exactly, for m < 2**53 and any uint64 span:
    the 117-bit product in two 64-bit words from four 32-bit partial products."""
    s32 = np.uint64(32)
    a_lo, a_hi = m & _LOW32, m >> s32
    b_lo, b_hi = span & _LOW32, span >> s32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> s32) + (p1 & _LOW32) + (p2 & _LOW32)  # < 3 * 2**32: no carry lost
    low = (p0 & _LOW32) | (mid << s32)
    high = p3 + (p1 >> s32) + (p2 >> s32) + (mid >> s32)  # < 2**53
    shift = np.uint64(_FRACTION_BITS)
    floor = (high << np.uint64(64 - _FRACTION_BITS)) | (low >> shift)
    return floor, low & np.uint64((1 << _FRACTION_BITS) - 1)


def interpolate_integers(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """a + u * (b - a), computed exactly and rounded to the nearest integer, halves to
    even, for any 64-bit integers (signed or unsigned) and u a whole number of 2**-53
    in [0, 1) (what ``rng.uniform`` gives).

    Works in an order-preserving unsigned image of the values (which keeps parity), so
    spans up to 2**64 - 1 neither overflow nor lose bits to float rounding: the
    product u * span is exact, and the result always lies between a and b.
    """
    m = np.ldexp(np.asarray(u, dtype=np.float64), _FRACTION_BITS)
    if not ((m >= 0) & (m < 2.0**_FRACTION_BITS) & (m == np.floor(m))).all():
        raise ValueError("u must be whole multiples of 2**-53 in [0, 1)")
    signed = a.dtype.kind == "i"
    flip = np.uint64(1 << 63)
    ua = a.astype(np.int64).view(np.uint64) ^ flip if signed else a.astype(np.uint64)
    ub = b.astype(np.int64).view(np.uint64) ^ flip if signed else b.astype(np.uint64)
    lo, hi = np.minimum(ua, ub), np.maximum(ua, ub)
    whole, rest = _times_fraction(m.astype(np.uint64), hi - lo)
    one = np.uint64(1)
    # going up from a = lo: x = lo + whole + rest; going down from a = hi: x = hi - whole - rest
    rising = ua <= ub
    near = np.where(rising, lo + whole, hi - whole)
    odd = (near & one).astype(bool)
    step = (rest > _HALF) | ((rest == _HALF) & odd)  # one more away from a
    out = np.where(rising, near + step, near - step)
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


def mode_candidates(codes: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    """For each row, which of its k neighbours hold a most frequent value among them.

    An (n, k) mask with one True per tied value (its nearest holder), so a
    uniform draw among the True entries is a uniform draw among the tied values.
    Memory is n * k * k booleans.
    """
    nc = codes[nbrs]
    same = nc[:, :, None] == nc[:, None, :]
    votes = same.sum(axis=2)
    top = votes == votes.max(axis=1, keepdims=True)
    k = nbrs.shape[1]
    earlier = np.tril(np.ones((k, k), dtype=bool), -1)  # [i, j]: j comes before i
    first = ~(same & earlier[None, :, :]).any(axis=2)
    return top & first


def pick_candidate(mask: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Column of the r-th True entry of each row, r = draws[row] (0-based)."""
    cum = np.cumsum(mask, axis=1)
    return np.argmax(mask & (cum == (draws[:, None] + 1)), axis=1)


CATEGORY_LIMIT = 256


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
    modes: dict[str, np.ndarray]  # column -> (n, k) mask of its tied most frequent values
    tie_bases: dict[str, np.uint64]
    left_out: int = 0
    knn_method: str = "kd-tree"
    categorical: tuple[str, ...] = ()  # the categorical columns the distance used
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
                mask = self.modes[name][seeds]
                tied = mask.sum(axis=1).astype(np.uint64)
                key = rng.keys(self.tie_bases[name], j)
                draws = ((key >> np.uint64(32)) * tied) >> np.uint64(32)  # uniform in [0, tied)
                nb = self.nbrs[seeds, pick_candidate(mask, draws)]
                cols.append(self.pool[name].gather(pl.Series(nb.astype(np.uint64))))
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


@dataclass(frozen=True)
class SmoteSettings:
    """What SMOTE is asked for, the same for every class it grows.

    ``drop_invalid`` leaves rows with a null, NaN or infinite feature out of the
    seeds and neighbours instead of failing the run. ``categorical`` columns join
    the distance by the SMOTE-NC rule; ``named_categorical`` says the user named
    them (so a column too wide is an error, not a column quietly left out).
    ``scale="standard"`` divides each numeric feature by its standard deviation in
    the class for the distance only.
    """

    features: Sequence[str]
    id_columns: Sequence[str]
    k: int
    seed: int
    drop_invalid: bool = False
    categorical: Sequence[str] = ()
    named_categorical: bool = False
    scale: str = "none"

    def __post_init__(self) -> None:
        for name in ("features", "id_columns", "categorical"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


def bad_feature_error(column: str, count: int, cls: str) -> DataError:
    """A feature of a class SMOTE grows has null, NaN or infinite values (not --lenient);
    both engines raise this one."""
    return DataError(
        f"feature column {column!r} has {count} null, NaN or infinite value"
        f"{'s' if count != 1 else ''} in class {cls!r}, which SMOTE must grow",
        hint=f"clean them first, leave the column out with --exclude {column}, "
        "or pass --lenient to leave those rows out of the seeds",
    )


def left_out_warning(count: int, cls: str) -> str:
    """``count`` rows of a class were left out of the SMOTE seeds (--lenient); both engines."""
    one = count == 1
    return (
        f"{count} row{'' if one else 's'} of class {cls!r} with a null, NaN or infinite "
        f"feature {'was' if one else 'were'} left out of the SMOTE seeds (--lenient)"
    )


def _usable_rows(
    pool: pl.DataFrame, cls: str, features: Sequence[str], drop_invalid: bool
) -> tuple[pl.DataFrame, int]:
    """The pool without rows whose features are null, NaN or infinite, and how many
    rows that left out (with none left out unless ``drop_invalid``: an error)."""
    bad = np.zeros(pool.height, dtype=bool)
    for f in features:
        col = pool[f]
        col_bad = col.is_null().to_numpy()
        if col.dtype.is_float():
            col_bad |= ~col.is_finite().fill_null(True).to_numpy()
        if col_bad.any() and not drop_invalid:
            raise bad_feature_error(f, int(col_bad.sum()), cls)
        bad |= col_bad
    left_out = int(bad.sum())
    if left_out:
        pool = pool.filter(pl.Series(~bad))
    return pool, left_out


def _feature_matrix(pool: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The numeric features as a C-contiguous float64 (rows, features) array."""
    if features:
        x = pool.select(pl.col(list(features)).cast(pl.Float64)).to_numpy()
    else:
        x = np.zeros((pool.height, 0))
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x


def _category_blocks(
    pool: pl.DataFrame,
    cls: str,
    space: np.ndarray,
    settings: SmoteSettings,
    left_out_columns: dict[str, str] | None,
) -> tuple[list[np.ndarray], list[str]]:
    """The one-hot blocks of the categorical columns (SMOTE-NC) and their names.

    Each hot entry is worth median(std of the numeric features) / sqrt(2), so two
    rows that differ in one category are that median apart on it. A column that
    looks like an identifier is left out (and noted in ``left_out_columns``) unless
    the user named it, in which case too many values is an error.
    """
    n = pool.height
    used: list[str] = []
    blocks: list[np.ndarray] = []
    spread = float(np.median(space.std(axis=0))) if space.shape[1] else 1.0
    if not spread > 0:
        spread = 1.0  # no numeric spread: every category mismatch counts 1
    hot = spread / math.sqrt(2.0)
    for c in settings.categorical:
        codes = _value_codes(pool[c])
        width = int(codes.max()) + 1 if n else 1  # code 0 is kept for null
        distinct = pool[c].n_unique()
        if width > CATEGORY_LIMIT and settings.named_categorical:
            raise DataError(
                f"column {c!r} has {distinct} distinct values in class {cls!r}, more than "
                f"{CATEGORY_LIMIT}; one-hot it would cost {distinct} columns per row",
                hint="leave it out of --categorical",
            )
        if not settings.named_categorical and (distinct > CATEGORY_LIMIT or 2 * distinct > n):
            # an identifier or free text, not a category
            if left_out_columns is not None:
                left_out_columns[c] = (
                    f"{distinct} distinct values in {n} rows of class {cls!r}: an identifier "
                    "or free text, not a category (name it with --categorical to use it)"
                )
            continue
        block = np.zeros((n, width))
        block[np.arange(n), codes.astype(np.intp)] = hot
        blocks.append(block)
        used.append(c)
    return blocks, used


def _distance_space(
    pool: pl.DataFrame,
    cls: str,
    x: np.ndarray,
    settings: SmoteSettings,
    left_out_columns: dict[str, str] | None,
) -> tuple[np.ndarray, list[str]]:
    """The space the neighbours are searched in (scaled features, then one-hot
    categories) and the categorical columns it uses."""
    space = x
    if settings.scale == "standard" and x.shape[1]:
        std = x.std(axis=0)
        space = x / np.where(std > 0, std, 1.0)
    used: list[str] = []
    if settings.categorical:
        blocks, used = _category_blocks(pool, cls, space, settings, left_out_columns)
        if blocks:
            space = np.ascontiguousarray(np.hstack([space, *blocks]))
        del blocks
    if space.shape[1] == 0:
        raise DataError(
            f"SMOTE has no feature to measure distances with in class {cls!r}",
            hint="name numeric columns with --features or categories with --categorical",
        )
    return space, used


def _seed_ends(cls: str, n: int, new_rows: int, seed: int) -> np.ndarray:
    """Cumulative synthetic rows per seed: s // n each, one more for the s % n
    seeds with the smallest keys."""
    q, r = divmod(new_rows, n)
    per_seed = np.full(n, q, dtype=np.int64)
    if r:
        base = rng.stream_base(seed, "smote-seed", cls)
        _, thr = rng.chosen(base, n, r)
        per_seed += rng.keys(base, np.arange(n, dtype=np.uint64)) <= thr
    return np.cumsum(per_seed)


def prepare_smote(
    pool: pl.DataFrame,
    cls: str,
    value: Any,
    new_rows: int,
    label: str,
    settings: SmoteSettings,
    left_out_columns: dict[str, str] | None = None,
    shown: str | None = None,
    tick: Tick | None = None,
) -> SmoteClass:
    """Validate one class's pool, find its neighbours, and set up its draws.

    ``cls`` names its random streams; ``shown`` names it in messages (under
    ``--by``: the group and the class, not the stream's key). The neighbour search
    runs in a worker thread (:func:`~rebalance_cli.phases.wait_for`), so a signal
    stops the run without waiting for it; ``tick(done, total)`` hears of its rows.

    Memory is rows x (numeric features + categories), never rows x k x width.
    Interpolation uses the raw feature values, whatever the distance was scaled by.
    """
    features, id_columns, k, seed = (
        settings.features,
        settings.id_columns,
        settings.k,
        settings.seed,
    )
    name = cls if shown is None else shown
    pool, left_out = _usable_rows(pool, name, features, settings.drop_invalid)
    n = pool.height
    check_class_size(name, n, k, usable=bool(left_out))
    x = _feature_matrix(pool, features)
    space, used = _distance_space(pool, name, x, settings, left_out_columns)
    search = functools.partial(neighbours, space, k, tick)
    nbrs, knn_method = wait_for(search, "rebalance-knn")
    if (nbrs < 0).any():  # a neighbour search that came back short is a bug, not data
        raise RuntimeError(f"the neighbour search ({knn_method}) missed neighbours in {name!r}")
    del space, search
    seed_ends = _seed_ends(cls, n, new_rows, seed)
    modes: dict[str, np.ndarray] = {}
    tie_bases: dict[str, np.uint64] = {}
    for col in pool.columns:
        if col in features or col == label or col in id_columns:
            continue
        modes[col] = mode_candidates(_value_codes(pool[col]), nbrs)
        tie_bases[col] = rng.stream_base(seed, f"smote-tie\x1f{col}", cls)
    return SmoteClass(
        cls=cls,
        value=value,
        pool=pool,
        label=label,
        features=tuple(features),
        id_columns=tuple(id_columns),
        x=x,
        nbrs=nbrs,
        seed_ends=seed_ends,
        base_nb=rng.stream_base(seed, "smote-neighbour", cls),
        base_u=rng.stream_base(seed, "smote-gap", cls),
        new_rows=new_rows,
        k=k,
        modes=modes,
        tie_bases=tie_bases,
        left_out=left_out,
        knn_method=knn_method if not used else f"{knn_method}, SMOTE-NC over {', '.join(used)}",
        categorical=tuple(used),
        integers={f: pool[f].to_numpy() for f in features if pool[f].dtype.is_integer()},
    )

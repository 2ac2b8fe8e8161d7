"""The classes of a label column: their order, their names, and row -> class codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl


def tokens_of(values: pl.Series) -> tuple[str, ...]:
    """The names of label values in plans, reports and ``--target a=100``.

    A name is the value as polars writes it to CSV, so it does not depend on
    the dtype's width: an Int32 or Float32 label in a Parquet file and the same
    label read back from CSV share names, and therefore random streams.
    """
    try:
        return tuple(str(v) for v in values.cast(pl.String).to_list())
    except pl.exceptions.PolarsError:
        return tuple(str(v) for v in values.to_list())


COUNT = "__rebalance_count__"


def has_label(label: str, dtype: pl.DataType) -> pl.Expr:
    """Rows that have a class: the label is not null and, in a float column, not NaN.

    NaN is a missing label, like null: it is counted in ``null_labels``, is an
    error without ``--drop-null-labels``, and is dropped with it.
    """
    col = pl.col(label)
    return col.is_not_null() & col.is_not_nan() if dtype.is_float() else col.is_not_null()


def nan_as_null(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    """A counted frame with NaN labels turned into nulls (a float label only)."""
    if not frame.schema[label].is_float():
        return frame
    return frame.with_columns(pl.col(label).fill_nan(None))


def _sortable(s: pl.Series) -> pl.Series:
    if s.dtype in (pl.Categorical,) or isinstance(s.dtype, pl.Enum):
        return s.cast(pl.String)
    return s


@dataclass(frozen=True)
class ClassIndex:
    """Classes in sort order, with their names, counts and a fast row -> code map."""

    label: str
    values: pl.Series
    tokens: tuple[str, ...]
    counts: tuple[int, ...]
    nulls: int

    @classmethod
    def from_counts(cls, label: str, frame: pl.DataFrame) -> ClassIndex:
        """Build from a (label, len) frame as given by a group-by count (NaN is null)."""
        frame = nan_as_null(frame, label)
        nulls = int(frame.filter(pl.col(label).is_null())[COUNT].sum() or 0)
        frame = frame.filter(pl.col(label).is_not_null())
        frame = frame.sort(_sortable(frame[label]))
        values = frame[label]
        tokens = tokens_of(values)
        return cls(label, values, tokens, tuple(int(v) for v in frame[COUNT]), nulls)

    def __len__(self) -> int:
        return len(self.tokens)

    def pairs(self) -> list[tuple[str, int]]:
        return list(zip(self.tokens, self.counts, strict=True))

    def codes(self, labels: pl.Series) -> np.ndarray:
        """Class code (position in sort order) of every row; labels must be non-null."""
        source = _sortable(labels)
        known = _sortable(self.values)
        if source.dtype == pl.String:
            enum = pl.Enum(known.to_list())
            mapped = source.cast(enum, strict=False).to_physical()
        else:
            mapped = source.replace_strict(
                known, pl.Series(np.arange(len(known), dtype=np.uint32)), default=None
            )
        if mapped.null_count():
            missing = source.filter(mapped.is_null()).head(1).to_list()
            raise LookupError(f"label value {missing[0]!r} was not seen when counting")
        return mapped.cast(pl.UInt32).to_numpy()

    def value(self, i: int) -> Any:
        return self.values[i]


def class_positions(codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each row's 0-based position within its class, continuing from ``offsets``.

    ``offsets`` (rows of each class already seen) is advanced in place.
    """
    n = codes.shape[0]
    k = offsets.shape[0]
    small = codes.astype(np.uint16) if k <= 65535 else codes
    order = np.argsort(small, kind="stable")
    per_class = np.bincount(codes, minlength=k)
    starts = np.cumsum(per_class) - per_class
    sorted_codes = codes[order]
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n, dtype=np.int64) - starts[sorted_codes] + offsets[sorted_codes]
    offsets += per_class
    return pos


@dataclass(frozen=True)
class Distribution:
    """The class distribution of a label column, as ``inspect`` reports it."""

    label: str
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    nulls: int
    majority: str | None
    minority: str | None

    @property
    def rows(self) -> int:
        return sum(self.counts) + self.nulls

    @property
    def imbalance_ratio(self) -> float | None:
        """Majority count over minority count (1.0 when balanced)."""
        if not self.counts:
            return None
        return max(self.counts) / min(self.counts)

    def shares(self) -> dict[str, float]:
        total = sum(self.counts)
        return {c: n / total for c, n in zip(self.classes, self.counts, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        shares = self.shares() if self.counts else {}
        return {
            "label": self.label,
            "rows": self.rows,
            "null_labels": self.nulls,
            "classes": [
                {"class": c, "count": n, "share": round(shares[c], 6)}
                for c, n in zip(self.classes, self.counts, strict=True)
            ],
            "majority": self.majority,
            "minority": self.minority,
            "imbalance_ratio": (
                None if self.imbalance_ratio is None else round(self.imbalance_ratio, 6)
            ),
            "class_weights": self.balanced_weights(),
        }

    def balanced_weights(self) -> dict[str, float]:
        """scikit-learn's ``class_weight="balanced"``: n / (classes * n_c), for a trainer."""
        total, k = sum(self.counts), len(self.counts)
        return {c: total / (k * n) for c, n in zip(self.classes, self.counts, strict=True)}

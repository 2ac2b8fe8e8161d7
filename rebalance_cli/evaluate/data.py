"""The data of ``evaluate``: which columns are features, the labelled sample, and the
encoding fitted inside each training fold."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..classes import has_label
from ..columns import check_label
from ..defaults import DEFAULT_MAX_CLASSES
from ..errors import DataError, null_labels
from ..io import ReadOptions, open_source, reading

MAX_CLASSES = DEFAULT_MAX_CLASSES  # as inspect and apply: more looks like an id column
MAX_CATEGORIES = 50  # one-hot columns per categorical feature (the most frequent in training)

# ---------------------------------------------------------------- columns and data


ID_NAME = re.compile(r"(^|[_\-. ])(id|uuid|guid|key)$|^index$|^row_?(nr|number|num)$|[a-z]Id$")
MAX_TEXT_CARDINALITY = 200


def classify_columns(
    frame: pl.DataFrame, label: str, exclude: Sequence[str] = ()
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Split the columns into (numeric, categorical, excluded with the reason)."""
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: list[tuple[str, str]] = []
    rows = frame.height
    for name, dtype in frame.schema.items():
        if name == label:
            continue
        if name in exclude:
            excluded.append((name, "--exclude"))
        elif dtype.is_temporal():
            excluded.append((name, "datetime"))
        elif _id_like(name, frame[name], rows):
            excluded.append((name, "id-like"))
        elif dtype.is_numeric() or dtype == pl.Boolean:
            numeric.append(name)
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            distinct = frame[name].n_unique()
            if distinct > MAX_TEXT_CARDINALITY and distinct > rows // 2:
                excluded.append((name, f"free text ({distinct:,} distinct values)"))
            else:
                categorical.append(name)
        else:
            excluded.append((name, f"unsupported type {dtype}"))
    return numeric, categorical, excluded


def _id_like(name: str, s: pl.Series, rows: int) -> bool:
    if not (s.dtype.is_integer() or s.dtype == pl.String):
        return False
    if ID_NAME.search(name.lower()) or ID_NAME.search(name):
        return True
    if rows < 20 or s.null_count() or s.n_unique() != rows:
        return False
    if s.dtype == pl.String:
        return True
    span = int(s.max()) - int(s.min()) + 1  # type: ignore[arg-type]
    return span == rows  # a row counter


@dataclass
class _Data:
    frame: pl.DataFrame  # features only
    y: np.ndarray  # class codes 0..K-1 (classes sorted as strings)
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    rows_total: int
    sampled: bool
    numeric: list[str]
    categorical: list[str]
    excluded: list[tuple[str, str]]
    display: str


def _class_codes(values: pl.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..K-1 of the (non-null) labels, the classes sorted as text."""
    text = values.cast(pl.String).to_numpy().astype(str)
    classes, codes = np.unique(text, return_inverse=True)
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def stratified_sample(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded stratified sample of at most ``max_rows`` rows.

    Each class keeps its share (largest remainder), and at least one row.

    """
    n = y.size
    if n <= max_rows:
        return np.arange(n)
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * (max_rows / n)
    take = np.maximum(np.floor(exact).astype(np.int64), 1)
    short = max_rows - int(take.sum())
    if short > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        take[order[:short]] += 1
    while short < 0:  # the one-row floors overshot: trim the largest classes
        take[int(np.argmax(take))] -= 1
        short += 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3]))
    parts = []
    for cls, k in zip(classes, take, strict=True):
        rows = np.flatnonzero(y == cls)
        parts.append(rng.choice(rows, size=min(int(k), rows.size), replace=False))
    return np.sort(np.concatenate(parts))


def _check_columns(schema: pl.Schema, label: str, exclude: Sequence[str], display: str) -> None:
    """The label (a column that can name classes) and every ``--exclude`` column must be
    in the data."""
    check_label(schema, label, display)
    for name in exclude:
        if name not in schema:
            raise DataError(f"--exclude names column {name!r}, which is not in {display}")


def _labelled_sample(
    lf: pl.LazyFrame,
    label: str,
    max_rows: int,
    seed: int,
    drop_null_labels: bool,
    warnings: list[str],
) -> tuple[pl.DataFrame, int, bool]:
    """The rows to evaluate on (labelled ones, a stratified sample of at most
    ``max_rows``), how many rows have a label, and whether it is a sample."""
    labels = lf.select(pl.col(label)).collect()[label]
    # NaN in a float label is a null label, as in apply and inspect: never a class
    labelled = labels.to_frame().select(has_label(label, labels.dtype))[label].fill_null(False)
    keep = np.flatnonzero(labelled.to_numpy())
    nulls = labels.len() - keep.size
    if nulls and not drop_null_labels:
        raise null_labels(label, nulls)
    if nulls:
        warnings.append(f"left out {nulls:,} rows whose label is null")
    y_all, _ = _class_codes(labels.filter(labelled))
    chosen = keep[stratified_sample(y_all, max_rows, seed)]
    sampled = chosen.size < keep.size
    if sampled or nulls:
        idx = pl.Series("__row", chosen, dtype=pl.UInt32)
        frame = (
            lf.with_row_index("__row")
            .join(idx.to_frame().lazy(), on="__row", how="semi")
            .drop("__row")
            .collect()
        )
    else:
        frame = lf.collect()
    return frame, int(keep.size), sampled


def _data_of(
    frame: pl.DataFrame,
    label: str,
    exclude: Sequence[str],
    display: str,
    rows_total: int,
    sampled: bool,
) -> _Data:
    """The class codes and feature columns of the rows read, refused when they
    leave nothing to evaluate."""
    y, classes = _class_codes(frame[label])
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"label column {label!r} has {len(classes):,} distinct values, more than "
            f"{MAX_CLASSES:,}",
            hint="it looks like an id or a continuous column; evaluate needs class labels",
        )
    counts = tuple(int(c) for c in np.bincount(y, minlength=len(classes)))
    if len(classes) < 2:
        raise DataError(
            f"label column {label!r} has a single class ({classes[0] if classes else 'none'}); "
            "there is nothing to evaluate"
        )
    numeric, categorical, excluded = classify_columns(frame, label, exclude)
    if not numeric and not categorical:
        raise DataError(
            "no feature column is left to learn from",
            hint="excluded: " + ", ".join(f"{c} ({why})" for c, why in excluded)
            if excluded
            else None,
        )
    return _Data(
        frame.select(numeric + categorical),
        y,
        classes,
        counts,
        rows_total,
        sampled,
        numeric,
        categorical,
        excluded,
        display,
    )


def _load(
    data: str | os.PathLike[str] | pl.DataFrame,
    label: str,
    read: ReadOptions | None,
    max_rows: int,
    seed: int,
    exclude: Sequence[str],
    drop_null_labels: bool,
) -> tuple[_Data, list[str]]:
    warnings: list[str] = []
    if isinstance(data, pl.DataFrame):
        display = "<frame>"
        lf = data.lazy()
        source = None
    else:
        source = open_source(data, read)
        display = source.display
        lf = source.scan()
    try:
        with source.guard() if source is not None else contextlib.nullcontext(), reading(display):
            _check_columns(lf.collect_schema(), label, exclude, display)
            frame, rows_total, sampled = _labelled_sample(
                lf, label, max_rows, seed, drop_null_labels, warnings
            )
    finally:
        if source is not None:
            source.close()
    return _data_of(frame, label, exclude, display, rows_total, sampled), warnings


# ---------------------------------------------------------------- encoding inside a fold


class _Encoder:
    """Median imputation, one-hot encoding and standardisation, fitted on one training fold."""

    def __init__(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.medians: np.ndarray = np.empty(0)
        self.levels: dict[str, list[str]] = {}
        self.mean: np.ndarray = np.empty(0)
        self.scale: np.ndarray = np.empty(0)

    def _numeric(self, frame: pl.DataFrame) -> np.ndarray:
        if not self.numeric:
            return np.empty((frame.height, 0))
        x = frame.select(pl.col(self.numeric).cast(pl.Float64)).to_numpy().astype(np.float64)
        x[~np.isfinite(x)] = np.nan
        return x

    def _onehot(self, frame: pl.DataFrame) -> np.ndarray:
        cols = []
        for name in self.categorical:
            s = frame[name].cast(pl.String).fill_null("\x00null")
            for level in self.levels[name]:
                cols.append(s.eq(level).to_numpy().astype(np.float64))
        if not cols:
            return np.empty((frame.height, 0))
        return np.column_stack(cols)

    def fit(self, frame: pl.DataFrame) -> _Encoder:
        x = self._numeric(frame)
        if x.shape[1]:
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
            self.medians = np.nan_to_num(med)
        for name in self.categorical:
            counts = (
                frame[name]
                .cast(pl.String)
                .fill_null("\x00null")
                .value_counts(sort=True, name="n")
                .sort(["n", name], descending=[True, False])
            )
            self.levels[name] = counts[name].head(MAX_CATEGORIES).to_list()
        raw = self._raw(frame)
        self.mean = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        return self

    def _raw(self, frame: pl.DataFrame) -> np.ndarray:
        x = self._numeric(frame)
        if x.shape[1]:
            bad = np.isnan(x)
            x = np.where(bad, self.medians[np.newaxis, :], x)
        return np.hstack([x, self._onehot(frame)])

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        return (self._raw(frame) - self.mean) / self.scale

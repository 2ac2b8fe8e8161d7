"""Column checks: the label, and the columns a flag names (one home for each message)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import polars as pl

from .errors import DataError, UsageError

WIDE_INTEGERS = (pl.Int128, pl.UInt128)


def check_label(schema: pl.Schema, label: str, display: str) -> None:
    """The label column is in the schema and can name classes; if not, a data error
    (naming the nearest columns when it is missing)."""
    if label in schema:
        dtype = schema[label]
        if dtype.is_nested():  # List, Array, Struct: a value is not one class
            raise DataError(
                f"label column {label!r} is {dtype}; a label must be a string, integer, "
                "boolean, categorical or float column",
                hint="choose another --label, or turn the column into one of those types first",
            )
        return
    near = difflib.get_close_matches(label, list(schema.names()), n=3, cutoff=0.6)
    if not near:
        near = [c for c in schema.names() if c.lower() == label.lower()]
    hint = f"did you mean {', '.join(repr(c) for c in near)}?" if near else None
    names = list(schema.names())
    if hint is None and len(names) == 1:
        guess = next((sep for sep in (";", "\t", "|", ",", ":") if sep in names[0]), None)
        if guess is not None:
            flag = "tab" if guess == "\t" else repr(guess)
            hint = (
                f"the header was read as one column {names[0]!r}: the separator looks like "
                f"{flag}; pass --separator {flag}"
            )
    if hint is None:
        shown = ", ".join(list(schema.names())[:12])
        hint = f"the columns are: {shown}{' …' if len(schema) > 12 else ''}"
    raise DataError(f"label column {label!r} is not in {display}", hint=hint)


def named_columns(
    flag: str, names: Sequence[str] | None, schema: pl.Schema, label: str | None
) -> list[str]:
    """Check a list of column names given by a flag: present, not twice, and not the
    label (unless ``label`` is None: the flag may name it)."""
    if names is None:
        return []
    if not names:
        raise UsageError(f"{flag} names no column")
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise UsageError(f"{flag} names column {twice[0]!r} twice")
    for name in names:
        if name not in schema:
            raise DataError(f"{flag} names column {name!r}, which is not in the input")
        if label is not None and name == label:
            raise UsageError(f"{flag} names the label column {label!r}")
    return list(names)


def resolve_features(
    schema: pl.Schema,
    label: str,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    allow_empty: bool = False,
    who: str = "SMOTE",
) -> list[str]:
    """The numeric feature columns (SMOTE's, or ``who``'s): every one but the label, or
    those named."""
    for flag, names in (
        ("--features", features),
        ("--exclude", exclude),
        ("--id-columns", id_columns),
    ):
        named_columns(flag, names, schema, None)
    if label in (features or ()):
        raise UsageError(f"--features names the label column {label!r}")
    for other, names in (("--exclude", exclude), ("--id-columns", id_columns)):
        both = [f for f in features or () if f in (names or ())]
        if both:
            raise UsageError(f"column {both[0]!r} is in both --features and {other}")
    skip = {label, *(exclude or ()), *(id_columns or ())}
    if features:
        chosen = list(features)  # overlaps with the label, --exclude and ids were refused above
        for f in chosen:
            if schema[f] in WIDE_INTEGERS:
                raise UsageError(
                    f"feature column {f!r} is {schema[f]}; {who} takes integers of up to 64 "
                    "bits as features (a float64 distance or jitter would round it)",
                    hint="leave it out of --features: it is then neither interpolated nor "
                    "jittered (SMOTE gives a synthetic row the most frequent value among the "
                    "neighbours)",
                )
            if not schema[f].is_numeric():
                raise UsageError(
                    f"feature column {f!r} is {schema[f]}; {who} takes numeric features only",
                    hint="leave it out of --features",
                )
    else:
        # 128-bit integers (polars reads 20+ digit numbers so: ids, mostly) are not features
        chosen = [
            c
            for c, t in schema.items()
            if c not in skip and t.is_numeric() and t not in WIDE_INTEGERS
        ]
    if not chosen and not allow_empty:
        raise DataError(
            f"{who} needs at least one numeric feature column and the input has none left",
            hint="check --features/--exclude" + (", or use oversample" if who == "SMOTE" else ""),
        )
    return chosen


def resolve_smote_columns(
    schema: pl.Schema,
    label: str,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
    categorical: Sequence[str] | None,
    by: Sequence[str],
) -> tuple[list[str], list[str], bool]:
    """SMOTE's numeric features, its categorical features, and whether those were named.

    Without ``--categorical``, string, categorical and boolean columns other than
    the label, ``--by``, ``--exclude`` and ``--id-columns`` take part in the distance
    (SMOTE-NC); ``--categorical`` names them instead.
    """
    numeric = [
        c
        for c in resolve_features(schema, label, features, exclude, id_columns, allow_empty=True)
        if c not in by
    ]
    cats = named_columns("--categorical", categorical, schema, label)
    for c in cats:
        if c in (id_columns or ()) or c in (exclude or ()):
            raise UsageError(f"column {c!r} is in both --categorical and --id-columns/--exclude")
    skip = {label, *(exclude or ()), *(id_columns or ()), *by}
    if categorical is None:
        cats = [
            c for c, t in schema.items() if c not in skip and c not in numeric and is_categorical(t)
        ]
    numeric = [c for c in numeric if c not in cats]
    if not numeric and not cats:
        raise DataError(
            "SMOTE needs at least one feature column and the input has none left",
            hint="check --features/--exclude/--categorical, or use oversample",
        )
    return numeric, cats, categorical is not None


def is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)

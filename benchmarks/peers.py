"""The floors and peers that ``bench.py`` times next to ``rebalance``, one per subcommand.

Each subcommand reads SRC and writes OUT in the same format (by extension: .parquet or .csv),
so that ``/usr/bin/time`` measures one whole process per run. Imports are done inside the
subcommands: a run pays only for the libraries it uses.

    copy             plain polars streaming scan -> sink (the input copy)
    floor-under      plain polars streaming: count the classes, then a hash filter that keeps
                     about min-count rows of each class (binomial, not exact)
    floor-over       plain polars streaming: count the classes, then repeat each row
                     k_c = M // n_c times, plus once more for about M mod n_c rows of the
                     class (hash test), via int_ranges + explode
    duckdb-under     DuckDB, exact: row_number() over (partition by label order by hash(key, seed))
    duckdb-over      DuckDB, exact: unnest(range(k_c)) per row plus the exact remainder rows
    imblearn-rus     polars read -> pandas -> imblearn RandomUnderSampler -> polars write
    imblearn-ros     same with RandomOverSampler
    imblearn-smote   same with SMOTE (k_neighbors=5)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def fmt_of(path: Path) -> str:
    return "parquet" if path.suffix == ".parquet" else "csv"


def scan(path: Path) -> pl.LazyFrame:
    import polars as pl

    return pl.scan_parquet(path) if fmt_of(path) == "parquet" else pl.scan_csv(path)


def sink(query: pl.LazyFrame, out: Path) -> None:
    if fmt_of(out) == "parquet":
        query.sink_parquet(out)
    else:
        query.sink_csv(out)


def class_counts(src: Path, label: str) -> dict[object, int]:
    """Pass 1 of both floors: the label column only, streaming."""

    df = scan(src).select(label).group_by(label).len().collect(engine="streaming")
    return {k: int(v) for k, v in df.iter_rows()}


def copy(src: Path, out: Path) -> None:
    sink(scan(src), out)


def floor_under(src: Path, out: Path, label: str, key: str, seed: int) -> None:
    import polars as pl

    counts = class_counts(src, label)
    t = min(counts.values())
    h = pl.col(key).hash(seed)
    keep: pl.Expr = pl.lit(False)
    for cls, n in counts.items():
        keep = pl.when(pl.col(label) == cls).then(h % n < t).otherwise(keep)
    sink(scan(src).filter(keep), out)


def floor_over(src: Path, out: Path, label: str, key: str, seed: int) -> None:
    import polars as pl

    counts = class_counts(src, label)
    top = max(counts.values())
    h = pl.col(key).hash(seed)
    reps: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for cls, n in counts.items():
        k, r = divmod(top, n)
        reps = (
            pl.when(pl.col(label) == cls)
            .then(pl.lit(k, dtype=pl.Int64) + (h % n < r).cast(pl.Int64))
            .otherwise(reps)
        )
    query = scan(src).with_columns(_i=pl.int_ranges(0, reps)).explode("_i").drop("_i")
    sink(query, out)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_sql(strategy: str, src: str, out: str, fmt: str, label: str, key: str, seed: int) -> str:
    """The exact DuckDB query; every CTE scans the file itself (no materialised CTE)."""
    read = f"read_parquet({_literal(src)})" if fmt == "parquet" else f"read_csv({_literal(src)})"
    opts = "(FORMAT parquet, COMPRESSION zstd)" if fmt == "parquet" else "(FORMAT csv, HEADER)"
    lab, k = _ident(label), _ident(key)
    if strategy == "undersample":
        body = f"""\
  WITH t AS (SELECT min(n) AS t FROM (SELECT count(*) AS n FROM {read} GROUP BY {lab})),
  ranked AS (
    SELECT *, row_number() OVER (PARTITION BY {lab} ORDER BY hash({k}, {seed})) AS _rn
    FROM {read}
  )
  SELECT * EXCLUDE (_rn) FROM ranked WHERE _rn <= (SELECT t FROM t)"""
    elif strategy == "oversample":
        body = f"""\
  WITH counts AS (SELECT {lab}, count(*) AS n FROM {read} GROUP BY {lab}),
  plan AS (SELECT {lab}, max(n) OVER () // n AS _k, max(n) OVER () % n AS _r FROM counts),
  copies AS (
    SELECT * EXCLUDE (_i) FROM (
      SELECT s.*, unnest(range(p._k)) AS _i FROM {read} s JOIN plan p USING ({lab})
    )
  ),
  extra AS (
    SELECT * EXCLUDE (_rn, _r) FROM (
      SELECT s.*, p._r,
             row_number() OVER (PARTITION BY s.{lab} ORDER BY hash(s.{k}, {seed})) AS _rn
      FROM {read} s JOIN plan p USING ({lab}) WHERE p._r > 0
    ) WHERE _rn <= _r
  )
  SELECT * FROM copies UNION ALL SELECT * FROM extra"""
    else:
        raise ValueError(strategy)
    return f"COPY (\n{body}\n) TO {_literal(out)} {opts}"


def duckdb_run(strategy: str, src: Path, out: Path, label: str, key: str, seed: int) -> None:
    import duckdb

    duckdb.sql(duckdb_sql(strategy, str(src), str(out), fmt_of(src), label, key, seed))


def imblearn_run(sampler: str, src: Path, out: Path, label: str, seed: int) -> None:
    import polars as pl

    if sampler == "smote":
        from imblearn.over_sampling import SMOTE

        resampler: object = SMOTE(k_neighbors=5, random_state=seed)
    elif sampler == "ros":
        from imblearn.over_sampling import RandomOverSampler

        resampler = RandomOverSampler(random_state=seed)
    else:
        from imblearn.under_sampling import RandomUnderSampler

        resampler = RandomUnderSampler(random_state=seed)
    frame = pl.read_parquet(src) if fmt_of(src) == "parquet" else pl.read_csv(src)
    x = frame.to_pandas()
    del frame
    y = x.pop(label)
    x_res, y_res = resampler.fit_resample(x, y)  # type: ignore[attr-defined]
    del x, y
    x_res[label] = y_res
    result = pl.from_pandas(x_res)
    del x_res, y_res
    if fmt_of(out) == "parquet":
        result.write_parquet(out)
    else:
        result.write_csv(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "name",
        choices=[
            "copy",
            "floor-under",
            "floor-over",
            "duckdb-under",
            "duckdb-over",
            "imblearn-rus",
            "imblearn-ros",
            "imblearn-smote",
        ],
    )
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--label", default="label")
    ap.add_argument("--key", default="id", help="column hashed by the floors and DuckDB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--print-sql", action="store_true", help="duckdb-*: print the query only")
    args = ap.parse_args(argv)
    if fmt_of(args.src) != fmt_of(args.out):
        ap.error("SRC and OUT must have the same format")
    name: str = args.name
    if name == "copy":
        copy(args.src, args.out)
    elif name == "floor-under":
        floor_under(args.src, args.out, args.label, args.key, args.seed)
    elif name == "floor-over":
        floor_over(args.src, args.out, args.label, args.key, args.seed)
    elif name.startswith("duckdb-"):
        strategy = "undersample" if name == "duckdb-under" else "oversample"
        if args.print_sql:
            sql = duckdb_sql(
                strategy,
                str(args.src),
                str(args.out),
                fmt_of(args.src),
                args.label,
                args.key,
                args.seed,
            )
            print(sql)
            return
        duckdb_run(strategy, args.src, args.out, args.label, args.key, args.seed)
    else:
        imblearn_run(name.removeprefix("imblearn-"), args.src, args.out, args.label, args.seed)


if __name__ == "__main__":
    sys.exit(main())

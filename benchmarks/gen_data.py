"""Generate the benchmark tables (nothing is downloaded).

``imb_<rows>``: a 3-class string label ``label`` at 90:9:1, an int64 ``id``, 10 float columns
``f0..f9`` and 2 string columns ``city``, ``code``, written as Parquet and CSV.

``smote_<rows>`` (``--smote``): 20 float columns ``x0..x19`` and an int8 label ``y`` with exactly
``round(rows * minority)`` rows of class 1 (5% by default; ``smote_<rows>_m<pct>`` otherwise).

Tables of more than ``CHUNK_ROWS`` rows are generated and written chunk by chunk (chunk i uses
seed + i and ids offset by i * CHUNK_ROWS), so a 50M-row table needs the memory of a 10M one and
the first 10M rows of every tier are the 10M table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

CHUNK_ROWS = 10_000_000
IMB_SEED = 7
SMOTE_SEED = 11


def imbalanced_table(rows: int, seed: int = IMB_SEED, first_id: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.random(rows)
    label = np.where(u < 0.90, "a", np.where(u < 0.99, "b", "c"))
    cols: dict[str, object] = {"id": np.arange(first_id, first_id + rows, dtype=np.int64)}
    for j in range(10):
        cols[f"f{j}"] = rng.standard_normal(rows).round(6)
    cols["city"] = rng.choice(np.array(["paris", "lyon", "nice", "lille", "metz"]), rows)
    cols["code"] = rng.choice(np.array([f"k{i:03d}" for i in range(200)]), rows)
    cols["label"] = label
    return pl.DataFrame(cols)


def smote_table(
    rows: int, features: int = 20, minority: float = 0.05, seed: int = SMOTE_SEED
) -> pl.DataFrame:
    """All-float table; exactly round(rows * minority) rows have y = 1, spread at random."""
    rng = np.random.default_rng(seed)
    y = np.zeros(rows, dtype=np.int8)
    y[rng.choice(rows, round(rows * minority), replace=False)] = 1
    x = rng.standard_normal((rows, features)).astype(np.float64) + y[:, None] * 0.5
    data: dict[str, object] = {f"x{j}": x[:, j] for j in range(features)}
    data["y"] = y
    return pl.DataFrame(data)


def stem(rows: int, smote: bool, minority: float = 0.05) -> str:
    if not smote:
        return f"imb_{rows}"
    if abs(minority - 0.05) < 1e-12:
        return f"smote_{rows}"
    return f"smote_{rows}_m{round(minority * 100)}"


def write_imbalanced(rows: int, paths: dict[str, Path]) -> None:
    """Write imb_<rows> chunk by chunk to every path in paths (format -> path)."""
    parquet_writer: pq.ParquetWriter | None = None
    tmp = {fmt: p.with_name(p.name + ".part") for fmt, p in paths.items()}
    try:
        for i, start in enumerate(range(0, rows, CHUNK_ROWS)):
            df = imbalanced_table(min(CHUNK_ROWS, rows - start), IMB_SEED + i, start)
            if "parquet" in tmp:
                if rows <= CHUNK_ROWS:
                    df.write_parquet(tmp["parquet"])
                else:
                    table = df.to_arrow()
                    if parquet_writer is None:
                        parquet_writer = pq.ParquetWriter(
                            tmp["parquet"], table.schema, compression="zstd"
                        )
                    parquet_writer.write_table(table, row_group_size=1_000_000)
            if "csv" in tmp:
                with tmp["csv"].open("ab" if i else "wb") as fh:
                    df.write_csv(fh, include_header=i == 0)
            del df
        if parquet_writer is not None:
            parquet_writer.close()
            parquet_writer = None
        for fmt, p in tmp.items():
            p.replace(paths[fmt])
    finally:
        if parquet_writer is not None:
            parquet_writer.close()
        for p in tmp.values():
            p.unlink(missing_ok=True)


def generate(
    rows: int, out: Path, formats: list[str], smote: bool = False, minority: float = 0.05
) -> dict[str, Path]:
    """Write the missing files of one table; return format -> path for all requested formats."""
    out.mkdir(parents=True, exist_ok=True)
    name = stem(rows, smote, minority)
    paths = {fmt: out / f"{name}.{fmt}" for fmt in formats}
    missing = {fmt: p for fmt, p in paths.items() if not p.exists()}
    if not missing:
        return paths
    if not smote:
        write_imbalanced(rows, missing)
    else:
        df = smote_table(rows, minority=minority)
        for fmt, p in missing.items():
            part = p.with_name(p.name + ".part")
            if fmt == "parquet":
                df.write_parquet(part)
            else:
                df.write_csv(part)
            part.replace(p)
    for p in missing.values():
        print(p, flush=True)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, required=True, help="folder to write into")
    ap.add_argument("--smote", action="store_true", help="write the all-float SMOTE table")
    ap.add_argument(
        "--minority", type=float, default=0.05, help="SMOTE table: share of class 1 (0.05)"
    )
    ap.add_argument("--formats", default="parquet,csv")
    args = ap.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("parquet", "csv")]
    if bad:
        ap.error(f"unknown format(s): {', '.join(bad)}")
    generate(args.rows, args.out, formats, args.smote, args.minority)


if __name__ == "__main__":
    main()

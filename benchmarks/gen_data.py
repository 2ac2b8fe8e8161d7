"""Generate the benchmark tables (nothing is downloaded).

A table has a 3-class label at 90:9:1, 10 float columns, 2 string columns and
1 integer column, written as Parquet and CSV. A second kind (``--smote``) is an
all-float table with a 5% minority for SMOTE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl


def imbalanced_table(rows: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.random(rows)
    label = np.where(u < 0.90, "a", np.where(u < 0.99, "b", "c"))
    cols: dict[str, object] = {"id": np.arange(rows, dtype=np.int64)}
    for j in range(10):
        cols[f"f{j}"] = rng.standard_normal(rows).round(6)
    cols["city"] = rng.choice(np.array(["paris", "lyon", "nice", "lille", "metz"]), rows)
    cols["code"] = rng.choice(np.array([f"k{i:03d}" for i in range(200)]), rows)
    cols["label"] = label
    return pl.DataFrame(cols)


def smote_table(
    rows: int, features: int = 20, minority: float = 0.05, seed: int = 11
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < minority).astype(np.int8)
    x = rng.standard_normal((rows, features)).astype(np.float64) + y[:, None] * 0.5
    data = {f"x{j}": x[:, j] for j in range(features)}
    data["y"] = y
    return pl.DataFrame(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, required=True, help="folder to write into")
    ap.add_argument("--smote", action="store_true", help="write the all-float SMOTE table")
    ap.add_argument("--formats", default="parquet,csv")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    df = smote_table(args.rows) if args.smote else imbalanced_table(args.rows)
    stem = f"{'smote' if args.smote else 'imb'}_{args.rows}"
    for fmt in args.formats.split(","):
        path = args.out / f"{stem}.{fmt}"
        if path.exists():
            continue
        if fmt == "parquet":
            df.write_parquet(path)
        else:
            df.write_csv(path)
        print(path)


if __name__ == "__main__":
    main()

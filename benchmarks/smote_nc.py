"""Mixed-type SMOTE at scale: 1M rows, 10 numeric and 3 categorical features, a 100k-row
minority grown to the majority's size, file to file.

Measures rebalance and imbalanced-learn's SMOTENC (pandas read -> fit_resample -> write), each
in its own process, wall time and peak RSS from ``/usr/bin/time``; imbalanced-learn gets a time
limit. Run: ``.venv/bin/python benchmarks/smote_nc.py --data-dir DIR [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

ROWS, MINORITY, SEED = 1_000_000, 100_000, 13
CATEGORIES = {"colour": 8, "shape": 5, "size": 3}

IMBLEARN = """
import sys, pandas as pd
from imblearn.over_sampling import SMOTENC
df = pd.read_parquet(sys.argv[1])
X, y = df.drop(columns="y"), df["y"]
cats = [X.columns.get_loc(c) for c in {cats!r}]
Xr, yr = SMOTENC(categorical_features=cats, random_state=0).fit_resample(X, y)
Xr["y"] = yr
Xr.to_parquet(sys.argv[2])
"""


def make_table(path: Path) -> None:
    rng = np.random.default_rng(SEED)
    y = np.zeros(ROWS, dtype=np.int8)
    y[rng.choice(ROWS, MINORITY, replace=False)] = 1
    data: dict[str, object] = {}
    for j in range(10):
        data[f"x{j}"] = rng.standard_normal(ROWS) + 0.5 * y
    for name, k in CATEGORIES.items():
        data[name] = rng.choice(np.array([f"{name}{i}" for i in range(k)]), ROWS)
    data["y"] = y
    pl.DataFrame(data).write_parquet(path)


def timed(argv: list[str], limit: float | None = None) -> tuple[float | None, float | None]:
    """(wall s, peak RSS MB) of a child process; (None, None) when it failed or timed out."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", out.name, *argv]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            return None, None
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode()[-2000:])
            return None, None
        wall, rss = out.read().split()[-2:]
        return float(wall), int(rss) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--imblearn-limit", type=float, default=600.0)
    ap.add_argument("--skip-imblearn", action="store_true")
    args = ap.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    src = args.data_dir / "smote_nc_1000000.parquet"
    if not src.exists():
        make_table(src)
    out = args.data_dir / "smote_nc_out.parquet"
    rebalance = [
        sys.executable,
        "-m",
        "rebalance_cli",
        "apply",
        str(src),
        "-l",
        "y",
        "-s",
        "smote",
        "--seed",
        "1",
        "--force",
        "-q",
        "-o",
        str(out),
        "--report",
        str(args.data_dir / "smote_nc_report.json"),
    ]
    results: dict[str, list[tuple[float | None, float | None]]] = {"rebalance": [], "imblearn": []}
    for _ in range(args.repeats):
        results["rebalance"].append(timed(rebalance))
        if not args.skip_imblearn:
            script = IMBLEARN.format(cats=list(CATEGORIES))
            results["imblearn"].append(
                timed(
                    [sys.executable, "-c", script, str(src), str(args.data_dir / "nc_imb.parquet")],
                    args.imblearn_limit,
                )
            )
    report = json.loads((args.data_dir / "smote_nc_report.json").read_text())
    summary = {}
    for name, runs in results.items():
        ok = [r for r in runs if r[0] is not None]
        summary[name] = {
            "runs": runs,
            "wall_s": statistics.median(r[0] for r in ok) if ok else None,
            "peak_rss_mb": statistics.median(r[1] for r in ok) if ok else None,
        }
    summary["rebalance_report"] = {
        "counts_after": report["class_counts"]["after"],
        "synthetic": report["rows"]["synthetic"],
        "knn": report["parameters"]["knn"],
        "smote_prepare_s": report["timings_s"].get("smote_prepare"),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""The Spark engine on one machine against the local engine: same file, same run.

Cases, each its own process under ``/usr/bin/time -f '%e %M'``, run round-robin (the order
rotated every repeat) so that drift on a shared machine hits them all:

  local undersample / oversample   rebalance apply FILE ... -o OUT.parquet
  spark undersample / oversample   rebalance apply FILE ... -o OUT.parquet --engine spark
                                   --spark-master MASTER (a folder of part files)

A Spark wall time includes starting the JVM and the session. Peak RSS is what /usr/bin/time
reports: the `rebalance` process itself. For Spark that is the Python driver only; the JVM
(a child that pyspark starts and does not reap through time's rusage) is not counted.
After the first repeat the rows are compared: the ids the Spark folder holds, as a multiset,
must equal the local file's. The Markdown section is printed, and appended to
BENCHMARKS.md with ``--append``.

    nice .venv/bin/python benchmarks/spark_bench.py --data /work/bench-data/imb_10000000.parquet

The data comes from ``benchmarks/gen_data.py --rows 10000000 --out DIR --formats parquet``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench import loadavg, machine  # noqa: E402

TIME_BIN = "/usr/bin/time"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/bench-data/imb_10000000.parquet"))
    ap.add_argument("--label", default="label")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--strategies", default="undersample,oversample")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for outputs (default: temp)")
    ap.add_argument("--append", type=Path, default=None, help="append the section to this file")
    return ap.parse_args()


def command(args: argparse.Namespace, engine: str, strategy: str, out: Path) -> list[str]:
    cmd = [
        str(Path(sys.executable).parent / "rebalance"),
        "apply", str(args.data), "-l", args.label, "-s", strategy, "--seed", "1",
        "-o", str(out), "--force", "--json",
    ]  # fmt: skip
    if engine == "spark":
        cmd += ["--engine", "spark", "--spark-master", args.master]
    return cmd


def timed(cmd: list[str], folder: Path) -> tuple[float, int, dict]:
    stamp = folder / "time.txt"
    proc = subprocess.run(
        [TIME_BIN, "-f", "%e %M", "-o", str(stamp), *cmd],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    wall, rss = stamp.read_text().split()[-2:]
    return float(wall), int(rss), json.loads(proc.stdout)


def ids(path: Path) -> pl.Series:
    source = path / "*.parquet" if path.is_dir() else path
    return pl.scan_parquet(source).select("id").collect()["id"].sort()


def main() -> None:
    args = parse_args()
    strategies = args.strategies.split(",")
    cases = [(e, s) for s in strategies for e in ("local", "spark")]
    folder = Path(tempfile.mkdtemp(prefix="spark-bench-", dir=args.tmp))
    results: dict[tuple[str, str], list[tuple[float, int, dict]]] = {c: [] for c in cases}
    started = dt.datetime.now(dt.UTC)
    load_start = loadavg()
    same: dict[str, bool] = {}
    try:
        for r in range(args.repeats):
            order = cases[r % len(cases) :] + cases[: r % len(cases)]
            for engine, strategy in order:
                out = folder / f"{engine}-{strategy}.parquet"
                res = timed(command(args, engine, strategy, out), folder)
                results[(engine, strategy)].append(res)
                print(f"repeat {r + 1} {engine} {strategy}: {res[0]:.1f} s, {res[1] / 1024:.0f} MB")
            if r == 0:
                for strategy in strategies:
                    a = ids(folder / f"local-{strategy}.parquet")
                    b = ids(folder / f"spark-{strategy}.parquet")
                    same[strategy] = a.len() == b.len() and bool((a == b).all())
            for engine, strategy in cases:
                out = folder / f"{engine}-{strategy}.parquet"
                if out.is_dir():
                    shutil.rmtree(out)
                else:
                    out.unlink(missing_ok=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ended = dt.datetime.now(dt.UTC)
    scan = pl.scan_parquet(args.data)
    shape = (scan.select(pl.len()).collect().item(), len(scan.collect_schema()))
    lines = [
        "",
        "## Spark engine",
        "",
        "Written by `benchmarks/spark_bench.py` (outside the generated section above).",
        "",
        f"- date (UTC): {started:%Y-%m-%d %H:%M} to {ended:%H:%M}",
        f"- machine: {machine()}; load average {load_start} at start, {loadavg()} at the end",
        f"- versions: python {sys.version.split()[0]}, pyspark {metadata.version('pyspark')}, "
        f"polars {metadata.version('polars')}, pyarrow {metadata.version('pyarrow')}, "
        f"java: {java_version()}",
        f"- command: `nice {Path(sys.executable).relative_to(REPO)} benchmarks/spark_bench.py "
        f"--data {args.data} --master {args.master} --repeats {args.repeats}`",
        f"- input: {args.data.name}, {os.path.getsize(args.data) / 1e6:.0f} MB Parquet, "
        f"{shape[0]:,} rows x {shape[1]} columns, classes a/b/c at 90:9:1; seed 1; "
        "output Parquet",
        f"- {args.repeats} runs per case, each its own process, round-robin; medians. Spark "
        "includes starting the JVM, the session and its Python workers, and reads the output "
        "back once to check the class counts against the plan; phases are from its report",
        "",
        "| case | rows out | local engine (wall, RSS) | Spark engine (wall, driver RSS) | "
        "Spark / local | Spark phases "
        "(count, write, verify) | same rows as local |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for strategy in strategies:
        loc = results[("local", strategy)]
        spk = results[("spark", strategy)]
        lw = statistics.median(w for w, _, _ in loc)
        sw = statistics.median(w for w, _, _ in spk)
        lr = statistics.median(m for _, m, _ in loc) / 1024
        sr = statistics.median(m for _, m, _ in spk) / 1024
        rows = spk[0][2]["rows"]["written"]
        phases = ", ".join(
            f"{statistics.median(run[2]['timings_s'].get(p, 0.0) for run in spk):.1f}"
            for p in ("count", "write", "verify")
        )
        lines.append(
            f"| {strategy} | {rows:,} | {lw:.1f} s, {lr:.0f} MB | {sw:.1f} s, {sr:.0f} MB | "
            f"{sw / lw:.1f}x | {phases} s | {'yes' if same.get(strategy) else 'NO'} (ids, "
            "as a multiset) |"
        )
    lines += [
        "",
        "Spark is slower on one machine, as expected: every row crosses from the JVM to a Python "
        "worker and back (Arrow batches of 65,536 rows) to get its key, and the rows are read "
        "twice (counts, then selection). What it buys is that the same plan and the same rows "
        "come out when the input is spread over many machines.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with args.append.open("a", encoding="utf-8") as fh:
            fh.write(text)


def java_version() -> str:
    try:
        proc = subprocess.run(["java", "-version"], capture_output=True, text=True)
    except OSError:
        return "?"
    first = (proc.stderr or proc.stdout).strip().splitlines()
    return first[0] if first else "?"


if __name__ == "__main__":
    main()

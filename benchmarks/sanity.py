"""Sanity benchmark: wall time and peak RSS of `rebalance apply` against plain polars.

For every tier (row count) and format (csv, parquet) this runs, each as its own
process under ``/usr/bin/time``, and keeps the median of ``--repeats`` runs:

* ``copy``: a plain polars streaming scan -> sink of the same file (the baseline);
* ``undersample`` and ``oversample``: ``rebalance apply`` with ``--seed 1``;
* ``oversample-floor``: a plain polars streaming query writing about the same rows as
  ``oversample`` (each class repeated ``M // n_c`` times, the remainder left out).

The results are printed and written between markers in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
GEN_DATA = REPO / "benchmarks" / "gen_data.py"
TIME_BIN = "/usr/bin/time"
LABEL = "label"
BEGIN = "<!-- sanity:begin -->"
END = "<!-- sanity:end -->"
MD_HEADER = (
    "# Benchmarks\n\n"
    "Numbers written by `make bench` (`benchmarks/sanity.py`). Each run replaces the\n"
    "section between the markers below.\n\n"
)

# Run with `python -c CODE SRC OUT FMT`; FMT is csv or parquet.
COPY_CODE = """\
import sys
import polars as pl
src, out, fmt = sys.argv[1:4]
if fmt == "csv":
    pl.scan_csv(src).sink_csv(out)
else:
    pl.scan_parquet(src).sink_parquet(out)
"""

FLOOR_CODE = f"""\
import sys
import polars as pl
src, out, fmt = sys.argv[1:4]
scan = pl.scan_csv if fmt == "csv" else pl.scan_parquet
counts = dict(scan(src).group_by("{LABEL}").len().collect(engine="streaming").iter_rows())
top = max(counts.values())
parts = []
for cls, n in counts.items():
    parts += [scan(src).filter(pl.col("{LABEL}") == cls)] * (top // n)
query = pl.concat(parts)
if fmt == "csv":
    query.sink_csv(out)
else:
    query.sink_parquet(out)
"""

CASES: tuple[str, ...] = ("copy", "undersample", "oversample", "oversample-floor")


@dataclass
class Result:
    rows: int
    fmt: str
    case: str
    walls: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls else None

    @property
    def rss_mb(self) -> float | None:
        return statistics.median(self.rss_kb) / 1024 if self.rss_kb else None


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--rows",
        default="1000000,10000000",
        help="comma-separated row tiers (default: %(default)s)",
    )
    ap.add_argument("--formats", default="csv,parquet", help="default: %(default)s")
    ap.add_argument("--repeats", type=int, default=3, help="runs per case (default: %(default)s)")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=REPO / "bench_out" / "data",
        help="input tables imb_<rows>.<fmt>; missing ones are generated (default: bench_out/data)",
    )
    ap.add_argument(
        "--tmp-dir",
        type=Path,
        default=REPO / "bench_out" / "tmp",
        help="outputs go here and are deleted after each run (default: bench_out/tmp)",
    )
    ap.add_argument(
        "--markdown",
        type=Path,
        default=REPO / "BENCHMARKS.md",
        help="file whose sanity section is replaced (default: BENCHMARKS.md)",
    )
    args = ap.parse_args()
    args.rows = [int(x.replace("_", "")) for x in args.rows.split(",") if x.strip()]
    args.formats = [x.strip() for x in args.formats.split(",") if x.strip()]
    bad = [f for f in args.formats if f not in ("csv", "parquet")]
    if bad:
        ap.error(f"unknown format(s): {', '.join(bad)}")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    return args


def ensure_data(data_dir: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    paths = {fmt: data_dir / f"imb_{rows}.{fmt}" for fmt in formats}
    missing = [fmt for fmt, p in paths.items() if not p.exists()]
    if missing:
        print(f"generating {rows:,} rows as {','.join(missing)} in {data_dir}", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(GEN_DATA),
                "--rows",
                str(rows),
                "--out",
                str(data_dir),
                "--formats",
                ",".join(missing),
            ],
            check=True,
        )
    return paths


def class_counts(path: Path) -> dict[str, int]:
    lf = pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)
    df = lf.group_by(LABEL).len().collect(engine="streaming")
    return {str(k): int(v) for k, v in df.iter_rows()}


def rebalance_bin() -> str:
    local = Path(sys.executable).parent / "rebalance"
    if local.exists():
        return str(local)
    found = shutil.which("rebalance")
    if found is None:
        sys.exit("cannot find the `rebalance` command; run `make install` first")
    return found


def command(case: str, src: Path, out: Path, fmt: str) -> list[str]:
    if case == "copy":
        return [sys.executable, "-c", COPY_CODE, str(src), str(out), fmt]
    if case == "oversample-floor":
        return [sys.executable, "-c", FLOOR_CODE, str(src), str(out), fmt]
    return [
        rebalance_bin(),
        "apply",
        str(src),
        "-l",
        LABEL,
        "-s",
        case,
        "--seed",
        "1",
        "-o",
        str(out),
        "--force",
        "-q",
    ]


def warm_cache(path: Path) -> None:
    """Read the file once so the first timed run does not pay for the disk."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def timed_run(cmd: list[str], run_dir: Path) -> tuple[float, int]:
    """Run cmd under /usr/bin/time; return (wall seconds, max RSS KB) or raise RuntimeError."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", dir=run_dir) as tf:
        proc = subprocess.run(
            [TIME_BIN, "-f", "%e %M", "-o", tf.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = [ln for ln in Path(tf.name).read_text().splitlines() if ln.strip()]
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    wall, rss = lines[-1].split()
    return float(wall), int(rss)


def clean(run_dir: Path) -> None:
    for p in run_dir.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def measure(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    args.tmp_dir.mkdir(parents=True, exist_ok=True)
    for rows in args.rows:
        paths = ensure_data(args.data_dir, rows, args.formats)
        for fmt in args.formats:
            src = paths[fmt]
            warm_cache(src)
            by_case = {c: Result(rows, fmt, c) for c in CASES}
            # Round-robin over the cases so drift on a shared machine hits all of them.
            for rep in range(1, args.repeats + 1):
                for case in CASES:
                    res = by_case[case]
                    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.tmp_dir))
                    out = run_dir / f"out.{fmt}"
                    try:
                        wall, rss = timed_run(command(case, src, out, fmt), run_dir)
                        res.walls.append(wall)
                        res.rss_kb.append(rss)
                        note = f"{wall:8.2f} s {rss / 1024:8.0f} MB"
                    except RuntimeError as exc:
                        res.errors.append(str(exc))
                        note = f"ERROR {exc}"
                    finally:
                        shutil.rmtree(run_dir, ignore_errors=True)
                    print(f"{rows:>12,} {fmt:8} {case:17} run {rep}: {note}", flush=True)
            results.extend(by_case.values())
    clean(args.tmp_dir)
    return results


def fmt_num(x: float | None, spec: str) -> str:
    return "error" if x is None else format(x, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def table(results: list[Result]) -> str:
    head = (
        "| rows | format | case | wall s (median) | peak RSS MB (median) | wall / copy "
        "| RSS / copy |\n|---:|---|---|---:|---:|---:|---:|\n"
    )
    base = {(r.rows, r.fmt): r for r in results if r.case == "copy"}
    lines = []
    for r in results:
        b = base[(r.rows, r.fmt)]
        lines.append(
            f"| {r.rows:,} | {r.fmt} | {r.case} | {fmt_num(r.wall, '.2f')} "
            f"| {fmt_num(r.rss_mb, '.0f')} | {ratio(r.wall, b.wall)} "
            f"| {ratio(r.rss_mb, b.rss_mb)} |"
        )
    return head + "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc), {mem} RAM, {cpu}, {platform.platform()}"


def versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for pkg in ("polars", "pyarrow", "numpy", "rebalance-cli"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    return ", ".join(parts)


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}{' (with uncommitted changes)' if dirty else ''}"


def invocation() -> str:
    py = Path(sys.executable)
    if py.is_relative_to(Path.cwd()):
        py = py.relative_to(Path.cwd())
    return shlex.join([str(py), *sys.argv])


def floor_rows(counts: dict[str, int]) -> tuple[int, int]:
    """(rows oversample writes, rows the floor writes) for target auto."""
    top = max(counts.values())
    return top * len(counts), sum((top // n) * n for n in counts.values())


def section(args: argparse.Namespace, results: list[Result], started: dt.datetime) -> str:
    out = [
        BEGIN,
        "## Sanity run",
        "",
        f"- date (UTC): {started:%Y-%m-%d %H:%M}",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- commit: {git_rev()}",
        f"- command: `{invocation()}`",
        f"- repeats: {args.repeats} per case, median reported; runs interleaved across cases",
        "",
        table(results),
    ]
    sizes = []
    for rows in args.rows:
        found = [args.data_dir / f"imb_{rows}.{f}" for f in ("parquet", "csv")]
        src = next((p for p in found if p.exists()), None)
        if src is not None:
            over, floor = floor_rows(class_counts(src))
            sizes.append(
                f"{rows:,} rows: oversample writes {over:,} rows, the floor {floor:,} "
                f"({100 * (floor - over) / over:+.2f}%)"
            )
    errors = [f"- {r.rows:,} {r.fmt} {r.case}: {e}" for r in results for e in r.errors]
    out += [
        "How to read it:",
        "",
        "- Each case is its own process run under `/usr/bin/time -f '%e %M'`: wall seconds and",
        "  peak RSS of the whole process, Python start-up and imports included.",
        "- `copy`: `pl.scan_<fmt>(src).sink_<fmt>(out)`, the streaming baseline; the ratios",
        "  divide by the `copy` median of the same tier and format from the same run.",
        "- `undersample` / `oversample`: `rebalance apply FILE -l label -s <strategy> --seed 1",
        "  -o OUT --force -q` (target `auto`).",
        "- `oversample-floor`: a plain polars streaming query with about the same output as",
        "  `oversample`. It counts the classes (one streaming pass), then sinks",
        "  `pl.concat` of each class's filtered scan repeated `M // n_c` times (M = majority",
        "  count). The remainder `M mod n_c` is left out and rows are plain repeats, not",
        "  samples, so it only approximates the output size of `oversample`:",
    ]
    out += [f"  {s}." for s in sizes] or ["  (input missing, sizes not computed)."]
    out += [
        "- The input is read once before the runs so it sits in the page cache.",
        "- Outputs go to `bench_out/tmp` and are deleted after each run.",
        "- The machine may be shared; treat differences under ~10% as noise.",
    ]
    if errors:
        out += ["", "Errors:", "", *errors]
    out.append(END)
    return "\n".join(out) + "\n"


def write_markdown(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else MD_HEADER
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + body + text[end + len(END) :].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)


def main() -> None:
    args = parse_args()
    if not (os.path.exists(TIME_BIN) and os.access(TIME_BIN, os.X_OK)):
        sys.exit(f"{TIME_BIN} (GNU time) is needed to measure peak RSS; install the `time` package")
    started = dt.datetime.now(dt.UTC)
    results = measure(args)
    print()
    print(table(results))
    write_markdown(args.markdown, section(args, results, started))
    print(f"wrote {args.markdown}")
    if any(r.errors for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()

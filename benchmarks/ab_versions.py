"""Interleaved A/B of two checkouts of the package: `rebalance apply` old against new.

Neither checkout is installed: each run is ``PYTHONPATH=<tree> python -m rebalance_cli apply``
with the interpreter running this script, so both use the same venv and libraries. Per input
file (Parquet, then CSV) and per repeat, five cases run round-robin, the order rotated by one
each repeat: the polars copy floor (``peers.py copy``, as in bench.py), old and new undersample,
old and new oversample, with bench.py's arguments (``-l label --seed 1 -q --force``). Each run
is its own process under ``/usr/bin/time -f '%e %M %U %S'`` (wall, peak RSS, and user + system
CPU seconds, which a loaded machine inflates less than wall time); outputs are deleted after
every run, except that the first repeat hashes the rebalance outputs (sha256) to check
old == new. ``--strategies over`` runs the copy floor and the oversample pair only.

    python benchmarks/ab_versions.py --old /work/wt-old --new /work/wt-new \
        --data-dir /work/bench-data --repeats 5 --json ab.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEERS = BENCH_DIR / "peers.py"
TIME_BIN = "/usr/bin/time"
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SEED = 1
FORMATS = ("parquet", "csv")


@dataclass
class Case:
    name: str  # copy, old-under, new-under, old-over, new-over
    argv: list[str]  # SRC and OUT are replaced per run
    pythonpath: str | None
    walls: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # user + system seconds
    sha256: str | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="checkout of the old package")
    ap.add_argument("--new", type=Path, required=True, help="checkout of the new package")
    ap.add_argument("--data-dir", type=Path, required=True, help="holds imb_<rows>.<fmt>")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strategies", default="under,over", help="under, over (%(default)s)")
    ap.add_argument("--tmp-dir", type=Path, default=None, help="outputs (default: a temp folder)")
    ap.add_argument("--json", type=Path, default=None, help="write raw results here")
    return ap.parse_args(argv)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def child_env(pythonpath: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS and k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def check_import(tree: Path) -> str:
    """Import the package under PYTHONPATH=tree; every rebalance_cli module must come from it."""
    code = (
        "import sys, rebalance_cli, rebalance_cli.__main__\n"
        "files = {m.__file__ for n, m in list(sys.modules.items())\n"
        "         if n.split('.')[0] == 'rebalance_cli' and getattr(m, '__file__', None)}\n"
        "print('\\n'.join(sorted(files)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(str(tree)),
        cwd=tempfile.gettempdir(),
    )
    files = proc.stdout.split()
    root = str(tree.resolve() / "rebalance_cli")
    stray = [f for f in files if not f.startswith(root)]
    if not files or stray:
        sys.exit(f"PYTHONPATH={tree} imports rebalance_cli from elsewhere: {stray or 'nothing'}")
    return f"{len(files)} modules under {root}"


def git_rev(tree: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def build_cases(old: Path, new: Path, strategies: list[str]) -> list[Case]:
    py = sys.executable

    def apply(strategy: str) -> list[str]:
        return [py, "-m", "rebalance_cli", "apply", "SRC", "-l", "label", "-s", strategy]

    tail = ["--seed", str(SEED), "-o", "OUT", "-q", "--force"]
    under, over = apply("undersample") + tail, apply("oversample") + tail
    cases = [Case("copy", [py, str(PEERS), "copy", "SRC", "OUT", "--label", "label"], None)]
    for s, argv in (("under", under), ("over", over)):
        if s in strategies:
            cases += [Case(f"old-{s}", argv, str(old)), Case(f"new-{s}", argv, str(new))]
    return cases


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def warm_cache(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def timed_run(case: Case, src: Path, out: Path, run_dir: Path) -> tuple[float, int, float]:
    time_file = run_dir / "time.txt"
    argv = [str(src) if a == "SRC" else str(out) if a == "OUT" else a for a in case.argv]
    proc = subprocess.run(
        [TIME_BIN, "-f", "%e %M %U %S", "-o", str(time_file), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=run_dir,
        env=child_env(case.pythonpath),
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{case.name} on {src.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    wall, rss, user, system = time_file.read_text().split()[-4:]
    return float(wall), int(rss), float(user) + float(system)


def measure(groups: dict[str, tuple[Path, list[Case]]], repeats: int, tmp: Path) -> None:
    for rep in range(repeats):
        for fmt, (src, cases) in groups.items():
            warm_cache(src)
            shift = rep % len(cases)
            for case in cases[shift:] + cases[:shift]:
                run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=tmp))
                try:
                    out = run_dir / f"out.{fmt}"
                    wall, rss, cpu = timed_run(case, src, out, run_dir)
                    case.walls.append(wall)
                    case.rss_kb.append(rss)
                    case.cpus.append(cpu)
                    if case.sha256 is None and case.name != "copy":
                        case.sha256 = sha256(out)
                finally:
                    shutil.rmtree(run_dir, ignore_errors=True)
                print(
                    f"rep {rep + 1} {fmt:7} {case.name:9} {wall:7.2f} s {rss / 1024:6.0f} MB"
                    f" cpu {cpu:7.2f} s"
                    f"  load {loadavg()}",
                    flush=True,
                )


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    m, lo, hi = (v / scale for v in (statistics.median(values), min(values), max(values)))
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def ratios(old: Sequence[float], new: Sequence[float]) -> tuple[float, str]:
    """new/old of the medians, and new/old of each repeat's pair."""
    pairs = " ".join(f"{b / a:.2f}" for a, b in zip(old, new, strict=True))
    return statistics.median(new) / statistics.median(old), pairs


def report(groups: dict[str, tuple[Path, list[Case]]]) -> str:
    lines = [
        "| input | case | wall s, median (min-max) | peak RSS MB | CPU s (user+sys) | "
        "wall / copy | RSS / copy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for fmt, (_, cases) in groups.items():
        copy = cases[0]
        cw, cr = statistics.median(copy.walls), statistics.median(copy.rss_kb)
        for c in cases:
            w, r = statistics.median(c.walls), statistics.median(c.rss_kb)
            cpu = spread(c.cpus) if c.cpus else "-"
            lines.append(
                f"| {fmt} | {c.name} | {spread(c.walls)} | {spread(c.rss_kb, 1024, 0)} | {cpu} | "
                f"{w / cw:.2f} | {r / cr:.2f} |"
            )
    lines += [
        "",
        "| input | strategy | new/old wall (per repeat) | new/old RSS (per repeat) | "
        "new/old CPU (per repeat) | sha256 old == new |",
        "|---|---|---|---|---|---|",
    ]
    for fmt, (_, cases) in groups.items():
        by = {c.name: c for c in cases}
        for s in ("under", "over"):
            if f"old-{s}" not in by:
                continue
            o, n = by[f"old-{s}"], by[f"new-{s}"]
            cells = []
            for a, b in ((o.walls, n.walls), (o.rss_kb, n.rss_kb), (o.cpus, n.cpus)):
                if a and b:
                    med, pairs = ratios(a, b)
                    cells.append(f"{med:.2f} ({pairs})")
                else:
                    cells.append("-")
            same = "yes" if o.sha256 == n.sha256 else f"NO ({o.sha256} / {n.sha256})"
            lines.append(f"| {fmt} | {s}sample | {' | '.join(cells)} | {same} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    info: dict[str, object] = {
        "load_start": loadavg(),
        "old": git_rev(args.old),
        "new": git_rev(args.new),
        "old_import": check_import(args.old),
        "new_import": check_import(args.new),
    }
    print(json.dumps(info, indent=1), flush=True)
    strategies = [x.strip() for x in args.strategies.split(",") if x.strip()]
    if not strategies or set(strategies) - {"under", "over"}:
        sys.exit(f"--strategies: under and/or over, not {args.strategies!r}")
    groups: dict[str, tuple[Path, list[Case]]] = {}
    for fmt in FORMATS:
        src = args.data_dir / f"imb_{args.rows}.{fmt}"
        if not src.exists():
            sys.exit(f"missing {src}: run benchmarks/gen_data.py --rows {args.rows} first")
        groups[fmt] = (src, build_cases(args.old, args.new, strategies))
    with contextlib.ExitStack() as stack:
        if args.tmp_dir is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ab-")))
        else:
            tmp = args.tmp_dir
            tmp.mkdir(parents=True, exist_ok=True)
        measure(groups, args.repeats, tmp)
    info["load_end"] = loadavg()
    info["minutes"] = round((time.monotonic() - started) / 60, 1)
    table = report(groups)
    print(f"\nload {info['load_start']} -> {info['load_end']}, {info['minutes']} min\n\n{table}")
    if args.json:
        data = {
            "info": info,
            "groups": {fmt: [c.__dict__ for c in cases] for fmt, (_, cases) in groups.items()},
        }
        args.json.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()

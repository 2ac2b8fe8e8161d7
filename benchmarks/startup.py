"""Start-up of the `rebalance` command: --version, --help, and inspect/apply on a tiny file.

Runs each command N times (default 10) in a fresh process and prints the median wall time and
the median CPU time (user + system) of the child, so a loaded machine shows in the gap between
the two; the first line is the interpreter alone (``python -c pass``), the floor. With
``--compare OTHER`` (another `rebalance` executable, e.g. an older checkout's
.venv/bin/rebalance) both are run interleaved, run by run, so they share the same load.

    python benchmarks/startup.py
    python benchmarks/startup.py --compare ../old/.venv/bin/rebalance --runs 20
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = "id,x,y\n1,0.5,a\n2,0.1,a\n3,0.3,a\n4,0.9,b\n5,0.2,a\n6,0.7,b\n"


def commands(folder: Path) -> dict[str, list[str]]:
    data = str(folder / "tiny.csv")
    out = str(folder / "out.csv")
    return {
        "--version": ["--version"],
        "--help": ["--help"],
        "apply --help": ["apply", "--help"],
        "inspect tiny.csv": ["inspect", data, "-l", "y"],
        "apply tiny.csv": ["apply", data, "-l", "y", "-s", "undersample", "--seed", "1",
                           "-o", out, "--force", "-q"],
    }  # fmt: skip


def once(executable: str, args: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rebalance", default=shutil.which("rebalance") or "rebalance")
    parser.add_argument("--compare", help="another rebalance executable, run interleaved")
    args = parser.parse_args()
    tools = {"this": args.rebalance} | ({"other": args.compare} if args.compare else {})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tiny.csv").write_text(TINY)
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
              f"median of {args.runs} runs: wall s / cpu s")  # fmt: skip
        floor = [once(sys.executable, ["-c", "pass"]) for _ in range(args.runs)]
        print(f"{'python -c pass':<18} floor {statistics.median(w for w, _ in floor):.3f} / "
              f"{statistics.median(c for _, c in floor):.3f}")  # fmt: skip
        for name, argv in commands(folder).items():
            times: dict[str, list[tuple[float, float]]] = {t: [] for t in tools}
            for _ in range(args.runs):
                for tool, executable in tools.items():
                    times[tool].append(once(executable, argv))
            cells = [
                f"{tool} {statistics.median(w for w, _ in got):.3f} / "
                f"{statistics.median(c for _, c in got):.3f}"
                for tool, got in times.items()
            ]
            print(f"{name:<18} " + "   ".join(cells))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from rebalance_cli.cli import main

REPO = Path(__file__).resolve().parent.parent
HAVE_JAVA = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def mixed_frame(counts: dict[str, int], seed: int = 0) -> pl.DataFrame:
    """A table with every column kind: id, ints, floats, string, bool, timestamp, label.

    Rows of the classes are interleaved at random so batches mix classes.
    """
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c, dtype=object) for c, n in counts.items()])
    labels = labels[rng.permutation(labels.size)]
    n = labels.size
    start = datetime(2025, 1, 1)
    return pl.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "age": rng.integers(18, 90, n).astype(np.int32),
            "visits": rng.integers(0, 1000, n).astype(np.int64),
            "score": rng.normal(0, 1, n).round(4),
            "ratio": rng.random(n).astype(np.float32),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "member": rng.random(n) < 0.4,
            "seen_at": pl.Series(
                [start + timedelta(hours=int(h)) for h in rng.integers(0, 10_000, n)],
                dtype=pl.Datetime("us"),
            ),
            "y": pl.Series(labels.tolist(), dtype=pl.String),
        }
    )


@pytest.fixture
def write_data(tmp_path: Path):
    """Write a frame as CSV or Parquet and return the path."""

    def _write(df: pl.DataFrame, name: str) -> Path:
        path = tmp_path / name
        if name.endswith(".parquet"):
            df.write_parquet(path)
        elif name.endswith(".tsv"):
            df.write_csv(path, separator="\t")
        else:
            df.write_csv(path)
        return path

    return _write


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli():
    """Run the `rebalance` entry point in this process, as the script does (``main``:
    its own option coercion and one-line parse errors), capturing stdout and stderr."""
    runner = CliRunner()

    def _run(*args: str, input: bytes | str | None = None) -> Result:
        code = 0
        with runner.isolation(input=input) as (out, err, _):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        return Result(code, stdout, stderr)

    return _run


def argv(*args: object) -> list[str]:
    """The command line of `python -m rebalance_cli ARGS` for a real process."""
    return [sys.executable, "-m", "rebalance_cli", *(str(a) for a in args)]


def default_signals() -> None:
    """``preexec_fn`` for a child that a test interrupts: SIGINT, SIGTERM and SIGHUP at their
    defaults, whatever the test runner inherited (``nohup`` ignores SIGHUP, a background job of
    a non-interactive shell ignores SIGINT, and rebalance keeps an ignored signal ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def run_process(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> Result:
    """Run `python -m rebalance_cli` in a real process (pipes, signals, exit codes)."""
    proc = subprocess.run(
        argv(*args),
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (local[2]) for every test that asks for it."""
    if not HAVE_JAVA:
        pytest.skip("no Java runtime (java not on PATH, JAVA_HOME unset): Spark cannot start")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("rebalance-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

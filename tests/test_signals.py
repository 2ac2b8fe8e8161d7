"""SIGINT, SIGTERM and SIGHUP at every phase of a run, in real processes.

The run is interrupted through the test hook of ``rebalance_cli.phases``
(``REBALANCE_TEST_SIGNAL=PHASE:SIGNAL[:N]``): the process sends itself the signal
when it enters the phase, or at the N-th progress event of it, so every phase is
reached for sure and nothing depends on sleeping. Each run must end with 128 + the
signal's number and exactly one stderr line, leave nothing in the output folder or
the temp folder (the stdin spool, a stream's copy, --shuffle's buckets live there
or beside the output), and leave the input as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rebalance_cli.phases import PHASES, TEST_SIGNAL, TEST_SIGNAL_STAMP
from tests.conftest import argv, default_signals, digest, listing

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _frame(minority: int, majority: int, features: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = minority + majority
    labels = np.array(["a"] * majority + ["b"] * minority)[rng.permutation(n)]
    cols = {f"f{i}": rng.normal(size=n) for i in range(features)}
    return pl.DataFrame(
        {"id": np.arange(n), **cols, "city": rng.choice(["x", "y"], n), "y": labels}
    )


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 rows of the class SMOTE grows (three k-d tree blocks), 6,000 of the other."""
    path = tmp_path_factory.mktemp("signals") / "in.csv"
    _frame(3000, 6000, 3).write_csv(path)
    return path


class Interrupted:
    """One interrupted run: its exit code, stderr, and what it left."""

    def __init__(self, tmp_path: Path, src: Path) -> None:
        self.out = tmp_path / "out"
        self.tmp = tmp_path / "tmp"
        self.stamp = tmp_path / "stamp"
        self.out.mkdir()
        self.tmp.mkdir()
        self.src = src
        self.src_digest = digest(src)

    def run(self, spec: str, args: list[str], stdin: bool = False) -> tuple[int, str, float]:
        """Run ``rebalance ARGS`` (OUT in an argument is the output folder) with the hook
        ``spec``; the exit code, stderr, and seconds from the signal to the exit."""
        env = {
            **os.environ,
            TEST_SIGNAL: spec,
            TEST_SIGNAL_STAMP: str(self.stamp),
            "TMPDIR": str(self.tmp),
        }
        words = [a.replace("OUT", str(self.out)) for a in args]
        with open(self.src, "rb") as fh:
            proc = subprocess.Popen(
                argv(*words),
                stdin=fh if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                preexec_fn=default_signals,
            )
            _, err = proc.communicate(timeout=300)
        ended = time.monotonic()
        assert self.stamp.exists(), f"the hook {spec} never fired: {err.decode()}"
        sent = float(self.stamp.read_text())
        return proc.returncode, err.decode(), ended - sent

    def check(self, code: int, err: str, sig: signal.Signals) -> None:
        assert code == 128 + sig, (code, err)
        assert err.splitlines() == [
            f"rebalance: interrupted: stopped by {sig.name}; no output was written"
        ], err
        assert listing(self.out) == set()
        assert listing(self.tmp) == set()  # no spool folder, no stream copy, no buckets
        assert digest(self.src) == self.src_digest


def _every_phase(strategy: str) -> list[str]:
    """stdin (spool), --shuffle, --report (commit); SMOTE adds neighbours and synthesise.
    (Only the runs that need SMOTE's phases use it: scikit-learn's import is slow.)"""
    shuffle = ["--shuffle"] if strategy != "smote" else []
    return [
        "apply",
        "-",
        "-l",
        "y",
        "-s",
        strategy,
        *shuffle,
        "--seed",
        "1",
        "--chunk-size",
        "1000",
        "-o",
        "OUT/balanced.csv",
        "--report",
        "OUT/report.json",
    ]


def _strategy_for(phase: str) -> str:
    return "smote" if phase in ("neighbours", "synthesise") else "oversample"


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("phase", PHASES)
def test_a_signal_as_each_phase_starts(tmp_path, small_csv, phase, sig):
    case = Interrupted(tmp_path, small_csv)
    code, err, _ = case.run(f"{phase}:{sig.name}", _every_phase(_strategy_for(phase)), stdin=True)
    case.check(code, err, sig)


@pytest.mark.parametrize(
    ("spec", "sig"),
    [
        ("spool:SIGTERM:1", signal.SIGTERM),
        ("write:SIGINT:3", signal.SIGINT),
        ("neighbours:SIGHUP:1", signal.SIGHUP),
        ("synthesise:SIGTERM:2", signal.SIGTERM),
        ("shuffle:SIGINT:4", signal.SIGINT),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_signal_in_the_middle_of_a_phase(tmp_path, small_csv, spec, sig):
    """At the N-th progress event: the phase's work is under way (the k-d tree search
    has blocks still running, the shuffle has buckets left to read)."""
    case = Interrupted(tmp_path, small_csv)
    code, err, _ = case.run(spec, _every_phase(_strategy_for(spec.split(":")[0])), stdin=True)
    case.check(code, err, sig)


@pytest.mark.parametrize(
    ("spec", "extra"),
    [
        # Arrow IPC is written through pyarrow in the main thread (not polars' sink)
        ("write:SIGTERM:2", ["-s", "smote", "-o", "OUT/o.arrow"]),
        ("neighbours:SIGINT:1", ["-s", "smote", "-o", "OUT/o.arrow"]),
        ("commit:SIGHUP", ["-s", "smote", "-o", "OUT/o.arrow", "--report", "OUT/r.json"]),
        # bags and the test split: writers fed in the reading thread
        ("write:SIGINT:2", ["-s", "undersample", "--bags", "3", "-o", "OUT/bag-{bag}.csv"]),
        ("commit:SIGTERM", ["-s", "undersample", "--bags", "2", "-o", "OUT/bag-{bag}.parquet"]),
        (
            "write:SIGHUP:2",
            [
                "-s",
                "oversample",
                "--test-size",
                "0.2",
                "--test-output",
                "OUT/t.csv",
                "-o",
                "OUT/o.csv",
            ],
        ),
        # stdout: the spooled copy in the temp folder
        ("synthesise:SIGTERM", ["-s", "smote", "-o", "-"]),
        ("shuffle:SIGINT", ["-s", "oversample", "--shuffle", "-o", "-"]),
        # --by, --shrinkage: pass 1 per group, the extra query of the plan
        ("count:SIGHUP", ["-s", "smote", "--by", "city", "-o", "OUT/o.parquet"]),
        ("plan:SIGINT", ["-s", "oversample", "--shrinkage", "0.5", "-o", "OUT/o.parquet"]),
        # a cleaning strategy's neighbour search, before pass 2 (per group with --by)
        ("neighbours:SIGTERM", ["-s", "enn", "-o", "OUT/o.csv", "--report", "OUT/r.json"]),
        ("neighbours:SIGHUP", ["-s", "tomek", "--by", "city", "-o", "OUT/o.csv"]),
    ],
)
def test_a_signal_in_other_shapes_of_run(tmp_path, small_csv, spec, extra):
    case = Interrupted(tmp_path, small_csv)
    sig = signal.Signals[spec.split(":")[1]]
    args = ["apply", str(small_csv), "-l", "y", "--seed", "3", "--chunk-size", "1000", *extra]
    code, err, _ = case.run(spec, args)
    case.check(code, err, sig)


@pytest.mark.parametrize(
    ("features", "minority", "method"),
    [(8, 60_000, "kd-tree"), (16, 100_000, "brute")],
)
def test_a_signal_during_a_long_neighbour_search_ends_the_run_at_once(
    tmp_path, features, minority, method
):
    """The search runs for many seconds (tens on a loaded 2-core machine); the signal
    comes after its first block, while the native search runs, and the process must
    be gone soon after. The bound is loose for loaded CI machines: the real figure is
    about 0.1 s (BENCHMARKS.md, docs/semantics.md)."""
    from rebalance_cli.knn import method_for

    assert method_for(minority, features) == method
    src = tmp_path / "in.parquet"
    _frame(minority, minority + 1, features).drop("city").write_parquet(src)
    case = Interrupted(tmp_path, src)
    args = ["apply", str(src), "-l", "y", "-s", "smote", "--seed", "1", "-o", "OUT/o.parquet"]
    code, err, reaction = case.run("neighbours:SIGTERM:1", args)
    case.check(code, err, signal.SIGTERM)
    assert reaction < 5.0, f"the run took {reaction:.2f} s to stop after the signal"


def test_an_ignored_signal_stays_ignored(tmp_path, small_csv):
    """nohup ignores SIGHUP: the run must not install a handler over that."""
    case = Interrupted(tmp_path, small_csv)
    env = {
        **os.environ,
        TEST_SIGNAL: "write:SIGHUP",
        TEST_SIGNAL_STAMP: str(case.stamp),
        "TMPDIR": str(case.tmp),
    }
    out = case.out / "o.csv"
    proc = subprocess.run(
        argv("apply", small_csv, "-l", "y", "-s", "undersample", "--seed", "1", "-o", out),
        capture_output=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
        timeout=300,
    )
    assert case.stamp.exists()  # the signal was sent, and ignored
    assert proc.returncode == 0, proc.stderr
    assert pl.read_csv(out)["y"].value_counts().sort("y")["count"].to_list() == [3000, 3000]
    assert listing(case.tmp) == set()


@pytest.mark.parametrize("spec", ["spool:SIGINT", "spool:SIGHUP:2", "write:SIGTERM"])
def test_a_signal_while_a_fifo_is_read(tmp_path, small_csv, spec):
    """A FIFO is spooled to the temp folder like stdin: that copy goes too."""
    import threading

    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    data = small_csv.read_bytes()

    def feed() -> None:
        try:
            with open(fifo, "wb") as fh:
                for start in range(0, len(data), 1 << 16):
                    fh.write(data[start : start + (1 << 16)])
        except BrokenPipeError:
            pass  # the run stopped reading

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    case = Interrupted(tmp_path, small_csv)
    sig = signal.Signals[spec.split(":")[1]]
    args = ["apply", str(fifo), "-l", "y", "-s", "undersample", "--seed", "1", "-o", "OUT/o.csv"]
    code, err, _ = case.run(spec, args)
    case.check(code, err, sig)
    writer.join(60)

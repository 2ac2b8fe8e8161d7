"""Inputs that can be read only once, or that change under a run.

A run reads its input twice (pass 1 counts, pass 2 writes). stdin and FIFOs (any
input that is not a regular file) are therefore copied first into a folder of
their own in the temp folder, ``rebalance-stdin-PID-XXXX``, removed when the run
ends; a run killed by SIGKILL cannot remove it, and the next run that copies an
input removes the folders whose PID is no live process. A regular file is read in
place, and a run whose input disappears or changes meanwhile fails with exit 4
saying so, and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from rebalance_cli.engines import local
from tests.conftest import argv, digest, listing, mixed_frame

UNDER = ["-l", "y", "-s", "undersample", "--seed", "1"]


@pytest.fixture
def temp(tmp_path, monkeypatch) -> Path:
    """A private temp folder for the runs in this process."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def folder(tmp_path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    return run


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


# -- FIFOs --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_fifo_input_gives_what_the_file_gives(fmt, folder, temp, cli):
    """A FIFO is read once, into the temp folder: the output equals the file's, byte for
    byte (it was read as empty before: its data was gone when pass 2 came)."""
    df = mixed_frame({"no": 900, "yes": 100})
    src = folder / f"in.{fmt}"
    df.write_csv(src) if fmt == "csv" else df.write_parquet(src)
    fifo = folder / f"pipe.{fmt}"
    os.mkfifo(fifo)
    res = cli("apply", src, *UNDER, "-o", folder / "from_file.csv")
    assert res.code == 0, res.stderr
    feeder = _feed(fifo, src.read_bytes())
    res = cli("apply", fifo, *UNDER, "-o", folder / "from_fifo.csv", "--report", folder / "r.json")
    feeder.join(10)
    assert res.code == 0, res.stderr
    assert digest(folder / "from_fifo.csv") == digest(folder / "from_file.csv")
    report = pl.read_json(folder / "r.json")
    assert report["input"][0]["path"] == str(fifo)
    assert report["input"][0]["format"] == fmt  # by the FIFO's name
    assert report["rows"][0]["written"] == 200
    assert listing(temp) == set()  # the copy is gone
    feeder = _feed(fifo, src.read_bytes())
    res = cli("inspect", fifo, "-l", "y", "--json")
    feeder.join(10)
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(c["class"], c["count"]) for c in doc["classes"]] == [("no", 900), ("yes", 100)]
    assert listing(temp) == set()


def test_a_fifo_is_still_refused_as_its_own_output(folder, temp, cli):
    fifo = folder / "pipe.csv"
    os.mkfifo(fifo)
    feeder = _feed(fifo, mixed_frame({"no": 90, "yes": 10}).write_csv().encode())
    res = cli("apply", fifo, *UNDER, "-o", fifo, "--force")
    feeder.join(10)
    assert res.code == 5, res.stderr
    assert res.stderr == (
        f"rebalance: refused: the output {fifo} is the input file; refusing to overwrite it "
        "(write to another path)\n"
    )
    assert listing(temp) == set()


# -- an input that disappears or changes during the run ---------------------------------


def _after_pass_1(monkeypatch, change):
    """Run ``change`` once pass 1 has counted the classes."""
    real = local.LocalEngine.count

    def count(self, *a, **k):
        layout = real(self, *a, **k)
        change()
        return layout

    monkeypatch.setattr(local.LocalEngine, "count", count)


def _during_pass_2(monkeypatch, change):
    """Run ``change`` after pass 2 has read its first batch."""
    real = local.frame_batches

    def batches(lf, chunk_size):
        it = real(lf, chunk_size)
        yield next(it)
        change()
        yield from it

    monkeypatch.setattr(local, "frame_batches", batches)


GONE = "disappeared during the run: it was deleted or renamed while it was read"
CHANGED = "changed during the run: it was rewritten or replaced while it was read"


CASES = [
    ("after pass 1", "delete", GONE),
    ("after pass 1", "truncate", CHANGED),
    ("after pass 1", "replace", CHANGED),
    ("during pass 2", "delete", GONE),
    ("during pass 2", "replace", CHANGED),
    ("during pass 2", "append", CHANGED),
]


# A Parquet file cut or grown in place while polars reads it is not among them: polars
# may then panic in its reader threads and print a Rust backtrace before any message of
# ours (docs/semantics.md, "Exit codes"). Deleted or replaced (a rename), it is safe.
@pytest.mark.parametrize(
    ("fmt", "when", "how", "message"),
    [("csv", *c) for c in CASES]
    + [("parquet", *c) for c in CASES if c[1] in ("delete", "replace") or c[0] == "after pass 1"],
)
def test_an_input_that_vanishes_or_changes(fmt, when, how, message, folder, temp, cli, monkeypatch):
    """Exit 4 that says so (it was "truncated or corrupt", exit 3), nothing written."""
    df = mixed_frame({"no": 900, "yes": 100})
    src = folder / f"in.{fmt}"
    other = folder / f"other.{fmt}"
    for path, frame in ((src, df), (other, df.head(500))):
        frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    data = src.read_bytes()

    def change() -> None:
        if how == "delete":
            src.unlink()
        elif how == "replace":
            os.replace(other, src)
        elif how == "truncate":
            with open(src, "r+b") as fh:
                fh.truncate(len(data) // 2)
        else:
            with open(src, "ab") as fh:
                fh.write(data.split(b"\n", 1)[1])

    (_after_pass_1 if when == "after pass 1" else _during_pass_2)(monkeypatch, change)
    before = listing(folder) - {src.name, other.name}
    res = cli(
        "apply",
        src,
        *UNDER,
        "--chunk-size",
        "100",
        "-o",
        folder / "o.csv",
        "--report",
        folder / "r.json",
    )
    assert res.code == 4, res.stderr
    assert res.stderr == (
        f"rebalance: I/O error: the input {src} {message} (rerun when nothing else "
        f"{'moves or rewrites' if how == 'delete' else 'writes'} it)\n"
    )
    assert listing(folder) - {src.name, other.name} == before
    assert listing(temp) == set()


def test_inspect_of_an_input_that_vanished(folder, temp, cli, monkeypatch):
    src = folder / "in.csv"
    mixed_frame({"no": 90, "yes": 10}).write_csv(src)
    real = local.count_classes

    def count(lf, *a, **k):
        src.unlink()
        return real(lf, *a, **k)

    monkeypatch.setattr(local, "count_classes", count)
    res = cli("inspect", src, "-l", "y")
    assert res.code == 4, res.stderr
    assert f"the input {src} disappeared during the run" in res.stderr
    assert len(res.stderr.splitlines()) == 1


# -- stale spool folders -----------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_spool_folder_carries_the_pid(folder, temp, cli, monkeypatch):
    seen: list[str] = []
    real = local.LocalEngine.count

    def count(self, *a, **k):
        seen.extend(listing(temp))
        return real(self, *a, **k)

    monkeypatch.setattr(local.LocalEngine, "count", count)
    data = mixed_frame({"no": 90, "yes": 10}).write_csv().encode()
    res = cli("apply", "-", *UNDER, "-o", folder / "o.csv", input=data)
    assert res.code == 0, res.stderr
    assert len(seen) == 1 and re.fullmatch(rf"rebalance-stdin-{os.getpid()}-[0-9a-f]{{8}}", seen[0])
    assert listing(temp) == set()


def test_stale_spool_folders_of_dead_runs_are_removed(folder, temp, cli):
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [f"rebalance-stdin-{dead}-ab12cd34", f"rebalance-stdin-{dead}-k3j9x2q_"]
        kept = [
            f"rebalance-stdin-{sleeper.pid}-ab12cd34",  # its run is alive
            "rebalance-stdin-k3j9x2q_",  # an older version's name, without a pid
            f"rebalance-stdin-{dead}",  # not this shape
            f"other-{dead}-ab12cd34",
        ]
        for name in stale + kept:
            (temp / name).mkdir()
            (temp / name / "stdin").write_text("id,y\n1,a\n")
        data = mixed_frame({"no": 90, "yes": 10}).write_csv().encode()
        res = cli("inspect", "-", "-l", "y", input=data)
        assert res.code == 0, res.stderr
        assert listing(temp) == set(kept)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigkill_while_spooling_leaves_a_folder_the_next_run_removes(folder, temp):
    """SIGKILL cannot be cleaned up after: the killed run's copy of stdin stays, named by
    its pid, until the next run that copies an input."""
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        argv("apply", "-", *UNDER, "-o", folder / "o.csv"),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"id,y\n" + b"".join(b"%d,a\n" % i for i in range(1000)))
    proc.stdin.flush()  # stdin stays open: the run waits for the rest, its folder made
    deadline = time.monotonic() + 120
    pattern = re.compile(rf"rebalance-stdin-{proc.pid}-[0-9a-f]{{8}}")
    while not any(pattern.fullmatch(n) for n in listing(temp)):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    proc.stdin.close()
    left = listing(temp)
    assert len(left) == 1 and pattern.fullmatch(next(iter(left)))
    data = mixed_frame({"no": 90, "yes": 10}).write_csv().encode()
    res = subprocess.run(
        argv("inspect", "-", "-l", "y"), input=data, capture_output=True, env=env, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert listing(temp) == set()
    assert listing(folder) == set()

"""The phases of a run (rebalance_cli.phases): what is announced, what counts, how a
run stops, and the progress bar drawn from them. Real-process signal tests are in
test_signals.py."""

from __future__ import annotations

import gc
import io
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalance_cli import knn, phases
from rebalance_cli.api import inspect, rebalance
from rebalance_cli.errors import Interrupted
from rebalance_cli.io import open_source
from rebalance_cli.phases import PhaseEvent, Phases, wait_for
from tests.conftest import listing


@pytest.fixture(autouse=True)
def _fresh_stop():
    phases.clear_stop()
    yield
    phases.clear_stop()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n_a, n_b = 4000, 1500
    labels = np.array(["a"] * n_a + ["b"] * n_b)[rng.permutation(n_a + n_b)]
    n = labels.size
    frame = pl.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.integers(0, 50, n),
            "city": rng.choice(["p", "q", "r"], n),
            "y": labels,
        }
    )
    path = tmp_path / "in.parquet"
    frame.write_parquet(path)
    return path


class Events(list[PhaseEvent]):
    def __call__(self, event: PhaseEvent) -> None:
        self.append(event)

    def of(self, phase: str, state: str | None = None) -> list[PhaseEvent]:
        return [e for e in self if e.phase == phase and (state is None or e.state == state)]

    def starts(self) -> list[str]:
        return [e.phase for e in self if e.state == "start"]


def test_a_run_announces_its_phases_in_order_and_counts_output_rows(tmp_path, data):
    events = Events()
    out = tmp_path / "out.csv"
    report = rebalance(
        data,
        out,
        label="y",
        strategy="smote",
        shuffle=True,
        seed=4,
        chunk_size=700,
        report_path=tmp_path / "r.json",
        progress=events,
    )
    assert events.starts() == [
        "read",
        "count",
        "plan",
        "write",
        "neighbours",
        "synthesise",
        "shuffle",
        "commit",
    ]
    assert [e.phase for e in events if e.state == "end"] == events.starts()
    rows = pl.read_csv(out).height
    assert rows == report.rows["written"] == 8000
    # writing: the output rows of the input, every row once (SMOTE keeps them all)
    write = events.of("write", "progress")
    assert [e.total for e in write] == [5500] * len(write)
    assert write[-1].done == 5500
    assert [e.done for e in write] == sorted(e.done for e in write)
    # the neighbour search of the one grown class: its rows, in blocks
    (start,) = events.of("neighbours", "start")
    assert (start.total, start.detail) == (1500, "class 'b'")
    search = events.of("neighbours", "progress")
    assert search[-1].done == search[-1].total == 1500
    # synthesis and the shuffle: the output rows they write
    assert events.of("synthesise", "end")[0].done == report.rows["synthetic"] == 2500
    shuffle = events.of("shuffle", "end")[0]
    assert shuffle.done == shuffle.total == rows
    assert events.of("commit", "start")[0].total == 2  # the output and the report
    assert {e.unit for e in events if e.phase != "commit"} == {"rows"}


def test_undersample_writes_and_dry_runs_stop_after_the_plan(tmp_path, data):
    events = Events()
    rebalance(data, tmp_path / "o.parquet", label="y", strategy="undersample", progress=events)
    assert events.starts() == ["read", "count", "plan", "write", "commit"]
    assert events.of("write", "end")[0].done == events.of("write", "end")[0].total == 3000
    events.clear()
    rebalance(data, None, label="y", strategy="undersample", dry_run=True, progress=events)
    assert events.starts() == ["read", "count", "plan"]


@pytest.mark.parametrize("by", [None, ["city"]])
def test_a_cleaning_strategy_searches_neighbours_while_it_plans(tmp_path, data, by):
    events = Events()
    report = rebalance(
        data, tmp_path / "o.csv", label="y", strategy="tomek", by=by, progress=events
    )
    assert events.starts() == [
        "read",
        "count",
        "plan",
        *["neighbours"] * (3 if by else 1),
        "write",
        "commit",
    ]
    ends = [e.phase for e in events if e.state == "end"]
    assert ends[: ends.index("plan")] == ["read", "count", *["neighbours"] * (3 if by else 1)]
    searched = events.of("neighbours", "start")
    assert sum(e.total or 0 for e in searched) == 5500
    want = ["all rows"] if by is None else ["group city=p", "group city=q", "group city=r"]
    assert [e.detail for e in searched] == want
    assert events.of("write", "end")[0].total == report.rows["written"]


def test_inspect_announces_read_and_count(data):
    events = Events()
    dist = inspect(data, "y", progress=events)
    assert dist.counts == (4000, 1500)
    assert events.starts() == ["read", "count"]


def test_stdin_is_spooled_in_a_phase_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    payload = b"x,y\n" + b"".join(b"%d,%s\n" % (i, b"ab"[i % 2 : i % 2 + 1]) for i in range(50_000))
    events = Events()
    source = open_source("-", stdin=io.BytesIO(payload), phases=Phases([events]))
    try:
        (spool,) = tmp_path.iterdir()
        assert spool.name.startswith("rebalance-stdin-")
        assert events.starts() == ["spool"]
        (end,) = events.of("spool", "end")
        assert (end.done, end.total, end.unit) == (len(payload), None, "bytes")
        assert source.path.read_bytes() == payload
    finally:
        source.close()
    assert listing(tmp_path) == set()


def test_an_interrupted_spool_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    def stop(event: PhaseEvent) -> None:
        if event.state == "progress":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_source("-", stdin=io.BytesIO(b"a,y\n1,x\n" * 1000), phases=Phases([stop]))
    assert listing(tmp_path) == set()


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("phase", "state"),
    [
        ("read", "start"),
        ("count", "start"),
        ("write", "progress"),
        ("neighbours", "progress"),
        ("synthesise", "progress"),
        ("shuffle", "progress"),
        ("commit", "start"),
    ],
)
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_an_observer_that_raises_ends_the_run_with_nothing_left(
    tmp_path, data, phase, state, error
):
    """What the observer raises is what the caller gets (a library's Ctrl-C is a
    KeyboardInterrupt); no file is left, and the next run is not affected."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def observer(event: PhaseEvent) -> None:
        if (event.phase, event.state) == (phase, state):
            raise error("stop here")

    kwargs = dict(label="y", strategy="smote", shuffle=True, seed=4, chunk_size=700)
    with pytest.raises(error):
        rebalance(
            data, out_dir / "o.csv", report_path=out_dir / "r.json", progress=observer, **kwargs
        )
    assert listing(out_dir) == set()
    rebalance(data, out_dir / "o.csv", report_path=out_dir / "r.json", **kwargs)
    assert listing(out_dir) == {"o.csv", "r.json"}
    clean = tmp_path / "clean.csv"
    rebalance(data, clean, **kwargs)
    assert (out_dir / "o.csv").read_bytes() == clean.read_bytes()


def test_wait_for_returns_the_work_and_raises_its_error():
    assert wait_for(lambda: 6 * 7) == 42

    def fail() -> None:
        raise Boom("inside")

    with pytest.raises(Boom, match="inside"):
        wait_for(fail)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_ends_a_wait_on_work_that_never_returns(sig):
    """The work blocks until the end of the test; the stop (from another thread, as a
    signal handler's would be seen by a worker thread) ends the wait with Interrupted."""
    release = threading.Event()
    started = threading.Event()

    def work() -> None:
        started.set()
        release.wait()

    def stopper() -> None:
        started.wait()
        phases.request_stop(sig)

    threading.Thread(target=stopper).start()
    try:
        with pytest.raises(Interrupted) as caught:
            wait_for(work)
    finally:
        release.set()
    assert caught.value.exit_code == 128 + sig
    assert str(caught.value) == f"stopped by {sig.name}; no output was written"
    assert phases.stop_requested() == sig


def test_a_keyboard_interrupt_while_waiting_tells_the_work_to_stop():
    """A library caller's Ctrl-C lands in the waiting (main) thread: the wait ends
    with it, and the work, which looks at the stop flag, is told to stop."""
    stopped = threading.Event()

    def work() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Python's own handler: KeyboardInterrupt
        while not phases.stop_requested():
            stopped.wait(0.005)
        stopped.set()

    # Python's own handler even where the runner was started with SIGINT ignored
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            wait_for(work)
    finally:
        signal.signal(signal.SIGINT, before)
    assert stopped.wait(60)
    assert phases.stop_requested() == signal.SIGINT


def test_clearing_a_stop_keeps_one_the_process_ends_on():
    phases.request_stop(signal.SIGINT)
    phases.clear_stop()
    assert phases.stop_requested() == 0
    phases.request_stop(signal.SIGTERM, final=True)
    assert not phases.request_stop(signal.SIGINT, final=True)  # the first one counts
    phases.clear_stop()
    assert phases.stop_requested() == signal.SIGTERM
    with pytest.raises(Interrupted, match="stopped by SIGTERM"):
        phases.check()
    phases._STOP.final = False  # this process goes on: the test's own clean-up


def test_a_signal_after_the_commit_says_the_files_were_written():
    phases.mark_committed()
    err = phases.interrupted(signal.SIGTERM)
    assert (err.exit_code, str(err)) == (143, "stopped by SIGTERM after the output was written")
    phases.clear_stop()
    assert str(phases.interrupted(signal.SIGTERM)).endswith("; no output was written")


@pytest.mark.parametrize(
    "spec", ["", "write", "nowhere:SIGINT", "write:SIGNOPE", "write:SIGINT:x", "a:b:c:d"]
)
def test_the_test_hook_refuses_a_malformed_spec(monkeypatch, spec):
    monkeypatch.setenv(phases.TEST_SIGNAL, spec)
    if spec == "":
        assert phases.signal_hook_from_env() is None
        return
    with pytest.raises((ValueError, KeyError)):
        phases.signal_hook_from_env()


@pytest.mark.parametrize("after", [0, 1, 3])
def test_the_test_hook_signals_once_at_the_chosen_event(monkeypatch, tmp_path, after):
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    stamp = tmp_path / "stamp"
    monkeypatch.setenv(phases.TEST_SIGNAL, f"write:SIGUSR1:{after}" if after else "write:SIGUSR1")
    monkeypatch.setenv(phases.TEST_SIGNAL_STAMP, str(stamp))
    try:
        run = Phases.for_run()
        marks = []
        with run.phase("count"):
            pass
        with run.phase("write", 10) as phase:
            marks.append(len(got))
            for i in range(1, 6):
                phase.update(i)
                marks.append(len(got))
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert got == [signal.SIGUSR1]
    assert marks.index(1) == after  # at the start (0), or at the after-th tick
    assert float(stamp.read_text()) > 0


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(7, 3000),
    d=st.integers(1, 6),
    k=st.integers(1, 6),
    block=st.sampled_from([1, 7, 64, 1024]),
)
def test_the_blocked_kd_tree_finds_what_one_query_finds(n, d, k, block):
    """The k-d tree is queried in blocks (so a stop is seen between them): the same
    neighbours as one block over every distinct row, ticks in order up to every row."""
    x = np.random.default_rng(n * 31 + d).integers(0, 4, (n, d)).astype(float)  # many ties
    k = min(k, n - 1)
    distinct = np.unique(x, axis=0).shape[0]
    ticks: list[tuple[int, int]] = []
    saved = knn.KD_QUERY_ROWS
    try:
        knn.KD_QUERY_ROWS = 10**9
        whole = knn.nearest_neighbours(x, k, "kd-tree")
        knn.KD_QUERY_ROWS = block
        found = knn.nearest_neighbours(
            x, k, "kd-tree", lambda done, total: ticks.append((done, total))
        )
    finally:
        knn.KD_QUERY_ROWS = saved
    assert np.array_equal(found, whole)
    assert ticks[-1] == (n, n)
    assert [t[0] for t in ticks] == sorted(t[0] for t in ticks)
    assert len(ticks) >= -(-distinct // block)  # one per block of distinct rows, at least


@pytest.mark.parametrize("method", ["kd-tree", "brute"])
def test_a_tick_that_raises_stops_the_search(method):
    x = np.random.default_rng(1).normal(size=(5000, 20 if method == "brute" else 3))
    ticks = []

    def tick(done: int, total: int) -> None:
        ticks.append(done)
        if len(ticks) == 2:
            raise Boom("enough")

    with pytest.raises(Boom):
        knn.nearest_neighbours(x, 5, method, tick)
    assert len(ticks) == 2


def test_the_progress_bar_shows_each_phase_and_output_rows(tmp_path, data):
    """On a (fake) terminal: a line per phase, the neighbour search of class 'b' on a
    line of its own, counts of output rows."""
    from rich.console import Console

    from rebalance_cli.cli.progress import PhaseBar

    buf = io.StringIO()
    bar = PhaseBar(Console(file=buf, force_terminal=True, width=120), refresh=False)

    def observer(event: PhaseEvent) -> None:
        bar(event)
        bar.progress.refresh()

    with bar.progress:
        rebalance(
            data,
            tmp_path / "o.csv",
            label="y",
            strategy="smote",
            chunk_size=1000,
            progress=observer,
        )
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    lines = {" ".join(line.split()) for line in re.split(r"[\r\n]", text) if line.strip()}
    shown = {line.split("━")[0].strip() for line in lines}
    assert {
        "reading",
        "counting",
        "planning",
        "writing",
        "finding neighbours of class 'b'",
        "synthesising",
        "committing",
    } <= shown
    assert any(line.startswith("writing") and "5,500/5,500 rows" in line for line in lines)
    assert any("finding neighbours" in line and "1,500/1,500 rows" in line for line in lines)
    assert any(line.startswith("synthesising") and "2,500/2,500 rows" in line for line in lines)
    assert bar.tasks == {}  # every phase ended, and its line went with it


def test_no_progress_is_drawn_in_a_pipe(tmp_path, data):
    from tests.conftest import run_process

    res = run_process("apply", str(data), "-l", "y", "-s", "smote", "-o", str(tmp_path / "o.csv"))
    assert res.code == 0, res.stderr
    assert "\x1b" not in res.stderr
    assert not re.search(r"writing|neighbours|synthesising|rows \d", res.stderr)


def test_an_interrupt_in_a_finaliser_prints_no_traceback(monkeypatch):
    """A signal that lands while a finaliser runs must not print "Exception ignored"
    (the run stops at its next check instead); other errors still reach the hook."""
    from rebalance_cli.cli.common import guarded

    reached: list[type[BaseException]] = []

    def hook(unraisable: object) -> None:
        reached.append(type(unraisable.exc_value))  # type: ignore[attr-defined]

    monkeypatch.setattr(sys, "unraisablehook", hook)

    class Interrupts:
        def __del__(self) -> None:
            raise Interrupted(signal.SIGINT)

    class Breaks:
        def __del__(self) -> None:
            raise KeyError("shown")

    with guarded():
        Interrupts()
        gc.collect()
        Breaks()
        gc.collect()
    assert reached == [KeyError]
    assert sys.unraisablehook is hook


def test_the_report_of_an_observed_run_is_unchanged(tmp_path, data):
    """Observing a run changes none of its bytes."""
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    rebalance(data, a, label="y", strategy="smote", seed=9, report_path=tmp_path / "a.json")
    rebalance(
        data,
        b,
        label="y",
        strategy="smote",
        seed=9,
        report_path=tmp_path / "b.json",
        progress=Events(),
    )
    assert a.read_bytes() == b.read_bytes()
    ra, rb = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert ra["class_counts"] == rb["class_counts"] and ra["rows"] == rb["rows"]

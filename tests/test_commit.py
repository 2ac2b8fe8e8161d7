"""Committing a run's files: collisions, all or nothing, dangling links, stale temp files.

Every failing case checks the exit code, the one stderr line, that nothing was
written (no output, no temp file, an existing file keeps its bytes) and that the
input is untouched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest

from rebalance_cli.io import AtomicFile
from tests.conftest import argv, digest, listing, mixed_frame, run_process

UNDER = ["-l", "y", "-s", "undersample", "--seed", "1"]


@pytest.fixture
def case(tmp_path, write_data):
    """A folder with one input file; ``check`` asserts a clean failure."""

    class Case:
        folder = tmp_path
        src = write_data(mixed_frame({"no": 90, "yes": 10}), "in.csv")

        def __init__(self) -> None:
            self.snapshot()

        def snapshot(self) -> None:
            self.before = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
            self.names = listing(tmp_path)

        def check(self, res, code: int, fragment: str) -> None:
            assert res.code == code, (res.code, res.stderr)
            assert fragment in res.stderr, res.stderr
            lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1, res.stderr
            assert lines[0].startswith("rebalance: ")
            assert listing(tmp_path) == self.names  # no output, no temp file
            now = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
            assert now == self.before  # the input and every existing file keep their bytes

    return Case()


# -- 1. collisions between the files of one run -----------------------------------------


def test_report_on_a_bag_is_refused(case, cli):
    out = case.folder / "x-{bag}.csv"
    res = cli(
        "apply", case.src, *UNDER, "--bags", "2", "-o", out, "--report", case.folder / "x-1.csv"
    )
    case.check(res, 2, f"--report and --bags (bag 1) name the same file {case.folder}/x-1.csv")
    res = cli(
        "apply", case.src, *UNDER, "--bags", "2", "-o", out, "--report", case.folder / "./x-2.csv"
    )
    case.check(res, 2, "--report and --bags (bag 2) name the same file")


def test_report_on_the_test_split_is_refused(case, cli):
    t = case.folder / "t.csv"
    split = ["--test-size", "0.2", "--test-output", t]
    res = cli("apply", case.src, *UNDER, "-o", case.folder / "o.csv", *split, "--report", t)
    case.check(res, 2, f"--report and --test-output name the same file {t}")


def test_collisions_through_links_are_refused(case, cli):
    real = case.folder / "real.csv"
    real.write_text("keep me\n")
    hard = case.folder / "hard.csv"
    os.link(real, hard)
    soft = case.folder / "soft.json"
    soft.symlink_to(real)
    case.snapshot()
    o = ["-o", real, "--force"]
    res = cli("apply", case.src, *UNDER, *o, "--report", hard)
    case.check(res, 2, f"--report and -o name the same file {hard}, which is {real}")
    res = cli("apply", case.src, *UNDER, *o, "--report", soft)
    case.check(res, 2, "--report and -o name the same file")
    t = ["--test-size", "0.2", "--test-output", hard]
    res = cli("apply", case.src, *UNDER, *o, *t)
    case.check(res, 2, "--test-output and -o name the same file")
    # a link to a file that does not exist yet names that file too
    ahead = case.folder / "ahead.json"
    ahead.symlink_to(case.folder / "later.csv")
    case.snapshot()
    res = cli("apply", case.src, *UNDER, "-o", case.folder / "later.csv", "--report", ahead)
    case.check(res, 2, "--report and -o name the same file")


def test_every_target_is_checked_against_the_input(case, cli):
    hard = case.folder / "in-link.csv"
    os.link(case.src, hard)
    case.snapshot()
    o = ["-o", case.folder / "o.csv", "--force"]
    res = cli("apply", case.src, *UNDER, *o, "--test-size", "0.2", "--test-output", hard)
    case.check(res, 5, f"the test output {hard} is the input file")
    res = cli("apply", case.src, *UNDER, *o, "--report", hard)
    case.check(res, 5, f"the report {hard} is the input file")
    bag_src = case.folder / "d-1.csv"
    case.src.rename(bag_src)
    case.src = bag_src
    case.snapshot()
    res = cli("apply", bag_src, *UNDER, "--bags", "2", "-o", case.folder / "d-{bag}.csv", "--force")
    case.check(res, 5, "is the input file")


def test_null_device_twice_is_not_a_collision(case, cli):
    o = ["-o", os.devnull, "--output-format", "csv"]
    res = cli("apply", case.src, *UNDER, *o, "--report", os.devnull)
    assert res.code == 0, res.stderr


# -- 2. all or nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["-o", "{d}/o.csv"],
        ["-o", "{d}/o.parquet", "--test-size", "0.2", "--test-output", "{d}/t.csv"],
        ["--bags", "2", "-o", "{d}/x-{{bag}}.csv"],
    ],
)
def test_a_failing_stream_target_leaves_no_file(case, cli, extra):
    """The report goes to /dev/full: the files renamed before it are taken back."""
    args = [a.format(d=case.folder) for a in extra]
    res = cli("apply", case.src, *UNDER, *args, "--report", "/dev/full")
    case.check(res, 4, "cannot put the report in place: No space left on device")


def test_a_failing_stream_restores_the_files_it_replaced(case, cli):
    out, test = case.folder / "o.csv", case.folder / "t.csv"
    out.write_text("old output\n")
    test.write_text("old test\n")
    case.snapshot()
    split = ["--test-size", "0.2", "--test-output", test]
    res = cli("apply", case.src, *UNDER, "-o", out, *split, "--force", "--report", "/dev/full")
    case.check(res, 4, "cannot put the report in place")
    assert out.read_text() == "old output\n" and test.read_text() == "old test\n"


def _fail_replace_of(monkeypatch, name: str) -> list[str]:
    """os.replace fails (EIO) for the target ``name``; returns the targets replaced."""
    real = os.replace
    done: list[str] = []

    def replace(src, dst, *a, **k):
        if Path(dst).name == name:
            raise OSError(5, "Input/output error")
        real(src, dst, *a, **k)
        done.append(Path(dst).name)

    monkeypatch.setattr(os, "replace", replace)
    return done


def test_a_failing_rename_takes_back_the_others(case, cli, monkeypatch):
    out, test, rep = case.folder / "o.csv", case.folder / "t.csv", case.folder / "r.json"
    out.write_text("old output\n")
    case.snapshot()
    done = _fail_replace_of(monkeypatch, "r.json")
    split = ["--test-size", "0.2", "--test-output", test]
    res = cli("apply", case.src, *UNDER, "-o", out, *split, "--force", "--report", rep)
    case.check(res, 4, "cannot put the report in place: Input/output error")
    assert "o.csv" in done  # it was renamed, then taken back
    assert out.read_text() == "old output\n"


def test_stdout_is_written_after_the_files_are_in_place(case, cli, monkeypatch):
    _fail_replace_of(monkeypatch, "r.json")
    res = cli("apply", case.src, *UNDER, "-o", "-", "--report", case.folder / "r.json")
    case.check(res, 4, "cannot put the report in place")
    assert res.stdout == ""


def test_every_temp_file_is_synced_before_the_first_rename(case, cli, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst, *a, **k):
        events.append(("replace", str(src)))
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    split = ["--test-size", "0.2", "--test-output", case.folder / "t.csv"]
    res = cli("apply", case.src, *UNDER, "-o", case.folder / "o.csv", *split,
              "--report", case.folder / "r.json")  # fmt: skip
    assert res.code == 0, res.stderr
    renamed = [p for kind, p in events if kind == "replace"]
    assert len(renamed) == 3
    first = events.index(("replace", renamed[0]))
    synced = {p for kind, p in events[:first] if kind == "fsync"}
    assert set(renamed) <= synced


def test_a_failing_sync_leaves_nothing(case, cli, monkeypatch):
    def fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    res = cli("apply", case.src, *UNDER, "-o", case.folder / "o.csv",
              "--report", case.folder / "r.json")  # fmt: skip
    case.check(res, 4, "cannot write the output: Input/output error")


# -- 3. dangling symlinks -------------------------------------------------------------------


def test_dangling_symlink_output_is_refused(case, cli):
    link = case.folder / "link.csv"
    link.symlink_to(case.folder / "missing.csv")
    case.snapshot()
    res = cli("apply", case.src, *UNDER, "-o", link)
    case.check(res, 5, f"the output {link} is a symbolic link to a missing file")
    rep = case.folder / "rep.json"
    rep.symlink_to(case.folder / "nowhere.json")
    case.snapshot()
    res = cli("apply", case.src, *UNDER, "-o", case.folder / "o.csv", "--report", rep)
    case.check(res, 5, f"the report {rep} is a symbolic link to a missing file")


def test_dangling_symlink_with_force_replaces_the_link(case, cli):
    link = case.folder / "link.csv"
    link.symlink_to(case.folder / "missing.csv")
    res = cli("apply", case.src, *UNDER, "-o", link, "--force")
    assert res.code == 0, res.stderr
    assert not link.is_symlink() and link.is_file()
    assert not (case.folder / "missing.csv").exists()
    assert pl.read_csv(link).height == 20


# -- 4. stale temp files ----------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_carry_the_owner_pid(tmp_path):
    sink = AtomicFile(tmp_path / "o.csv")
    try:
        name = sink.tmp.name
        assert name.startswith(f".o.csv.{os.getpid()}.") and name.endswith(".rebalance-tmp")
    finally:
        sink.discard()


def test_stale_temp_files_of_dead_runs_are_removed(case, cli):
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [f".o.csv.{dead}.ab12cd34.rebalance-tmp", f".r.json.{dead}.zz_9.rebalance-tmp"]
        kept = [
            f".o.csv.{sleeper.pid}.ab12cd34.rebalance-tmp",  # its owner is alive
            ".o.csv.ab12cd34.rebalance-tmp",  # no pid: not ours to judge
            f".o.csv.gz.{dead}.ab12cd34.rebalance-tmp",  # another target's
            f".other.csv.{dead}.ab12cd34.rebalance-tmp",  # another target's
        ]
        for name in stale + kept:
            (case.folder / name).write_text("partial\n")
        spill = case.folder / f".o.csv.{dead}.k_3j9x2q.rebalance-tmp"  # a --shuffle folder
        spill.mkdir()
        (spill / "run-0.ipc").write_text("partial\n")
        res = cli("apply", case.src, *UNDER, "-o", case.folder / "o.csv",
                  "--report", case.folder / "r.json")  # fmt: skip
        assert res.code == 0, res.stderr
        assert listing(case.folder) == {"in.csv", "o.csv", "r.json", *kept}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_failed_run_removes_no_stale_file(case, cli):
    stale = case.folder / f".o.csv.{_dead_pid()}.ab12cd34.rebalance-tmp"
    stale.write_text("partial\n")
    case.snapshot()
    res = cli("apply", case.src, *UNDER, "-t", "yes=5000", "-o", case.folder / "o.csv")
    case.check(res, 2, "undersample cannot grow class 'yes'")


def test_sigkill_during_commit_leaves_a_temp_file_the_next_run_removes(case):
    """A run stopped by SIGKILL while it waits for a FIFO reader (after its renames):
    the backup of the replaced output stays behind, named by the dead pid; the next
    run writing that output removes it."""
    out = case.folder / "o.csv"
    out.write_text("old output\n")
    fifo = case.folder / "report.fifo"
    os.mkfifo(fifo)
    cmd = argv("apply", case.src, *UNDER, "-o", out, "--force", "--report", fifo)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    temps: list[Path] = []
    deadline = time.monotonic() + 120
    while not temps:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        temps = [p for p in case.folder.iterdir() if p.name.endswith(".rebalance-tmp")]
        time.sleep(0.05)
    while out.read_text() == "old output\n":  # renamed; now blocked opening the FIFO
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    left = [p.name for p in case.folder.iterdir() if p.name.endswith(".rebalance-tmp")]
    assert len(left) == 1 and re.fullmatch(rf"\.o\.csv\.{proc.pid}\.\w+\.rebalance-tmp", left[0])
    assert (case.folder / left[0]).read_text() == "old output\n"  # the backup of the old file
    spools = list(Path(tempfile.gettempdir()).glob(f"rebalance-out-{proc.pid}-*"))
    assert len(spools) == 1  # the report's copy, waiting for the FIFO
    res = subprocess.run(
        argv("apply", case.src, *UNDER, "-o", "-", "--report", out, "--force"),
        capture_output=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert listing(case.folder) == {"in.csv", "o.csv", "report.fifo"}
    assert not spools[0].exists()


def test_force_puts_a_new_file_in_place_and_never_writes_into_the_old_one(case, cli):
    """Every file a run writes is a new file renamed over its target: with --force the
    target is a new inode, and a reader that opened the old file before the run reads
    the old bytes, whole, after it (a run writing in place would truncate them)."""
    out, report, test = (case.folder / n for n in ("o.csv", "r.json", "t.csv"))
    for path in (out, report, test):
        path.write_text("old bytes\n" * 1000)
    held = {p: (open(p, "rb"), os.stat(p).st_ino) for p in (out, report, test)}  # noqa: SIM115
    try:
        res = cli(
            "apply", case.src, *UNDER, "-o", out, "--report", report,
            "--test-size", "0.2", "--test-output", test, "--force",
        )  # fmt: skip
        assert res.code == 0, res.stderr
        for path, (fh, inode) in held.items():
            assert os.stat(path).st_ino != inode, path
            assert fh.read() == b"old bytes\n" * 1000, path
            assert path.read_bytes() != b"old bytes\n" * 1000
    finally:
        for fh, _ in held.values():
            fh.close()
    assert pl.read_csv(out)["y"].value_counts().sort("y").rows() == [("no", 8), ("yes", 8)]


def _to_stdout(tmp_path: Path, *flags: str):
    """``apply`` of a small CSV to ``-o -`` (CSV) in a real process, with ``flags``."""
    src = tmp_path / "in.csv"
    mixed_frame({"a": 60, "b": 12}, seed=3).write_csv(src)
    return run_process("apply", str(src), *UNDER, "-o", "-", "--output-format", "csv", *flags)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--report", "/dev/stdout"], "--report and -o name the same file /dev/stdout"),
        (
            ["--test-size", "0.2", "--test-output", "/proc/self/fd/1"],
            "--test-output and -o name the same file /proc/self/fd/1",
        ),
    ],
)
def test_a_path_that_is_stdout_collides_with_dash_o_dash(tmp_path, flags, named):
    """``-o -`` and another target that is this process's stdout by another name would
    mix two files into one stream: refused before anything is written."""
    res = _to_stdout(tmp_path, *flags)
    assert res.code == 2, res.stderr
    assert (
        res.stderr == f"rebalance: usage error: {named}, which is stdout (give each its own path)\n"
    )
    assert res.stdout == ""
    assert listing(tmp_path) == {"in.csv"}


def test_the_null_device_may_take_the_report_beside_dash_o_dash(tmp_path):
    res = _to_stdout(tmp_path, "--report", os.devnull)
    assert res.code == 0, res.stderr
    assert pl.read_csv(res.stdout.encode())["y"].value_counts()["count"].to_list() == [12, 12]

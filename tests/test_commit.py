"""Committing a run's files: collisions, all or nothing, dangling links, stale temp files.

Every failing case checks the exit code, the one stderr line, that nothing was
written (no output, no temp file, an existing file keeps its bytes) and that the
input is untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

from rebalance_cli.io import AtomicFile
from tests.conftest import digest, listing, mixed_frame

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
    case.check(res, 2, "--report and -o name the same file")
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

"""Committing a run's files: collisions, all or nothing, dangling links, stale temp files.

Every failing case checks the exit code, the one stderr line, that nothing was
written (no output, no temp file, an existing file keeps its bytes) and that the
input is untouched.
"""

from __future__ import annotations

import polars as pl
import pytest

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

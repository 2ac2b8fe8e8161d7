"""Permission errors, for real: the commands run unprivileged even when the tests run as
root (``tests/privileges.py`` says how), so a folder of mode 555 or a file of mode 000
refuses them as it would refuse a user.

Every failing run exits 4 with one stderr line naming what could not be written or
read, and leaves no file behind (target or temporary) and the input untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Result, digest, listing, mixed_frame
from tests.privileges import NOBODY, Unprivileged, require, shared_folder

UNDER = ["-l", "y", "-s", "undersample", "--seed", "1"]
DENIED = "Permission denied"


class Place:
    """A folder the command owns (``work``, with the input ``in.csv`` and a temp folder
    ``tmp``) and a folder it may only read (``locked``, mode 555)."""

    def __init__(self, root: Path, user: Unprivileged) -> None:
        self.user = user
        self.work = user.own(root / "work")
        self.tmp = user.own(root / "work" / "tmp")
        self.locked = root / "locked"
        self.src = self.work / "in.csv"
        mixed_frame({"no": 90, "yes": 10}).write_csv(self.src)
        self.src.chmod(0o644)
        self.locked.chmod(0o555)

    def run(self, *args: object, stdin: bytes | None = None) -> Result:
        env = {"HOME": str(self.work), "TMPDIR": str(self.tmp)}
        return self.user.run(*args, env=env, stdin=stdin)

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {
            str(folder): {p.name: digest(p) for p in folder.iterdir() if p.is_file()}
            for folder in (self.work, self.tmp, self.locked)
        }


@pytest.fixture
def place() -> Iterator[Place]:
    user = require()
    root = shared_folder("rebalance-perm-")
    for name in ("work", "locked"):
        (root / name).mkdir(mode=0o755)
    (root / "work" / "tmp").mkdir(mode=0o755)
    try:
        yield Place(root, user)
    finally:
        (root / "locked").chmod(0o755)
        shutil.rmtree(root)


def denied(place: Place, res: Result, before: object, *fragments: str) -> None:
    """Exit 4, one line with the fragments and "Permission denied", nothing changed."""
    assert res.code == 4, (place.user.how, res.code, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("rebalance: I/O error: "), lines[0]
    for fragment in (*fragments, DENIED):
        assert fragment in lines[0], (fragment, lines[0])
    assert place.snapshot() == before


def test_unreadable_input(place):
    before = place.snapshot()
    place.src.chmod(0)
    out = place.work / "o.csv"
    res = place.run("apply", place.src, *UNDER, "-o", out)
    assert res.code == 4, (place.user.how, res.stderr)
    assert (
        res.stderr
        == f"rebalance: I/O error: input {place.src} is not readable (permission denied)\n"
    )
    res = place.run("inspect", place.src, "-l", "y")
    assert res.code == 4 and "is not readable (permission denied)" in res.stderr, res.stderr
    place.src.chmod(0o644)
    assert place.snapshot() == before
    assert listing(place.work) == {"in.csv", "tmp"}


@pytest.mark.parametrize(
    ("target", "what"),
    [
        (["-o", "{locked}/o.csv"], "cannot write the output in {locked}"),
        (["-o", "{work}/o.csv", "--report", "{locked}/r.json"], "cannot write the report in"),
        (
            ["-o", "{work}/o.csv", "--test-size", "0.2", "--test-output", "{locked}/t.csv"],
            "cannot write the test output in {locked}",
        ),
        (["--bags", "2", "-o", "{locked}/b-{{bag}}.csv"], "cannot write the bag"),
        (["--shuffle", "-o", "{locked}/o.csv"], "cannot write the output in {locked}"),
    ],
)
def test_a_folder_the_user_cannot_write(place, target, what):
    args = [a.format(locked=place.locked, work=place.work) for a in target]
    before = place.snapshot()
    res = place.run("apply", place.src, *UNDER, *args)
    denied(place, res, before, what.format(locked=place.locked))
    assert listing(place.work) == {"in.csv", "tmp"}


def test_evaluate_report_in_a_folder_the_user_cannot_write(place):
    before = place.snapshot()
    res = place.run(
        "evaluate",
        place.src,
        "-l",
        "y",
        "--folds",
        "2",
        "--repeats",
        "1",
        "--strategies",
        "undersample",
        "-q",
        "--report",
        place.locked / "r.json",
    )
    denied(place, res, before, f"cannot write the report in {place.locked}")


def test_a_file_of_another_owner_in_a_sticky_folder(place):
    """A sticky folder (as /tmp) lets only a file's owner replace it: the rename of the
    report fails (EPERM), and the output renamed before it is taken back."""
    if os.geteuid() != 0:
        pytest.skip("making a file of another owner needs root")
    other = 0 if place.user.uid is not None else NOBODY  # not the command's uid
    sticky = place.work / "sticky"
    sticky.mkdir()
    report = sticky / "r.json"
    report.write_text("another user's report\n")
    for path in (sticky, report):
        os.chown(path, other, other)
    sticky.chmod(0o1777)
    before = {p.name: digest(p) for p in sticky.iterdir()}
    res = place.run(
        "apply", place.src, *UNDER, "-o", sticky / "o.csv", "--report", report, "--force"
    )
    assert res.code == 4, res.stderr
    assert "cannot put the report in place: Operation not permitted" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    assert {p.name: digest(p) for p in sticky.iterdir()} == before


def test_a_folder_the_user_may_write_but_not_read(place):
    """Mode 333: files can be made in it, but it cannot be opened to sync the renames.
    That is no failure: the run succeeds and its files are there."""
    blind = place.work / "blind"
    blind.mkdir()
    if place.user.uid is None:
        blind.chmod(0o333)
    else:
        shutil.chown(blind, 0, 0)
        blind.chmod(0o333)
    res = place.run("apply", place.src, *UNDER, "-o", blind / "o.csv", "--report", blind / "r.json")
    blind.chmod(0o755)
    assert res.code == 0, (place.user.how, res.stderr)
    assert listing(blind) == {"o.csv", "r.json"}

"""Real faults, not injected ones: a small full file system, a read-only one, /dev/full.

``tests/test_faults.py`` fails every call of the file layer in turn; here the
kernel does the failing, in real ``rebalance`` processes. A tmpfs is mounted on a
temporary folder (this needs root, and a kernel and sandbox that allow the mount;
otherwise those tests are skipped, saying why); /dev/full needs neither.

Every failing run must exit 4 with one stderr line naming what failed, leave no
file (target or temporary) on the small disk, in the run's folder or in the temp
folder, and leave the input as it was.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import argv, digest, listing, mixed_frame

UNDER = ["-l", "y", "-s", "undersample", "--seed", "1"]
OVER = ["-l", "y", "-s", "oversample", "--seed", "1"]
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Disk:
    """A mounted tmpfs of ``size`` bytes."""

    root: Path
    size: int

    def free(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """Fill the disk with ``.filler`` until about ``leave`` bytes (whole pages) are free."""
        filler = self.root / ".filler"
        filler.unlink(missing_ok=True)
        want = self.free() - leave
        if want > 0:
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                os.write(fd, b"\0" * want)
            finally:
                os.close(fd)
        assert abs(self.free() - leave) <= PAGE, (self.free(), leave)

    def listing(self) -> set[str]:
        return listing(self.root) - {".filler"}

    def remount(self, option: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{option}", str(self.root)], check=True)


def _mount(where: Path, size: int) -> str | None:
    """Mount a tmpfs on ``where``; None if done, else why it cannot be."""
    if os.geteuid() != 0:
        return f"mounting a tmpfs needs root (the tests run as uid {os.geteuid()})"
    try:
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run mount: {exc}"
    if res.returncode != 0:
        return f"this sandbox does not allow mounting a tmpfs: {res.stderr.decode().strip()}"
    return None


@pytest.fixture
def disk(tmp_path) -> Iterator[Disk]:
    """A 2 MiB tmpfs, or a skip that says why there cannot be one."""
    where = tmp_path / "disk"
    where.mkdir()
    size = 2 << 20
    why = _mount(where, size)
    if why is not None:
        pytest.skip(why)
    try:
        yield Disk(where, size)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: str


def run(*args: object, stdin: bytes | None = None, stdout: int | None = None, **env: str) -> Run:
    """A real ``rebalance`` process."""
    proc = subprocess.run(
        argv(*args),
        input=stdin,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout or b"", proc.stderr.decode())


def one_line(res: Run, code: int, *fragments: str) -> str:
    assert res.code == code, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def work(tmp_path) -> Iterator[dict[str, Path]]:
    """The run's folder with the input (3,000 rows, ~200 KB of CSV) and a temp folder."""
    folder = tmp_path / "run"
    folder.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    src = folder / "in.csv"
    mixed_frame({"no": 2700, "yes": 300}).write_csv(src)
    before = digest(src)
    yield {"folder": folder, "tmp": tmp, "src": src}
    assert digest(src) == before  # whatever happened, the input is untouched
    assert listing(folder) >= {"in.csv"}


# -- a full disk at every stage of a run ------------------------------------------------


def test_a_full_disk_at_each_file_of_a_run(disk, work):
    """The output, the test split and the report go to the small disk; it is filled
    so that each file in turn is the one that does not fit. Each such run exits 4
    naming that file, and leaves the disk as it found it; with room, the run writes
    all three."""
    src, tmp = work["src"], work["tmp"]
    args = [
        src,
        *OVER,
        "-o",
        disk.root / "o.csv",
        "--test-size",
        "0.2",
        "--test-output",
        disk.root / "t.csv",
        "--report",
        disk.root / "r.json",
    ]
    res = run("apply", *args, TMPDIR=str(tmp))
    assert res.code == 0, res.stderr
    sizes = {n: (disk.root / n).stat().st_size for n in ("o.csv", "t.csv", "r.json")}
    data = {n: digest(disk.root / n) for n in ("o.csv", "t.csv")}
    pages = {n: -(-b // PAGE) * PAGE for n, b in sizes.items()}
    for n in sizes:
        (disk.root / n).unlink()
    # the files are written in this order: the output, then the test split, then the report
    cases = [
        (0, "the output"),
        (pages["o.csv"] - PAGE, "the output"),
        (pages["o.csv"] + pages["t.csv"] - PAGE, "the test output"),
        (pages["o.csv"] + pages["t.csv"] + pages["r.json"] - PAGE, "the report"),
    ]
    for leave, what in cases:
        disk.fill(leave)
        res = run("apply", *args, TMPDIR=str(tmp))
        one_line(res, 4, "rebalance: I/O error: ", what, os.strerror(errno.ENOSPC))
        assert disk.listing() == set(), (leave, disk.listing())
        assert listing(tmp) == set()
    disk.fill(sum(pages.values()) + 16 * PAGE)
    res = run("apply", *args, TMPDIR=str(tmp))
    assert res.code == 0, res.stderr
    assert disk.listing() == {"o.csv", "t.csv", "r.json"}
    assert {n: digest(disk.root / n) for n in data} == data


def test_a_full_disk_keeps_the_files_a_forced_run_would_replace(disk, work):
    old = {"o.csv": b"old output\n", "r.json": b"old report\n"}
    for name, data in old.items():
        (disk.root / name).write_bytes(data)
    disk.fill(0)
    res = run(
        "apply",
        work["src"],
        *OVER,
        "-o",
        disk.root / "o.csv",
        "--report",
        disk.root / "r.json",
        "--force",
        TMPDIR=str(work["tmp"]),
    )
    one_line(res, 4, "cannot write the output", os.strerror(errno.ENOSPC))
    assert disk.listing() == set(old)
    assert {n: (disk.root / n).read_bytes() for n in old} == old


def test_a_full_disk_under_the_shuffle_buckets(disk, work):
    disk.fill(4 * PAGE)
    res = run("apply", work["src"], *OVER, "--shuffle", "-o", disk.root / "o.csv")
    one_line(res, 4, "cannot write the --shuffle bucket files in", os.strerror(errno.ENOSPC))
    assert disk.listing() == set()


def test_a_full_disk_under_the_bags(disk, work):
    disk.fill(2 * PAGE)
    res = run("apply", work["src"], *UNDER, "--bags", "3", "-o", disk.root / "b-{bag}.parquet")
    line = one_line(res, 4, "cannot write the bag", os.strerror(errno.ENOSPC))
    assert "b-" in line
    assert disk.listing() == set()


def test_a_full_temp_folder_under_stdin(disk, work):
    """stdin is copied to the temp folder (a run reads its input twice): a full one is
    exit 4 naming it, and the half-written copy is removed."""
    disk.fill(4 * PAGE)
    data = work["src"].read_bytes()
    res = run(
        "apply", "-", *UNDER, "-o", work["folder"] / "o.csv", stdin=data, TMPDIR=str(disk.root)
    )
    one_line(
        res,
        4,
        f"cannot copy <stdin> to the temp folder {disk.root}",
        os.strerror(errno.ENOSPC),
        "set TMPDIR",
    )
    assert disk.listing() == set()
    assert listing(work["folder"]) == {"in.csv"}
    res = run("inspect", "-", "-l", "y", stdin=data, TMPDIR=str(disk.root))
    one_line(res, 4, "cannot copy <stdin> to the temp folder", os.strerror(errno.ENOSPC))
    assert disk.listing() == set()


def test_a_full_temp_folder_under_a_stream_output(disk, work):
    disk.fill(2 * PAGE)
    res = run("apply", work["src"], *OVER, "-o", "-", TMPDIR=str(disk.root))
    one_line(res, 4, "cannot write the output", os.strerror(errno.ENOSPC))
    assert res.stdout == b""
    assert disk.listing() == set()


# -- a read-only file system ----------------------------------------------------------------


def test_a_read_only_file_system(disk, work):
    """(A read-only TMPDIR cannot be tested this way: Python's tempfile then falls back
    to /tmp, a folder it can write.)"""
    (disk.root / "o.csv").write_bytes(b"old output\n")
    disk.remount("ro")
    try:
        for extra in (
            ["-o", disk.root / "o.csv", "--force"],
            ["-o", work["folder"] / "o.csv", "--report", disk.root / "r.json"],
        ):
            res = run("apply", work["src"], *UNDER, *extra, TMPDIR=str(work["tmp"]))
            one_line(res, 4, f"in {disk.root}", os.strerror(errno.EROFS))
            assert disk.listing() == {"o.csv"}
            assert listing(work["folder"]) == {"in.csv"}
        assert (disk.root / "o.csv").read_bytes() == b"old output\n"
    finally:
        disk.remount("rw")


# -- a full device on stdout ----------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize(
    "args",
    [
        ["apply", "{src}", *OVER, "-o", "-", "--report", "{d}/r.json"],
        ["apply", "-", *OVER, "-o", "-"],
        ["apply", "{src}", *UNDER, "--dry-run", "--json", "-o", "{d}/o.csv"],
        ["inspect", "{src}", "-l", "y"],
        ["inspect", "{src}", "-l", "y", "--json"],
        ["--version"],
        ["apply", "--help"],
    ],
)
def test_stdout_on_a_full_device(args, work):
    """`... > /dev/full`: exit 4, one line; the files of the run are taken back."""
    folder = work["folder"]
    cmd = [a.format(src=work["src"], d=folder) for a in args]
    with open("/dev/full", "wb") as full:
        res = run(
            *cmd,
            stdin=work["src"].read_bytes() if "-" in cmd else None,
            stdout=full.fileno(),
            TMPDIR=str(work["tmp"]),
        )
    line = one_line(res, 4, "rebalance: I/O error: cannot write ", os.strerror(errno.ENOSPC))
    assert "to stdout" in line
    assert listing(folder) == {"in.csv"}
    assert listing(work["tmp"]) == set()

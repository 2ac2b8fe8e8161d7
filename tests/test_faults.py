"""Every I/O fault at every point of every command: exit 4, one line, nothing left.

Each stage below is a command line. Its clean run is recorded through the file
layer (``tests/faults.py``): every open, mkdir, write, fsync, chmod, rename and
link it makes, as a list of fault points. The points are pinned in
``tests/golden/fault_points.json``, so a change that adds a write (or stops
making one) shows here; regenerate the file with

    REBALANCE_FAULTS_UPDATE=1 .venv/bin/python -m pytest tests/test_faults.py -k recorded

Then every point of every stage is failed in turn, one test each (the test ids
name the stage, the point and the errno; the errnos ENOSPC, EIO, EROFS and EACCES
take turns over the points), and the run must:
- exit 4 with exactly one stderr line, ``rebalance: I/O error: ...``, that names
  what failed (the output, the report, the test output, a bag, stdin, stdout,
  the --shuffle bucket files, the folder) and the errno's text;
- leave no target and no temporary file: the run's folder lists exactly what it
  listed before (the existing files keep their bytes, the input is untouched),
  and the temp folder (where stdin is spooled and streams are copied) is empty;
- print nothing on stdout.

One kind of point is not a failure by design: opening the folder to sync it
with EACCES (a folder this process may write but not read): the renames stand,
and the run must succeed and leave its files.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import digest, listing, mixed_frame
from tests.faults import ERRNOS, Faults, Point, points

# the harness names a write or an fsync by the file its descriptor is open on
pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux) to name the files"
)

MANIFEST = Path(__file__).resolve().parent / "golden" / "fault_points.json"
UPDATE = os.environ.get("REBALANCE_FAULTS_UPDATE") == "1"
UNDER = ("-l", "y", "-s", "undersample", "--seed", "1")


@dataclass(frozen=True)
class Stage:
    """A command line (``{d}`` is the run's folder, ``{src}`` the input) and what its
    messages must name: (a part of a point's file name, a regex the message matches)."""

    args: tuple[str, ...]
    names: tuple[tuple[str, str], ...] = ()
    outputs: tuple[str, ...] = ()
    stdin: bool = False
    fifo: bool = False
    existing: tuple[str, ...] = ()
    rows: int = 100  # the input's rows (90% 'no'): 40,000 make files of several writes


OUT = ((".o.csv", "the output"), ("o.csv", "the output"), ("<outdir>", "the folder"))
STAGES: dict[str, Stage] = {
    "inspect": Stage(("inspect", "{src}", "-l", "y")),
    "inspect-stdin": Stage(
        ("inspect", "-", "-l", "y"),
        (("rebalance-stdin", "copy <stdin> to the temp folder"),),
        stdin=True,
    ),
    "apply": Stage(("apply", "{src}", *UNDER, "-o", "{d}/o.csv"), OUT, ("o.csv",)),
    "apply-report": Stage(
        ("apply", "{src}", *UNDER, "-o", "{d}/o.parquet", "--report", "{d}/r.json"),
        (("r.json", "the report"), ("o.parquet", "the output"), ("<outdir>", "the folder")),
        ("o.parquet", "r.json"),
    ),
    "apply-force": Stage(
        ("apply", "{src}", *UNDER, "-o", "{d}/o.csv", "--report", "{d}/r.json", "--force"),
        (("r.json", "the report"), *OUT),
        ("o.csv", "r.json"),
        existing=("o.csv", "r.json"),
    ),
    "apply-split": Stage(
        (
            "apply",
            "{src}",
            *UNDER,
            "-o",
            "{d}/o.csv",
            "--test-size",
            "0.2",
            "--test-output",
            "{d}/t.parquet",
        ),
        (("t.parquet", "the test output"), *OUT),
        ("o.csv", "t.parquet"),
    ),
    "apply-bags": Stage(
        ("apply", "{src}", *UNDER, "--bags", "2", "-o", "{d}/x-{{bag}}.csv"),
        (
            ("x-1.csv", r"the bag \S*/x-1\.csv"),
            ("x-2.csv", r"the bag \S*/x-2\.csv"),
            ("<outdir>", "the folder"),
        ),
        ("x-1.csv", "x-2.csv"),
    ),
    "apply-shuffle": Stage(
        ("apply", "{src}", *UNDER, "--shuffle", "-o", "{d}/o.csv"),
        (("tmp#2", "--shuffle"), *OUT),
        ("o.csv",),
    ),
    "apply-compressed": Stage(
        (
            "apply",
            "{src}",
            *UNDER,
            "-o",
            "{d}/o.csv.gz",
            "--test-size",
            "0.2",
            "--test-output",
            "{d}/t.ndjson.zst",
        ),
        (
            ("t.ndjson.zst", "the test output"),
            ("o.csv.gz", "the output"),
            ("<outdir>", "the folder"),
        ),
        ("o.csv.gz", "t.ndjson.zst"),
    ),
    "apply-ipc": Stage(
        ("apply", "{src}", *UNDER, "-o", "{d}/o.arrow"),
        (("o.arrow", "the output"), ("<outdir>", "the folder")),
        ("o.arrow",),
    ),
    "apply-stdout": Stage(
        ("apply", "{src}", *UNDER, "-o", "-", "--report", "{d}/r.json"),
        (
            ("rebalance-out", "the output"),
            ("<stdout>", "the output to stdout"),
            ("r.json", "the report"),
            ("<outdir>", "the folder"),
        ),
        ("r.json",),
    ),
    "apply-shuffle-stdout": Stage(
        ("apply", "{src}", *UNDER, "--shuffle", "-o", "-"),
        (
            ("rebalance-out#2", "--shuffle"),
            ("rebalance-out", "the output"),
            ("<stdout>", "the output to stdout"),
        ),
    ),
    "apply-stdin": Stage(
        ("apply", "-", *UNDER, "-o", "{d}/o.csv"),
        (("rebalance-stdin", "copy <stdin> to the temp folder"), *OUT),
        ("o.csv",),
        stdin=True,
    ),
    "apply-fifo": Stage(
        ("apply", "{d}/in.fifo", "--input-format", "csv", *UNDER, "-o", "{d}/o.csv"),
        (("rebalance-stdin", "in.fifo to the temp folder"), *OUT),
        ("o.csv",),
        fifo=True,
    ),
    "apply-large-stdin-stdout": Stage(
        ("apply", "-", "-l", "y", "-s", "oversample", "--seed", "1", "-o", "-"),
        (
            ("rebalance-stdin", "copy <stdin> to the temp folder"),
            ("rebalance-out", "the output"),
            ("<stdout>", "the output to stdout"),
        ),
        stdin=True,
        rows=40_000,
    ),
    "evaluate-report": Stage(
        (
            "evaluate",
            "{src}",
            "-l",
            "y",
            "--folds",
            "2",
            "--repeats",
            "1",
            "--seed",
            "1",
            "--strategies",
            "undersample",
            "-q",
            "--report",
            "{d}/r.json",
        ),
        (("r.json", "the report"), ("<outdir>", "the folder")),
        ("r.json",),
    ),
}


def _manifest() -> dict[str, list[str]]:
    if not MANIFEST.exists():
        return {}
    return json.loads(MANIFEST.read_text())["stages"]


def _cases() -> list[object]:
    cases: list[object] = []
    manifest = _manifest()
    for stage in STAGES:
        for i, text in enumerate(manifest.get(stage, [])):
            err = ERRNOS[i % len(ERRNOS)]
            cases.append(
                pytest.param(stage, text, err, id=f"{stage}|{text}|{errno.errorcode[err]}")
            )
    return cases


class Workspace:
    """A run's folder with the input (and the stage's existing files), a private temp
    folder, and the stage's command line."""

    def __init__(self, root: Path, stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = root / "run"
        self.tmp = root / "tmp"
        self.folder.mkdir()
        self.tmp.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(self.tmp))
        self.stage = stage
        self.data = mixed_frame({"no": stage.rows * 9 // 10, "yes": stage.rows // 10})
        self.src = self.folder / "in.csv"
        self.data.write_csv(self.src)
        self.bytes = self.src.read_bytes()
        for name in stage.existing:
            (self.folder / name).write_text(f"old {name}\n")
        if stage.fifo:
            os.mkfifo(self.folder / "in.fifo")
        self.args = [a.format(d=self.folder, src=self.src) for a in stage.args]
        self.before = {p.name: _digest(p) for p in self.folder.iterdir()}

    def run(self, cli) -> object:
        feeder = None
        if self.stage.fifo:
            feeder = threading.Thread(target=_feed, args=(self.folder / "in.fifo", self.bytes))
            feeder.start()
        try:
            return cli(*self.args, input=self.bytes if self.stage.stdin else None)
        finally:
            if feeder is not None:
                _release(self.folder / "in.fifo", feeder)

    def check_clean(self, res, point: Point, err: int) -> None:
        """Exit 4, one line naming what failed, nothing left, the input untouched."""
        assert res.code == 4, (point, res.code, res.stderr)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, (point, res.stderr)
        line = lines[0]
        assert line.startswith("rebalance: I/O error: "), (point, line)
        assert os.strerror(err) in line, (point, line)
        want = next((what for part, what in self.stage.names if part in point.file), None)
        assert want is not None, f"no name for {point}: add it to the stage"
        assert re.search(want, line), (point, want, line)
        if point.file == "<stdout>":
            # a stream cannot be taken back: the chunks before the failing one were
            # written (1 MiB each), and nothing after it
            assert len(res.stdout.encode()) == (point.nth - 1) << 20, point
        else:
            assert res.stdout == "", (point, res.stdout[:200])
        now = {p.name: _digest(p) for p in self.folder.iterdir()}
        assert now == self.before, (point, sorted(now), sorted(self.before))
        assert listing(self.tmp) == set(), (point, listing(self.tmp))

    def check_success(self, res, point: Point | None = None) -> None:
        assert res.code == 0, (point, res.stderr)
        names = set(self.before) | set(self.stage.outputs)
        assert listing(self.folder) == names, (point, listing(self.folder))
        assert (self.folder / "in.csv").read_bytes() == self.bytes
        assert listing(self.tmp) == set(), (point, listing(self.tmp))
        for name in self.stage.existing:
            assert (self.folder / name).read_text() != f"old {name}\n"


def _digest(path: Path) -> str:
    return "fifo" if path.is_fifo() else digest(path)


def _feed(fifo: Path, data: bytes) -> None:
    try:
        with open(fifo, "wb") as fh:
            fh.write(data)
    except OSError:
        pass  # the run stopped reading (it failed): the pipe broke


def _release(fifo: Path, feeder: threading.Thread) -> None:
    """Unblock a feeder whose FIFO the run never opened."""
    feeder.join(0.5)
    while feeder.is_alive():
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            break
        try:
            while os.read(fd, 1 << 16):
                pass
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        feeder.join(0.5)


def _record(tmp_path: Path, stage: Stage, monkeypatch: pytest.MonkeyPatch, cli) -> list[Point]:
    ws = Workspace(tmp_path, stage, monkeypatch)
    faults = Faults(monkeypatch, ws.folder, ws.tmp)
    res = ws.run(cli)
    ws.check_success(res)
    return points(faults.calls)


@pytest.mark.parametrize("name", list(STAGES))
def test_recorded_fault_points(name, tmp_path, monkeypatch, cli):
    """The clean run succeeds, and makes exactly the pinned calls of the file layer."""
    got = [p.id for p in _record(tmp_path, STAGES[name], monkeypatch, cli)]
    if UPDATE:
        old = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"stages": {}}
        doc = {"about": "", "stages": old["stages"]}
        doc["about"] = (
            "the calls of rebalance_cli/io/fs.py a clean run of each stage of "
            "tests/test_faults.py makes; regenerate with REBALANCE_FAULTS_UPDATE=1"
        )
        doc["stages"][name] = got
        doc["stages"] = {k: doc["stages"][k] for k in STAGES if k in doc["stages"]}
        MANIFEST.write_text(json.dumps(doc, indent=1) + "\n")
        return
    want = _manifest().get(name)
    assert want is not None, f"{name} has no fault points in {MANIFEST}: regenerate it"
    # compared as sets: calls on different files may come in either order (threads)
    assert sorted(got) == sorted(want), f"the file calls of {name} changed: regenerate {MANIFEST}"


def test_the_reads_make_no_file_call(tmp_path, monkeypatch, cli):
    """inspect on a file reads only: not one call of the file layer."""
    assert _record(tmp_path, STAGES["inspect"], monkeypatch, cli) == []


def test_every_kind_of_call_is_a_fault_point():
    """Between them, the stages make every kind of call the layer has."""
    kinds = {Point.parse(t).kind for ids in _manifest().values() for t in ids}
    assert kinds == {"open", "mkdir", "write", "fsync", "chmod", "rename", "link"}


def _tolerated(point: Point, err: int) -> bool:
    """A folder that cannot be opened to sync it: the renames stand (fs.sync_folder)."""
    return point.kind == "open" and point.file == "<outdir>" and err == errno.EACCES


@pytest.mark.parametrize(("name", "text", "err"), _cases())
def test_fault(name, text, err, tmp_path, monkeypatch, cli):
    stage = STAGES[name]
    point = Point.parse(text)
    ws = Workspace(tmp_path, stage, monkeypatch)
    faults = Faults(monkeypatch, ws.folder, ws.tmp)
    faults.arm(point, err)
    res = ws.run(cli)
    assert faults.fired == point, f"{point} was not reached: {faults.calls}"
    if _tolerated(point, err):
        ws.check_success(res, point)
    else:
        ws.check_clean(res, point, err)


@pytest.mark.parametrize("err", ERRNOS, ids=[errno.errorcode[e] for e in ERRNOS])
@pytest.mark.parametrize(
    "text",
    [
        "open:.o.csv.tmp#1:1",  # making the temporary file
        "open:.o.csv.tmp#1:2",  # opening it for the data
        "write:.o.csv.tmp#1:1",
        "fsync:.o.csv.tmp#1:1",
        "chmod:.o.csv.tmp#1:1",
        "rename:o.csv:1",
        "link:o.csv:1",  # the hard link that keeps the replaced file
        "fsync:<outdir>:1",
        "write:.r.json.tmp#1:1",
    ],
)
def test_every_errno_at_every_kind_of_call(text, err, tmp_path, monkeypatch, cli):
    """ENOSPC, EIO, EROFS and EACCES at each kind of call over an existing output."""
    stage = STAGES["apply-force"]
    point = Point.parse(text)
    ws = Workspace(tmp_path, stage, monkeypatch)
    faults = Faults(monkeypatch, ws.folder, ws.tmp)
    faults.arm(point, err)
    res = ws.run(cli)
    assert faults.fired == point
    ws.check_clean(res, point, err)
    assert (ws.folder / "o.csv").read_text() == "old o.csv\n"


def test_a_folder_that_cannot_be_opened_to_sync_it_is_no_failure(tmp_path, monkeypatch, cli):
    """EACCES opening the folder (writable, not readable): the renames stand."""
    ws = Workspace(tmp_path, STAGES["apply-force"], monkeypatch)
    faults = Faults(monkeypatch, ws.folder, ws.tmp)
    faults.arm(Point("open", "<outdir>", 1), errno.EACCES)
    res = ws.run(cli)
    assert faults.fired == Point("open", "<outdir>", 1)
    ws.check_success(res)
    assert len(ws.data.filter(ws.data["y"] == "yes")) * 2 == len(
        (ws.folder / "o.csv").read_text().splitlines()[1:]
    )


@pytest.mark.parametrize("err", [errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK])
def test_no_hard_links_replaces_without_a_backup(err, tmp_path, monkeypatch, cli):
    """link(2) saying "no hard links here" is no failure: the old files are replaced
    without a copy to take back (fs.NO_HARD_LINKS)."""
    ws = Workspace(tmp_path, STAGES["apply-force"], monkeypatch)
    faults = Faults(monkeypatch, ws.folder, ws.tmp)
    faults.arm(Point("link", "o.csv", 1), err)
    res = ws.run(cli)
    assert faults.fired == Point("link", "o.csv", 1)
    ws.check_success(res)
    assert sum(1 for p in faults.calls if p.kind == "link") == 2  # r.json's was made

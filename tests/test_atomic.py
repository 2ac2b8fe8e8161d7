"""Atomic writes: a target is replaced by a rename, never written in place.

After ``--force`` the target is a new file (a new inode) and the old file is whole
(a reader that had it open still reads every old byte); and a reader polling the
target while a long run writes it only ever sees the old complete file or the new
complete file, never a part of either.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import argv, listing, mixed_frame

UNDER = ["-l", "y", "-s", "undersample", "--seed", "1"]


def test_force_puts_a_new_file_in_place(tmp_path, cli):
    src = tmp_path / "in.csv"
    mixed_frame({"no": 900, "yes": 100}).write_csv(src)
    out = tmp_path / "o.csv"
    old = b"id,y\n" + b"".join(b"%d,old\n" % i for i in range(5000))
    out.write_bytes(old)
    before = os.stat(out)
    with open(out, "rb") as held:  # a reader that opened the old file before the run
        res = cli("apply", src, *UNDER, "-o", out, "--force")
        assert res.code == 0, res.stderr
        after = os.stat(out)
        assert (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino)
        assert held.read() == old  # the old file was not truncated nor rewritten
    assert pl.read_csv(out).height == 200
    assert listing(tmp_path) == {"in.csv", "o.csv"}


def _big_input(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    pl.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "z": rng.normal(size=rows),
            "y": np.where(rng.random(rows) < 0.2, "b", "a"),
        }
    ).write_csv(path)


def test_a_reader_sees_the_old_file_or_the_new_one_never_a_part(tmp_path):
    """A reader polls the target while a run writes ~30 MB over it with --force. Every
    read it makes is the old file or the file the run leaves, whole; and some reads
    were made while the run's temporary file was being written."""
    src = tmp_path / "in.csv"
    _big_input(src, 300_000)
    out = tmp_path / "o.csv"
    old = b"id,x,z,y\n" + b"0,0.5,0.5,a\n" * 200_000
    out.write_bytes(old)
    seen: dict[str, int] = {}
    during: list[int] = []  # sizes of the temporary file when a read was made
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".rebalance-tmp")]
            sizes = []
            for p in temps:
                with contextlib.suppress(FileNotFoundError):
                    sizes.append(p.stat().st_size)
            data = out.read_bytes()
            key = hashlib.sha256(data).hexdigest()
            seen[key] = seen.get(key, 0) + 1
            if sizes:
                during.append(max(sizes))

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    try:
        cmd = argv(
            "apply",
            src,
            "-l",
            "y",
            "-s",
            "oversample",
            "--seed",
            "1",
            "--chunk-size",
            "20000",
            "-o",
            out,
            "--force",
        )
        res = subprocess.run(cmd, capture_output=True, timeout=600)
        time.sleep(0.2)  # a few reads of the new file
    finally:
        stop.set()
        reader.join(30)
    assert res.returncode == 0, res.stderr.decode()
    new = hashlib.sha256(out.read_bytes()).hexdigest()
    old_key = hashlib.sha256(old).hexdigest()
    assert set(seen) <= {old_key, new}, f"{len(set(seen) - {old_key, new})} partial reads"
    assert seen.get(old_key, 0) > 0 and seen.get(new, 0) > 0
    assert any(size > 0 for size in during), "no read was made while the run was writing"
    majority = pl.read_csv(src)["y"].value_counts()["count"].max()
    assert pl.read_csv(out).height == 2 * majority  # both classes raised to the majority
    assert listing(tmp_path) == {"in.csv", "o.csv"}


@pytest.mark.parametrize("landing", [1, 2])
def test_a_signal_as_a_rename_returns_takes_every_file_back(tmp_path, monkeypatch, landing):
    """The signal handler's exception can land just as a rename of the commit returns
    (before the sink has noted that its file is in place): the run must still take that
    file back, with the others, and leave every target as it was."""
    from rebalance_cli import rebalance
    from rebalance_cli.errors import Interrupted
    from rebalance_cli.io import fs

    src = tmp_path / "in.csv"
    mixed_frame({"a": 60, "b": 12}, seed=3).write_csv(src)
    out, report = tmp_path / "o.csv", tmp_path / "r.json"
    out.write_text("OLD\n")
    report.write_text("OLDR\n")
    real, calls = fs.replace, []

    def replace(src_path: Path, dst: Path) -> None:
        real(src_path, dst)
        calls.append(dst)
        if len(calls) == landing:  # the rename happened; the handler raises now
            raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(fs, "replace", replace)
    with pytest.raises(Interrupted, match="no output was written"):
        rebalance(
            src, out, label="y", strategy="undersample", seed=1, report_path=report, force=True
        )
    assert out.read_text() == "OLD\n"
    assert report.read_text() == "OLDR\n"
    assert listing(tmp_path) == {"in.csv", "o.csv", "r.json"}


@pytest.mark.parametrize("extra", [{}, {"test_size": 0.25}, {"bags": 2}])
def test_the_output_folder_removed_during_the_run_is_an_io_error(tmp_path, extra):
    """The folder that holds the temporary files is removed while the run writes (a
    clean-up job, a user): an I/O error naming the folder, not an internal error."""
    import shutil

    from rebalance_cli import rebalance
    from rebalance_cli.errors import InputOutputError

    src = tmp_path / "in.csv"
    mixed_frame({"a": 60, "b": 12}, seed=3).write_csv(src)
    folder = tmp_path / "gone"
    folder.mkdir()
    name = "o-{bag}.csv" if "bags" in extra else "o.csv"
    if "test_size" in extra:
        extra = {**extra, "test_output": folder / "t.csv"}

    def observer(event) -> None:
        if event.phase == "write" and event.state == "end" and folder.exists():
            shutil.rmtree(folder)

    with pytest.raises(InputOutputError, match=f"cannot write the .* in {folder}: No such file"):
        rebalance(
            src,
            folder / name,
            label="y",
            strategy="undersample",
            seed=1,
            progress=observer,
            **extra,
        )
    assert listing(tmp_path) == {"in.csv"}

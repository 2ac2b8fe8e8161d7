"""Every exit code of semantics.md: the code, one stderr line, no output left, input untouched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import argv, default_signals, digest, listing, mixed_frame
from tests.privileges import require, shared_folder

BINARY = {"no": 900, "yes": 100}


@pytest.fixture
def case(tmp_path, write_data):
    """A folder with one input file; ``check`` asserts a clean failure."""

    class Case:
        folder = tmp_path
        src = write_data(mixed_frame(BINARY), "in.csv")

        def __init__(self) -> None:
            self.before = listing(tmp_path)
            self.src_digest = digest(self.src)

        def check(self, res, code: int, fragment: str) -> None:
            assert res.code == code, (res.code, res.stderr)
            assert fragment in res.stderr, res.stderr
            lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1, res.stderr
            assert lines[0].startswith("rebalance: ")
            assert listing(tmp_path) == self.before  # no output, no temp file
            assert digest(self.src) == self.src_digest

    return Case()


def test_usage_errors_exit_2(case, cli):
    src, out = case.src, case.folder / "out.csv"
    base = ["apply", src, "-l", "y", "-o", out]
    case.check(
        cli(*base, "-s", "undersample", "-t", "minority"),
        2,
        "--target minority does not fit undersample",
    )
    case.check(
        cli(*base, "-s", "oversample", "-t", "majority"),
        2,
        "--target majority does not fit oversample",
    )
    case.check(
        cli(*base, "-s", "oversample", "-t", "no=5"),
        2,
        "oversample cannot shrink class 'no' from 900 rows to 5",
    )
    case.check(
        cli(*base, "-s", "undersample", "-t", "yes=5000"),
        2,
        "undersample cannot grow class 'yes' from 100 rows to 5000",
    )
    case.check(cli(*base, "-s", "undersample", "-t", "1.5"), 2, "outside (0, 1]")
    case.check(cli(*base, "-s", "undersample", "-t", "a=1,b"), 2, "is not CLASS=COUNT")
    case.check(cli(*base, "-s", "sideways"), 2, "unknown strategy 'sideways'")
    case.check(
        cli("apply", src, "-l", "y", "-s", "undersample", "-o", case.folder / "o.xyz"),
        2,
        "cannot tell the output format",
    )
    case.check(
        cli("apply", src, "-l", "y", "-s", "undersample", "-o", "-", "--json"),
        2,
        "--json and -o - both want stdout",
    )
    case.check(cli(*base, "-s", "undersample", "--chunk-size", "0"), 2, "--chunk-size")
    case.check(cli(*base, "-s", "undersample", "--output-format", "xlsx"), 2, "is not a format")
    case.check(cli("apply", src, "-l", "y", "-s", "undersample"), 2, "an output is needed")


def test_typer_usage_errors_exit_2(case, cli):
    res = cli("apply", case.src, "-s", "undersample", "-o", case.folder / "o.csv")
    assert res.code == 2
    assert "--label" in res.stderr
    assert listing(case.folder) == case.before


def test_data_errors_exit_3(case, cli, tmp_path):
    src, out = case.src, case.folder / "out.csv"
    case.check(
        cli("apply", src, "-l", "Y", "-s", "undersample", "-o", out),
        3,
        "label column 'Y' is not in",
    )
    res = cli("apply", src, "-l", "lable", "-s", "undersample", "-o", out)
    case.check(res, 3, "label column 'lable'")
    res = cli("apply", src, "-l", "cty", "-s", "undersample", "-o", out)
    case.check(res, 3, "did you mean 'city'")
    case.check(
        cli("apply", src, "-l", "y", "-s", "undersample", "-t", "maybe=3", "-o", out),
        3,
        "class 'maybe', which is not in the data (the classes are: no, yes)",
    )
    case.check(cli("inspect", src, "-l", "nope"), 3, "label column 'nope' is not in")


def test_data_errors_of_the_input_exit_3(tmp_path, cli):
    df = mixed_frame(BINARY)
    parquet_named_csv = tmp_path / "liar.csv"
    df.write_parquet(parquet_named_csv)
    nulls = tmp_path / "nulls.csv"
    pl.DataFrame({"x": [1, 2, 3], "y": ["a", None, "b"]}).write_csv(nulls)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    one_class = tmp_path / "one.csv"
    pl.DataFrame({"x": [1, 2], "y": ["a", "a"]}).write_csv(one_class)
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("x,y\n1,a\n")
    cases = [
        (parquet_named_csv, "looks like Parquet but its name says CSV"),
        (nulls, "label column 'y' has 1 null value (pass --drop-null-labels"),
        (empty, "is empty (0 bytes)"),
        (one_class, "single class ('a', 2 rows)"),
        (not_parquet, "is not a Parquet file"),
    ]
    for path, fragment in cases:
        before, d = listing(tmp_path), digest(path)
        res = cli("apply", path, "-l", "y", "-s", "oversample", "-o", tmp_path / "o.parquet")
        assert res.code == 3, (path, res.stderr)
        assert fragment in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert listing(tmp_path) == before and digest(path) == d


def test_smote_data_errors_exit_3(tmp_path, cli):
    rng = np.random.default_rng(0)
    few = tmp_path / "few.csv"
    pl.DataFrame({"x": rng.normal(size=23), "y": ["a"] * 20 + ["b"] * 3}).write_csv(few)
    nan = tmp_path / "nan.parquet"
    x = rng.normal(size=40)
    x[35] = np.nan
    x[36] = np.inf
    pl.DataFrame({"x": x, "y": ["a"] * 30 + ["b"] * 10}).write_parquet(nan)
    strings = tmp_path / "strings.csv"
    pl.DataFrame({"y": ["a"] * 30 + ["b"] * 10}).write_csv(strings)
    for path, fragment in [
        (
            few,
            "class 'b' has 3 rows; SMOTE with k=5 needs at least 6 (use --k-neighbors 2 or lower)",
        ),
        (nan, "feature column 'x' has 2 null, NaN or infinite values in class 'b'"),
        (strings, "SMOTE needs at least one feature column"),
    ]:
        before = listing(tmp_path)
        res = cli("apply", path, "-l", "y", "-s", "smote", "-o", tmp_path / "o.csv")
        assert res.code == 3, res.stderr
        assert fragment in res.stderr
        assert listing(tmp_path) == before
    res = cli("apply", few, "-l", "y", "-s", "smote", "-k", "2", "-o", tmp_path / "o.csv")
    assert res.code == 0, res.stderr


def test_io_errors_exit_4(case, cli):
    out = case.folder / "out.csv"
    case.check(
        cli("apply", case.folder / "missing.csv", "-l", "y", "-s", "undersample", "-o", out),
        4,
        "does not exist",
    )
    sub = case.folder / "adir"
    sub.mkdir()
    case.before = listing(case.folder)
    case.check(cli("apply", sub, "-l", "y", "-s", "undersample", "-o", out), 4, "is a directory")
    case.check(
        cli(
            "apply",
            case.src,
            "-l",
            "y",
            "-s",
            "undersample",
            "-o",
            case.folder / "no" / "such" / "dir.csv",
        ),
        4,
        "does not exist",
    )
    case.check(cli("inspect", case.folder / "missing.csv", "-l", "y"), 4, "does not exist")


def test_unreadable_input_exits_4_even_as_root(case, cli, monkeypatch):
    # root reads any file, so the permission check is shown by making access() say no
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(case.src) else real(p, m))
    res = cli("apply", case.src, "-l", "y", "-s", "undersample", "-o", case.folder / "o.csv")
    case.check(res, 4, "is not readable (permission denied)")


def test_unreadable_input_exits_4():
    """A file of mode 000, for real: the command runs unprivileged even when the tests run
    as root (tests/privileges.py), since root reads files whatever their mode."""
    user = require()
    folder = shared_folder("rebalance-unreadable-")
    try:
        src = folder / "in.csv"
        mixed_frame({"no": 90, "yes": 10}).write_csv(src)
        src.chmod(0)
        out = folder / "o.csv"
        res = user.run("apply", src, "-l", "y", "-s", "undersample", "-o", out, env={})
        assert res.code == 4, (user.how, res.stderr)
        assert (
            res.stderr == f"rebalance: I/O error: input {src} is not readable (permission denied)\n"
        )
        assert listing(folder) == {"in.csv"}
    finally:
        shutil.rmtree(folder)


def test_refusals_exit_5(case, cli):
    existing = case.folder / "exists.csv"
    existing.write_text("keep me\n")
    case.before = listing(case.folder)
    base = ["apply", case.src, "-l", "y", "-s", "undersample"]
    case.check(cli(*base, "-o", existing), 5, "already exists (pass --force")
    assert existing.read_text() == "keep me\n"
    case.check(cli(*base, "-o", case.src, "--force"), 5, "is the input file")
    dotted = case.folder / "." / case.src.name
    case.check(cli(*base, "-o", dotted, "--force"), 5, "is the input file")
    link = case.folder / "link.csv"
    link.symlink_to(case.src)
    case.before = listing(case.folder)
    case.check(cli(*base, "-o", link, "--force"), 5, "is the input file")
    case.check(
        cli(*base, "-o", case.folder / "o.csv", "--report", case.src, "--force"),
        5,
        "is the input file",
    )
    # --force does replace an existing output, atomically
    res = cli(*base, "-o", existing, "--force", "--seed", "1")
    assert res.code == 0
    assert pl.read_csv(existing).height == 200


def test_report_path_equal_to_output_is_refused(case, cli):
    out = case.folder / "o.csv"
    case.check(
        cli("apply", case.src, "-l", "y", "-s", "undersample", "-o", out, "--report", out),
        2,
        "--report and -o name the same file",
    )


def test_check_failed_exits_6(case, cli):
    res = cli("inspect", case.src, "-l", "y", "--max-ratio", "5")
    assert res.code == 6
    assert "imbalance ratio 9 (no over yes) exceeds --max-ratio 5" in res.stderr
    assert "no" in res.stdout  # the distribution is still shown
    res = cli("inspect", case.src, "-l", "y", "--max-ratio", "9")
    assert res.code == 0


def test_internal_error_exits_1_with_one_line(case, cli, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("simulated")

    monkeypatch.setattr("rebalance_cli.samplers.select.RowSelector.copies", boom)
    monkeypatch.delenv("REBALANCE_DEBUG", raising=False)
    res = cli("apply", case.src, "-l", "y", "-s", "undersample", "-o", case.folder / "o.csv")
    case.check(res, 1, "internal error: ZeroDivisionError: simulated")


def _slow_input(tmp_path: Path) -> Path:
    rows = 400_000
    rng = np.random.default_rng(0)
    df = pl.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "y": np.where(rng.random(rows) < 0.1, "b", "a"),
        }
    )
    src = tmp_path / "big.csv"
    df.write_csv(src)
    return src


@pytest.mark.parametrize(
    ("sig", "code", "extra"),
    [
        (signal.SIGINT, 130, []),
        (signal.SIGTERM, 143, []),
        (signal.SIGTERM, 143, ["--shuffle"]),
        (signal.SIGINT, 130, ["--output-format", "ipc"]),
    ],
)
def test_signal_in_pass_2_removes_temp_files(tmp_path, sig, code, extra):
    src = _slow_input(tmp_path)
    d = digest(src)
    out = tmp_path / ("out.arrow" if "ipc" in extra else "out.csv")  # a name that fits the format
    proc = subprocess.Popen(
        argv(
            "apply",
            str(src),
            "-l",
            "y",
            "-s",
            "oversample",
            "-t",
            "b=3000000",
            "--chunk-size",
            "100",
            "-o",
            str(out),
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    deadline = time.monotonic() + 120
    while not any(
        p.name.endswith(".rebalance-tmp") or p.name.startswith(".rebalance-shuffle-")
        for p in tmp_path.iterdir()
    ):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # let pass 2 write some batches
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert b"stopped by SIG" in err
    assert len(err.decode().strip().splitlines()) == 1
    assert listing(tmp_path) == {"big.csv"}
    assert digest(src) == d

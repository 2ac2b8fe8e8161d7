"""What the commands print, for the reader at the other end.

In a pipe (every in-process ``cli`` run, and ``run_process``): one plain summary
line per ``apply`` on stderr, plain aligned text on stdout, no box, no wrapping.
On a terminal: a before -> after view, bars, progress. The terminal paths are
run two ways: in process with ``render.is_terminal`` patched (the check the code
uses), and in a real process on a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebalance_cli.cli import render
from rebalance_cli.evaluate import Step, evaluate, planned_fits
from rebalance_cli.samplers.smote import left_out_warning

from .conftest import REPO, argv, mixed_frame

TIME = r"\d+\.\d s"  # the run's seconds: the only part of a summary line that varies
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile("[\u2500-\u259f]")  # box drawing and block elements: bars, frames


def two_classes(tmp_path: Path, a: int = 30, b: int = 10, name: str = "in.csv") -> Path:
    path = tmp_path / name
    mixed_frame({"a": a, "b": b}).write_csv(path)
    return path


def on_terminal(monkeypatch: pytest.MonkeyPatch, *streams: str, columns: int = 100) -> None:
    """Make ``render`` take the named streams (``stdout``, ``stderr``) for a terminal."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(
        render, "is_terminal", lambda stream: any(stream is getattr(sys, s) for s in streams)
    )


def run_on_pty(*args: object, columns: int = 100, cwd: Path | None = None) -> tuple[int, str]:
    """Run `python -m rebalance_cli ARGS` with stdout and stderr on a pseudo-terminal
    of ``columns`` columns; the exit code and what the terminal got (escapes removed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": str(columns), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        argv(*args), stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    code = proc.wait(timeout=300)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")


# ---------------------------------------------------------------- one line in a pipe


def test_a_run_in_a_pipe_leaves_one_summary_line(cli, tmp_path: Path) -> None:
    src, out = two_classes(tmp_path), tmp_path / "out.parquet"
    res = cli("apply", src, "-l", "y", "-s", "undersample", "--seed", "1", "-o", out)
    assert res.code == 0 and res.stdout == ""
    assert re.fullmatch(
        rf"rebalance: wrote 20 rows \(a: 10, b: 10\) to {out} in {TIME}\n", res.stderr
    )


def test_the_summary_line_says_where_the_rows_went(cli, tmp_path: Path) -> None:
    src = two_classes(tmp_path, 40, 20)
    base = ("apply", src, "-l", "y", "--seed", "1")
    # stdout: named as such, not as "-"
    res = cli(*base, "-s", "undersample", "-o", "-")
    assert re.fullmatch(
        rf"rebalance: wrote 40 rows \(a: 20, b: 20\) to stdout in {TIME}\n", res.stderr
    )
    # a dry run: what it would write, and that nothing was
    res = cli(*base, "-s", "oversample", "--dry-run", "-o", tmp_path / "x.csv")
    line = rf"rebalance: dry run: would write 80 rows \(a: 40, b: 40\) to {tmp_path}/x.csv; "
    assert re.fullmatch(line + rf"nothing written \({TIME}\)\n", res.stderr)
    res = cli(*base, "-s", "oversample", "--dry-run")
    line = r"rebalance: dry run: would write 80 rows \(a: 40, b: 40\); nothing written"
    assert re.fullmatch(rf"{line} \({TIME}\)\n", res.stderr)
    assert not (tmp_path / "x.csv").exists()
    # bags: how many, of how many rows each, the first and the last file
    res = cli(*base, "-s", "undersample", "--bags", "3", "-o", tmp_path / "b-{bag}.csv")
    line = (
        rf"rebalance: wrote 3 bags of 40 rows \(a: 20, b: 20\) to {tmp_path}/b-1.csv "
        rf"… {tmp_path}/b-3.csv in {TIME}\n"
    )
    assert re.fullmatch(line, res.stderr)
    # the test split: its rows, counts and file too
    res = cli(*base, "-s", "undersample", "--test-size", "0.25", "--test-output",
              tmp_path / "t.csv", "-o", tmp_path / "tr.csv")  # fmt: skip
    line = (
        rf"rebalance: wrote 30 rows \(a: 15, b: 15\) to {tmp_path}/tr.csv and 15 test rows "
        rf"\(a: 10, b: 5\) to {tmp_path}/t.csv in {TIME}\n"
    )
    assert re.fullmatch(line, res.stderr)
    # weights: the rows are the input's, the column is named
    res = cli(*base, "-s", "weight", "-o", tmp_path / "w.csv")
    line = r"rebalance: wrote 60 rows \(a: 40, b: 20\) with weights in sample_weight to "
    assert re.fullmatch(rf"{line}{tmp_path}/w.csv in {TIME}\n", res.stderr)


def test_long_class_lists_are_folded(cli, tmp_path: Path) -> None:
    counts = {f"c{i:02d}": 5 + i for i in range(12)}
    src = tmp_path / "many.csv"
    mixed_frame(counts).write_csv(src)
    res = cli("apply", src, "-l", "y", "-s", "weight", "-o", tmp_path / "w.csv")
    shown = "c00: 5, c01: 6, c02: 7, c03: 8, c04: 9, … and 7 more classes"
    assert re.fullmatch(rf"rebalance: wrote 126 rows \({shown}\) with weights in .*\n", res.stderr)
    res = cli("apply", src, "-l", "y", "-s", "undersample", "-o", tmp_path / "u.csv")
    assert re.fullmatch(
        rf"rebalance: wrote 60 rows \(12 classes of 5 each\) to .* in {TIME}\n", res.stderr
    )


@given(
    st.dictionaries(
        st.text("abcxyz", min_size=1, max_size=4), st.integers(0, 10**9), min_size=1, max_size=40
    )
)
def test_counts_text_names_every_class_or_says_how_many_are_left(counts: dict[str, int]) -> None:
    text = render.counts_text(counts)
    items = list(counts.items())
    if len(items) <= render.SHOWN_CLASSES:
        assert text == ", ".join(f"{c}: {n:,}" for c, n in items)
    elif len(set(counts.values())) == 1:
        assert text == f"{len(items):,} classes of {items[0][1]:,} each"
    else:
        shown = items[: render.SHOWN_CLASSES - 1]
        assert text.startswith(", ".join(f"{c}: {n:,}" for c, n in shown) + ", … and ")
        assert text.endswith(f" {len(items) - len(shown):,} more classes")


# ---------------------------------------------------------------- -q: errors only


def test_quiet_prints_nothing_but_keeps_the_warnings_in_the_report(cli, tmp_path: Path) -> None:
    src = two_classes(tmp_path)
    warned = ("apply", src, "-l", "y", "-s", "undersample", "-k", "3", "--seed", "1")
    loud = cli(*warned, "-o", tmp_path / "loud.csv")
    warning = "rebalance: warning: --k-neighbors is used by smote only and was ignored\n"
    assert loud.stderr.startswith(warning)  # the warning a quiet run must not print
    res = cli(*warned, "-q", "-o", tmp_path / "o.csv", "--report", tmp_path / "r.json")
    assert (res.code, res.stdout, res.stderr) == (0, "", "")
    report = json.loads((tmp_path / "r.json").read_text())
    assert "--k-neighbors is used by smote only and was ignored" in report["warnings"]
    res = cli(*warned, "-q", "--json", "-o", tmp_path / "j.csv")
    assert (res.code, res.stderr) == (0, "")
    assert json.loads(res.stdout)["warnings"] == report["warnings"]
    # a dry run's plan is what was asked for: it stays on stdout
    res = cli(*warned, "-q", "--dry-run")
    assert res.stderr == "" and res.stdout.splitlines()[1:] == [
        "class  before  after",
        "a          30     10",
        "b          10     10",
        "total      40     20",
    ]


def test_quiet_is_silent_in_a_real_process_too(tmp_path: Path) -> None:
    src = two_classes(tmp_path)
    proc = subprocess.run(
        argv(
            "apply", src, "-l", "y", "-s", "undersample", "-k", "3", "-q", "-o", tmp_path / "o.csv"
        ),
        capture_output=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


# ---------------------------------------------------------------- folded warnings


def test_fold_warnings() -> None:
    one_per_group = [left_out_warning(i + 1, f"g={g} / b") for i, g in enumerate("pqrs")]
    assert render.fold_warnings(one_per_group) == [  # 1 row and 2 rows: the same kind
        "1 row of class 'g=p / b' with a null, NaN or infinite feature was left out of the "
        "SMOTE seeds (--lenient) … and 3 more groups"
    ]
    several = [left_out_warning(2, f"g={g} / {c}") for g in "pq" for c in "bc"]
    assert render.fold_warnings(several) == [
        "2 rows of class 'g=p / b' with a null, NaN or infinite feature were left out of the "
        "SMOTE seeds (--lenient) … and 3 more, in 2 groups"
    ]
    plain = ["column 'x' is constant", "column 'y' is constant", "other", "column 'z' is constant"]
    assert render.fold_warnings([*plain, "other"]) == [
        "column 'x' is constant … and 2 more like it",
        "other",  # said twice in the same words: once
    ]
    two = ["class 'a' has 5 rows", "class 'b' has 6 rows"]
    assert render.fold_warnings(two) == two  # two are both said
    assert render.fold_warnings(["once"]) == ["once"]


def test_repeated_warnings_of_a_by_run_are_said_once(cli, tmp_path: Path) -> None:
    """``--by`` with SMOTE, --lenient, and bad features in every group: one warning
    per (group, class) in the report, one line on stderr."""
    rng = np.random.default_rng(3)
    n = 8 * 40
    frame = pl.DataFrame(
        {
            "g": np.repeat([f"site{i}" for i in range(8)], 40),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "y": np.tile(["a"] * 30 + ["b"] * 10, 8),
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) % 40 == 35).then(None).otherwise(pl.col("x")).alias("x")
    )
    src = tmp_path / "sites.csv"
    frame.write_csv(src)
    res = cli("apply", src, "-l", "y", "-s", "smote", "--by", "g", "--lenient", "--seed", "1",
              "-k", "3", "-o", tmp_path / "o.csv", "--report", tmp_path / "r.json")  # fmt: skip
    assert res.code == 0, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == (
        "rebalance: warning: 1 row of class 'g=site0 / b' with a null, NaN or infinite "
        "feature was left out of the SMOTE seeds (--lenient) … and 7 more groups"
    )
    assert len(lines) == 2 and lines[1].startswith("rebalance: wrote 480 rows ")
    report = json.loads((tmp_path / "r.json").read_text())
    assert len([w for w in report["warnings"] if "left out of the SMOTE seeds" in w]) == 8


# ---------------------------------------------------------------- plain text in a pipe


def _narrow(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "20", "TERM": "xterm", "FORCE_COLOR": "1"}
    return subprocess.run(argv(*args), capture_output=True, text=True, env=env, timeout=120)


def test_inspect_and_a_dry_run_in_a_pipe_are_plain_and_never_wrapped(tmp_path: Path) -> None:
    long = "a class name far longer than a narrow terminal"
    src = tmp_path / "long.csv"
    mixed_frame({long: 99, "b": 1}).write_csv(src)
    proc = _narrow("inspect", src, "-l", "y")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == (
        "label: y\n"
        "class                                           count   share\n"
        "a class name far longer than a narrow terminal     99  99.00%\n"
        "b                                                   1   1.00%\n"
        f"rows: 100   classes: 2   majority: {long}   minority: b   imbalance ratio: 99.00\n"
    )
    proc = _narrow("apply", src, "-l", "y", "-s", "undersample", "--seed", "5", "--dry-run")
    assert proc.returncode == 0
    assert proc.stdout == (
        f"undersample of {src}, seed 5 (dry run: nothing written)\n"
        "class                                           before  after\n"
        "a class name far longer than a narrow terminal      99      1\n"
        "b                                                    1      1\n"
        "total                                              100      2\n"
    )
    assert re.fullmatch(
        rf"rebalance: dry run: would write 2 rows \({long}: 1, b: 1\); nothing written "
        rf"\({TIME}\)\n",
        proc.stderr,
    )
    assert not BOX.search(proc.stdout + proc.stderr) and "\x1b" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- on a terminal


@given(st.floats(0, 1), st.floats(0, 1))
def test_a_bar_shows_any_share_above_zero(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    small, big = render.bar(lo), render.bar(hi)
    assert (small == "") == (lo == 0)
    assert len(small) <= len(big) <= render.BAR_WIDTH
    assert set(big) <= set(render.EIGHTHS[1:]) | {"█"}


def test_inspect_on_a_terminal_draws_a_bar_for_a_one_percent_class(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "skew.csv"
    mixed_frame({"big": 99, "tiny": 1}).write_csv(src)
    on_terminal(monkeypatch, "stdout")
    res = cli("inspect", src, "-l", "y")
    assert res.code == 0
    rows = {line.split()[1]: line for line in res.stdout.splitlines() if "%" in line}
    assert "█" * render.BAR_WIDTH in rows["big"]
    assert re.search(r" 1\.00% │ ▎ +│$", rows["tiny"])  # 1/99 of 30 cells, to an eighth


@pytest.mark.parametrize("columns", [80, 60])
def test_inspect_fits_an_80_column_terminal(columns: int) -> None:
    """The line under the table is split between its fields when it would wrap (the sample
    tickets' was 84 columns: "imbalance ratio:" at the end, its number on the next line)."""
    src = REPO / "sample_data" / "support_tickets.parquet"
    code, shown = run_on_pty("inspect", src, "-l", "priority", columns=columns)
    assert code == 0
    lines = shown.rstrip("\n").splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns, lines
    fields = "   ".join(lines[lines.index(next(x for x in lines if x.startswith("rows: "))) :])
    assert fields.split("   ") == [
        "rows: 4,000", "classes: 4", "majority: low", "minority: critical",
        "imbalance ratio: 34.49",
    ]  # fmt: skip
    code, wide = run_on_pty("inspect", src, "-l", "priority", columns=120)
    assert wide.rstrip("\n").splitlines()[-1] == (
        "rows: 4,000   classes: 4   majority: low   minority: critical   imbalance ratio: 34.49"
    )


def test_apply_on_a_terminal_shows_before_and_after(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = two_classes(tmp_path), tmp_path / "o.csv"
    on_terminal(monkeypatch, "stderr")
    res = cli("apply", src, "-l", "y", "-s", "undersample", "--seed", "2", "-o", out,
              "--report", tmp_path / "r.json")  # fmt: skip
    assert res.code == 0 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0] == f"undersample of {src}, seed 2"
    assert [line.split() for line in lines[1:5]] == [
        ["class", "before", "after"],
        ["a", "30", "→", "10"],
        ["b", "10", "→", "10"],
        ["total", "40", "→", "20"],
    ]
    assert re.fullmatch(
        rf"wrote 20 rows to {out} in {TIME} \(20 dropped\); report in {tmp_path}/r.json", lines[5]
    )
    assert len(lines) == 6 and "rebalance: wrote" not in res.stderr


def test_a_terminal_folds_a_long_class_table(cli, tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "many.csv"
    mixed_frame({f"k{i:02d}": 3 for i in range(30)}).write_csv(src)
    on_terminal(monkeypatch, "stderr")
    res = cli("apply", src, "-l", "y", "-s", "undersample", "-o", tmp_path / "o.csv")
    rows = [line.split() for line in res.stderr.splitlines()]
    assert ["k18", "3", "→", "3"] in rows and ["k19", "3", "→", "3"] not in rows
    assert ["…", "11", "more", "classes"] in rows and ["total", "90", "→", "90"] in rows


def test_a_real_terminal_gets_the_view_and_no_plain_line(tmp_path: Path) -> None:
    src = tmp_path / "skew.csv"
    mixed_frame({"big": 99, "tiny": 1}).write_csv(src)
    code, shown = run_on_pty("inspect", src, "-l", "y")
    assert code == 0
    assert any(line.count("█") == render.BAR_WIDTH for line in shown.splitlines())
    assert any("tiny" in line and "▎" in line for line in shown.splitlines())
    code, shown = run_on_pty("apply", src, "-l", "y", "-s", "undersample", "-o", tmp_path / "o.csv")
    assert code == 0
    assert ["big", "99", "→", "1"] in [line.split() for line in shown.splitlines()]
    assert "rebalance: wrote" not in shown and "wrote 2 rows to " in shown


# ---------------------------------------------------------------- evaluate


def _numeric(n_major: int = 80, n_minor: int = 20) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    y = np.array(["a"] * n_major + ["b"] * n_minor)[rng.permutation(n_major + n_minor)]
    return pl.DataFrame(
        {"f1": rng.normal(size=y.size) + (y == "b"), "f2": rng.normal(size=y.size), "y": y}
    )


def test_evaluate_in_a_pipe_says_each_fold_as_it_ends(cli, tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    _numeric().write_csv(src)
    base = ("evaluate", src, "-l", "y", "--strategies", "undersample", "--folds", "2",
            "--repeats", "2", "--seed", "3")  # fmt: skip
    res = cli(*base)
    assert res.code == 0
    lines = res.stderr.splitlines()
    score = r"\d\.\d{3}"
    for i, (repeat, fold) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)]):
        assert re.fullmatch(
            rf"rebalance: evaluate: fold {fold} of repeat {repeat} done \({3 * (i + 1)}/12 fits\) "
            rf"in {TIME}; average_precision: none {score}, none\+threshold {score}, "
            rf"class-weight {score}, undersample {score}",
            lines[i],
        ), lines[i]
    assert len(lines) == 8
    quiet = cli(*base, "-q")
    assert (quiet.code, quiet.stderr) == (0, "")
    assert quiet.stdout.split("verdict")[1] == res.stdout.split("verdict")[1]  # same scores


def test_evaluate_steps_name_the_strategy_repeat_and_fold() -> None:
    steps: list[Step] = []
    evaluate(
        _numeric(), label="y", strategies="smote", folds=2, repeats=1, seed=1, steps=steps.append
    )
    said = [(s.strategy, s.repeat, s.fold, s.done) for s in steps if not s.finished]
    assert said == [
        ("", 1, 1, 0), ("none", 1, 1, 0), ("class-weight", 1, 1, 1), ("smote", 1, 1, 2),
        ("", 1, 2, 3), ("none", 1, 2, 3), ("class-weight", 1, 2, 4), ("smote", 1, 2, 5),
    ]  # fmt: skip
    ends = [s for s in steps if s.finished]
    assert [(s.fold, s.done, list(s.scores)) for s in ends] == [
        (f, 3 * f, ["none", "none+threshold", "class-weight", "smote"]) for f in (1, 2)
    ]
    assert render.step_text(steps[3]) == "repeat 1, fold 1: smote"
    assert render.step_text(steps[0]) == "repeat 1, fold 1: encoding"
    assert render.step_text(ends[0]) == "repeat 1, fold 1 done"  # not the fold's last fit
    assert {s.total for s in steps} == {planned_fits("smote", 2, 1)} == {6}


def test_evaluate_in_a_pipe_ends_with_a_line_per_strategy(cli, tmp_path: Path) -> None:
    """After the fold lines, one plain line per strategy: its primary metric as the tables
    show it, its fit time against none's, and the one the verdict recommends."""
    src = tmp_path / "d.csv"
    _numeric(160, 40).write_csv(src)
    res = cli("evaluate", src, "-l", "y", "--strategies", "undersample,smote", "--folds", "3",
              "--repeats", "2", "--seed", "3", "--json")  # fmt: skip
    assert res.code == 0
    doc = json.loads(res.stdout)
    lines = res.stderr.splitlines()
    assert len(lines) == 6 + 5 and all(" fold " in line for line in lines[:6])
    names = ["none", "none+threshold", "class-weight", "undersample", "smote"]
    for name, line, entry in zip(names, lines[6:], doc["strategies"], strict=True):
        assert entry["name"] == name
        ap = entry["metrics"]["average_precision"]
        expected = (
            f"rebalance: evaluate: {name} done: average_precision {ap['mean']:.3f} ± "
            f"{ap['std']:.3f} over 2 repeats of 3 folds, fit time "
        )
        assert line.startswith(expected), (line, expected)
        assert re.fullmatch(r"\d+\.\d\dx none's(; recommended)?", line[len(expected) :]), line
        assert line.endswith("; recommended") == (name == doc["verdict"]["recommended"])
        assert "│" not in line and "─" not in line
    quiet = cli("evaluate", src, "-l", "y", "--strategies", "smote", "--folds", "3", "-q")
    assert (quiet.code, quiet.stderr) == (0, "")


def test_the_evaluate_bar_knows_its_total_from_the_start(tmp_path: Path) -> None:
    """On a terminal: out of the run's fits from the first frame (not 0/?), and a finished
    fold says so rather than repeating its last fit."""
    src = tmp_path / "d.csv"
    _numeric().write_csv(src)
    code, shown = run_on_pty("evaluate", src, "-l", "y", "--strategies", "undersample",
                             "--folds", "2", "--repeats", "2", "--seed", "3")  # fmt: skip
    assert code == 0
    frames = [line for line in shown.splitlines() if " fits" in line]
    assert frames and all(re.search(r" \d+/12 fits", line) for line in frames), frames
    assert "/?" not in shown and "starting" not in shown
    assert re.search(r"^reading .* 0/12 fits", frames[0]), frames[0]
    assert "repeat 1, fold 1 done" in shown
    assert "rebalance: evaluate:" not in shown  # the lines are for pipes


@pytest.mark.parametrize("width", [160, 100, 60])
def test_the_evaluate_table_fits_the_terminal_without_wrapping_a_cell(width: int) -> None:
    from io import StringIO

    from rich.console import Console

    result = evaluate(
        _numeric(), label="y", strategies="undersample,smote", folds=2, repeats=2, seed=1
    )
    buf = StringIO()
    render.render_rich(result, Console(file=buf, width=width, color_system=None))
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    end = next(i for i, line in enumerate(lines) if line.startswith("mean ± standard"))
    table = [line.split() for line in lines[:end]]  # the tables, not the wrapped prose after
    heads = [row for row in table if row[:1] == ["strategy"]]
    names = [name for _, name in render.COLUMNS]
    assert [n for row in heads for n in row if n in names] == names  # every metric, once
    for s in result.strategies:  # every row of every part on one line, every cell whole
        rows = [row for row in table if row[:1] == [s]]
        assert len(rows) == len(heads)
        assert sum(" ".join(row).count("±") for row in rows) == len(names)
    if width == 160:
        assert len(heads) == 1


def test_evaluate_on_a_real_terminal_shows_where_it_is(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    _numeric().write_csv(src)
    code, shown = run_on_pty("evaluate", src, "-l", "y", "--strategies", "oversample",
                             "--folds", "2", "--repeats", "1", "--seed", "1")  # fmt: skip
    assert code == 0
    assert "repeat 1, fold 2: oversample" in shown
    assert "rebalance: evaluate: fold" not in shown

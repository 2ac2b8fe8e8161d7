"""The command line surface: version, inspect output, help, warnings."""

from __future__ import annotations

import json

from rebalance_cli import __version__
from tests.conftest import mixed_frame, run_process


def test_version(cli):
    res = cli("--version")
    assert res.code == 0 and res.stdout.strip() == f"rebalance {__version__}"


def test_python_dash_m_works():
    res = run_process("--version")
    assert res.code == 0 and res.stdout.startswith("rebalance ")


def test_inspect_table(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 70, "b": 20, "c": 10}), "in.parquet")
    res = cli("inspect", src, "-l", "y")  # not a terminal: plain aligned text, no bars
    assert res.code == 0
    assert res.stdout == (
        "label: y\n"
        "class  count   share\n"
        "a         70  70.00%\n"
        "b         20  20.00%\n"
        "c         10  10.00%\n"
        "rows: 100   classes: 3   majority: a   minority: c   imbalance ratio: 7.00\n"
    )


def test_inspect_json(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 70, "b": 20, "c": 10}), "in.csv")
    res = cli("inspect", src, "-l", "y", "--json")
    assert res.code == 0
    doc = json.loads(res.stdout)
    assert doc["rows"] == 100
    assert doc["classes"] == [
        {"class": "a", "count": 70, "share": 0.7},
        {"class": "b", "count": 20, "share": 0.2},
        {"class": "c", "count": 10, "share": 0.1},
    ]
    assert doc["imbalance_ratio"] == 7.0
    assert doc["majority"] == "a" and doc["minority"] == "c"


def test_inspect_counts_null_labels_without_failing(tmp_path, cli):
    src = tmp_path / "n.csv"
    src.write_text("x,y\n1,a\n2,\n3,b\n4,a\n")
    res = cli("inspect", src, "-l", "y", "--json")
    assert res.code == 0
    assert json.loads(res.stdout)["null_labels"] == 1


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path, write_data, cli):
    src = write_data(mixed_frame({"a": 50, "b": 50}), "in.csv")
    res = cli(
        "apply",
        src,
        "-l",
        "y",
        "-s",
        "undersample",
        "--features",
        "age",
        "-o",
        tmp_path / "o.csv",
        "--seed",
        "1",
    )
    assert res.code == 0
    assert "rebalance: warning: --features is used by smote, tomek and enn only" in res.stderr
    assert "rebalance: warning: --target auto changes nothing" in res.stderr


def test_quiet_pipe_output_is_data_only(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 50, "b": 10}), "in.csv")
    res = run_process("apply", src, "-l", "y", "-s", "oversample", "-o", "-", "--seed", "2", "-q")
    assert res.code == 0
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[0].startswith("id,age,") and len(lines) == 101

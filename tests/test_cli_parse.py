"""The command line itself: option values, parse errors, and what a run imports."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebalance_cli.cli.coerce import coerce, install

from .conftest import listing


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "in.csv"
    pl.DataFrame({"x": list(range(30)), "y": ["a"] * 20 + ["b"] * 10}).write_csv(path)
    return path


@pytest.mark.parametrize(
    "flags,fragment",
    [
        (["--seed", "abc"], "Invalid value for '--seed': 'abc' is not a whole number"),
        (["--seed", "2.5"], "Invalid value for '--seed': '2.5' is not a whole number"),
        (["-k", "many"], "Invalid value for '--k-neighbors' / '-k': 'many' is not a whole number"),
        (["--shrinkage", "1e"], "Invalid value for '--shrinkage': '1e' is not a number"),
        (["--chunk-size", ""], "Invalid value for '--chunk-size': '' is not a whole number"),
        (["--frobnicate"], "No such option: --frobnicate"),
        (["--seed"], "Option '--seed' requires an argument."),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_2(cli, data, tmp_path, flags, fragment):
    before = listing(tmp_path)
    res = cli("apply", data, "-l", "y", "-s", "undersample", "-o", tmp_path / "o.csv", *flags)
    assert res.code == 2
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("rebalance: usage error: ")
    assert fragment in res.stderr
    assert res.stderr.rstrip().endswith("(see rebalance apply -h)")
    assert res.stdout == ""
    assert listing(tmp_path) == before


def test_a_missing_argument_is_one_line(cli):
    res = cli("apply")
    assert (res.code, res.stderr) == (
        2,
        "rebalance: usage error: Missing argument 'data'. (see rebalance apply -h)\n",
    )


def test_no_command_prints_a_short_usage_and_exits_2(cli):
    res = cli()
    assert (res.code, res.stdout) == (2, "")
    assert res.stderr == (
        "Usage: rebalance [OPTIONS] COMMAND [ARGS]...\n"
        "Commands: inspect, apply, evaluate.\n"
        "Try 'rebalance -h' for help, or 'rebalance COMMAND -h' for a command's options.\n"
    )


def test_help_and_version_exit_0(cli):
    assert cli("apply", "-h").code == 0
    res = cli("--version")
    assert res.code == 0 and res.stdout.startswith("rebalance ")


def test_values_from_flags_env_and_config_are_typed(cli, data, tmp_path, monkeypatch):
    (tmp_path / "rebalance.toml").write_text("[apply]\nk-neighbors = 3.0\nshuffle = 'yes'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REBALANCE_SEED", " 12 ")
    report = tmp_path / "r.json"
    res = cli(
        "apply", data, "-l", "y", "-s", "smote", "-o", "o.csv", "--report", report,
        "--chunk-size", "7",
    )  # fmt: skip
    assert res.code == 0, res.stderr
    doc = json.loads(report.read_text())
    settings = doc["settings"]
    assert settings["seed"] == {"value": 12, "source": "env:REBALANCE_SEED"}
    assert settings["k_neighbors"]["value"] == 3
    assert settings["shuffle"]["value"] is True
    assert settings["chunk_size"] == {"value": 7, "source": "flag"}
    assert doc["parameters"]["k_neighbors"] == 3 and doc["parameters"]["shuffle"] is True


def test_a_bad_env_value_names_the_variable(cli, data, tmp_path, monkeypatch):
    monkeypatch.setenv("REBALANCE_SHUFFLE", "maybe")
    res = cli("apply", data, "-l", "y", "-s", "undersample", "-o", tmp_path / "o.csv")
    assert res.code == 2
    assert res.stderr == (
        "rebalance: usage error: environment variable REBALANCE_SHUFFLE = 'maybe' is not "
        "valid for --shuffle: 'maybe' is not true or false\n"
    )


def test_a_run_does_not_import_pydantic_or_rich(data, tmp_path):
    """typer's own coercion imports pydantic (~0.1 s a run); ours does not."""
    code = (
        "import sys\n"
        "from rebalance_cli.cli import main\n"
        "try:\n"
        f"    main(['apply', {str(data)!r}, '-l', 'y', '-s', 'oversample', '--seed', '4',\n"
        f"          '-o', {str(tmp_path / 'o.parquet')!r}, '-q'])\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, 'pydantic' in sys.modules, 'rich' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split() == ["0", "False", "False"], proc.stderr
    assert pl.read_parquet(tmp_path / "o.parquet")["y"].value_counts().height == 2


def test_the_hook_is_installed():
    assert install() is True
    assert install() is True  # idempotent


@given(st.integers())
def test_whole_numbers_round_trip(n):
    assert coerce(int, str(n)) == n
    assert coerce(int, f" {n} ") == n
    assert coerce(int, n) == n


@given(st.floats(allow_nan=False))
def test_numbers_round_trip(x):
    assert coerce(float, repr(x)) == x
    assert coerce(float, x) == x


@pytest.mark.parametrize(
    "annotation,value,want",
    [
        (bool, "Yes", True),
        (bool, "off", False),
        (bool, "0", False),
        (bool, True, True),
        (int, 7.0, 7),
        (str, 5000, "5000"),
        (float, 3, 3.0),
    ],
)
def test_coerce_accepts(annotation, value, want):
    got = coerce(annotation, value)
    assert got == want and type(got) is annotation


@pytest.mark.parametrize(
    "annotation,value,message",
    [
        (int, True, "True is not a whole number"),
        (int, 7.5, "7.5 is not a whole number"),
        (int, "0x10", "'0x10' is not a whole number"),
        (float, "nanx", "'nanx' is not a number"),
        (float, 10**400, f"{10**400!r} is not a number"),
        (bool, "2", "'2' is not true or false"),
        (str, True, "True is not a string"),
        (str, [1], "[1] is not a string"),
    ],
)
def test_coerce_refuses(annotation, value, message):
    with pytest.raises(ValueError) as info:
        coerce(annotation, value)
    assert str(info.value) == message

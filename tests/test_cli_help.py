"""The command line a newcomer meets: start-up imports, --help, did-you-mean, the reference.

- start-up: ``--version``, ``--help`` and each command's ``--help`` import no polars, numpy,
  pyarrow, scikit-learn, pandas, pyspark or rich (checked with ``python -X importtime`` in a
  real process, which lists every module it imports);
- help: panels in the declared order, every declared option listed once, no placeholder on an
  on/off flag, bracketed words kept, lines that fit 80 columns, examples that parse;
- did-you-mean: for a misspelled flag, command, strategy, classifier, metric, --grow-with,
  --target keyword, format, config key (with its table outside every table), ``REBALANCE_*``
  variable, and a true/false value where none is taken;
- docs/cli.md is the help as it is now (``make cli-reference`` regenerates it).
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import polars as pl
import pytest
import typer

from rebalance_cli import __version__
from rebalance_cli import strategies as registry
from rebalance_cli.cli.help import EXAMPLES, WIDTH, reference
from rebalance_cli.cli.options import APPLY, COMMANDS, EVALUATE, INSPECT, Flag
from rebalance_cli.errors import did_you_mean

from .conftest import REPO, listing, run_process

APP = importlib.import_module("rebalance_cli.cli.app")  # (rebalance_cli.cli.app is the Typer)
HEAVY = {"polars", "numpy", "pyarrow", "sklearn", "scipy", "pandas", "pyspark", "rich", "pydantic"}
# answered from the declarations, before typer is imported
WITHOUT_TYPER = [["--version"], ["--help"], ["-h"], [], ["inspect", "--help"],
                 ["apply", "--help"], ["evaluate", "-h"], ["--version", "-h"], ["-h", "--version"],
                 ["apply", "data.csv", "--help"], ["inspect", "-l", "y", "-h"],
                 ["apply", "-l", "y", "--help"], ["evaluate", "data.csv", "-k", "3", "-fh"],
                 ["apply", "data.csv", "-h", "extra"]]  # fmt: skip
# through typer: click stops at an error before the help (one usage line, exit 2)
WITH_TYPER = [["apply", "--bogus", "-h"], ["inspect", "-h", "--label"]]


def _imports(args: list[str]) -> tuple[int, set[str]]:
    """The exit code of `python -X importtime -m rebalance_cli ARGS` and every module it
    imported (dotted names and their top-level packages)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBALANCE_")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rebalance_cli", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "80"},
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc.returncode, names | {n.split(".")[0] for n in names}


@pytest.mark.parametrize("args", WITHOUT_TYPER + WITH_TYPER, ids=" ".join)
def test_help_and_version_import_no_data_library(args):
    code, modules = _imports(args)
    assert code == (2 if args == [] or args in WITH_TYPER else 0)
    assert "rebalance_cli.cli" in modules  # the listing is real
    assert modules & HEAVY == set()


@pytest.mark.parametrize("args", WITHOUT_TYPER, ids=" ".join)
def test_help_version_and_usage_are_answered_without_typer(args):
    _, modules = _imports(args)
    assert "typer" not in modules and "rebalance_cli.cli.app" not in modules


@pytest.mark.parametrize(
    "args", [a for a in WITHOUT_TYPER + WITH_TYPER if not {"apply", "evaluate"} & set(a)],
    ids=" ".join,
)  # fmt: skip
def test_help_of_a_command_without_strategies_looks_up_no_plugin(args):
    """The registry's entry points (importlib.metadata, ~0.03 s) are read only by the
    command that runs and needs them (apply, evaluate)."""
    _, modules = _imports(args)
    assert "importlib.metadata" not in modules


def _through_typer(*args: str):
    """`rebalance ARGS` in a real process, parsed by typer (the early answer skipped)."""
    code = "import sys; from rebalance_cli.cli.app import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    "args",
    [["apply", "data.csv", "--help"], ["inspect", "-l", "y", "-h"], ["--version", "-h"],
     ["-h", "--version"], ["--version", "nope"], ["-h", "apply"], ["apply", "-fh"],
     ["apply", "-hf", "x.csv"], ["apply", "-ol", "-h"], ["apply", "-", "-h"],
     ["evaluate", "x.csv", "--repeats", "2", "-h", "extra", "words"],
     ["apply", "--grow-with", "smote", "--strict", "-h"],
     # -h as an option's value, after --, or beside an error: no help, the same error
     ["apply", "-o", "-h", "x.csv"], ["apply", "--label=-h", "x.csv"], ["apply", "-l-h", "x.csv"],
     ["apply", "--", "-h"], ["apply", "-h", "--label"], ["apply", "-h", "--strict=x"],
     ["apply", "--bogus", "-h"], ["--version", "--bogus"]],
    ids=" ".join,
)  # fmt: skip
def test_typer_and_the_early_answer_print_the_same(args):
    """Real processes (a terminal width from COLUMNS; typer's test runner forces 80): the
    early answer reads the command line as click does (which of --version and -h comes first,
    which options take a value)."""
    first, typer_said = run_process(*args), _through_typer(*args)
    assert (first.code, first.stdout, first.stderr) == typer_said
    if first.code == 0:
        assert first.stdout.startswith(("Usage: ", "rebalance "))


@pytest.mark.parametrize(
    "args,same_as",
    [(["apply", "data.csv", "-l", "y", "--help"], ["apply", "--help"]),
     (["--version", "-h"], ["--version"]), (["-h", "--version"], ["--help"])],
)  # fmt: skip
def test_help_after_other_words_is_the_commands_help(args, same_as):
    first, second = run_process(*args), run_process(*same_as)
    assert first.code == second.code == 0 and first.stdout == second.stdout


def test_the_api_is_imported_on_first_use_and_typed():
    code = (
        "import sys\n"
        "import rebalance_cli\n"
        "light = not {'polars', 'numpy', 'pyarrow'} & set(sys.modules)\n"
        "from rebalance_cli import make_plan, rebalance, resample_frame, inspect, Report\n"
        "print(light, 'polars' in sys.modules, rebalance.__module__, make_plan.__module__,\n"
        "      Report.__module__, sorted(set(rebalance_cli.__all__) - set(dir(rebalance_cli))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split() == [
        "True", "True", "rebalance_cli.api", "rebalance_cli.plan", "rebalance_cli.report", "[]"
    ], proc.stderr  # fmt: skip


@pytest.mark.parametrize("args", [["--version"], ["--version", "-h"], ["--version", "apply"]])
def test_version_is_the_installed_distribution(cli, args):
    """`--version` is answered before typer is imported, also before other words (click's
    eager option would answer it the same way)."""
    assert __version__ == metadata.version("rebalance-cli")
    res = cli(*args)
    assert (res.code, res.stdout, res.stderr) == (0, f"rebalance {__version__}\n", "")


# --- the help --------------------------------------------------------------------------------


def _help(cli, *args: str) -> str:
    res = cli(*args, "--help")
    assert (res.code, res.stderr) == (0, ""), res.stderr
    return res.stdout


def _headings(text: str) -> list[str]:
    return re.findall(r"^(\S[^\n]*):$", text, flags=re.M)


@pytest.mark.parametrize(
    "command,headings",
    [
        ((), ["Commands", "Options", "Examples"]),
        (("inspect",), ["Input", "Check", "Output", "Limits", "Engine and settings", "Examples"]),
        (
            ("apply",),
            [
                "Strategies",
                "Input",
                "Target",
                "Strategy options",
                "Output",
                "Stages",
                "Limits",
                "Engine and settings",
                "Examples",
            ],
        ),
        (("evaluate",), ["Input", "Evaluation", "Output", "Settings", "Examples"]),
    ],
)
def test_help_shows_the_panels_in_order_and_ends_with_examples(cli, command, headings):
    text = _help(cli, *command)
    assert text.startswith(f"Usage: rebalance {' '.join(command)}".replace("  ", " "))
    assert _headings(text) == headings
    examples = text.split("\nExamples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith("  rebalance ") for line in examples)


def _declared(spec) -> list[Flag]:
    return [f for f in spec.resolved() if not f.argument]


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_every_declared_option_is_listed_once_with_its_placeholder(cli, spec):
    text = _help(cli, spec.name)
    for flag in _declared(spec):
        head = r"^ {2}(?:-\w, | {4})" + re.escape(flag.long) + r"(?![\w-])(.*)$"
        lines = re.findall(head, text, flags=re.M)
        if flag.hidden:
            assert lines == [] and flag.long not in text
            continue
        assert len(lines) == 1, (flag.long, lines)
        rest = lines[0]
        if flag.type is bool:  # an on/off flag shows no placeholder
            assert re.match(r"( / --[\w-]+)? {2,}\S", rest), (flag.long, rest)
        else:
            assert rest.startswith(f" {flag.placeholder}  "), (flag.long, rest)
    assert "<bool>" not in text and re.search(r"<\w+>", text) is None


def test_bracketed_words_are_kept(cli):
    apply = " ".join(_help(cli, "apply").split())
    for words in ("needs the [spark] extra", "(its [apply] table)", "local[4]", "a {bag} name"):
        assert words in apply
    assert "(its [inspect] table)" in " ".join(_help(cli, "inspect").split())
    assert "(its [evaluate] table)" in " ".join(_help(cli, "evaluate").split())


def test_apply_help_lists_the_registered_strategies(cli):
    text = _help(cli, "apply")
    strategies = text.split("\nStrategies:\n", 1)[1].split("\n\n", 1)[0]
    names = re.findall(r"^  (\w+) ", strategies, flags=re.M)
    assert names == list(registry.names())
    assert names[: len(registry.built_in())] == [s.name for s in registry.built_in()]
    listed = f"One of: {', '.join(names)} (see Strategies above)."
    assert listed in " ".join(text.split())


@pytest.mark.parametrize("command", [(), *((s.name,) for s in COMMANDS)], ids=str)
def test_help_fits_80_columns(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")
    lines = _help(cli, *command).splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)


def _parse(example: str) -> None:
    """Parse an example command line as `rebalance` would (without running it)."""
    words = shlex.split(example, comments=True)
    assert words[0] == "rebalance"
    APP.bind_all(None)
    group = typer.main.get_command(APP.app)
    if words[1] not in group.commands:  # type: ignore[attr-defined]
        group.make_context("rebalance", words[1:])
        return
    command = group.commands[words[1]]  # type: ignore[attr-defined]
    root = group.make_context("rebalance", words[1:2], resilient_parsing=True)
    try:
        ctx = command.make_context(words[1], words[2:], parent=root)
    except typer.Exit:  # -h
        return
    assert ctx.params["data"]
    assert ctx.params["label"]


@pytest.mark.parametrize(
    "example", [*EXAMPLES, *(e for s in COMMANDS for e in s.examples)], ids=lambda e: e[:60]
)
def test_every_example_in_the_help_parses(example):
    _parse(example)


def test_an_example_with_an_unknown_flag_would_not_parse():
    with pytest.raises(Exception, match="No such option: --sed"):
        _parse("rebalance apply train.csv -l y --sed 7")


# --- did you mean ----------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "in.csv"
    pl.DataFrame({"x": list(range(30)), "y": ["a"] * 20 + ["b"] * 10}).write_csv(path)
    return path


ERR = "rebalance: usage error: "


@pytest.mark.parametrize(
    "args,line",
    [
        (["apply", "{data}", "-l", "y", "--sed", "3"],
         "No such option: --sed (did you mean --seed? see rebalance apply -h)"),
        (["apply", "{data}", "-l", "y", "--k-neighbours", "3"],
         "No such option: --k-neighbours (did you mean --k-neighbors? see rebalance apply -h)"),
        (["inspect", "{data}", "--lable", "y"],
         "No such option: --lable (did you mean --label? see rebalance inspect -h)"),
        (["--verison"], "No such option: --verison (did you mean --version? see rebalance -h)"),
        (["aply", "{data}"], "No such command 'aply'. (did you mean apply? see rebalance -h)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "--shuffle=True"],
         "Option '--shuffle' does not take a value. (--shuffle is an on/off flag: give "
         "--shuffle alone to turn it on; see rebalance apply -h)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "--dry-run=false"],
         "Option '--dry-run' does not take a value. (--dry-run is an on/off flag: leave it out "
         "to keep it off; see rebalance apply -h)"),
        (["apply", "{data}", "-l", "y", "--strict=False"],
         "Option '--strict' does not take a value. (give --strict or --lenient alone, without "
         "a value; see rebalance apply -h)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "--force", "True"],
         "Got unexpected extra argument(s) (True) (--force is an on/off flag: give --force "
         "alone to turn it on; see rebalance apply -h)"),
        (["apply", "{data}", "-l", "y", "-s", "smot", "-o", "{out}"],
         "unknown strategy 'smot' (did you mean smote? choose one of {strategies})"),
        (["evaluate", "{data}", "-l", "y", "--strategies", "undersample,smot"],
         "unknown strategy 'smot' in --strategies (did you mean smote? choose from none, "
         "none+threshold, class-weight, {evaluable})"),
        (["evaluate", "{data}", "-l", "y", "--classifier", "hbg"],
         "unknown classifier 'hbg' (did you mean hgb? choose one of logreg, hgb, rf)"),
        (["apply", "{data}", "-l", "y", "-s", "hybrid", "--grow-with", "smoet", "-o", "{out}"],
         "--grow-with 'smoet' is not a way to grow (did you mean smote? use oversample or smote)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "-t", "minorty", "-o", "{out}"],
         "--target 'minorty' is not a target (did you mean minority? use auto, minority, "
         "majority, not-minority, not-majority, all, a ratio in (0, 1], a class size such as "
         "5000, or counts such as a=100,b=250)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "-t", "1.5x", "-o", "{out}"],
         "--target '1.5x' is not a target (use auto, minority, majority, not-minority, "
         "not-majority, all, a ratio in (0, 1], a class size such as 5000, or counts such as "
         "a=100,b=250)"),
        (["apply", "{data}", "-l", "y", "-s", "undersample", "-o", "{out}", "--output-format",
          "parqet"],
         "--output-format 'parqet' is not a format (did you mean parquet? use one of csv, tsv, "
         "parquet, ipc, ndjson)"),
        (["evaluate", "{data}", "-l", "y", "--metric", "average_precison"],
         "unknown metric 'average_precison' (did you mean average_precision? choose one of "
         "roc_auc, average_precision, balanced_accuracy, precision, recall, f1, g_mean, mcc, "
         "brier)"),
    ],
)  # fmt: skip
def test_a_misspelling_gets_one_line_with_a_guess(cli, data, tmp_path, args, line):
    before = listing(tmp_path)
    words = [a.format(data=data, out=tmp_path / "o.csv") for a in args]
    res = cli(*words)
    # the lists of strategies are the registry's (pinned in tests/test_strategy_checks.py)
    evaluable = ", ".join(s.name for s in registry.all_strategies() if s.evaluable)
    line = line.format(strategies=", ".join(registry.names()), evaluable=evaluable)
    assert (res.code, res.stdout, res.stderr) == (2, "", ERR + line + "\n")
    assert listing(tmp_path) == before


def _long_flags(spec) -> list[str]:
    return [d for f in _declared(spec) if not f.hidden for d in f.decls[0].split("/")]


def test_every_flag_is_guessed_back_from_a_dropped_or_swapped_letter():
    """For every long flag of every command, each typo of one dropped letter, and each of two
    swapped neighbours (flags of more than 2 letters), is answered with that flag."""
    typos = 0
    for spec in COMMANDS:
        flags = _long_flags(spec) + [d for f in _declared(spec) for d in f.decls[1:]]
        flags = [f for f in flags if f.startswith("--")]
        for flag in flags:
            word = flag[2:]
            dropped = {word[:i] + word[i + 1 :] for i in range(len(word))}
            swapped = {
                word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                for i in range(len(word) - 1)
                if len(word) > 2 and word[i] != word[i + 1]
            }
            for typo in (dropped | swapped) - {word}:
                typos += 1
                assert did_you_mean("--" + typo, flags) == f"did you mean {flag}? ", typo
    assert typos > 900


def test_a_flag_typo_through_the_cli(cli, data):
    res = cli("apply", data, "-l", "y", "--suffle")
    assert res.stderr == (
        f"{ERR}No such option: --suffle (did you mean --shuffle? see rebalance apply -h)\n"
    )


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def test_a_capitalised_boolean_in_the_config_file_is_named(cli, data, tmp_path):
    config = _config(tmp_path, "[apply]\nlabel = 'y'\nforce = True\n")
    res = cli("apply", data, "-s", "undersample", "-o", tmp_path / "o.csv", "--config", config)
    assert (res.code, res.stdout) == (2, "")
    assert res.stderr == (
        f"{ERR}the config file {config} is not valid TOML: Invalid value (at line 3, column 9) "
        "(did you mean true? TOML writes true and false in lower case, without quotes)\n"
    )
    assert not (tmp_path / "o.csv").exists()


def test_an_unknown_config_key_gets_a_guess(cli, data, tmp_path):
    config = _config(tmp_path, "[apply]\nlabel = 'y'\nsed = 3\n")
    res = cli("apply", data, "-s", "undersample", "-o", tmp_path / "o.csv", "--config", config)
    assert res.code == 2
    assert res.stderr.startswith(
        f"{ERR}the config file {config} has an unknown key 'sed' in [apply] (did you mean seed? "
        "the [apply] keys are the long option names: bags, by, categorical, "
    )
    assert res.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "command,key,guess",
    [("apply", "sed", "[apply] seed"), ("inspect", "sed", "[apply] seed"),
     ("evaluate", "label", "[evaluate] label"), ("inspect", "label", "[inspect] label"),
     ("apply", "max_rows", "[evaluate] max-rows"), ("apply", "k-neighbours", "[apply] k-neighbors"),
     ("evaluate", "k_neighbours", "[evaluate] k-neighbors"), ("apply", "zzzz", None)],
)  # fmt: skip
def test_a_key_outside_every_table_gets_a_guess_with_its_table(
    cli, data, tmp_path, command, key, guess
):
    """The closest key of any command, in the running command's table when it has it."""
    config = _config(tmp_path, f"{key} = 3\n[{command}]\nlabel = 'y'\n")
    res = cli(command, data, "--config", config)
    hint = f" (did you mean {guess}?)" if guess else ""
    assert (res.code, res.stdout) == (2, "")
    assert res.stderr == (
        f"{ERR}the config file {config} has key {key!r}; it may hold only the tables "
        f"[inspect], [apply], [evaluate]{hint}\n"
    )


def test_an_unknown_config_table_gets_a_guess(cli, data, tmp_path):
    config = _config(tmp_path, "[aply]\nlabel = 'y'\n")
    res = cli("apply", data, "-s", "undersample", "-o", tmp_path / "o.csv", "--config", config)
    assert res.stderr == (
        f"{ERR}the config file {config} has table 'aply'; it may hold only the tables "
        "[inspect], [apply], [evaluate] (did you mean apply?)\n"
    )


def test_a_misspelt_environment_variable_is_a_warning_with_a_guess(
    cli, data, tmp_path, monkeypatch
):
    monkeypatch.setenv("REBALANCE_SEEED", "7")
    monkeypatch.setenv("REBALANCE_K_NEIGHBOURS", "3")
    monkeypatch.setenv("REBALANCE_UNRELATED_TOOL_HOME", "/opt")  # close to nothing: left alone
    monkeypatch.setenv("REBALANCE_MAX_ROWS", "50")  # evaluate's setting: known, not a typo
    out = tmp_path / "o.csv"
    res = cli("apply", data, "-l", "y", "-s", "undersample", "--seed", "1", "-o", out)
    assert res.code == 0
    lines = res.stderr.splitlines()
    assert lines[:2] == [
        "rebalance: warning: REBALANCE_K_NEIGHBOURS is not a setting and was ignored "
        "(did you mean REBALANCE_K_NEIGHBORS?)",
        "rebalance: warning: REBALANCE_SEEED is not a setting and was ignored "
        "(did you mean REBALANCE_SEED?)",
    ]
    assert len(lines) == 3 and lines[2].startswith("rebalance: wrote 20 rows (a: 10, b: 10) to ")
    assert out.exists()
    res = cli("apply", data, "-l", "y", "-s", "undersample", "--seed", "1", "-o", out, "-f", "-q")
    assert (res.code, res.stderr) == (0, "")


def test_the_test_hook_variables_are_not_taken_for_typos(monkeypatch):
    """REBALANCE_TEST_SIGNAL (phases' test hook) is close to REBALANCE_TEST_SIZE, and is not
    an option: no warning. A typo of a real option with the same start still gets one."""
    from rebalance_cli.cli.config import env_typos
    from rebalance_cli.cli.options import setting_names

    for name in [v for v in os.environ if v.startswith("REBALANCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REBALANCE_TEST_SIGNAL", "")
    assert env_typos(setting_names) == []
    monkeypatch.setenv("REBALANCE_TEST_SIZ", "0.2")
    assert env_typos(setting_names) == [
        "REBALANCE_TEST_SIZ is not a setting and was ignored (did you mean REBALANCE_TEST_SIZE?)"
    ]


def test_a_capitalised_boolean_in_the_environment_is_accepted(cli, data, tmp_path, monkeypatch):
    monkeypatch.setenv("REBALANCE_SHUFFLE", "True")
    report = tmp_path / "r.json"
    res = cli("apply", data, "-l", "y", "-s", "undersample", "--seed", "1",
              "-o", tmp_path / "o.csv", "--report", report)  # fmt: skip
    assert res.code == 0, res.stderr
    assert '"shuffle": {\n      "value": true,\n      "source": "env:REBALANCE_SHUFFLE"' in (
        report.read_text()
    )


def test_evaluate_runs_the_cleaners_only_when_asked(cli):
    """Without --strategies, evaluate runs the strategies that declare evaluated_by_default
    (not tomek and enn), as the Python API does; --strategies offers every evaluable one."""
    text = " ".join(_help(cli, "evaluate").split())
    offered = [s for s in registry.all_strategies() if s.evaluable]
    assert {"undersample", "smote", "tomek", "enn"} <= {s.name for s in offered}
    assert f"Comma-separated: {', '.join(s.name for s in offered)}." in text
    default = [s.name for s in offered if s.evaluated_by_default]
    assert "tomek" not in default and "enn" not in default and "smote" in default
    assert f"[default: {','.join(default)}]" in text


# --- the settings keep their order (the report's `settings` and `command`) -------------------


def test_the_declarations_keep_the_report_order():
    """The report's `settings` and `command` follow the declared order: pinned, since golden
    digests cover apply only."""
    names = {spec.name: [f.name for f in spec.resolved()] for spec in (INSPECT, EVALUATE)}
    assert names["inspect"] == [
        "data", "label", "as_json", "max_ratio", "input_format", "separator", "encoding",
        "infer_schema_length", "max_classes", "engine", "spark_master", "config",
    ]  # fmt: skip
    assert names["evaluate"] == [
        "data", "label", "strategies", "classifier", "folds", "repeats", "metric", "seed",
        "max_rows", "k_neighbors", "exclude", "drop_null_labels", "as_json", "report", "force",
        "quiet", "input_format", "separator", "infer_schema_length", "config",
        "resample_before_split",
    ]  # fmt: skip
    apply = [f.name for f in APPLY.resolved()]
    assert apply[:7] == ["data", "label", "strategy", "output", "target", "seed", "report"]
    assert apply[7:15] == [
        "k_neighbors", "features", "exclude", "id_columns", "categorical", "scale", "grow_with",
        "weight_column",
    ]  # fmt: skip


# --- the generated reference -----------------------------------------------------------------


def test_the_cli_reference_is_current():
    """docs/cli.md is every command's --help as it is now: run `make cli-reference` after
    changing an option, its help, or a command's examples."""
    checked_in = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert checked_in == reference()


def test_the_reference_has_every_command_and_option():
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for spec in COMMANDS:
        assert f"## `rebalance {spec.name}`" in text
        page = text.split(f"## `rebalance {spec.name}`", 1)[1].split("\n## ", 1)[0]
        for flag in _long_flags(spec):
            assert (flag in page) != any(f.hidden and flag in f.decls for f in _declared(spec))
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_the_readme_links_the_reference():
    assert "[docs/cli.md](docs/cli.md)" in (REPO / "README.md").read_text(encoding="utf-8")

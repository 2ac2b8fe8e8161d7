"""Every command's options, declared once as data; the commands' signatures are made from them.

A :class:`Flag` is one command-line option (or the input argument): its
parameter name (the key of the report's ``settings``, of ``REBALANCE_<NAME>``
and of the config file, besides the long flag), its flags, type, default, help,
help panel and placeholder. A :class:`CommandSpec` lists a command's flags in
the order its report's ``command`` and ``settings`` name them, the panels its
help shows them in, and its examples. :func:`bind` turns a spec into the
signature typer reads; the strategies' own options come from the registry
(:data:`STRATEGY_OPTIONS` marks where they stand), converted by
:func:`from_strategy`, so a registered strategy's options are flags like the
others.

Nothing here imports polars, numpy, pyarrow, or typer until a signature is
made: ``--help`` reads these declarations (:mod:`.help`), and the command
bodies import the API when they run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from .. import strategies as registry
from ..defaults import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_INFER_SCHEMA_LENGTH,
    DEFAULT_MAX_CLASSES,
    DEFAULT_MAX_OUTPUT_ROWS,
)
from ..evaluate.choices import (
    CLASSIFIERS,
    DEFAULT_MAX_ROWS,
    DEFAULT_METRIC,
    METRICS,
    evaluable,
    run_by_default,
)
from ..strategies.smote import OPTIONS as SMOTE_OPTIONS

Text = str | Callable[[], str]  # a help text, or one made when the command is built


@dataclass(frozen=True)
class Flag:
    """One option of a command (or, with ``argument``, its positional input).

    ``decls`` are the flags, long first (``"--output", "-o"``); an on/off pair
    is one declaration ``"--strict/--lenient"``. ``help`` and ``default`` may be
    zero-argument callables, called when the command is built (they read the
    strategy registry). ``metavar`` is the placeholder in ``--help``; an on/off
    flag has none.
    """

    name: str
    decls: tuple[str, ...]
    help: Text
    type: type = str
    default: Any = None
    panel: str = "Options"
    metavar: str | None = None
    argument: bool = False
    hidden: bool = False
    envvar: str | None = None

    @property
    def long(self) -> str:
        """The long flag (the first of an on/off pair)."""
        return self.decls[0].split("/")[0]

    @property
    def placeholder(self) -> str | None:
        """What ``--help`` shows after the flag: none for an on/off flag, else the metavar
        (by default N for a whole number, X for a number, TEXT for text)."""
        if self.type is bool:
            return None
        return self.metavar or {int: "N", float: "X"}.get(self.type, "TEXT")

    @property
    def text(self) -> str:
        """The help text (made, if it is made when the command is built)."""
        return self.help() if callable(self.help) else self.help

    def resolved(self) -> Flag:
        """This flag with its help and default made (callables called)."""
        default = self.default() if callable(self.default) else self.default
        return replace(self, help=self.text, default=default)

    def parameter(self) -> inspect.Parameter:
        """The ``inspect.Parameter`` typer reads for this flag."""
        import typer

        flag = self.resolved()
        info: Any
        if flag.argument:
            info = typer.Argument(help=flag.text, show_default=False, metavar=flag.metavar)
        else:
            info = typer.Option(
                *flag.decls,
                help=flag.text,
                show_default=flag.default is not None,
                rich_help_panel=flag.panel,
                metavar=flag.placeholder,
                hidden=flag.hidden,
                envvar=flag.envvar,
            )
        kind: Any = flag.type if flag.default is not None or flag.argument else flag.type | None
        return inspect.Parameter(
            flag.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=inspect.Parameter.empty if flag.argument else flag.default,
            annotation=Annotated[kind, info],
        )


def from_strategy(option: registry.Option) -> Flag:
    """A strategy's declared option as a command-line flag (panel "Strategy options")."""
    choices = "|".join(str(c) for c in option.choices) if option.choices else None
    metavar = option.metavar or choices or ("COLS" if option.listed else None)
    return Flag(
        option.name,
        (option.flag, *([option.short] if option.short else [])),
        option.help,
        type=option.type,
        default=option.default,
        panel=STRATEGY_PANEL,
        metavar=metavar,
    )


STRATEGY_PANEL = "Strategy options"
STRATEGY_OPTIONS = "<the registry's strategy options>"  # where they stand in a command


@dataclass(frozen=True)
class CommandSpec:
    """A command: its name, its help, its flags in report order, its panels, its examples."""

    name: str
    summary: str  # one line, for `rebalance --help`
    about: str  # the paragraphs that open the command's help
    flags: tuple[Flag | str, ...]  # Flag, or STRATEGY_OPTIONS
    panels: tuple[str, ...]  # the help's panels, in this order
    examples: tuple[str, ...]
    sections: Callable[[], list[tuple[str, list[tuple[str, str]]]]] | None = None

    def resolved(self, with_registry: bool = True) -> tuple[Flag, ...]:
        """Every flag, made: the strategies' options where the marker stands.

        Without the registry (a command that does not run this time), the marker
        is dropped and callables are not called, so the plug-ins are not looked up.
        """
        out: list[Flag] = []
        for flag in self.flags:
            if isinstance(flag, str):
                if with_registry:
                    out.extend(from_strategy(o) for o in registry.all_options())
            elif with_registry:
                out.append(flag.resolved())
            else:
                out.append(
                    replace(
                        flag,
                        help="" if callable(flag.help) else flag.help,
                        default=None if callable(flag.default) else flag.default,
                    )
                )
        return tuple(out)


def bind(function: Callable[..., Any], spec: CommandSpec, with_registry: bool = True) -> None:
    """Give ``function`` (``(ctx, data, config, **values)``) the signature of ``spec``.

    typer reads a command's signature each time the app runs, so binding again
    after the registry changed (``main`` does, for every run) shows a new
    strategy's flags in ``--help``, the config file and the environment.
    """
    import typer

    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    params = [context, *(f.parameter() for f in spec.resolved(with_registry))]
    function.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    function.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    function.__doc__ = spec.about


def setting_names() -> set[str]:
    """The settings of every command (their ``REBALANCE_<NAME>`` variables), plug-ins' too."""
    return {f.name for spec in COMMANDS for f in spec.resolved() if not f.argument} - {"config"}


# --- the declarations ------------------------------------------------------------------------

INPUT = "Input"
TARGET = "Target"
OUTPUT = "Output"
STAGES = "Stages"
LIMITS = "Limits"
RUN = "Engine and settings"
CHECK = "Check"
EVALUATION = "Evaluation"

DATA = Flag("data", (), "Input file, or - for stdin.", argument=True, panel=INPUT)
LABEL = Flag("label", ("--label", "-l"), "The class column.", panel=INPUT, metavar="COLUMN")
SEED = Flag(
    "seed", ("--seed",), "Random seed; drawn and reported when absent.", type=int, panel=TARGET
)
INPUT_FORMAT = Flag(
    "input_format",
    ("--input-format",),
    "csv, tsv, parquet, ipc or ndjson, when the name does not say.",
    panel=INPUT,
    metavar="FORMAT",
)
SEPARATOR = Flag(
    "separator",
    ("--separator",),
    "CSV field separator (one character; 'tab' for tabs).",
    panel=INPUT,
    metavar="CHAR",
)
ENCODING = Flag(
    "encoding",
    ("--encoding",),
    "CSV encoding: utf8, or utf8-lossy to replace invalid bytes.",
    default="utf8",
    panel=INPUT,
    metavar="NAME",
)
INFER_SCHEMA_LENGTH = Flag(
    "infer_schema_length",
    ("--infer-schema-length",),
    "CSV/NDJSON rows used to infer column types; 0 reads the whole file.",
    type=int,
    default=DEFAULT_INFER_SCHEMA_LENGTH,
    panel=INPUT,
    metavar="ROWS",
)
DROP_NULL_LABELS = Flag(
    "drop_null_labels",
    ("--drop-null-labels",),
    "Leave out rows whose label is null.",
    type=bool,
    default=False,
    panel=INPUT,
)
MAX_CLASSES = Flag(
    "max_classes",
    ("--max-classes",),
    "Refuse a label with more distinct values (an id column?).",
    type=int,
    default=DEFAULT_MAX_CLASSES,
    panel=LIMITS,
)
ENGINE = Flag(
    "engine",
    ("--engine",),
    "local, or spark (needs the [spark] extra and Java).",
    default="local",
    panel=RUN,
    metavar="NAME",
)
SPARK_MASTER = Flag(
    "spark_master",
    ("--spark-master",),
    "Spark master URL (e.g. local[4]); with --engine spark.",
    panel=RUN,
    metavar="URL",
)


def _config(command: str) -> Flag:
    return Flag(
        "config",
        ("--config",),
        f"TOML settings file (its [{command}] table); default ./rebalance.toml. "
        "Precedence: flags > REBALANCE_* variables > config > defaults.",
        panel=RUN,
        metavar="FILE",
        envvar="REBALANCE_CONFIG",
    )


def _strategy_help() -> str:
    return f"One of: {', '.join(registry.names())} (see Strategies above)."


def _strategies() -> list[tuple[str, list[tuple[str, str]]]]:
    return [("Strategies", [(s.name, s.summary) for s in registry.all_strategies()])]


INSPECT = CommandSpec(
    name="inspect",
    summary="Show the class distribution of a label column; a CI gate.",
    about="Show the class distribution of a label column.\n\n"
    "With --max-ratio it is a CI gate: exit 6 when the imbalance ratio exceeds it, "
    "or is undefined.",
    flags=(
        DATA,
        LABEL,
        Flag(
            "as_json", ("--json",), "Print JSON on stdout.", type=bool, default=False, panel=OUTPUT
        ),
        Flag(
            "max_ratio",
            ("--max-ratio",),
            "Exit 6 when majority/minority exceeds this, or is undefined "
            "(no labelled row, or one class).",
            type=float,
            panel=CHECK,
            metavar="R",
        ),
        INPUT_FORMAT,
        SEPARATOR,
        ENCODING,
        INFER_SCHEMA_LENGTH,
        MAX_CLASSES,
        ENGINE,
        SPARK_MASTER,
        _config("inspect"),
    ),
    panels=(INPUT, CHECK, OUTPUT, LIMITS, RUN),
    examples=(
        "rebalance inspect train.csv --label y",
        "rebalance inspect train.parquet -l y --max-ratio 10   # exit 6 when too skewed",
        "rebalance inspect train.csv -l y --json",
    ),
)


APPLY = CommandSpec(
    name="apply",
    summary="Rebalance a file with a strategy, to the --target.",
    about="Rebalance a file with one of the strategies below, to the --target.\n\n"
    "Exact class counts, the same bytes for the same --seed, in bounded memory.",
    flags=(
        DATA,
        replace(LABEL, panel=TARGET),
        Flag(
            "strategy",
            ("--strategy", "-s"),
            _strategy_help,
            panel=TARGET,
            metavar="NAME",
        ),
        Flag(
            "output",
            ("--output", "-o"),
            "Output file, - for stdout; with --bags, a folder or a {bag} name.",
            panel=OUTPUT,
            metavar="PATH",
        ),
        Flag(
            "target",
            ("--target", "-t"),
            "auto, minority, majority, not-minority, not-majority, all, "
            "a ratio in (0, 1], a class size like 5000, or counts like a=100,b=250 "
            "(weight: auto or balanced, a size, or counts of total weight).",
            default="auto",
            panel=TARGET,
            metavar="TARGET",
        ),
        SEED,
        Flag(
            "report",
            ("--report",),
            "Write the JSON report to this file.",
            panel=OUTPUT,
            metavar="PATH",
        ),
        STRATEGY_OPTIONS,
        Flag(
            "bags",
            ("--bags",),
            "Write this many undersampled bags, each with its own seed.",
            type=int,
            panel=STAGES,
            metavar="K",
        ),
        Flag(
            "test_size",
            ("--test-size",),
            "Hold out this stratified share, untouched, before rebalancing.",
            panel=STAGES,
            metavar="SHARE",
        ),
        Flag(
            "test_output",
            ("--test-output",),
            "Where the held-out test split goes.",
            panel=STAGES,
            metavar="PATH",
        ),
        Flag(
            "by",
            ("--by",),
            "Balance within each group of these columns (COL[,COL]).",
            panel=STAGES,
            metavar="COLS",
        ),
        Flag(
            "group_policy",
            ("--group-policy",),
            "A group that cannot serve the request: keep its rows, drop them, or error.",
            default="keep",
            panel=STAGES,
            metavar="POLICY",
        ),
        Flag(
            "shrinkage",
            ("--shrinkage",),
            "oversample: smoothed bootstrap, Gaussian jitter of this width.",
            type=float,
            panel=STAGES,
            metavar="H",
        ),
        Flag(
            "chunk_size",
            ("--chunk-size",),
            "Rows per streamed batch (output does not depend on it).",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            panel=LIMITS,
            metavar="ROWS",
        ),
        DROP_NULL_LABELS,
        Flag(
            "shuffle",
            ("--shuffle",),
            "Shuffle the whole output (seeded, bounded memory).",
            type=bool,
            default=False,
            panel=STAGES,
        ),
        Flag(
            "dry_run",
            ("--dry-run",),
            "Count and print the plan; write nothing.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "force",
            ("--force", "-f"),
            "Replace an existing output.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "as_json",
            ("--json",),
            "Print the report as JSON on stdout.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "quiet",
            ("--quiet", "-q"),
            "Errors only: no warnings, summary or progress.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "strict",
            ("--strict/--lenient",),
            "strict (default): null labels and bad SMOTE features are errors; lenient: "
            "drop those rows (and say so in the report).",
            type=bool,
            default=True,
            panel=INPUT,
        ),
        MAX_CLASSES,
        Flag(
            "max_output_rows",
            ("--max-output-rows",),
            "Refuse a plan that writes more rows than this.",
            type=int,
            default=DEFAULT_MAX_OUTPUT_ROWS,
            panel=LIMITS,
        ),
        INPUT_FORMAT,
        SEPARATOR,
        ENCODING,
        Flag(
            "output_format",
            ("--output-format",),
            "csv, tsv, parquet, ipc or ndjson; default: from -o.",
            panel=OUTPUT,
            metavar="FORMAT",
        ),
        INFER_SCHEMA_LENGTH,
        ENGINE,
        SPARK_MASTER,
        _config("apply"),
    ),
    panels=(INPUT, TARGET, STRATEGY_PANEL, OUTPUT, STAGES, LIMITS, RUN),
    examples=(
        "rebalance apply train.csv -l y -s undersample --seed 7 -o balanced.csv",
        "rebalance apply train.parquet -l y -s smote -t 0.5 --seed 7 -o smote.parquet",
        "rebalance apply train.csv -l y -s hybrid -t 5000 --by country -o sized.csv",
        "rebalance apply train.csv -l y -s oversample --target fraud=50000 --dry-run",
    ),
    sections=_strategies,
)


K_NEIGHBORS = next(o for o in SMOTE_OPTIONS if o.name == "k_neighbors")  # evaluate's SMOTE


def _evaluable_help() -> str:
    return (
        f"Comma-separated: {', '.join(evaluable())}. none, none+threshold and "
        "class-weight are always shown."
    )


def _evaluable_default() -> str:
    return ",".join(run_by_default())


EVALUATE = CommandSpec(
    name="evaluate",
    summary="Does rebalancing help? Cross-validate the strategies honestly.",
    about="Does rebalancing help? Cross-validate none, class weights and the samplers, "
    "honestly.\n\n"
    "Repeated stratified k-fold; everything is fitted inside the training folds, and the "
    "verdict names a strategy only when a paired test says it beats none.",
    flags=(
        DATA,
        LABEL,
        Flag(
            "strategies",
            ("--strategies",),
            _evaluable_help,
            default=_evaluable_default,
            panel=EVALUATION,
            metavar="NAMES",
        ),
        Flag(
            "classifier",
            ("--classifier", "-c"),
            f"{', '.join(CLASSIFIERS)}.",
            default="logreg",
            panel=EVALUATION,
            metavar="NAME",
        ),
        Flag(
            "folds",
            ("--folds",),
            "Stratified folds per repeat.",
            type=int,
            default=5,
            panel=EVALUATION,
            metavar="K",
        ),
        Flag(
            "repeats",
            ("--repeats",),
            "Repeats with new splits.",
            type=int,
            default=3,
            panel=EVALUATION,
        ),
        Flag(
            "metric",
            ("--metric",),
            f"Primary metric of the verdict: {', '.join(METRICS)}.",
            default=DEFAULT_METRIC,
            panel=EVALUATION,
            metavar="NAME",
        ),
        replace(SEED, panel=EVALUATION),
        Flag(
            "max_rows",
            ("--max-rows",),
            "Evaluate on a seeded stratified sample of this many rows.",
            type=int,
            default=DEFAULT_MAX_ROWS,
            panel=EVALUATION,
        ),
        replace(from_strategy(K_NEIGHBORS), panel=EVALUATION),
        Flag(
            "exclude",
            ("--exclude",),
            "Comma-separated columns not to learn from.",
            panel=EVALUATION,
            metavar="COLS",
        ),
        DROP_NULL_LABELS,
        Flag(
            "as_json",
            ("--json",),
            "Print the full result as JSON on stdout.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "report",
            ("--report",),
            "Also write the JSON result to this file.",
            panel=OUTPUT,
            metavar="PATH",
        ),
        Flag(
            "force",
            ("--force", "-f"),
            "Replace an existing report.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        Flag(
            "quiet",
            ("--quiet", "-q"),
            "Errors only: no progress, no warnings.",
            type=bool,
            default=False,
            panel=OUTPUT,
        ),
        INPUT_FORMAT,
        SEPARATOR,
        INFER_SCHEMA_LENGTH,
        replace(_config("evaluate"), panel="Settings"),
        Flag(
            "resample_before_split",
            ("--debug-resample-before-split",),
            "",
            type=bool,
            default=False,
            hidden=True,
        ),
    ),
    panels=(INPUT, EVALUATION, OUTPUT, "Settings"),
    examples=(
        "rebalance evaluate train.csv -l y --seed 7",
        "rebalance evaluate train.parquet -l y -c hgb --strategies smote --json",
    ),
)

COMMANDS: tuple[CommandSpec, ...] = (INSPECT, APPLY, EVALUATE)


def _reserve_own_options() -> None:
    """Tell the registry which option names and flags the commands own, so a plug-in
    strategy that takes one is left out (with a warning) instead of shadowing it."""
    own = [f for spec in COMMANDS for f in spec.flags if not isinstance(f, str)]
    registry.reserve(
        (f.name for f in own), (d for f in own for decl in f.decls for d in decl.split("/"))
    )


_reserve_own_options()

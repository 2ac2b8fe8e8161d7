"""The `rebalance` command line: option parsing, rendering and exit codes only.

All the work is done by :mod:`rebalance_cli.pipeline`; this module turns its
errors into one line on stderr and the documented exit code.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:  # rich is imported when something is drawn (~0.15 s saved at start-up)
    from rich.console import Console
from .config import load_config, require, resolve
from .errors import (
    INTERNAL,
    INTERRUPTED,
    USAGE,
    CheckFailed,
    Interrupted,
    RebalanceError,
    UsageError,
)
from .io import ReadOptions
from .pipeline import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CLASSES,
    DEFAULT_MAX_OUTPUT_ROWS,
    Distribution,
    inspect,
    rebalance,
)
from .report import Report

app = typer.Typer(
    name="rebalance",
    help="Fix class imbalance in tabular files (CSV, TSV, Parquet, Arrow IPC, NDJSON).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"rebalance {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Fix class imbalance in tabular files: inspect the classes, then apply a strategy."""


def _fail(err: RebalanceError) -> NoReturn:
    sys.stderr.write(f"rebalance: {err.kind}: {err}\n")
    sys.stderr.flush()
    raise typer.Exit(err.exit_code)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


@contextmanager
def _guarded() -> Iterator[None]:
    """Map every failure to one stderr line and an exit code; SIGTERM cleans up too."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except RebalanceError as err:
        _fail(err)
    except KeyboardInterrupt:
        _fail(Interrupted(signal.SIGINT))
    except BrokenPipeError:
        # The reader went away (`| head`): not our error, and nothing to report.
        _quiet_stdout()
        raise typer.Exit(0) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("REBALANCE_DEBUG"):
            raise
        msg = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(
            f"rebalance: internal error: {type(exc).__name__}: {msg} "
            "(this is a bug; rerun with REBALANCE_DEBUG=1 for a traceback and report it)\n"
        )
        raise typer.Exit(INTERNAL) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _read_options(
    input_format: str | None, separator: str | None, encoding: str, infer: int
) -> ReadOptions:
    if infer < 0:
        raise UsageError(f"--infer-schema-length must be 0 or more (got {infer})")
    return ReadOptions(input_format, separator, encoding, None if infer == 0 else infer)


def _stderr_is_terminal() -> bool:
    """A real terminal on stderr. FORCE_COLOR must not turn pipes and cron mail into one."""
    try:
        return os.isatty(sys.stderr.fileno()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):
        return False


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _stderr() -> Console:
    return _console(stderr=True)


def _bar(share: float, width: int = 30) -> str:
    full = share * width
    n = int(full)
    return "█" * n + ("▌" if full - n >= 0.5 else "")


def _render_distribution(dist: Distribution, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"label: {dist.label}", title_justify="left")
    table.add_column("class")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", no_wrap=True)
    top = max(dist.shares().values(), default=1.0)
    for cls, count in zip(dist.classes, dist.counts, strict=True):
        share = dist.shares()[cls]
        table.add_row(cls, f"{count:,}", f"{share:.2%}", _bar(share / top if top else 0))
    console.print(table)
    ratio = dist.imbalance_ratio
    console.print(
        f"rows: {dist.rows:,}   classes: {len(dist.classes)}   "
        f"majority: {dist.majority}   minority: {dist.minority}   "
        f"imbalance ratio: {ratio:.2f}"
        if ratio is not None
        else f"rows: {dist.rows:,}"
    )
    if dist.nulls:
        console.print(f"null labels: {dist.nulls:,}")


def _render_report(report: Report, console: Console) -> None:
    from rich.table import Table

    table = Table(title=report.strategy, title_justify="left")
    table.add_column("class")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for cls, before in report.counts_before.items():
        table.add_row(cls, f"{before:,}", f"{report.counts_after[cls]:,}")
    console.print(table)
    rows = report.rows
    where = report.output["path"] if report.output else "nothing (dry run)"
    console.print(
        f"wrote {rows['written']:,} rows to {where} "
        f"(synthetic {rows['synthetic']:,}, duplicated {rows['duplicated']:,}, "
        f"dropped {rows['dropped']:,}); seed {report.seed}"
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    if not enabled or not _stderr_is_terminal():
        yield None
        return
    console = _stderr()
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} rows"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not _stderr_is_terminal(),
    )
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(
                "writing" if phase == "write" else "synthesising", total=total
            )
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield update


DataArg = Annotated[str, typer.Argument(help="Input file, or - for stdin.", show_default=False)]
LabelOpt = Annotated[
    str | None, typer.Option("--label", "-l", help="The class column.", show_default=False)
]
InFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--input-format", help="csv, tsv, parquet, ipc or ndjson, when the name does not say."
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option("--separator", help="CSV field separator (one character; 'tab' for tabs)."),
]
EncOpt = Annotated[
    str,
    typer.Option("--encoding", help="CSV encoding: utf8, or utf8-lossy to replace invalid bytes."),
]
MaxClassesOpt = Annotated[
    int,
    typer.Option("--max-classes", help="Refuse a label with more distinct values (an id column?)."),
]
InferOpt = Annotated[
    int,
    typer.Option(
        "--infer-schema-length",
        help="CSV/NDJSON rows used to infer column types; 0 reads the whole file.",
    ),
]


EngineOpt = Annotated[
    str, typer.Option("--engine", help="local, or spark (needs the [spark] extra and Java).")
]
MasterOpt = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master URL (e.g. local[4]); with --engine spark."),
]


def _engine(engine: str, master: str | None, local: Callable[..., Any]) -> Callable[..., Any]:
    """The local API function, or its Spark twin from rebalance_cli.spark (imported lazily)."""
    if engine == "local":
        if master is not None:
            raise UsageError("--spark-master needs --engine spark")
        return local
    if engine != "spark":
        raise UsageError(f"--engine {engine!r} is not an engine", hint="use local or spark")
    from . import spark

    return functools.partial(getattr(spark, f"{local.__name__}_spark"), master=master)


ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="TOML settings file ([inspect]/[apply] tables); default ./rebalance.toml. "
        "Precedence: flags > REBALANCE_* variables > config > defaults.",
        envvar="REBALANCE_CONFIG",
    ),
]
COMMANDS = ("inspect", "apply", "evaluate")


def _settings(ctx: typer.Context, command: str, config: str | None) -> dict[str, dict[str, Any]]:
    return resolve(ctx, command, load_config(config, COMMANDS))


@app.command("inspect")
def inspect_cmd(
    ctx: typer.Context,
    data: DataArg,
    label: LabelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    max_ratio: Annotated[
        float | None,
        typer.Option("--max-ratio", help="Exit 6 when majority/minority exceeds this."),
    ] = None,
    input_format: InFormatOpt = None,
    separator: SepOpt = None,
    encoding: EncOpt = "utf8",
    infer_schema_length: InferOpt = 10_000,
    max_classes: MaxClassesOpt = DEFAULT_MAX_CLASSES,
    engine: EngineOpt = "local",
    spark_master: MasterOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show the class distribution of a label column.

    Example: rebalance inspect train.csv --label y --max-ratio 10
    """
    with _guarded():
        settings = _settings(ctx, "inspect", config)
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "inspect")
        max_ratio = o["max_ratio"]
        if max_ratio is not None and max_ratio < 1:
            raise UsageError(f"--max-ratio must be at least 1 (got {max_ratio})")
        dist = _engine(o["engine"], o["spark_master"], inspect)(
            data,
            label,
            read=_read_options(
                o["input_format"], o["separator"], o["encoding"], o["infer_schema_length"]
            ),
            max_classes=o["max_classes"],
        )
        if o["as_json"]:
            doc = dist.to_dict()
            if max_ratio is not None:
                doc["max_ratio"] = max_ratio
            doc["settings"] = settings
            sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            _render_distribution(dist, _console())
        ratio = dist.imbalance_ratio
        if max_ratio is not None and ratio is not None and ratio > max_ratio:
            raise CheckFailed(
                f"imbalance ratio {ratio:.4g} ({dist.majority} over {dist.minority}) "
                f"exceeds --max-ratio {max_ratio:g}"
            )


def _command_line(ctx: typer.Context) -> list[str]:
    """The command as the user could retype it: the arguments and every non-default option.

    Values that came from the environment or a config file are spelled out as flags.
    """
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.param_type_name == "argument":
            words.append(str(value))
            continue
        if param.name == "config" or value is None or value == param.default:
            continue
        flags = [o for o in param.opts if o.startswith("--")]
        if getattr(param, "is_flag", False):
            if value is True:
                words.append(max(param.opts, key=len))
            elif param.secondary_opts:
                words.append(max(param.secondary_opts, key=len))
        else:
            words.extend([max(flags or param.opts, key=len), str(value)])
    return words


@app.command("apply")
def apply_cmd(
    ctx: typer.Context,
    data: DataArg,
    label: LabelOpt = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            "-s",
            help="undersample, oversample, smote, hybrid (cut big classes, grow small ones) "
            "or weight (add a weight column).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file, - for stdout; with --bags, a folder or a {bag} name.",
        ),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="auto, minority, majority, not-minority, not-majority, all, "
            "a ratio in (0, 1], a class size like 5000, or counts like a=100,b=250 "
            "(weight: auto or balanced, a size, or counts of total weight).",
        ),
    ] = "auto",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed; drawn and reported when absent.")
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="Write the JSON report to this file.")
    ] = None,
    k_neighbors: Annotated[
        int, typer.Option("--k-neighbors", "-k", help="SMOTE: neighbours per row.")
    ] = 5,
    features: Annotated[
        str | None,
        typer.Option("--features", help="SMOTE/--shrinkage: comma-separated numeric features."),
    ] = None,
    exclude: Annotated[
        str | None, typer.Option("--exclude", help="SMOTE: columns to leave out of the features.")
    ] = None,
    id_columns: Annotated[
        str | None,
        typer.Option("--id-columns", help="SMOTE: identifier columns, null in synthetic rows."),
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            "--categorical",
            help="SMOTE: categorical features (SMOTE-NC distance); default: the string, "
            "categorical and boolean columns.",
        ),
    ] = None,
    scale: Annotated[
        str,
        typer.Option("--scale", help="SMOTE: numeric distance on raw values (none) or standard."),
    ] = "none",
    grow_with: Annotated[
        str | None,
        typer.Option("--grow-with", help="hybrid: grow small classes by oversample or smote."),
    ] = None,
    weight_column: Annotated[
        str | None,
        typer.Option("--weight-column", help="weight: the new column [default: sample_weight]."),
    ] = None,
    bags: Annotated[
        int | None,
        typer.Option("--bags", help="Write this many undersampled bags, each with its own seed."),
    ] = None,
    test_size: Annotated[
        str | None,
        typer.Option(
            "--test-size", help="Hold out this stratified share, untouched, before rebalancing."
        ),
    ] = None,
    test_output: Annotated[
        str | None, typer.Option("--test-output", help="Where the held-out test split goes.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Balance within each group of these columns (COL[,COL])."),
    ] = None,
    group_policy: Annotated[
        str,
        typer.Option(
            "--group-policy",
            help="A group that cannot serve the request: keep its rows, drop them, or error.",
        ),
    ] = "keep",
    shrinkage: Annotated[
        float | None,
        typer.Option(
            "--shrinkage", help="oversample: smoothed bootstrap, Gaussian jitter of this width."
        ),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size", help="Rows per streamed batch (output does not depend on it)."
        ),
    ] = DEFAULT_CHUNK_SIZE,
    drop_null_labels: Annotated[
        bool, typer.Option("--drop-null-labels", help="Leave out rows whose label is null.")
    ] = False,
    shuffle: Annotated[
        bool,
        typer.Option("--shuffle", help="Shuffle the whole output (seeded, bounded memory)."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count and print the plan; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Replace an existing output.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary, no progress.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict/--lenient",
            help="strict (default): null labels and bad SMOTE features are errors; lenient: "
            "drop those rows (and say so in the report).",
        ),
    ] = True,
    max_classes: MaxClassesOpt = DEFAULT_MAX_CLASSES,
    max_output_rows: Annotated[
        int,
        typer.Option("--max-output-rows", help="Refuse a plan that writes more rows than this."),
    ] = DEFAULT_MAX_OUTPUT_ROWS,
    input_format: InFormatOpt = None,
    separator: SepOpt = None,
    encoding: EncOpt = "utf8",
    output_format: Annotated[
        str | None,
        typer.Option("--output-format", help="csv, tsv, parquet, ipc or ndjson; default: from -o."),
    ] = None,
    infer_schema_length: InferOpt = 10_000,
    engine: EngineOpt = "local",
    spark_master: MasterOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Rebalance a file: undersample, oversample, SMOTE, hybrid or weight, to the --target.

    Example: rebalance apply train.csv -l y -s undersample --seed 7 -o balanced.csv
    """
    with _guarded():
        settings = _settings(ctx, "apply", config)
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "apply")
        strategy = require(settings, "strategy", "--strategy", "apply")
        output = o["output"]
        as_json = o["as_json"]
        if as_json and output == "-":
            raise UsageError("--json and -o - both want stdout", hint="use --report FILE instead")
        quiet = o["quiet"]
        with _progress(not quiet and not as_json and output != "-") as progress:
            result = _engine(o["engine"], o["spark_master"], rebalance)(
                data,
                output,
                label=label,
                strategy=strategy,
                target=o["target"],
                seed=o["seed"],
                k_neighbors=o["k_neighbors"],
                features=_split(o["features"]),
                exclude=_split(o["exclude"]),
                id_columns=_split(o["id_columns"]),
                categorical=_split(o["categorical"]),
                scale=o["scale"],
                grow_with=o["grow_with"],
                weight_column=o["weight_column"],
                bags=o["bags"],
                test_size=o["test_size"],
                test_output=o["test_output"],
                by=_split(o["by"]),
                group_policy=o["group_policy"],
                shrinkage=o["shrinkage"],
                chunk_size=o["chunk_size"],
                read=_read_options(
                    o["input_format"], o["separator"], o["encoding"], o["infer_schema_length"]
                ),
                output_format=o["output_format"],
                force=o["force"],
                dry_run=o["dry_run"],
                drop_null_labels=o["drop_null_labels"],
                shuffle=o["shuffle"],
                lenient=not o["strict"],
                max_classes=o["max_classes"],
                max_output_rows=o["max_output_rows"],
                report_path=o["report"],
                progress=progress,
                command=_command_line(ctx),
                settings=settings,
            )
        for warning in result.warnings:
            sys.stderr.write(f"rebalance: warning: {warning}\n")
        if as_json:
            sys.stdout.write(result.to_json())
            sys.stdout.flush()
        elif o["dry_run"]:
            _render_report(result, _console())
        elif not quiet and _stderr_is_terminal():
            _render_report(result, _stderr())


# `evaluate` lives in its own module; it imports the helpers above when it runs.
from .evaluate_cli import evaluate_cmd  # noqa: E402

app.command("evaluate")(evaluate_cmd)


def main(args: list[str] | None = None) -> None:
    """Entry point of the `rebalance` script.

    typer's own handling of a bad command line (an unknown option, a missing
    argument, a value of the wrong type) draws a boxed message over several lines;
    here it is one line on stderr and exit 2, like every other usage error.
    """
    from typer._click.exceptions import ClickException

    from .cli_coerce import install

    install()
    try:
        code = app(args=args, prog_name="rebalance", standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            sys.exit(exc.exit_code)
        if ctx is not None:
            where = ctx.command_path
        else:  # click raised before the command's context existed: find the command by name
            given = sys.argv[1:] if args is None else args
            named = next((a for a in given if a in COMMANDS), None)
            where = f"rebalance {named}" if named else "rebalance"
        sys.stderr.write(
            f"rebalance: usage error: {' '.join(exc.format_message().split())} (see {where} -h)\n"
        )
        sys.exit(USAGE)
    except typer.Abort:
        sys.stderr.write("rebalance: interrupted: stopped by the user\n")
        sys.exit(INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)

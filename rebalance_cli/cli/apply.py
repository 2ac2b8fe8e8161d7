"""``rebalance apply``: rebalance a file with a registered strategy and the stages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from .. import strategies as registry
from ..api import rebalance
from ..errors import UsageError
from ..phases import Observer
from ..request import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CLASSES, DEFAULT_MAX_OUTPUT_ROWS
from .common import (
    ConfigOpt,
    DataArg,
    EncOpt,
    EngineOpt,
    InferOpt,
    InFormatOpt,
    LabelOpt,
    MasterOpt,
    MaxClassesOpt,
    SepOpt,
    command_line,
    engine_of,
    guarded,
    printing,
    read_options,
    settings_of,
    split_names,
    stderr_console,
    stderr_is_terminal,
    with_strategy_options,
)
from .config import require
from .render import show_apply


@contextmanager
def _progress(enabled: bool) -> Iterator[Observer | None]:
    """The phases of the run as a progress bar on stderr, on a terminal only."""
    if not enabled or not stderr_is_terminal():
        yield None
        return
    from .progress import phase_bar

    with phase_bar(stderr_console()) as bar:
        yield bar


def apply_cmd(
    ctx: typer.Context,
    data: DataArg,
    label: LabelOpt = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            "-s",
            help="The strategy (the list is filled in from the registry).",
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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Errors only: no warnings, summary or progress.")
    ] = False,
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
    **strategy_options: Any,
) -> None:
    """Rebalance a file with one of the strategies below, to the --target.

    Example: rebalance apply train.csv -l y -s undersample --seed 7 -o balanced.csv
    """
    with guarded():
        settings = settings_of(ctx, "apply", config)
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "apply")
        strategy = require(settings, "strategy", "--strategy", "apply")
        output = o["output"]
        as_json = o["as_json"]
        if as_json and output == "-":
            raise UsageError("--json and -o - both want stdout", hint="use --report FILE instead")
        quiet = o["quiet"]
        with _progress(not quiet and not as_json and output != "-") as progress:
            result = engine_of(o["engine"], o["spark_master"], rebalance)(
                data,
                output,
                label=label,
                strategy=strategy,
                target=o["target"],
                seed=o["seed"],
                options={opt.name: o[opt.name] for opt in registry.all_options()},
                bags=o["bags"],
                test_size=o["test_size"],
                test_output=o["test_output"],
                by=split_names(o["by"]),
                group_policy=o["group_policy"],
                shrinkage=o["shrinkage"],
                chunk_size=o["chunk_size"],
                read=read_options(
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
                command=command_line(ctx),
                settings=settings,
            )
        with printing():
            show_apply(
                result,
                output=output,
                report_path=o["report"],
                as_json=as_json,
                dry_run=o["dry_run"],
                quiet=quiet,
            )


apply_cmd = with_strategy_options(apply_cmd, after="report")

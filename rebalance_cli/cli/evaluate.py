"""The ``rebalance evaluate`` command: options, the report file and exit codes.

The work is :func:`rebalance_cli.evaluate.evaluate`; what it shows (tables,
progress, the lines a pipe gets) is drawn by :mod:`rebalance_cli.cli.render`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..evaluate import (
    CLASSIFIERS,
    DEFAULT_MAX_ROWS,
    DEFAULT_METRIC,
    METRICS,
    SAMPLERS,
    STRATEGIES,
    EvaluationResult,
    evaluate,
)
from .common import COMMANDS, command_line, guarded, printing, read_options, split_names
from .render import evaluate_progress, show_evaluation


def _run(
    ctx: typer.Context, data: str, label: str, o: dict[str, Any]
) -> tuple[EvaluationResult, Path | None]:
    """Check the settings ``o`` (and the report's path), then evaluate, with its
    progress on stderr unless ``--quiet``; the result and where its report goes
    (None: stdout, or no report)."""
    from ..errors import UsageError
    from ..io import check_target

    if str(o["strategies"]).strip() == "":
        raise UsageError(
            "--strategies names no strategy", hint=f"choose from {', '.join(STRATEGIES)}"
        )
    report = o["report"]
    target = None
    if report is not None:
        inputs = [Path(data)] if data != "-" else []
        target = check_target(report, o["force"], inputs, "report")
    with evaluate_progress(o["quiet"], o["metric"]) as steps:
        result = evaluate(
            data,
            label=label,
            strategies=o["strategies"],
            classifier=o["classifier"],
            folds=o["folds"],
            repeats=o["repeats"],
            metric=o["metric"],
            seed=o["seed"],
            max_rows=o["max_rows"],
            k_neighbors=o["k_neighbors"],
            exclude=split_names(o["exclude"]) or (),
            drop_null_labels=o["drop_null_labels"],
            read=read_options(o["input_format"], o["separator"], "utf8", o["infer_schema_length"]),
            steps=steps,
            resample_before_split=o["resample_before_split"],
            command=command_line(ctx),
        )
    return result, target


def _write_report(target: Path | None, doc: str) -> None:
    """Write the JSON report atomically (to stdout when ``target`` is None): all or nothing."""
    from ..errors import InputOutputError
    from ..io import AtomicFile, fs

    sink = AtomicFile(target, what="report")
    try:
        try:
            fs.write_file(sink.tmp, doc.encode("utf-8"))
        except OSError as exc:
            raise InputOutputError(f"cannot write the report: {exc.strerror or exc}") from None
        sink.commit()
    finally:
        sink.discard()


def evaluate_cmd(
    ctx: typer.Context,
    data: Annotated[str, typer.Argument(help="Input file, or - for stdin.", show_default=False)],
    label: Annotated[
        str | None, typer.Option("--label", "-l", help="The class column.", show_default=False)
    ] = None,
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help=f"Comma-separated: {', '.join(SAMPLERS)}. none, none+threshold and "
            "class-weight are always shown.",
        ),
    ] = ",".join(SAMPLERS),
    classifier: Annotated[
        str, typer.Option("--classifier", "-c", help=f"{', '.join(CLASSIFIERS)}.")
    ] = "logreg",
    folds: Annotated[int, typer.Option("--folds", help="Stratified folds per repeat.")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", help="Repeats with new splits.")] = 3,
    metric: Annotated[
        str, typer.Option("--metric", help=f"Primary metric of the verdict: {', '.join(METRICS)}.")
    ] = DEFAULT_METRIC,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed; drawn and reported when absent.")
    ] = None,
    max_rows: Annotated[
        int,
        typer.Option(
            "--max-rows", help="Evaluate on a seeded stratified sample of this many rows."
        ),
    ] = DEFAULT_MAX_ROWS,
    k_neighbors: Annotated[
        int, typer.Option("--k-neighbors", "-k", help="SMOTE: neighbours per row.")
    ] = 5,
    exclude: Annotated[
        str | None, typer.Option("--exclude", help="Comma-separated columns not to learn from.")
    ] = None,
    drop_null_labels: Annotated[
        bool, typer.Option("--drop-null-labels", help="Leave out rows whose label is null.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full result as JSON on stdout.")
    ] = False,
    report: Annotated[
        str | None, typer.Option("--report", help="Also write the JSON result to this file.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Replace an existing report.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Errors only: no progress, no warnings.")
    ] = False,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format", help="csv, tsv, parquet, ipc or ndjson, when the name does not say."
        ),
    ] = None,
    separator: Annotated[
        str | None, typer.Option("--separator", help="CSV field separator (one character; 'tab').")
    ] = None,
    infer_schema_length: Annotated[
        int,
        typer.Option("--infer-schema-length", help="CSV/NDJSON rows used to infer types; 0: all."),
    ] = 10_000,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="TOML settings file (an [evaluate] table); default ./rebalance.toml.",
            envvar="REBALANCE_CONFIG",
        ),
    ] = None,
    resample_before_split: Annotated[
        bool, typer.Option("--debug-resample-before-split", hidden=True)
    ] = False,
) -> None:
    """Does rebalancing help? Cross-validate none, class weights and the samplers, honestly.

    Example: rebalance evaluate train.csv -l y --classifier hgb --seed 7
    """
    from .config import load_config, require, resolve

    with guarded():
        settings = resolve(ctx, "evaluate", load_config(config, COMMANDS))
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "evaluate")
        result, target = _run(ctx, data, label, o)
        doc = (
            json.dumps({**result.to_dict(), "settings": settings}, indent=2, ensure_ascii=False)
            + "\n"
        )
        if o["report"] is not None:  # (its target is None for stdout)
            _write_report(target, doc)
        with printing():
            show_evaluation(result, doc, o["as_json"], o["quiet"])

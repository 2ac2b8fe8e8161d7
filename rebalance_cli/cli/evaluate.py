"""The ``rebalance evaluate`` command: options, rendering and exit codes.

The work is :func:`rebalance_cli.evaluate.evaluate`. cli.py registers
:func:`evaluate_cmd`; the helpers it shares with cli.py are imported when the
command runs, so either module can be imported first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .common import (
    command_line,
    guarded,
    printing,
    read_options,
    settings_of,
    split_names,
    stderr_is_terminal,
)

if TYPE_CHECKING:  # rich, numpy, scikit-learn: imported when the command runs (start-up time)
    from rich.console import Console

    from ..evaluate import EvaluationResult

COLUMNS = (
    ("roc_auc", "ROC-AUC"),
    ("average_precision", "AP"),
    ("balanced_accuracy", "bal.acc"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("g_mean", "G-mean"),
    ("mcc", "MCC"),
    ("brier", "Brier"),
)


def _cell(result: EvaluationResult, strategy: str, metric: str) -> str:
    mean, sd = result.summary(strategy, metric)
    return f"{mean:.3f} ± {sd:.3f}"


def _header(result: EvaluationResult) -> list[str]:
    counts = ", ".join(f"{c} {n:,}" for c, n in zip(result.classes, result.counts, strict=True))
    lines = [
        f"{result.display}: {result.rows_used:,} rows evaluated, label {result.label!r} ({counts})",
        f"{result.classifier}, stratified {result.folds}-fold x {result.repeats} repeats, "
        f"seed {result.seed}; imputation, encoding, scaling and samplers fitted inside "
        "the training folds",
    ]
    if result.positive is not None:
        lines.append(
            f"minority class {result.positive!r}: precision, recall and F1 are its own at "
            f"threshold 0.5; average precision by chance (the prevalence) is "
            f"{result.chance_average_precision:.3f}"
        )
    else:
        lines.append(
            "multi-class: macro averages over the classes; average precision by chance "
            f"is about {result.chance_average_precision:.3f}"
        )
    if result.excluded:
        lines.append("excluded columns: " + ", ".join(f"{c} ({why})" for c, why in result.excluded))
    if result.sampled:
        lines.append(
            f"sampled: a seeded stratified sample of {result.rows_used:,} of "
            f"{result.rows_total:,} rows (--max-rows {result.max_rows:,})"
        )
    return lines


def _footer(result: EvaluationResult) -> list[str]:
    lines = [
        "mean ± standard deviation of the repeat means; none+threshold is the none model "
        "with its threshold moved to the training prevalence",
        "",
        f"verdict ({result.metric}): {result.verdict.text}",
        result.verdict.calibration,
    ]
    if result.warnings:
        lines.append("")
        lines.extend(f"warning: {w}" for w in result.warnings)
    return lines


def _recall_rows(result: EvaluationResult) -> list[list[str]]:
    return [
        [s, *(f"{result.class_recall(s)[c]:.3f}" for c in result.classes)]
        for s in result.strategies
    ]


def render_plain(result: EvaluationResult) -> str:
    """Aligned plain text for pipes and files."""
    head = ["strategy", *(name for _, name in COLUMNS), "fit time"]
    rows = [
        [
            s,
            *(_cell(result, s, m) for m, _ in COLUMNS),
            f"{result.relative_fit_time(s):.2f}x",
        ]
        for s in result.strategies
    ]
    out = [*_header(result), "", *_aligned(head, rows)]
    if result.positive is None:
        out += [
            "",
            "recall per class:",
            *_aligned(["strategy", *result.classes], _recall_rows(result)),
        ]
    out += ["", *_footer(result)]
    return "\n".join(out) + "\n"


def _aligned(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in [head, *rows]
    ]


def render_rich(result: EvaluationResult, console: Console) -> None:
    from rich.table import Table

    for line in _header(result):
        console.print(line)
    table = Table(
        title=f"{result.classifier} · {result.metric} is the primary metric", title_justify="left"
    )
    table.add_column("strategy")
    for _, name in COLUMNS:
        table.add_column(name, justify="right")
    table.add_column("fit time", justify="right")
    for s in result.strategies:
        style = "bold green" if s == result.verdict.recommended else None
        table.add_row(
            s,
            *(_cell(result, s, m) for m, _ in COLUMNS),
            f"{result.relative_fit_time(s):.2f}x",
            style=style,
        )
    console.print(table)
    if result.positive is None:
        recall = Table(title="recall per class", title_justify="left")
        recall.add_column("strategy")
        for c in result.classes:
            recall.add_column(c, justify="right")
        for row in _recall_rows(result):
            recall.add_row(*row)
        console.print(recall)
    for line in _footer(result):
        console.print(line, markup=False)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:

    if not enabled or not stderr_is_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True, highlight=False)
    bar = Progress(
        "fitting",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_interactive,
    )
    task = bar.add_task("fit", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):
        return False


def _run(
    ctx: typer.Context, data: str, label: str, o: dict[str, Any]
) -> tuple[EvaluationResult, Path | None]:
    """Check the settings ``o`` (and the report's path), then evaluate, with a
    progress bar unless ``--quiet``; the result and where its report goes (None: stdout,
    or no report)."""
    from ..errors import UsageError
    from ..evaluate import STRATEGIES, evaluate
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
    with _progress(not o["quiet"]) as progress:
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
            progress=progress,
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


def _show(result: EvaluationResult, doc: str, as_json: bool) -> None:
    """The result on stdout: JSON (warnings on stderr), a rich table on a terminal,
    else plain text."""
    if as_json:
        for warning in result.warnings:
            sys.stderr.write(f"rebalance: warning: {warning}\n")
        sys.stdout.write(doc)
    elif _stdout_is_terminal():
        from rich.console import Console

        render_rich(result, Console(highlight=False))
    else:
        sys.stdout.write(render_plain(result))
    sys.stdout.flush()


def evaluate_cmd(ctx: typer.Context, data: str, config: str | None = None, **_: Any) -> None:
    """``rebalance evaluate``: its options are declared in :data:`.options.EVALUATE`."""
    import json

    from .config import require

    with guarded():
        settings = settings_of(ctx, "evaluate", config)
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
            _show(result, doc, o["as_json"])

"""What the commands show, fitted to who reads it.

On a terminal (the stream is a TTY and TERM is not ``dumb``) a person is
watching: a compact table drawn by rich, a before -> after view, bars. Anywhere
else (a pipe, a file, cron mail, a CI log) a program or a log keeps it: plain
aligned text, never a box, never wrapped to the width of a terminal, and for
``apply`` exactly one summary line per run on stderr. ``-q`` leaves errors only.

Nothing here computes: every function reads a finished result (a
:class:`~rebalance_cli.report.Report`, a ``Distribution``, an
``EvaluationResult``). rich is imported only when something is drawn.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ..api import Distribution
    from ..evaluate import EvaluationResult, Step
    from ..report import Report

SHOWN_CLASSES = 6  # classes named in a summary line before the rest are folded
TABLE_CLASSES = 20  # rows of a terminal table before the rest are folded
FOLD_FROM = 3  # warnings of one kind said once, with a count of the others
BAR_WIDTH = 30
EIGHTHS = " ▏▎▍▌▋▊▉"


def is_terminal(stream: TextIO) -> bool:
    """A person is reading ``stream``: a TTY, and TERM is not ``dumb``.

    FORCE_COLOR and the like do not turn pipes and cron mail into a terminal.
    """
    try:
        return os.isatty(stream.fileno()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):
        return False


def console(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream, highlight=False)


# ---------------------------------------------------------------- words and numbers


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def duration(seconds: float) -> str:
    """``0.4 s``, ``12.3 s``, ``2 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def counts_text(counts: Mapping[str, int], limit: int = SHOWN_CLASSES) -> str:
    """``a: 1,706, b: 1,706``; past ``limit`` classes the rest are folded
    (``… and 994 more classes``), or all said at once when they are equal."""
    items = list(counts.items())
    if len(items) <= limit:
        return ", ".join(f"{c}: {n:,}" for c, n in items)
    values = set(counts.values())
    if len(values) == 1:
        return f"{len(items):,} classes of {values.pop():,} each"
    shown = ", ".join(f"{c}: {n:,}" for c, n in items[: limit - 1])
    return f"{shown}, … and {len(items) - limit + 1:,} more classes"


def names_text(paths: Sequence[str]) -> str:
    """``a``, ``a and b``, or the first and the last: ``a … e``."""
    if len(paths) <= 2:
        return " and ".join(paths)
    return f"{paths[0]} … {paths[-1]}"


def aligned(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain columns: the first left-aligned, the others right-aligned, two spaces
    apart, no trailing spaces; as wide as they need, whatever the terminal."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in [head, *rows]
    ]


# ---------------------------------------------------------------- warnings

_QUOTED = re.compile(r"'[^']*'")
_NUMBER = re.compile(r"\d[\d,.]*")
# the words a warning puts in the singular for a count of 1, and their plurals
_SINGULAR_OF = {"row": "rows", "was": "were"}
_SINGULAR = re.compile(r"\b(?:row|was)\b")


def fold_warnings(warnings: Sequence[str]) -> list[str]:
    """The warnings to print, each kind once.

    Three or more warnings that differ only in their quoted names and their
    numbers (one per group or class of a ``--by`` run) are said once, with how
    many more there were: ``… and 14 more groups`` when each names another group,
    ``… and 12 more, in 7 groups`` when several name one group, ``… and 2 more
    like it`` otherwise. Two are both said; a warning repeated word for word is
    said once. The report keeps every one.
    """
    kinds: dict[str, list[str]] = {}
    for w in warnings:
        kind = _NUMBER.sub("#", _QUOTED.sub("'…'", w))
        kind = _SINGULAR.sub(lambda m: _SINGULAR_OF[m[0]], kind)  # "1 row … was": one kind
        same = kinds.setdefault(kind, [])
        if w not in same:
            same.append(w)
    out = []
    for same in kinds.values():
        if len(same) < FOLD_FROM:
            out.extend(same)
        else:
            first, rest = same[0], same[1:]
            out.append(f"{first} … and {len(rest):,} more{_where(first, rest)}")
    return out


def _where(first: str, rest: Sequence[str]) -> str:
    """`` groups`` or ``, in N groups`` when the names are a --by run's cells
    (``'channel=web / high'``); `` like it`` otherwise."""
    groups = [_group_of(w) for w in rest]
    if any(g is None for g in groups):
        return " like it"
    if len(set(groups)) == len(groups) and _group_of(first) not in groups:
        return " groups"
    distinct = len(set(groups))
    return f", in {plural(distinct, 'group')}"


def _group_of(warning: str) -> str | None:
    names = _QUOTED.findall(warning)
    for name in names:
        if " / " in name:
            return name.strip("'").rsplit(" / ", 1)[0]
    return None


def write_warnings(warnings: Sequence[str], quiet: bool) -> None:
    """``rebalance: warning: …`` lines on stderr, folded; none with ``-q``."""
    if quiet:
        return
    for w in fold_warnings(warnings):
        sys.stderr.write(f"rebalance: warning: {w}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- apply


def summary_line(report: Report, output: str | None, dry_run: bool, counts: bool = True) -> str:
    """The one line a run leaves on stderr outside a terminal.

    ``rebalance: wrote 3,412 rows (a: 1,706, b: 1,706) to out.parquet in 1.2 s``;
    ``rebalance: dry run: would write … to out.parquet; nothing written (0.3 s)``.
    Bags, the test split, stdout and a weight column are said in words. Without
    ``counts`` the class counts are left out (a terminal shows them in a table).
    """
    what = _what(report, counts)
    where = _to(report, output)
    split = report.extra.get("split")
    if split and split.get("counts"):
        test_rows = int(split.get("rows", sum(split["counts"].values())))
        test_to = f" to {split['path']}" if split.get("path") and not dry_run else ""
        held = f" ({counts_text(split['counts'])})" if counts else ""
        where += f" and {plural(test_rows, 'test row')}{held}{test_to}"
    seconds = report.timings.get("total")
    if dry_run:
        took = f" ({duration(seconds)})" if seconds is not None else ""
        return f"rebalance: dry run: would write {what}{where}; nothing written{took}"
    took = f" in {duration(seconds)}" if seconds is not None else ""
    return f"rebalance: wrote {what}{where}{took}"


def _what(report: Report, counts: bool) -> str:
    after = report.counts_after
    rows = sum(after.values())
    shown = f" ({counts_text(after)})" if counts else ""
    bags = report.extra.get("bags")
    if bags:
        return f"{plural(len(bags), 'bag')} of {plural(rows, 'row')}{shown}"
    text = f"{plural(rows, 'row')}{shown}"
    column = report.parameters.get("weight_column")
    if column is not None:
        text += f" with weights in {column}"
    return text


def _to(report: Report, output: str | None) -> str:
    bags = report.extra.get("bags")
    if bags:
        return " to " + names_text([str(b["path"]) for b in bags])
    path = report.output["path"] if report.output else output
    if path is None:
        return ""
    return " to stdout" if path == "-" else f" to {path}"


def _terminal_tail(
    report: Report, output: str | None, report_path: str | None, dry_run: bool
) -> str:
    """The last line of the terminal view: the summary without the counts (the table
    has them), what the run made and dropped, and where the report is."""
    tail = summary_line(report, output, dry_run, counts=False).removeprefix("rebalance: ")
    made = [
        f"{report.rows[key]:,} {key}"
        for key in ("synthetic", "duplicated", "dropped")
        if report.rows.get(key)
    ]
    if made:
        tail += f" ({', '.join(made)})"
    if report_path is not None and not dry_run:
        tail += f"; report in {report_path}"
    return tail


def _title(report: Report) -> str:
    return f"{report.strategy} of {report.input.get('path')}, seed {report.seed}"


def _plan_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Class, before, (test,) after: every class, then the total."""
    split = report.extra.get("split") or {}
    test = split.get("counts") or {}
    head = ["class", "before", *(["test"] if test else []), "after"]
    rows = []
    for cls, before in report.counts_before.items():
        held = [f"{test.get(cls, 0):,}"] if test else []
        rows.append([cls, f"{before:,}", *held, f"{report.counts_after.get(cls, 0):,}"])
    total_test = [f"{sum(test.values()):,}"] if test else []
    total = [
        "total",
        f"{sum(report.counts_before.values()):,}",
        *total_test,
        f"{sum(report.counts_after.values()):,}",
    ]
    return head, [*rows, total]


def plan_plain(report: Report) -> str:
    """A dry run's plan on stdout outside a terminal: aligned text, every class."""
    head, rows = _plan_rows(report)
    lines = [f"{_title(report)} (dry run: nothing written)", *aligned(head, rows)]
    return "\n".join(lines) + "\n"


def plan_table(report: Report) -> Table:
    """Before -> after for a terminal: no box, long class lists folded."""
    from rich.table import Table
    from rich.text import Text

    head, rows = _plan_rows(report)
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False)
    table.add_column(head[0], no_wrap=True)
    for name in head[1:-1]:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column(head[-1], justify="right", no_wrap=True)
    body, total = rows[:-1], rows[-1]
    if len(body) > TABLE_CLASSES:
        hidden = len(body) - (TABLE_CLASSES - 1)
        body = [*body[: TABLE_CLASSES - 1], [f"… {hidden:,} more classes", *[""] * (len(head) - 1)]]
    for row in body:
        arrow = "→" if row[1] else ""
        table.add_row(Text(row[0]), *row[1:-1], arrow, row[-1])
    table.add_row(Text(total[0], style="bold"), *total[1:-1], "→", total[-1], style="bold")
    return table


def show_apply(
    report: Report,
    *,
    output: str | None,
    report_path: str | None,
    as_json: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Everything ``apply`` prints once it has run.

    stderr: the warnings (folded), then on a terminal the before -> after view,
    elsewhere the one summary line; nothing of this with ``-q``. stdout: the JSON
    report with ``--json``, a dry run's plan otherwise (a table on a terminal,
    aligned text elsewhere).
    """
    write_warnings(report.warnings, quiet)
    plan_on_screen = False
    if as_json:
        sys.stdout.write(report.to_json())
        sys.stdout.flush()
    elif dry_run:
        if is_terminal(sys.stdout):
            out = console(sys.stdout)
            out.print(f"{_title(report)} (dry run: nothing written)", markup=False, soft_wrap=True)
            out.print(plan_table(report))
            plan_on_screen = True
        else:
            sys.stdout.write(plan_plain(report))
            sys.stdout.flush()
    if quiet:
        return
    if not is_terminal(sys.stderr):
        sys.stderr.write(summary_line(report, output, dry_run) + "\n")
        sys.stderr.flush()
        return
    err = console(sys.stderr)
    if not plan_on_screen:
        err.print(_title(report) + (" (dry run)" if dry_run else ""), markup=False, soft_wrap=True)
        err.print(plan_table(report))
    # one line, as long as it is: the terminal wraps it, a copied path stays whole
    err.print(_terminal_tail(report, output, report_path, dry_run), markup=False, soft_wrap=True)


# ---------------------------------------------------------------- inspect


def bar(share: float, width: int = BAR_WIDTH) -> str:
    """A bar of ``share`` (0..1) of ``width`` cells, to an eighth of a cell; a
    share above 0 always shows (a 1% class gets a sliver, not an empty bar)."""
    eighths = round(share * width * 8)
    if share > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


FIELD_GAP = "   "  # between the fields of the line under inspect's table


def _distribution_footer(dist: Distribution, width: int | None = None) -> list[str]:
    """The lines under the distribution: its fields (rows, classes, majority, minority,
    imbalance ratio) on one line, or, within ``width`` columns, on as many as they need
    (a field is never split), then the null labels."""
    ratio = dist.imbalance_ratio
    fields = [f"rows: {dist.rows:,}"]
    if ratio is not None:
        fields += [
            f"classes: {len(dist.classes)}",
            f"majority: {dist.majority}",
            f"minority: {dist.minority}",
            f"imbalance ratio: {ratio:.2f}",
        ]
    lines: list[str] = []
    for field_ in fields:
        if lines and (width is None or len(lines[-1] + FIELD_GAP + field_) <= width):
            lines[-1] += FIELD_GAP + field_
        else:
            lines.append(field_)
    if dist.nulls:
        lines.append(f"null labels: {dist.nulls:,}")
    return lines


def distribution_plain(dist: Distribution) -> str:
    """The distribution as aligned text: every class, no bars, no box, no wrap."""
    shares = dist.shares()
    rows = [
        [cls, f"{count:,}", f"{shares[cls]:.2%}"]
        for cls, count in zip(dist.classes, dist.counts, strict=True)
    ]
    lines = [f"label: {dist.label}", *aligned(["class", "count", "share"], rows)]
    return "\n".join([*lines, *_distribution_footer(dist)]) + "\n"


def show_distribution(dist: Distribution) -> None:
    """``inspect``'s view on stdout: a table with bars on a terminal, else plain text."""
    if not is_terminal(sys.stdout):
        sys.stdout.write(distribution_plain(dist))
        sys.stdout.flush()
        return
    from rich.table import Table
    from rich.text import Text

    out = console(sys.stdout)
    table = Table(title=f"label: {dist.label}", title_justify="left")
    table.add_column("class")
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    shares = dist.shares()
    top = max(shares.values(), default=1.0)
    for cls, count in zip(dist.classes, dist.counts, strict=True):
        share = shares[cls]
        table.add_row(Text(cls), f"{count:,}", f"{share:.2%}", bar(share / top if top else 0))
    out.print(table)
    for line in _distribution_footer(dist, out.width):
        out.print(line, markup=False)


# ---------------------------------------------------------------- evaluate

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


def _cell(result: EvaluationResult, strategy: str, metric: str, compact: bool = False) -> str:
    mean, sd = result.summary(strategy, metric)
    if compact:  # 0.912±.012: two characters fewer
        return f"{mean:.3f}±{sd:.3f}".replace("±0.", "±.")
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


def _score_rows(
    result: EvaluationResult, metrics: Sequence[tuple[str, str]], compact: bool, fit_time: bool
) -> tuple[list[str], list[list[str]]]:
    head = ["strategy", *(name for _, name in metrics), *(["fit time"] if fit_time else [])]
    rows = [
        [
            s,
            *(_cell(result, s, m, compact) for m, _ in metrics),
            *([f"{result.relative_fit_time(s):.2f}x"] if fit_time else []),
        ]
        for s in result.strategies
    ]
    return head, rows


def render_plain(result: EvaluationResult) -> str:
    """Aligned plain text for pipes and files."""
    head, rows = _score_rows(result, COLUMNS, compact=False, fit_time=True)
    out = [*_header(result), "", *aligned(head, rows)]
    if result.positive is None:
        out += [
            "",
            "recall per class:",
            *aligned(["strategy", *result.classes], _recall_rows(result)),
        ]
    out += ["", *_footer(result)]
    return "\n".join(out) + "\n"


def _width(head: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width of a rich table without a box and one space of padding per side."""
    return sum(max(len(r[i]) for r in [head, *rows]) + 2 for i in range(len(head)))


def _score_tables(result: EvaluationResult, width: int) -> list[tuple[list[str], list[list[str]]]]:
    """The score table in as few parts as fit ``width`` without wrapping a cell:
    whole if it fits, then with compact cells (``0.912±.012``), then its metrics
    split over several tables (each with the strategy column)."""
    for compact in (False, True):
        head, rows = _score_rows(result, COLUMNS, compact, fit_time=True)
        if _width(head, rows) <= width:
            return [(head, rows)]
    parts: list[tuple[list[str], list[list[str]]]] = []
    metrics = list(COLUMNS)
    while metrics:
        take = len(metrics)
        while take > 1:
            last = take == len(metrics)
            head, rows = _score_rows(result, metrics[:take], True, fit_time=last)
            if _width(head, rows) <= width:
                break
            take -= 1
        last = take == len(metrics)
        parts.append(_score_rows(result, metrics[:take], True, fit_time=last))
        metrics = metrics[take:]
    return parts


def render_rich(result: EvaluationResult, console: Console) -> None:
    """The result on a terminal: tables that fit its width (no cell is wrapped)."""
    from rich.table import Table
    from rich.text import Text

    for line in _header(result):
        console.print(line, markup=False)
    parts = _score_tables(result, console.width)
    for i, (head, rows) in enumerate(parts):
        title = f"{result.classifier} · {result.metric} is the primary metric"
        table = Table(
            title=title if i == 0 else None,
            title_justify="left",
            box=None,
            padding=(0, 1),
            pad_edge=False,
            show_edge=False,
            header_style="bold",
        )
        table.add_column(head[0], no_wrap=True)
        for name in head[1:]:
            table.add_column(name, justify="right", no_wrap=True)
        for row in rows:
            style = "bold green" if row[0] == result.verdict.recommended else None
            table.add_row(Text(row[0]), *row[1:], style=style)
        console.print(table)
    if result.positive is None:
        recall = Table(
            title="recall per class", title_justify="left", box=None, header_style="bold"
        )
        recall.add_column("strategy", no_wrap=True)
        for c in result.classes:
            recall.add_column(Text(c), justify="right", no_wrap=True)
        for row in _recall_rows(result):
            recall.add_row(Text(row[0]), *row[1:])
        console.print(recall)
    for line in _footer(result):
        console.print(line, markup=False)


def step_text(step: Step) -> str:
    """What a terminal's progress bar says: ``repeat 1, fold 2: smote`` (``…: encoding`` while
    the fold is encoded, ``repeat 1, fold 2 done`` when every strategy is scored on it)."""
    if step.finished:
        return f"repeat {step.repeat}, fold {step.fold} done"
    return f"repeat {step.repeat}, fold {step.fold}: {step.strategy or 'encoding'}"


def fold_line(step: Step, metric: str) -> str:
    """The line a finished fold leaves on stderr outside a terminal."""
    scores = ", ".join(f"{s} {v:.3f}" for s, v in step.scores.items())
    return (
        f"rebalance: evaluate: fold {step.fold} of repeat {step.repeat} done "
        f"({step.done:,}/{step.total:,} fits) in {duration(step.seconds)}; {metric}: {scores}"
    )


def strategy_lines(result: EvaluationResult) -> list[str]:
    """The lines a run leaves on stderr outside a terminal when it is done, one per strategy:
    its primary metric as the tables show it (mean ± standard deviation of the repeat means),
    its fit time against ``none``'s, and which one the verdict recommends."""
    metric, repeats, folds = result.metric, result.repeats, result.folds
    over = f"over {repeats} repeat{'s' if repeats != 1 else ''} of {folds} folds"
    out = []
    for s in result.strategies:
        recommended = "; recommended" if s == result.verdict.recommended else ""
        out.append(
            f"rebalance: evaluate: {s} done: {metric} {_cell(result, s, metric)} {over}, "
            f"fit time {result.relative_fit_time(s):.2f}x none's{recommended}"
        )
    return out


def say_strategies(result: EvaluationResult, quiet: bool) -> None:
    """:func:`strategy_lines` on stderr when it is not a terminal (a bar showed the run on
    one, and the tables follow); nothing with ``-q``."""
    if quiet or is_terminal(sys.stderr):
        return
    sys.stderr.write("".join(line + "\n" for line in strategy_lines(result)))
    sys.stderr.flush()


@contextmanager
def evaluate_progress(
    quiet: bool, metric: str, total: int | None = None
) -> Iterator[Callable[[Step], None] | None]:
    """Progress of ``evaluate`` on stderr: on a terminal a bar that names the
    strategy, repeat and fold being fitted, out of ``total`` fits from the start;
    elsewhere a line per finished fold (and :func:`say_strategies` when the run is done);
    nothing with ``-q``."""
    if quiet:
        yield None
        return
    if not is_terminal(sys.stderr):

        def line(step: Step) -> None:
            if step.finished:
                sys.stderr.write(fold_line(step, metric) + "\n")
                sys.stderr.flush()

        yield line
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar_ = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("fits"),
        TimeRemainingColumn(),
        console=console(sys.stderr),
        transient=True,
    )
    task = bar_.add_task("reading", total=total)

    def update(step: Step) -> None:  # drawn at once: a fit can take minutes
        bar_.update(
            task, description=step_text(step), completed=step.done, total=step.total, refresh=True
        )

    with bar_:
        yield update


def show_evaluation(result: EvaluationResult, doc: str, as_json: bool, quiet: bool) -> None:
    """The result on stdout: JSON (its warnings on stderr, unless ``-q``), tables on a
    terminal, else plain text."""
    if as_json:
        write_warnings(result.warnings, quiet)
        sys.stdout.write(doc)
    elif is_terminal(sys.stdout):
        render_rich(result, console(sys.stdout))
    else:
        sys.stdout.write(render_plain(result))
    sys.stdout.flush()

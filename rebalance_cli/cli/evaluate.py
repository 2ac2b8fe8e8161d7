"""The ``rebalance evaluate`` command: options, the report file and exit codes.

The work is :func:`rebalance_cli.evaluate.evaluate`; what it shows (tables,
progress, the lines a pipe gets) is drawn by :mod:`rebalance_cli.cli.render`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .common import command_line, guarded, printing, read_options, settings_of, split_names
from .render import evaluate_progress, say_strategies, show_evaluation

if TYPE_CHECKING:  # numpy, scikit-learn: imported when the command runs (start-up time)
    from ..evaluate import EvaluationResult


def _run(
    ctx: typer.Context, data: str, label: str, o: dict[str, Any]
) -> tuple[EvaluationResult, Path | None]:
    """Check the settings ``o`` (and the report's path), then evaluate, with its
    progress on stderr unless ``--quiet``; the result and where its report goes
    (None: stdout, or no report)."""
    from ..errors import UsageError
    from ..evaluate import evaluate, planned_fits
    from ..evaluate.core import choices
    from ..io import check_target

    if str(o["strategies"]).strip() == "":
        raise UsageError(
            "--strategies names no strategy", hint=f"choose from {', '.join(choices())}"
        )
    report = o["report"]
    target = None
    if report is not None:
        inputs = [Path(data)] if data != "-" else []
        target = check_target(report, o["force"], inputs, "report")
    total = planned_fits(o["strategies"], o["folds"], o["repeats"])
    with evaluate_progress(o["quiet"], o["metric"], total) as steps:
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
    say_strategies(result, o["quiet"])
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
            show_evaluation(result, doc, o["as_json"], o["quiet"])

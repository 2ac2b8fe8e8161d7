"""The Spark engine's public functions: inspect, resample a DataFrame, rebalance a file."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...cells import per_class
from ...classes import Distribution
from ...columns import check_label
from ...errors import InputOutputError
from ...io import (
    ReadOptions,
    check_target,
)
from ...phases import Observer
from ...plan import TargetSpec
from ...report import Report
from ...request import DEFAULT_MAX_CLASSES, DEFAULT_MAX_OUTPUT_ROWS, Request, from_keywords
from ..driver import base_report, finish_report, stage_sections
from .files import (
    SparkReport,
    _check_folders,
    _commit,
    _Files,
    _input_format,
    _Target,
    _targets,
    read_input,
)
from .passes import SparkEngine
from .run import SparkRun, check_engine, plan_run
from .session import _spark_errors, get_session, polars_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# --------------------------------------------------------------------------- public functions


def inspect_spark(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    master: str | None = None,
) -> Any:
    """``inspect`` with Spark: the class distribution from one ``groupBy``."""

    spark, created = get_session(master)
    try:
        name = str(data)
        read = (read or ReadOptions()).checked()
        fmt = _input_format(name, read)
        if not _Files(spark).exists(name):
            raise InputOutputError(f"cannot read {name}: no such file or directory")
        with _spark_errors(name):
            df = read_input(spark, name, fmt, read)
            check_label(polars_schema(df), label, name)
            layout = SparkEngine(df, name).count(label, [], max_classes)
    finally:
        if created:
            spark.stop()
    assert layout.index is not None
    index = layout.index
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


# the keywords of the Spark shims that are not the request's (the engine's own, or ignored)
_FRAME_ONLY = frozenset({"df", "order_by", "smote_driver_rows", "plan_only", "display"})
_FILE_ONLY = frozenset({"data", "chunk_size", "master", "smote_driver_rows"})


def resample_dataframe(
    df: DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    test_size: float | str | None = None,
    bags: int | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS,
    plan_only: bool = False,
    display: str = "<DataFrame>",
) -> SparkRun:
    """Plan a resample of a Spark DataFrame; ``SparkRun.frame`` is the (lazy) result.

    ``SparkRun.test`` holds the test split with ``test_size``, ``SparkRun.bags``
    the K bags with ``bags``. Row order (which decides each row's random key) is
    ``order_by`` when given (a column with unique values, e.g. an id), else the
    DataFrame's own order: partition by partition, for one file read by Spark the
    file order. That order must be the same each time the DataFrame is computed (a
    file read is; a shuffle without a sort is not, and fails loudly rather than
    silently). Synthetic rows come after all input rows, as locally.
    """
    keywords = {k: v for k, v in locals().items() if k not in _FRAME_ONLY}
    request = from_keywords(
        {
            **keywords,
            "test_output": None if test_size is None else "<test DataFrame>",
            "dry_run": plan_only,
            "file_run": False,
        }
    )
    with _spark_errors(display):
        return plan_run(df, request, display, order_by, smote_driver_rows)


def resample_spark(
    df: DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    order_by: str | None = None,
    smote_driver_rows: int | None = None,
) -> DataFrame:
    """Rebalance a Spark DataFrame; the rows of ``rebalance_cli.resample_frame`` on the same data.

    The counts are computed now (one Spark job); the returned DataFrame is lazy.
    See :func:`resample_dataframe` for the row order and the SMOTE driver limit.
    """
    run = resample_dataframe(**locals())  # the same keywords, every one
    assert run.frame is not None
    return run.frame


def rebalance_spark(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = None,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    options: dict[str, Any] | None = None,
    bags: int | None = None,
    test_size: float | str | None = None,
    test_output: str | os.PathLike[str] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    chunk_size: int | None = None,
    read: ReadOptions | None = None,
    output_format: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    drop_null_labels: bool = False,
    shuffle: bool = False,
    lenient: bool = False,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS,
    report_path: str | os.PathLike[str] | None = None,
    progress: Observer | None = None,
    command: list[str] | None = None,
    settings: dict[str, Any] | None = None,
    master: str | None = None,
    smote_driver_rows: int | None = None,
) -> Report:
    """``rebalance`` with Spark: folders of part files, written atomically.

    Every folder (the output or the bags, the test split) goes to a hidden
    folder beside its target, its class counts are read back and checked
    against the plan, and only when all are written are they renamed into
    place; an existing target is refused unless ``force``. The JSON report is
    written by the driver. ``progress`` hears of the phases the driver runs (``count``,
    ``plan``, and SMOTE's ``neighbours`` and ``synthesise`` when the driver grows the
    cells); ``chunk_size`` (local engine only) is accepted and ignored.
    """
    keywords = {k: v for k, v in locals().items() if k not in _FILE_ONLY}
    started = time.perf_counter()
    request = from_keywords(
        {
            **keywords,
            "output": None if output is None else str(output),
            "read": (read or ReadOptions()).checked(),
        }
    )
    check_engine(request)
    name = str(data)
    assert request.read is not None
    fmt = _input_format(name, request.read)
    targets = _targets(request, fmt)
    rep_path = None
    if report_path is not None:
        rep_path = check_target(str(report_path), force, [Path(name)], "report")
    spark, created = get_session(master)
    try:
        return _run_files(
            spark, request, name, fmt, targets, rep_path, (master, created), started,
            smote_driver_rows,
        )  # fmt: skip
    finally:
        if created:
            spark.stop()


def _report(
    run: SparkRun, request: Request, name: str, fmt: str, targets: list[_Target], size: int
) -> SparkReport:
    """The local report as the plan fixes it, with the engine section."""
    prepared = run.prepared
    layout = run.program.layout
    main = [t for t in targets if t.what != "test output"]
    prepared.parameters.update(
        seed_source=request.seed_source,
        chunk_size=None,
        drop_null_labels=request.drop_null_labels,
        shuffle=False,
        infer_schema_length=None,
        policy="lenient" if request.lenient else "strict",
        max_classes=request.max_classes,
        max_output_rows=request.max_output_rows,
        input_format=fmt,
        output_format=main[0].fmt if main else None,
    )
    info = {
        "path": name,
        "format": fmt,
        "rows": sum(layout.counts) + layout.nulls,
        "columns": len(run.schema),
        "bytes": size,
    }
    label_dtype = str(run.schema[request.label])
    base = base_report(prepared, request, info, label_dtype, run.timings, run.warnings)
    report = SparkReport(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, engine=run.engine
    )
    if request.settings is not None:
        report.extra["settings"] = request.settings
    test = [t for t in targets if t.what == "test output"]
    report.extra.update(
        stage_sections(
            prepared,
            request,
            test[0].fmt if test else None,
            [t.name for t in main] if run.program.bag_seeds else [],
        )
    )
    return report


def _assign(run: SparkRun, targets: list[_Target]) -> None:
    """Each target's frame and the class counts it must hold."""
    program = run.program
    layout = program.layout
    frames = run.bags if program.bag_seeds else [run.frame]
    for t, frame in zip(targets, frames, strict=False):
        t.frame, t.want = frame, per_class(layout, program.after)
    if program.split is not None:
        targets[-1].frame = run.test
        targets[-1].want = per_class(layout, program.split.counts)


def _run_files(
    spark: SparkSession,
    request: Request,
    name: str,
    fmt: str,
    targets: list[_Target],
    rep_path: Path | None,
    session: tuple[str | None, bool],
    started: float,
    smote_driver_rows: int | None,
) -> Report:
    """The file run once a session is up: checks, the plan, the report, the commit.
    ``session``: the master asked for, and whether this run created the session."""
    master, created = session
    assert request.read is not None
    files = _Files(spark)
    if not files.exists(name):
        raise InputOutputError(f"cannot read {name}: no such file or directory")
    _check_folders(files, targets, name, request.force)
    with _spark_errors(name):
        df = read_input(spark, name, fmt, request.read)
        run = plan_run(df, request, name, smote_driver_rows=smote_driver_rows, input_format=fmt)
    if not created and master and master != spark.sparkContext.master:
        run.warnings.append(
            f"--spark-master {master} was ignored: the active Spark session runs on "
            f"{spark.sparkContext.master}"
        )
    report = _report(run, request, name, fmt, targets, files.size(name))
    if request.dry_run:
        run.timings["total"] = time.perf_counter() - started
        return report
    _assign(run, targets)
    finish_report(report, run.prepared, request, run.outcome)
    sep = request.read.separator if targets[0].fmt == fmt and request.read.separator else None
    sep = sep or ("\t" if targets[0].fmt == "tsv" else ",")
    _commit(spark, files, targets, report, sep, request.force, rep_path, name)
    report.timings["total"] = time.perf_counter() - started
    return report

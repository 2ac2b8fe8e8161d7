"""The files of a Spark run: reading the input, part folders written beside their targets
and renamed into place together (Hadoop's file system: local paths, s3a://, hdfs://)."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...classes import COUNT, ClassIndex
from ...errors import InputOutputError, RefusedError, UsageError
from ...io import (
    STDIO,
    ReadOptions,
    compression_from_name,
    format_from_name,
    resolve_output_format,
)
from ...report import Report, write_report
from ...request import Request
from ...stages.bags import bag_paths
from .session import SPARK_FORMATS, _collect, _spark_errors

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class _Files:
    """Hadoop FileSystem calls through the driver's JVM: local paths, s3a://, hdfs://, ..."""

    def __init__(self, spark: SparkSession) -> None:
        self.jvm: Any = spark.sparkContext._jvm
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()

    def path(self, name: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(name)

    def fs(self, name: str) -> Any:
        return self.path(name).getFileSystem(self.conf)

    def qualified(self, name: str) -> str:
        fs = self.fs(name)
        return str(fs.makeQualified(self.path(name)).toString())

    def exists(self, name: str) -> bool:
        return bool(self.fs(name).exists(self.path(name)))

    def size(self, name: str) -> int:
        return int(self.fs(name).getContentSummary(self.path(name)).getLength())

    def rename(self, src: str, dst: str) -> None:
        if not self.fs(src).rename(self.path(src), self.path(dst)):
            raise InputOutputError(f"cannot rename {src} to {dst}")

    def delete(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.fs(name).delete(self.path(name), True)


def _sibling(target: str, tag: str) -> str:
    """A hidden name beside ``target`` (same folder, so the rename stays in one filesystem)."""
    head, _, name = target.rstrip("/").rpartition("/")
    hidden = f".{name}.{uuid.uuid4().hex[:12]}.{tag}"
    return f"{head}/{hidden}" if head else hidden


def _is_local(name: str) -> bool:
    return "://" not in name and not name.startswith("file:")


def _input_format(data: str, read: ReadOptions) -> str:
    fmt = read.input_format or format_from_name(Path(data.rstrip("/")).name)
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {data}", hint="pass --input-format csv or parquet"
        )
    if fmt not in SPARK_FORMATS:
        raise UsageError(
            f"the Spark engine reads {', '.join(SPARK_FORMATS)}, not {fmt}",
            hint="use --engine local for this file, or convert it to Parquet",
        )
    return fmt


def read_input(spark: SparkSession, data: str, fmt: str, read: ReadOptions) -> DataFrame:
    """The input as a Spark DataFrame (CSV: a header row, types inferred from every row)."""
    if fmt == "parquet":
        return spark.read.parquet(data)
    sep = read.separator or ("\t" if fmt == "tsv" else ",")
    return (
        spark.read.option("header", True)
        .option("inferSchema", True)
        .option("sep", sep)
        .option("mode", "FAILFAST")
        .csv(data)
    )


def _write(frame: DataFrame, path: str, fmt: str, sep: str) -> None:
    writer = frame.write.mode("errorifexists")
    if fmt == "parquet":
        writer.parquet(path)
    else:
        writer.option("header", True).option("sep", sep).csv(path)


def _read_back_counts(
    spark: SparkSession, path: str, fmt: str, sep: str, frame: DataFrame, label: str
) -> dict[str, int]:
    """Class counts of a written directory, read again (the check that the plan was met)."""
    from pyspark.sql import functions as F

    reader = spark.read.schema(frame.schema)
    if fmt == "parquet":
        back = reader.parquet(path)
    else:
        back = reader.option("header", True).option("sep", sep).csv(path)
    got = _collect(back.groupBy(label).agg(F.count(F.lit(1)).alias(COUNT)))
    index = ClassIndex.from_counts(label, got)
    return dict(index.pairs())


@dataclass
class _Target:
    """One folder the run writes: where, how, and the class counts it must hold."""

    name: str
    fmt: str
    what: str  # "output", "test output", "bag 2"
    frame: Any = None
    want: dict[str, int] = field(default_factory=dict)
    tmp: str | None = None
    old: str | None = None
    done: bool = False
    entry: dict[str, Any] = field(default_factory=dict)


def _targets(request: Request, fmt: str) -> list[_Target]:
    """The output (or the bags), then the test split: their names and formats."""
    out, flag = request.output, request.output_format
    if out is None:
        return []
    if out == STDIO or request.stages.test_output == STDIO:
        raise UsageError(
            "--engine spark writes a folder of part files, not stdout", hint="give -o a path"
        )
    found: list[tuple[str, str]] = []
    if request.stages.bags:
        names = bag_paths(out, request.stages.bags, flag, fmt)
        found += [(n.rstrip("/"), f"bag {b + 1}") for b, n in enumerate(names)]
    else:
        found.append((out.rstrip("/"), "output"))
    if request.stages.test_output is not None:
        found.append((str(request.stages.test_output).rstrip("/"), "test output"))
    targets = []
    for name, what in found:
        out_fmt = resolve_output_format(name, flag, fmt, "-o" if what == "output" else what)
        if compression_from_name(name) is not None:
            raise UsageError(
                f"the Spark engine writes a folder of uncompressed part files, not {name}",
                hint="name the output without its compressed ending (Parquet is compressed "
                "inside), or run without --engine spark",
            )
        if out_fmt not in SPARK_FORMATS:
            raise UsageError(
                f"the Spark engine writes {', '.join(SPARK_FORMATS)}, not {out_fmt}",
                hint="name the output .parquet or .csv",
            )
        targets.append(_Target(name, out_fmt, what))
    return targets


def _check_folders(files: _Files, targets: list[_Target], name: str, force: bool) -> None:
    seen = {files.qualified(name)}
    for t in targets:
        where = files.qualified(t.name)
        if where in seen:
            raise RefusedError(
                f"the {t.what} {t.name} is the input or another output; refusing to overwrite it",
                hint="write to another path",
            )
        seen.add(where)
        if files.exists(t.name) and not force:
            raise RefusedError(
                f"the {t.what} {t.name} already exists", hint="pass --force to replace it"
            )
        parent = Path(t.name).parent
        if _is_local(t.name) and not parent.exists():
            raise InputOutputError(f"the folder of the {t.what} ({parent}) does not exist")


def _commit(
    spark: SparkSession,
    files: _Files,
    targets: list[_Target],
    report: SparkReport,
    sep: str,
    force: bool,
    rep_path: Path | None,
    display: str,
) -> None:
    """Write every target to a hidden folder, check its counts, then rename them all."""
    report_sink = None
    try:
        t0 = time.perf_counter()
        for t in targets:
            t.tmp = tmp = _sibling(t.name, "rebalance-tmp")
            with _spark_errors(display):
                _write(t.frame, tmp, t.fmt, sep)
        report.timings["write"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for t in targets:
            assert t.tmp is not None
            with _spark_errors(t.tmp):
                got = _read_back_counts(spark, t.tmp, t.fmt, sep, t.frame, report.label)
            if {c: got.get(c, 0) for c in t.want} != t.want or set(got) - set(t.want):
                raise RuntimeError(f"rows written per class {got} differ from the plan {t.want}")
            counts = {c: got.get(c, 0) for c in t.want}
            t.entry = {
                "counts": counts,
                "bytes": files.size(t.tmp),
                "files": _part_files(files, t.tmp),
            }
        report.timings["verify"] = time.perf_counter() - t0
        _fill_report(report, targets)
        if rep_path is not None:
            report_sink = write_report(report, rep_path)
        for t in targets:
            _swap(files, t, force)
        if report_sink is not None:
            report_sink.commit()
        for t in targets:
            if t.old is not None:
                files.delete(t.old)
    except BaseException:
        for t in targets:
            _undo(files, t)
        raise
    finally:
        if report_sink is not None:
            report_sink.discard()


def _swap(files: _Files, t: _Target, force: bool) -> None:
    assert t.tmp is not None
    if files.exists(t.name):
        if not force:
            raise RefusedError(
                f"the {t.what} {t.name} already exists", hint="pass --force to replace it"
            )
        t.old = _sibling(t.name, "rebalance-old")
        files.rename(t.name, t.old)
    files.rename(t.tmp, t.name)
    t.done = True


def _undo(files: _Files, t: _Target) -> None:
    if t.done:
        files.delete(t.name)
    elif t.tmp is not None:
        files.delete(t.tmp)
    if t.old is not None and not files.exists(t.name):
        files.rename(t.old, t.name)


def _part_files(files: _Files, folder: str) -> int:
    statuses = files.fs(folder).listStatus(files.path(folder))
    return sum(1 for s in statuses if str(s.getPath().getName()).startswith("part-"))


@dataclass
class SparkReport(Report):
    """The local report plus an ``engine`` section (Spark version, master, partitions)."""

    engine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc = super().to_dict()
        try:
            doc["versions"]["pyspark"] = metadata.version("pyspark")
        except metadata.PackageNotFoundError:
            doc["versions"]["pyspark"] = "unknown"
        doc["engine"] = self.engine
        return doc


def _fill_report(report: SparkReport, targets: list[_Target]) -> None:
    """What the folders hold, read back: counts, bytes, part files."""
    main = [t for t in targets if t.what != "test output"]
    report.output = {
        "path": "; ".join(t.name for t in main),
        "format": main[0].fmt,
        "bytes": sum(t.entry["bytes"] for t in main),
        "layout": "folder of part files",
    }
    report.engine["output_files"] = sum(t.entry["files"] for t in main)
    if "bags" in report.extra:
        rows = [sum(t.entry["counts"].values()) for t in main]
        report.rows["written"] = sum(rows)
        report.rows["written_per_bag"] = rows[0]
        for entry, t, n in zip(report.extra["bags"], main, rows, strict=True):
            entry.update(rows=n, counts=t.entry["counts"], format=t.fmt, bytes=t.entry["bytes"])
    else:
        report.counts_after = {c: main[0].entry["counts"].get(c, 0) for c in main[0].want}
    if "split" in report.extra:
        test = targets[-1]
        report.extra["split"].update(bytes=test.entry["bytes"], files=test.entry["files"])

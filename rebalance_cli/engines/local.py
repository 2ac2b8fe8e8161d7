"""The local engine: polars scans in, the program in this process, atomic files out.

    open     the source (a file, or stdin spooled to one) and its schema
    count    pass 1: a streaming group-by of the label (and the --by columns)
    pool     the rows of grown cells, kept as pass 2 streams by
    run      pass 2: batches in order through the program, into every sink

Every file a run writes (outputs, test split, bags, report) goes to a
temporary file beside its target and is renamed into place only when all of
them have been written and synced (``io.commit_all``); streams (stdout, FIFOs,
devices) are written after the renames.

A run announces its phases (``rebalance_cli.phases``): spool, read, count,
plan, write, neighbours, synthesise, shuffle, commit. Polars queries run under
``wait_for``, so a signal is taken while they run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..cells import Layout, check_classes, class_layout, grouped_layout, per_class
from ..classes import COUNT, ClassIndex
from ..errors import DataError, InputOutputError
from ..io import (
    STDIO,
    TMP_SUFFIX,
    AtomicFile,
    SinkStopped,
    Source,
    check_target,
    check_writable,
    commit_all,
    compression_from_name,
    dictionary_columns,
    frame_batches,
    fs,
    open_frame_writer,
    open_source,
    reading,
    remove_stale,
    resolve_output_format,
    same_file,
    write_frames,
    writing,
)
from ..phases import Phase, Phases, check, wait_for
from ..report import Report, write_report
from ..request import Request
from ..stages.bags import bag_paths
from ..stages.shrinkage import STD_BATCH, cell_std
from ..stages.shuffle import shuffled
from ..strategies import Outcome
from .driver import (
    Prepared,
    base_report,
    check_output_rows,
    finish_report,
    prepare,
    stage_sections,
)
from .program import Program


def count_classes(
    lf: pl.LazyFrame, label: str, display: str, max_classes: int | None = None
) -> ClassIndex:
    """Pass 1: the class counts, reading the label column only (streaming)."""
    query = lf.select(pl.col(label)).group_by(label).agg(pl.len().alias(COUNT))
    with reading(display):
        frame = wait_for(query.collect)
    check_classes(frame, label, max_classes)
    return ClassIndex.from_counts(label, frame)


@dataclass
class LocalEngine:
    """The polars engine over one lazy frame."""

    lf: pl.LazyFrame
    display: str
    name: str = "local"
    # raises when the input file is gone or rewritten (Source.check_unchanged): run
    # before every scan, so a scan never starts on another file than pass 1 counted
    check_input: Callable[[], None] = lambda: None
    _dictionaries: dict[tuple[str, ...], dict[str, list[str]]] = field(
        default_factory=dict, repr=False
    )

    def count(self, label: str, by: list[str], max_classes: int | None) -> Layout:
        self.check_input()
        if by:
            with reading(self.display):
                limit = None if max_classes is None else max_classes * 1000
                return wait_for(lambda: grouped_layout(self.lf, label, by, limit))
        return class_layout(count_classes(self.lf, label, self.display, max_classes))

    def cell_std(self, layout: Layout, columns: list[str]) -> np.ndarray:
        batches = self.coded_batches(layout, STD_BATCH, drop_null_labels=True, columns=columns)
        return cell_std(batches, len(layout), columns)

    def feature_batches(
        self, layout: Layout, columns: list[str]
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        return self.coded_batches(layout, STD_BATCH, drop_null_labels=True, columns=columns)

    def coded_batches(
        self,
        layout: Layout,
        chunk_size: int,
        drop_null_labels: bool,
        columns: list[str] | None = None,
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """Pass 2's input: each batch, in order, with the cell code of every row
        (only ``columns`` and the cell keys when given)."""
        self.check_input()
        lf = self.lf
        if columns is not None:
            keys = [*layout.by, layout.label]
            lf = lf.select([*keys, *(c for c in columns if c not in keys)])
        scan = lf.filter(layout.labelled()) if drop_null_labels else lf
        with reading(self.display):
            for batch in frame_batches(scan, chunk_size):
                check()
                try:
                    codes = layout.codes(batch)
                except LookupError as exc:
                    raise DataError(f"{self.display} changed while it was read: {exc}") from None
                yield batch, codes

    def dictionaries(self, schema: pl.Schema, fmt: str) -> dict[str, list[str]]:
        """Fixed sorted dictionaries of Categorical columns, for Parquet/IPC bytes that
        do not depend on the batching: one extra scan of those columns per run, however
        many files (output, test split, bags) need them."""
        cats = tuple(dictionary_columns(schema, fmt))
        if not cats:
            return {}
        if cats not in self._dictionaries:
            self.check_input()
            query = self.lf.select(
                pl.col(c).cast(pl.String).drop_nulls().unique().sort().implode() for c in cats
            )
            with reading(self.display):
                found = wait_for(query.collect)
            self._dictionaries[cats] = {c: found[c][0].to_list() for c in cats}
        return self._dictionaries[cats]


@dataclass
class Stream:
    """One pass 2 over the input: the frames of sink 0, the other sinks written aside."""

    engine: LocalEngine
    program: Program
    request: Request
    schema: pl.Schema
    outcome: Outcome
    stop: threading.Event = field(default_factory=threading.Event)
    test_writer: Any = None
    bag_writers: list[Any] = field(default_factory=list)
    bag_names: list[str] = field(default_factory=list)
    bags_written: list[tuple[int, ...]] = field(default_factory=list)
    _pool: list[pl.DataFrame] = field(default_factory=list, repr=False)
    _pool_codes: list[np.ndarray] = field(default_factory=list, repr=False)

    def frames(self) -> Iterator[pl.DataFrame]:
        """The output of sink 0, in order; then the synthetic rows of the grown cells.

        The phases ``write`` (the rows of sink 0 written from the input), then, for a
        synthesiser, ``neighbours`` per grown cell and ``synthesise``.
        """
        with self.outcome.phases.phase("write", sum(self.program.kept)) as phase:
            yield from self._input_frames(phase)
        yield from self._synthetic_frames()

    def _input_frames(self, phase: Phase) -> Iterator[pl.DataFrame]:
        program, request = self.program, self.request
        runner = program.start(request.chunk_size)
        batches = self.engine.coded_batches(
            program.layout, request.chunk_size, request.drop_null_labels
        )
        with reading(self.engine.display):
            for batch, codes in batches:
                check()
                if self.stop.is_set():
                    raise SinkStopped
                fed = runner.feed(batch, codes)
                if fed.test is not None:
                    with writing("test output"):
                        self.test_writer.write(fed.test)
                if fed.pool is not None:
                    assert fed.pool_codes is not None
                    self._pool.append(fed.pool)
                    self._pool_codes.append(fed.pool_codes)
                for name, writer, frames in zip(
                    self.bag_names, self.bag_writers, fed.outputs[1:], strict=False
                ):
                    with writing(f"bag {name}"):
                        for frame in frames:
                            writer.write(frame)
                for frame in fed.outputs[0]:
                    yield frame
                    phase.advance(frame.height)
        runner.check_complete(self.engine.display)
        self._check_split(runner)
        self.outcome.written = [int(v) for v in runner.selectors[0].written]
        self.bags_written = runner.written()

    def _synthetic_frames(self) -> Iterator[pl.DataFrame]:
        program, pool, pool_codes = self.program, self._pool, self._pool_codes
        if not pool:
            return
        counts = np.array(self.outcome.written)
        merged, merged_codes = pl.concat(pool), np.concatenate(pool_codes)
        pool.clear()
        pool_codes.clear()
        made = program.synthesise(
            merged, merged_codes, self.schema, self.request.chunk_size, self.outcome
        )
        for i, part in made:
            check()
            if self.stop.is_set():
                raise SinkStopped
            yield part
            counts[i] += part.height
        self.outcome.written = [int(v) for v in counts]

    def _check_split(self, runner: Any) -> None:
        split = self.program.split
        if split is not None and tuple(int(v) for v in runner.split.written) != split.counts:
            raise RuntimeError(
                f"test rows {runner.split.written} differ from the plan {split.counts}"
            )


def read_schema(source: Source, phases: Phases) -> tuple[pl.LazyFrame, pl.Schema]:
    """The phase ``read``: the source's lazy frame and its schema (which may read much
    of a CSV or NDJSON file: in a worker thread, so that a signal is taken at once)."""

    def work() -> tuple[pl.LazyFrame, pl.Schema]:
        lf = source.scan()
        with reading(source.display):
            return lf, lf.collect_schema()

    with phases.phase("read"):
        return wait_for(work)


@dataclass
class Targets:
    """Every file a run will write, checked before anything is written."""

    out_fmt: str | None = None
    out_path: Path | None = None
    bags: list[tuple[str, Path | None, str]] = field(default_factory=list)
    test_path: Path | None = None
    test_fmt: str | None = None
    report: Path | None = None

    def check_writable(self, schema: pl.Schema, request: Request) -> None:
        """Every column fits every text target's format (see io.check_writable)."""
        output = "-o" if request.output is None else f"-o {request.output}"
        check_writable(schema, self.out_fmt, output)  # the bags' format is out_fmt too
        if self.test_path is not None:
            check_writable(schema, self.test_fmt, f"--test-output {self.test_path}")

    def paths(self) -> list[Path]:
        """The paths written (stdout left out): output or bags, test split, report."""
        found = [self.out_path, *(p for _, p, _ in self.bags), self.test_path, self.report]
        return [p for p in found if p is not None]

    def streams(self) -> bool:
        """Whether a target is stdout, a FIFO or a device (spooled in the temp folder)."""
        if self.out_fmt is not None and self.out_path is None and not self.bags:
            return True  # -o -
        return any(p.exists() and not p.is_file() for p in self.paths())


def check_targets(request: Request, source: Source) -> Targets:
    """The output, bags, test split and report: formats, collisions, the input, --force.

    Every check runs before anything is written, in this order: the formats and
    the paths stdout cannot take (usage errors), two targets naming one file
    (usage), then each target against the input, an existing file without
    --force, a folder that does not exist (:func:`check_target`).
    """
    from ..errors import UsageError

    t = Targets()
    inputs = [] if source.origin is None else [source.origin]
    out, fmt_flag, force = request.output, request.output_format, request.force
    planned: list[tuple[str, str, str]] = []  # flag, what check_target calls it, path
    if out is not None:
        if request.stages.bags:
            for b, name in enumerate(
                bag_paths(out, request.stages.bags, fmt_flag, source.format), 1
            ):
                fmt = resolve_output_format(name, fmt_flag, source.format)
                t.bags.append((name, None, fmt))
                planned.append((f"--bags (bag {b})", "bag", name))
            t.out_fmt = t.bags[0][2]
        else:
            t.out_fmt = resolve_output_format(out, fmt_flag, source.format)
            planned.append(("-o", "output", out))
    test_output = request.stages.test_output
    if test_output is not None and not request.dry_run:
        test_str = str(test_output)
        if test_str == STDIO:
            raise UsageError("--test-output needs a file path, not stdout")
        t.test_fmt = resolve_output_format(test_str, fmt_flag, source.format, "--test-output")
        planned.append(("--test-output", "test output", test_str))
    if request.report_path is not None:
        if request.report_path == STDIO:
            raise UsageError("--report needs a file path; use --json for the report on stdout")
        planned.append(("--report", "report", request.report_path))
    check_collisions(planned)
    bags, t.bags = iter(t.bags), []
    for _, what, given in planned:
        path = check_target(given, force, inputs, what)
        if what == "bag":
            name, _, fmt = next(bags)
            t.bags.append((name, path, fmt))
        elif what == "output":
            t.out_path = path
        elif what == "test output":
            t.test_path = path
        else:
            t.report = path
    return t


def check_collisions(planned: list[tuple[str, str, str]]) -> None:
    """Refuse two targets (flag, what, path) that name one file: the same path after
    ``./``, symlinks and hard links are resolved (:func:`same_file`). The null device
    may take several: nothing written to it is lost."""
    from ..errors import UsageError

    seen: list[tuple[str, str, Path]] = []
    null = Path(os.devnull)
    on_stdout = next((flag for flag, _, given in planned if given == STDIO), None)
    for flag, _, given in planned:
        if given == STDIO:
            continue
        path = Path(given)
        if on_stdout and _is_stdout(path) and not same_file(path, null):
            raise UsageError(
                f"{flag} and {on_stdout} name the same file {given}, which is stdout",
                hint="give each its own path",
            )
        for other_flag, other_given, other in seen:
            if not same_file(path, other) or (same_file(path, null) and same_file(other, null)):
                continue
            shown = given if given == other_given else f"{given}, which is {other_given}"
            raise UsageError(
                f"{flag} and {other_flag} name the same file {shown}",
                hint="give each its own path",
            )
        seen.append((flag, given, path))


def _is_stdout(path: Path) -> bool:
    """Whether ``path`` names this process's stdout (``/dev/stdout``, ``/proc/self/fd/1``,
    or the file stdout is redirected to); never where stdout has no descriptor (a test's
    capture) or ``path`` names no file."""
    import sys

    try:
        return os.path.samestat(path.stat(), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def run(request: Request, data: Any) -> Report:
    """Rebalance ``data`` (a path, or ``-``) as ``request`` asks; returns the report."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    warnings = list(request.warnings)
    phases = Phases.for_run(request.progress)
    source = open_source(data, request.read, phases=phases)
    try:
        with source.guard():
            targets = check_targets(request, source)
            lf, schema = read_schema(source, phases)
            engine = LocalEngine(lf, source.display, check_input=source.check_unchanged)
            prepared = prepare(
                engine, schema, source.display, request, timings, warnings, source.format, phases
            )
            check_output_rows(prepared, request)
            targets.check_writable(prepared.out_schema, request)
            report = _report(prepared, request, source, schema, targets, timings, warnings)
            if request.dry_run:
                timings["total"] = time.perf_counter() - started
                return report
            _write_all(engine, prepared, request, schema, targets, report, started, phases)
            return report
    finally:
        source.close()


def _report(
    prepared: Prepared,
    request: Request,
    source: Source,
    schema: pl.Schema,
    targets: Targets,
    timings: dict[str, float],
    warnings: list[str],
) -> Report:
    program = prepared.program
    layout = program.layout
    prepared.parameters.update(
        seed_source=request.seed_source,
        chunk_size=request.chunk_size,
        drop_null_labels=request.drop_null_labels,
        shuffle=request.stages.shuffle,
        infer_schema_length=source.read.infer_schema_length,
        policy="lenient" if request.lenient else "strict",
        max_classes=request.max_classes,
        max_output_rows=request.max_output_rows,
        input_format=source.format,
        output_format=targets.out_fmt,
    )
    input_info = {
        "path": source.display,
        "format": source.format,
        "rows": sum(layout.counts) + layout.nulls,
        "columns": len(schema),
        "bytes": source.size,
    }
    report = base_report(
        prepared, request, input_info, str(schema[request.label]), timings, warnings
    )
    if request.settings is not None:
        report.extra["settings"] = request.settings
    report.extra.update(
        stage_sections(prepared, request, targets.test_fmt, [name for name, _, _ in targets.bags])
    )
    return report


def _write_all(
    engine: LocalEngine,
    prepared: Prepared,
    request: Request,
    schema: pl.Schema,
    targets: Targets,
    report: Report,
    started: float,
    phases: Phases,
) -> None:
    """Pass 2 into temporary files, then every file committed together (``commit``).

    Stale temporary files of these targets (left by killed runs) are removed
    first. Every temporary file is written completely (data, test split, bags,
    report) before :func:`commit_all` syncs and renames them; any failure before
    the renames leaves every target as it was.
    """
    assert targets.out_fmt is not None
    program = prepared.program
    t0 = time.perf_counter()
    sinks: list[AtomicFile] = []
    outcome = Outcome(warnings=report.warnings, phases=phases)
    try:
        for path in targets.paths():
            remove_stale(path)  # what runs killed before us left beside these targets
        if targets.streams():
            remove_stale(None)  # and their spooled copies of streams, in the temp folder
        if program.bag_seeds:
            _write_bags(engine, prepared, request, schema, targets, sinks, report, outcome)
        else:
            _write_output(engine, prepared, request, schema, targets, sinks, report, outcome)
        report.timings["write"] = time.perf_counter() - t0
        report.timings["total"] = time.perf_counter() - started
        files = len(sinks) + (request.report_path is not None)
        with phases.phase("commit", files, unit="files"):
            if request.report_path is not None:
                sinks.append(write_report(report, targets.report))
            engine.check_input()  # the files hold what the input held all along
            commit_all(sinks)  # sync every temp file, rename them all, then write the streams
            phases.committed()
    finally:
        for s in sinks:
            s.discard()


def _write_output(
    engine: LocalEngine,
    prepared: Prepared,
    request: Request,
    schema: pl.Schema,
    targets: Targets,
    sinks: list[AtomicFile],
    report: Report,
    outcome: Outcome,
) -> None:
    program = prepared.program
    sink = AtomicFile(targets.out_path)
    sinks.append(sink)
    stream = Stream(engine, program, request, schema, outcome)
    if program.split is not None:
        test_sink = AtomicFile(targets.test_path, what="test output")
        sinks.append(test_sink)
        assert targets.test_fmt is not None
        dicts = engine.dictionaries(schema, targets.test_fmt)
        codec = compression_from_name(str(targets.test_path or ""))
        with writing("test output"):
            stream.test_writer = open_frame_writer(
                test_sink.tmp, targets.test_fmt, schema, dicts, codec
            )
    assert targets.out_fmt is not None
    dictionaries = engine.dictionaries(schema, targets.out_fmt)
    frames = stream.frames()
    folder = None
    codec = compression_from_name(str(targets.out_path or ""))
    try:
        if request.stages.shuffle:
            folder = _shuffle_folder(sink)
            frames = shuffled(
                frames,
                prepared.out_schema,
                request.seed,
                sum(program.after),
                folder,
                request.chunk_size,
                outcome.phases,
            )
        with writing("output"):
            write_frames(
                frames,
                sink.tmp,
                targets.out_fmt,
                prepared.out_schema,
                dictionaries,
                stream.stop,
                codec,
            )
        if stream.test_writer is not None:
            with writing("test output"):
                writer, stream.test_writer = stream.test_writer, None
                writer.close()
    finally:
        if stream.test_writer is not None:
            stream.test_writer.abandon()
        if folder is not None:
            fs.remove(folder)
    if tuple(outcome.written) != program.after:
        raise RuntimeError(
            f"rows written per cell {outcome.written} differ from the plan {program.after}"
        )
    finish_report(report, prepared, request, outcome)
    report.counts_after = per_class(program.layout, outcome.written)
    report.output = {
        "path": request.output,
        "format": targets.out_fmt,
        "bytes": sink.written_bytes(),
    }
    if codec is not None:
        report.output["compression"] = codec
    if program.split is not None:
        report.extra["split"]["bytes"] = sinks[1].written_bytes()
        test_codec = compression_from_name(str(targets.test_path or ""))
        if test_codec is not None:
            report.extra["split"]["compression"] = test_codec


def _shuffle_folder(sink: AtomicFile) -> Path:
    """The folder of --shuffle's bucket files: beside the output (for a stream, in the
    temp folder), named like its temp file so that a later run removes it if this one
    is killed (remove_stale)."""
    pid = os.getpid()
    if sink.stream or sink.target is None:
        prefix, suffix = f"rebalance-out-{pid}-", ""
    else:
        prefix, suffix = f".{sink.target.name}.{pid}.", TMP_SUFFIX
    try:
        return fs.temp_dir(sink.tmp.parent, prefix, suffix)
    except OSError as exc:
        raise InputOutputError(
            f"cannot make the folder of --shuffle's bucket files in {sink.tmp.parent}: "
            f"{exc.strerror or exc}"
        ) from None


def _write_bags(
    engine: LocalEngine,
    prepared: Prepared,
    request: Request,
    schema: pl.Schema,
    targets: Targets,
    sinks: list[AtomicFile],
    report: Report,
    outcome: Outcome,
) -> None:
    """K undersampled bags from one pass over the input, each with its own derived seed."""
    program = prepared.program
    writers: list[Any] = []
    names = [name for name, _, _ in targets.bags]
    try:
        for name, path, fmt in targets.bags:
            sink = AtomicFile(path, what=f"bag {name}")
            sinks.append(sink)
            dicts = engine.dictionaries(schema, fmt)
            codec = compression_from_name(name)
            with writing(f"bag {name}"):
                writers.append(open_frame_writer(sink.tmp, fmt, schema, dicts, codec))
        stream = Stream(engine, program, request, schema, outcome)
        stream.bag_writers = writers[1:]
        stream.bag_names = names[1:]
        first = writers[0]
        for frame in stream.frames():
            with writing(f"bag {names[0]}"):
                first.write(frame)
        for name in names:
            with writing(f"bag {name}"):
                writers.pop(0).close()
    finally:
        for w in writers:
            w.abandon()
    written = stream.bags_written
    for w in written:
        if w != program.after:
            raise RuntimeError(f"bag rows {list(w)} differ from the plan {program.after}")
    report.rows["written"] = sum(sum(w) for w in written)
    report.rows["written_per_bag"] = sum(written[0])
    for entry, sink, w in zip(report.extra["bags"], sinks, written, strict=True):
        entry["rows"] = sum(w)
        entry["counts"] = per_class(program.layout, list(w))
        entry["format"] = targets.bags[entry["bag"] - 1][2]
        entry["bytes"] = sink.written_bytes()
        codec = compression_from_name(targets.bags[entry["bag"] - 1][0])
        if codec is not None:
            entry["compression"] = codec
    report.output = {
        "path": "; ".join(t[0] for t in targets.bags),
        "format": targets.bags[0][2],
        "bytes": sum(e["bytes"] for e in report.extra["bags"]),
    }


def run_frame(request: Request, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows ``run`` would write, for an in-memory frame (no file read or written)."""
    display = "<frame>"
    lf = frame.lazy()
    engine = LocalEngine(lf, display)
    warnings = list(request.warnings)
    phases = Phases.for_run(request.progress)
    prepared = prepare(engine, frame.schema, display, request, {}, warnings, phases=phases)
    outcome = Outcome(warnings=warnings, phases=phases)
    stream = Stream(engine, prepared.program, request, frame.schema, outcome)
    parts = list(stream.frames())
    if not parts:
        return pl.DataFrame(schema=prepared.out_schema)
    return pl.concat(parts, rechunk=True)

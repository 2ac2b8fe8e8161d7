"""The public Python API: ``inspect`` and ``rebalance``.

A run is two streaming passes and a pure plan between them:

    pass 1  label column only -> class counts
    plan    counts + target -> per-class targets (plan.py, no I/O)
    pass 2  batches -> per-row copy counts (0, 1, 2, ...) -> atomic sink
    smote   grown classes held in memory -> synthetic rows appended in batches
"""

from __future__ import annotations

import contextlib
import difflib
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .classes import COUNT, ClassIndex
from .errors import DataError, InputOutputError, RebalanceError, UsageError
from .io import (
    STDIO,
    AtomicFile,
    ReadOptions,
    SinkStopped,
    Source,
    check_target,
    dictionary_columns,
    frame_batches,
    open_source,
    resolve_output_format,
    write_frames,
)
from .plan import STRATEGIES, Plan, TargetSpec, make_plan, parse_target
from .report import Report, write_report
from .samplers import RowSelector, SmoteClass, check_class_size, expand, prepare_smote
from .shuffle import shuffled

DEFAULT_CHUNK_SIZE = 65_536
Progress = Callable[[str, int, int], None]


def _library_errors() -> tuple[type[BaseException], ...]:
    """polars' errors, and pyarrow's when pyarrow was loaded (it is imported lazily)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return (pl.exceptions.PolarsError,)
    return (pl.exceptions.PolarsError, pa.ArrowException)


@contextlib.contextmanager
def reading(display: str) -> Iterator[None]:
    """Turn reader failures (polars, pyarrow, the OS) into one-line user errors."""
    try:
        yield
    except RebalanceError:
        raise
    except _library_errors() as exc:
        text = _first_line(exc)
        hint = None
        if "utf-8" in text.lower() or "utf8" in text.lower():
            hint = (
                "the file is not UTF-8: pass --encoding utf8-lossy to replace the bad bytes, "
                "or convert it first, e.g. iconv -f latin1 -t utf-8"
            )
        elif "out of specification" in text.lower() or "corrupt" in text.lower():
            hint = "the file looks truncated or corrupt"
        elif "more fields" in text.lower():
            hint = (
                "a row has more fields than the header (a ragged CSV): fix the file, "
                "or check --separator"
            )
        elif "schema" in text.lower() or "could not parse" in text.lower():
            hint = (
                "a column's type was guessed from the first rows; "
                "--infer-schema-length 0 reads them all"
            )
        raise DataError(f"cannot read {display}: {text}", hint=hint) from None
    except OSError as exc:
        if exc.errno is None:  # not the OS: a decoder (gzip, zstd) found corrupt data
            raise DataError(
                f"cannot read {display}: {_first_line(exc)}",
                hint="the file looks truncated or corrupt",
            ) from None
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {display}: it is not valid UTF-8 ({exc.reason})",
            hint="pass --encoding utf8-lossy, or convert it first with iconv",
        ) from None


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Turn writer failures (a full disk, a lost folder) into one-line I/O errors."""
    try:
        yield
    except RebalanceError:
        raise
    except OSError as exc:
        raise InputOutputError(f"cannot write the output: {exc.strerror or exc}") from None
    except _library_errors() as exc:
        raise InputOutputError(f"cannot write the output: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def _check_label(schema: pl.Schema, label: str, display: str) -> None:
    if label in schema:
        return
    near = difflib.get_close_matches(label, list(schema.names()), n=3, cutoff=0.6)
    if not near:
        near = [c for c in schema.names() if c.lower() == label.lower()]
    hint = f"did you mean {', '.join(repr(c) for c in near)}?" if near else None
    names = list(schema.names())
    if hint is None and len(names) == 1:
        guess = next((sep for sep in (";", "\t", "|", ",", ":") if sep in names[0]), None)
        if guess is not None:
            flag = "tab" if guess == "\t" else repr(guess)
            hint = (
                f"the header was read as one column {names[0]!r}: the separator looks like "
                f"{flag}; pass --separator {flag}"
            )
    if hint is None:
        shown = ", ".join(list(schema.names())[:12])
        hint = f"the columns are: {shown}{' …' if len(schema) > 12 else ''}"
    raise DataError(f"label column {label!r} is not in {display}", hint=hint)


DEFAULT_MAX_CLASSES = 1000
DEFAULT_MAX_OUTPUT_ROWS = 10_000_000_000


def count_classes(
    lf: pl.LazyFrame, label: str, display: str, max_classes: int | None = None
) -> ClassIndex:
    """Pass 1: the class counts, reading the label column only (streaming)."""
    with reading(display):
        frame = lf.select(pl.col(label)).group_by(label).agg(pl.len().alias(COUNT)).collect()
    distinct = frame.height - int(frame[label].null_count() > 0)
    if max_classes is not None and distinct > max_classes:
        raise DataError(
            f"label column {label!r} has {distinct} distinct values, more than "
            f"--max-classes {max_classes}",
            hint="it looks like an id or a continuous column; check --label, "
            "or raise --max-classes",
        )
    return ClassIndex.from_counts(label, frame)


def label_warnings(index: ClassIndex) -> list[str]:
    """Warnings about class names that are probably typos of each other."""
    out = []
    by_fold: dict[str, list[str]] = {}
    for t in index.tokens:
        by_fold.setdefault(t.strip().casefold(), []).append(t)
    for names in by_fold.values():
        if len(names) > 1:
            shown = ", ".join(repr(n) for n in names)
            out.append(f"classes {shown} differ only by case or surrounding spaces")
    return out


@dataclass(frozen=True)
class Distribution:
    """The class distribution of a label column, as ``inspect`` reports it."""

    label: str
    classes: tuple[str, ...]
    counts: tuple[int, ...]
    nulls: int
    majority: str | None
    minority: str | None

    @property
    def rows(self) -> int:
        return sum(self.counts) + self.nulls

    @property
    def imbalance_ratio(self) -> float | None:
        """Majority count over minority count (1.0 when balanced)."""
        if not self.counts:
            return None
        return max(self.counts) / min(self.counts)

    def shares(self) -> dict[str, float]:
        total = sum(self.counts)
        return {c: n / total for c, n in zip(self.classes, self.counts, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        shares = self.shares() if self.counts else {}
        return {
            "label": self.label,
            "rows": self.rows,
            "null_labels": self.nulls,
            "classes": [
                {"class": c, "count": n, "share": round(shares[c], 6)}
                for c, n in zip(self.classes, self.counts, strict=True)
            ],
            "majority": self.majority,
            "minority": self.minority,
            "imbalance_ratio": (
                None if self.imbalance_ratio is None else round(self.imbalance_ratio, 6)
            ),
        }


def inspect(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
) -> Distribution:
    """Count the classes of ``label`` in a file (or ``-`` for stdin)."""
    source = open_source(data, read)
    try:
        lf = source.scan()
        with reading(source.display):
            schema = lf.collect_schema()
        _check_label(schema, label, source.display)
        index = count_classes(lf, label, source.display, max_classes)
    finally:
        source.close()
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


def resolve_features(
    schema: pl.Schema,
    label: str,
    features: Sequence[str] | None,
    exclude: Sequence[str] | None,
    id_columns: Sequence[str] | None,
) -> list[str]:
    """SMOTE's feature columns: the numeric columns but the label, or those named."""
    for flag, names in (
        ("--features", features),
        ("--exclude", exclude),
        ("--id-columns", id_columns),
    ):
        if names is None:
            continue
        if not names:
            raise UsageError(f"{flag} names no column")
        twice = sorted({n for n in names if list(names).count(n) > 1})
        if twice:
            raise UsageError(f"{flag} names column {twice[0]!r} twice")
        for name in names:
            if name not in schema:
                raise DataError(f"{flag} names column {name!r}, which is not in the input")
    if label in (features or ()):
        raise UsageError(f"--features names the label column {label!r}")
    for other, names in (("--exclude", exclude), ("--id-columns", id_columns)):
        both = [f for f in features or () if f in (names or ())]
        if both:
            raise UsageError(f"column {both[0]!r} is in both --features and {other}")
    skip = {label, *(exclude or ()), *(id_columns or ())}
    if features:
        chosen = list(features)  # overlaps with the label, --exclude and ids were refused above
        for f in chosen:
            if not schema[f].is_numeric():
                raise UsageError(
                    f"feature column {f!r} is {schema[f]}; SMOTE interpolates numeric columns only",
                    hint="leave it out of --features: non-numeric columns take the most "
                    "frequent value among the neighbours",
                )
    else:
        chosen = [c for c, t in schema.items() if c not in skip and t.is_numeric()]
    if not chosen:
        raise DataError(
            "SMOTE needs at least one numeric feature column and the input has none left",
            hint="check --features/--exclude, or use oversample",
        )
    return chosen


def rebalance(
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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
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
    progress: Progress | None = None,
    command: list[str] | None = None,
) -> Report:
    """Rebalance ``data`` into ``output`` (``-`` for stdout) and return the report.

    Nothing is written when ``dry_run`` is true. The output and the report are
    written to temporary files and renamed into place only when all succeeded.
    ``lenient`` drops rows with a null label and, for SMOTE, leaves rows with a
    null, NaN or infinite feature out of the seed pool, instead of failing.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1 (got {chunk_size})")
    if k_neighbors < 1:
        raise UsageError(f"--k-neighbors must be at least 1 (got {k_neighbors})")
    if dry_run and report_path is not None:
        raise UsageError(
            "--dry-run writes nothing, not even the --report", hint="use --json to see the plan"
        )
    if output is None and not dry_run:
        raise UsageError("an output is needed (-o PATH, or -o - for stdout)")
    seed_source = "given"
    if seed is None:
        seed, seed_source = secrets.randbelow(2**32), "drawn"
    if seed < 0:
        raise UsageError(f"--seed must not be negative (got {seed})")

    warnings: list[str] = []
    if strategy != "smote":
        for flag, given in (
            ("--features", features),
            ("--exclude", exclude),
            ("--id-columns", id_columns),
        ):
            if given:
                warnings.append(f"{flag} is used by smote only and was ignored")

    drop_null_labels = drop_null_labels or lenient
    source = open_source(data, read)
    try:
        out_str = None if output is None else str(output)
        out_fmt = None
        out_path: Path | None = None
        inputs = [] if source.display == "<stdin>" else [source.path]
        if out_str is not None:
            out_fmt = resolve_output_format(out_str, output_format, source.format)
            out_path = check_target(out_str, force, inputs, "output")
        rep_path = None
        if report_path is not None:
            if str(report_path) == STDIO:
                raise UsageError("--report needs a file path; use --json for the report on stdout")
            if out_path is not None and Path(report_path).resolve() == out_path.resolve():
                raise UsageError("--report and -o name the same file", hint="give them two paths")
            rep_path = check_target(str(report_path), force, inputs, "report")

        lf = source.scan()
        with reading(source.display):
            schema = lf.collect_schema()
        _check_label(schema, label, source.display)
        feature_cols: list[str] = []
        if strategy == "smote":
            feature_cols = resolve_features(schema, label, features, exclude, id_columns)

        t0 = time.perf_counter()
        index = count_classes(lf, label, source.display, max_classes)
        timings["count"] = time.perf_counter() - t0
        if index.nulls and not drop_null_labels:
            raise DataError(
                f"label column {label!r} has {index.nulls} null value"
                f"{'s' if index.nulls != 1 else ''}",
                hint="pass --drop-null-labels to leave those rows out"
                + (
                    "; in a CSV, a short (ragged) row also reads as a null label"
                    if source.format in ("csv", "tsv")
                    else ""
                ),
            )
        if index.nulls:
            warnings.append(f"{index.nulls} rows with a null label were dropped")
        warnings.extend(label_warnings(index))
        if len(index) == 0:
            raise DataError(f"{source.display} has no rows with a label")

        t0 = time.perf_counter()
        plan = make_plan(index.pairs(), strategy, spec)
        timings["plan"] = time.perf_counter() - t0
        if max_output_rows is not None and plan.rows_out > max_output_rows:
            raise UsageError(
                f"the plan writes {plan.rows_out:,} rows, more than --max-output-rows "
                f"{max_output_rows:,}",
                hint="check --target for a typo, or raise --max-output-rows",
            )
        warnings.extend(plan.warnings)

        parameters: dict[str, Any] = {
            "target": spec.to_json(),
            "seed": seed,
            "seed_source": seed_source,
            "chunk_size": chunk_size,
            "drop_null_labels": drop_null_labels,
            "shuffle": shuffle,
            "infer_schema_length": source.read.infer_schema_length,
            "policy": "lenient" if lenient else "strict",
            "max_classes": max_classes,
            "max_output_rows": max_output_rows,
            "input_format": source.format,
            "output_format": out_fmt,
        }
        if strategy == "smote":
            parameters.update(
                k_neighbors=k_neighbors,
                features=feature_cols,
                id_columns=list(id_columns or ()),
                distance="euclidean",
            )
        input_info = {
            "path": source.display,
            "format": source.format,
            "rows": plan.rows_in + index.nulls,
            "columns": len(schema),
            "bytes": source.size,
        }
        before = dict(zip(plan.classes, plan.before, strict=True))
        report = Report(
            input=input_info,
            label=label,
            label_dtype=str(schema[label]),
            strategy=strategy,
            parameters=parameters,
            plan=plan.to_dict(),
            counts_before=before,
            counts_after=dict(zip(plan.classes, plan.after, strict=True)),
            rows=_row_counts(plan, index.nulls),
            output=None,
            timings=timings,
            warnings=warnings,
            command=command,
            dry_run=dry_run,
        )
        if dry_run:
            timings["total"] = time.perf_counter() - started
            return report

        assert out_fmt is not None
        smote = None
        if strategy == "smote":
            for cls, n, t in zip(plan.classes, plan.before, plan.after, strict=True):
                if t > n:
                    check_class_size(cls, n, k_neighbors)
            smote = _Smote(feature_cols, tuple(id_columns or ()), k_neighbors, seed, lenient)

        t0 = time.perf_counter()
        sink = AtomicFile(out_path)
        report_sink: AtomicFile | None = None
        try:
            outcome = _Outcome(warnings=warnings)
            _write(
                source,
                lf,
                sink.tmp,
                out_fmt,
                schema,
                index,
                plan,
                seed,
                chunk_size,
                drop_null_labels,
                smote,
                progress,
                shuffle,
                outcome,
            )
            written = outcome.written
            timings["write"] = time.perf_counter() - t0
            if smote is not None:
                timings["smote_prepare"] = outcome.smote_seconds
                parameters["knn"] = outcome.knn
            report.counts_after = dict(zip(plan.classes, written, strict=True))
            size = sink.tmp.stat().st_size
            report.output = {"path": out_str, "format": out_fmt, "bytes": size}
            timings["total"] = time.perf_counter() - started
            if rep_path is not None:
                report_sink = write_report(report, rep_path)
            sink.commit()
            if report_sink is not None:
                report_sink.commit()
        finally:
            sink.discard()
            if report_sink is not None:
                report_sink.discard()
        return report
    finally:
        source.close()


def resample_frame(
    frame: pl.DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pl.DataFrame:
    """Rebalance an in-memory frame; the same rows, in the same order, as ``rebalance``.

    For notebooks, cross-validation folds and other engines: no file is read or
    written. Errors are the exceptions of :mod:`rebalance_cli.errors`.
    """
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    if seed < 0:
        raise UsageError(f"--seed must not be negative (got {seed})")
    if k_neighbors < 1:
        raise UsageError(f"--k-neighbors must be at least 1 (got {k_neighbors})")
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    display = "<frame>"
    _check_label(frame.schema, label, display)
    lf = frame.lazy()
    index = count_classes(lf, label, display)
    drop_null_labels = drop_null_labels or lenient
    if index.nulls and not drop_null_labels:
        raise DataError(
            f"label column {label!r} has {index.nulls} null value{'s' if index.nulls != 1 else ''}",
            hint="pass drop_null_labels=True to leave those rows out",
        )
    if len(index) == 0:
        raise DataError("the frame has no rows with a label")
    plan = make_plan(index.pairs(), strategy, spec)
    smote = None
    if strategy == "smote":
        feature_cols = resolve_features(frame.schema, label, features, exclude, id_columns)
        for cls, n, t in zip(plan.classes, plan.before, plan.after, strict=True):
            if t > n:
                check_class_size(cls, n, k_neighbors)
        smote = _Smote(feature_cols, tuple(id_columns or ()), k_neighbors, seed, lenient)
    kept = plan.before if strategy == "smote" else plan.after
    selector = RowSelector(plan.classes, plan.before, kept, seed, strategy)
    outcome = _Outcome(warnings=[])
    parts = list(
        _output_frames(
            display,
            lf,
            frame.schema,
            index,
            plan,
            selector,
            chunk_size,
            drop_null_labels,
            smote,
            None,
            outcome,
            threading.Event(),
        )
    )
    if not parts:
        return frame.clear()
    return pl.concat(parts, rechunk=True)


def _row_counts(plan: Plan, nulls: int) -> dict[str, int]:
    """The report's row counts: the plan fixes them all before a row is written."""
    grown = sum(max(0, a - b) for a, b in zip(plan.after, plan.before, strict=True))
    cut = sum(max(0, b - a) for a, b in zip(plan.after, plan.before, strict=True))
    return {
        "read": plan.rows_in + nulls,
        "written": plan.rows_out,
        "synthetic": grown if plan.strategy == "smote" else 0,
        "dropped": cut + nulls,
        "duplicated": 0 if plan.strategy == "smote" else grown,
        "null_labels_dropped": nulls,
    }


@dataclass(frozen=True)
class _Smote:
    """What SMOTE needs besides the plan."""

    features: list[str]
    id_columns: tuple[str, ...]
    k: int
    seed: int
    lenient: bool


@dataclass
class _Outcome:
    """What pass 2 learns while it streams; complete once the stream has ended."""

    warnings: list[str]
    written: list[int] = field(default_factory=list)
    knn: dict[str, str] = field(default_factory=dict)
    smote_seconds: float = 0.0


def _prepare_smote(
    pool: pl.DataFrame,
    codes: np.ndarray,
    grow: list[int],
    index: ClassIndex,
    plan: Plan,
    smote: _Smote,
    outcome: _Outcome,
) -> list[SmoteClass]:
    """Neighbours and draws of every class to grow, from its rows (``pool``, input order)."""
    started = time.perf_counter()
    out = []
    for i in grow:
        sc = prepare_smote(
            pool.filter(pl.Series(codes == i)),
            index.tokens[i],
            index.value(i),
            plan.after[i] - plan.before[i],
            index.label,
            smote.features,
            smote.id_columns,
            smote.k,
            smote.seed,
            drop_invalid=smote.lenient,
        )
        if sc.left_out:
            outcome.warnings.append(
                f"{sc.left_out} rows of class {sc.cls!r} with a null, NaN or infinite feature "
                "were left out of the SMOTE seeds (--lenient)"
            )
        outcome.knn[sc.cls] = sc.knn_method
        out.append(sc)
    outcome.smote_seconds = time.perf_counter() - started
    return out


def _write(
    source: Source,
    lf: pl.LazyFrame,
    path: Path,
    fmt: str,
    schema: pl.Schema,
    index: ClassIndex,
    plan: Plan,
    seed: int,
    chunk_size: int,
    drop_null_labels: bool,
    smote: _Smote | None,
    progress: Progress | None,
    shuffle: bool,
    outcome: _Outcome,
) -> None:
    """Pass 2 (and SMOTE's synthetic rows) into ``path``; fills ``outcome``."""
    kept = plan.before if plan.strategy == "smote" else plan.after
    selector = RowSelector(plan.classes, plan.before, kept, seed, plan.strategy)
    dictionaries: dict[str, list[str]] = {}
    cats = dictionary_columns(schema, fmt)
    if cats:
        with reading(source.display):
            found = lf.select(
                pl.col(c).cast(pl.String).drop_nulls().unique().sort().implode() for c in cats
            ).collect()
        dictionaries = {c: found[c][0].to_list() for c in cats}
    stop = threading.Event()
    frames = _output_frames(
        source.display,
        lf,
        schema,
        index,
        plan,
        selector,
        chunk_size,
        drop_null_labels,
        smote,
        progress,
        outcome,
        stop,
    )
    folder = None
    if shuffle:
        folder = Path(tempfile.mkdtemp(prefix=".rebalance-shuffle-", dir=path.parent))
        frames = shuffled(frames, schema, seed, plan.rows_out, folder, chunk_size)
    try:
        with writing():
            write_frames(frames, path, fmt, schema, dictionaries, stop)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if tuple(outcome.written) != plan.after:
        raise RuntimeError(
            f"rows written per class {outcome.written} differ from the plan {plan.after}"
        )


def _output_frames(
    display: str,
    lf: pl.LazyFrame,
    schema: pl.Schema,
    index: ClassIndex,
    plan: Plan,
    selector: RowSelector,
    chunk_size: int,
    drop_null_labels: bool,
    smote: _Smote | None,
    progress: Progress | None,
    outcome: _Outcome,
    stop: threading.Event,
) -> Iterator[pl.DataFrame]:
    """The output, in order, as frames of at most ``chunk_size`` rows.

    The rows of the classes SMOTE grows are kept as they stream by (they are the
    pool), so the synthetic rows that follow the input need no second scan.
    ``outcome`` is complete once the stream has ended.
    """
    label = index.label
    grow = (
        []
        if smote is None
        else [i for i, (b, a) in enumerate(zip(plan.before, plan.after, strict=True)) if a > b]
    )
    pool: list[pl.DataFrame] = []
    pool_codes: list[np.ndarray] = []
    scan = lf.filter(pl.col(label).is_not_null()) if drop_null_labels else lf
    total = plan.rows_in
    done = 0
    with reading(display):
        for batch in frame_batches(scan, chunk_size):
            if stop.is_set():
                raise SinkStopped
            try:
                codes = index.codes(batch[label])
            except LookupError as exc:
                raise DataError(f"{display} changed while it was read: {exc}") from None
            copies = selector.copies(codes)
            if grow:
                mine = np.isin(codes, grow)
                if mine.any():
                    pool.append(batch.filter(pl.Series(mine)))
                    pool_codes.append(codes[mine])
            yield from expand(batch, copies, chunk_size)
            done += batch.height
            if progress:
                progress("write", done, total)
    if not np.array_equal(selector.offsets, np.array(plan.before)):
        raise DataError(f"{display} changed while it was read (class counts differ)")
    counts = selector.written.copy()
    smote_classes: list[SmoteClass] = []
    if smote is not None and grow:
        smote_classes = _prepare_smote(
            pl.concat(pool), np.concatenate(pool_codes), grow, index, plan, smote, outcome
        )
        pool.clear()  # each class keeps its own rows
    for sc in smote_classes:
        i = plan.classes.index(sc.cls)
        for part in sc.batches(schema, chunk_size):
            if stop.is_set():
                raise SinkStopped
            yield part
            counts[i] += part.height
            if progress:
                progress("smote", int(counts[i] - plan.before[i]), sc.new_rows)
    outcome.written = [int(v) for v in counts]

"""Inputs: read options, a source ready to scan (stdin spooled to a file), batches."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from ..defaults import DEFAULT_INFER_SCHEMA_LENGTH
from ..errors import DataError, InputOutputError, UsageError
from ..phases import Phases
from . import fs
from .errors import reading
from .formats import (
    NAMES,
    STDIO,
    check_format_name,
    compression,
    format_from_name,
    sniff,
    sniff_text,
)

ENCODINGS = ("utf8", "utf8-lossy")


MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadOptions:
    """How to read the input: its format, and for text formats how to parse it."""

    input_format: str | None = None
    separator: str | None = None
    encoding: str = "utf8"
    infer_schema_length: int | None = DEFAULT_INFER_SCHEMA_LENGTH

    def checked(self) -> ReadOptions:
        fmt = check_format_name(self.input_format, "--input-format")
        if self.separator is not None:
            sep = {"\\t": "\t", "tab": "\t"}.get(self.separator, self.separator)
            if len(sep.encode()) != 1:
                raise UsageError(
                    f"--separator {self.separator!r} must be a single one-byte character",
                    hint="for tabs pass --separator tab",
                )
        else:
            sep = None
        if self.encoding not in ENCODINGS:
            raise UsageError(
                f"--encoding {self.encoding!r} is not supported",
                hint="use utf8 or utf8-lossy, or convert the file first, "
                "e.g. iconv -f latin1 -t utf-8",
            )
        if self.infer_schema_length is not None and self.infer_schema_length < 1:
            raise UsageError("--infer-schema-length must be positive (0 on the command line)")
        return ReadOptions(fmt, sep, self.encoding, self.infer_schema_length)


@dataclass
class Source:
    """An input file ready to scan. ``path`` may be a spooled copy of stdin or of a
    FIFO (``origin`` is then the FIFO, None for stdin)."""

    path: Path
    display: str
    format: str
    size: int
    read: ReadOptions = field(default_factory=ReadOptions)
    _temp_dir: Path | None = field(default=None, repr=False)
    # CSV/TSV: the header's names as written (quotes unescaped); polars' own header
    # parser keeps doubled quotes doubled, so these replace its names
    columns: tuple[str, ...] | None = None
    compression: str | None = None
    origin: Path | None = None
    # a file read in place: (device, inode, size, mtime) when it was opened, checked
    # again before every pass and before the commit (a run reads its input twice)
    identity: tuple[int, int, int, int] | None = None

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """A failure while the input is read is reported as the input's disappearance
        or change when that is what happened (a deleted file reads as "No such file",
        a rewritten one as a corrupt one, or as counts that differ from pass 1)."""
        try:
            yield
        except (Exception, pl.exceptions.PanicException):
            self.check_unchanged()
            raise

    def check_unchanged(self) -> None:
        """Raise an I/O error when the input file is gone or is not the file opened."""
        if self.identity is None:
            return  # stdin or a FIFO: the run reads its own spooled copy
        try:
            now = _identity(os.stat(self.path))
        except FileNotFoundError:
            raise InputOutputError(
                f"the input {self.display} disappeared during the run: it was deleted or "
                "renamed while it was read",
                hint="rerun when nothing else moves or rewrites it",
            ) from None
        except OSError as exc:
            raise InputOutputError(f"cannot read {self.display}: {exc.strerror or exc}") from None
        if now != self.identity:
            raise InputOutputError(
                f"the input {self.display} changed during the run: it was rewritten or "
                "replaced while it was read",
                hint="rerun when nothing else writes it",
            )

    @property
    def separator(self) -> str:
        return self.read.separator or ("\t" if self.format == "tsv" else ",")

    def scan(self) -> pl.LazyFrame:
        # CSV with its names, and the NDJSON check, read the file already
        with reading(self.display):
            return self._scan()

    def _scan(self) -> pl.LazyFrame:
        p = str(self.path)
        if self.format in ("csv", "tsv"):
            names = self.columns

            def exact(got: list[str]) -> list[str]:
                return list(names) if names is not None and len(names) == len(got) else got

            return pl.scan_csv(
                p,
                separator=self.separator,
                encoding="utf8-lossy" if self.read.encoding == "utf8-lossy" else "utf8",
                infer_schema_length=self.read.infer_schema_length,
                glob=False,
                with_column_names=exact if names is not None else None,
            )
        if self.format == "parquet":
            return pl.scan_parquet(p, glob=False)
        if self.format == "ipc":
            return pl.scan_ipc(p, glob=False)
        window = self.read.infer_schema_length
        lf = pl.scan_ndjson(p, infer_schema_length=window)
        if window is not None and (
            self.compression is not None or _lines_exceed(self.path, window)
        ):
            check_ndjson_schema(p, lf.collect_schema(), window, self.display)
        return lf

    def close(self) -> None:
        if self._temp_dir:
            fs.remove(self._temp_dir)
            self._temp_dir = None


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


SPOOL_PREFIX = "rebalance-stdin-"


def _spool(stream: BinaryIO, display: str, name: str, phases: Phases) -> tuple[Path, Path]:
    """Copy a stream that can be read once (stdin, a FIFO) into a folder of its own
    in the temp folder, ``rebalance-stdin-{pid}-{random}``: a run reads its input
    twice. Folders of runs whose pid is dead (killed before they could remove
    theirs) are removed first. Returns the folder and the copy. The copy is the
    phase ``spool``, a progress report (bytes) per chunk read; a stop removes it."""
    folder = Path(tempfile.gettempdir())
    fs.remove_dead(folder, SPOOL_PREFIX, "-", "")

    def failed(exc: OSError) -> InputOutputError:
        return InputOutputError(
            f"cannot copy {display} to the temp folder {folder}: {exc.strerror or exc}",
            hint="free some space there, or set TMPDIR to a folder with room",
        )

    try:
        temp_dir = fs.temp_dir(folder, f"{SPOOL_PREFIX}{os.getpid()}-", "")
    except OSError as exc:
        raise failed(exc) from None
    path = temp_dir / name
    try:
        try:
            out = fs.create(path)
        except OSError as exc:
            raise failed(exc) from None
        read = getattr(stream, "read1", stream.read)  # what has arrived, not a full chunk
        with phases.phase("spool", None, unit="bytes") as phase, out:
            while True:
                try:
                    data = read(1 << 20)
                except OSError as exc:
                    raise InputOutputError(
                        f"cannot read {display}: {exc.strerror or exc}"
                    ) from None
                if not data:
                    break
                try:
                    out.write(data)
                except OSError as exc:
                    raise failed(exc) from None
                phase.advance(len(data))
            try:
                out.close()
            except OSError as exc:
                raise failed(exc) from None
    except BaseException:
        fs.remove(temp_dir)
        raise
    return temp_dir, path


@dataclass
class _Located:
    """Where an input's bytes are: its path (a spooled copy for stdin and FIFOs), how
    messages name it, the file the user named, and that file's identity."""

    path: Path
    display: str
    origin: Path | None = None
    identity: tuple[int, int, int, int] | None = None
    temp_dir: Path | None = None


def _locate(data: str | os.PathLike[str], stdin: BinaryIO | None, phases: Phases) -> _Located:
    """The input's bytes: a regular file where it is; stdin and FIFOs copied first."""
    if str(data) == STDIO:
        stream = stdin if stdin is not None else sys.stdin.buffer
        temp_dir, path = _spool(stream, "<stdin>", "stdin", phases)
        return _Located(path, "<stdin>", temp_dir=temp_dir)
    path, display = Path(data), str(data)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputOutputError(f"input {display} does not exist") from None
    except OSError as exc:
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputOutputError(f"input {display} is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputOutputError(f"input {display} is not readable (permission denied)")
    if stat.S_ISREG(st.st_mode):
        return _Located(path, display, origin=path, identity=_identity(st))
    # a FIFO, or a device such as /dev/stdin: it can be read only once
    try:
        fifo = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    with fifo:
        temp_dir, copy = _spool(fifo, display, path.name, phases)
    return _Located(copy, display, origin=path, temp_dir=temp_dir)


def _check_text_head(fmt: str, display: str, head: bytes, size: int) -> None:
    """A "CSV" or "NDJSON" whose first bytes are binary, or a header over 1 MiB."""
    if fmt in ("csv", "tsv", "ndjson") and b"\x00" in head[:65536]:
        raise DataError(
            f"input {display} looks binary (it has NUL bytes), not {NAMES[fmt]}",
            hint="check the file, or pass --input-format with the right format",
        )
    one_line = b"\n" not in head[:MAX_HEADER_BYTES] and size > MAX_HEADER_BYTES
    if fmt in ("csv", "tsv") and one_line:
        raise DataError(
            f"the first line of {display} is longer than 1 MiB, so it is not a {NAMES[fmt]} header",
            hint="is it a binary file, or a file without line breaks?",
        )


def _source(at: _Located, read: ReadOptions) -> Source:
    """The input's format from its first bytes, its name and ``--input-format``, checked
    against each other; a CSV header's names are checked too."""
    display, path = at.display, at.path
    try:
        with open(path, "rb") as fh:
            head = fh.read(MAX_HEADER_BYTES + 1)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    if size == 0:
        raise DataError(f"input {display} is empty (0 bytes)")
    flag, shown, codec = read.input_format, sniff(head), compression(head)
    plain = head if codec is None else _plain_head(path, head, codec)
    named = format_from_name(at.origin.name) if at.origin is not None else None
    # a compressed stream (stdin, or a name without an inner extension) is sniffed
    # by its decompressed first bytes, never by the compressed ones
    fmt = flag or named or shown or sniff_text(plain)
    if shown and fmt != shown:
        how = "--input-format" if flag else "its name"
        raise DataError(
            f"input {display} looks like {NAMES[shown]} but {how} says {NAMES[fmt]}",
            hint=f"rename it or pass --input-format {shown}",
        )
    if fmt in ("parquet", "ipc") and shown != fmt:
        raise DataError(
            f"input {display} is not a {NAMES[fmt]} file (its first bytes do not match)",
            hint="check the file, or pass --input-format with the right format",
        )
    if codec is None:
        _check_text_head(fmt, display, head, size)
    columns = None
    if fmt in ("csv", "tsv"):
        columns = csv_header(plain, read.separator or ("\t" if fmt == "tsv" else ","))
        if columns is not None:
            check_unique_names(columns, display)
    return Source(
        path,
        display,
        fmt,
        size,
        read,
        at.temp_dir,
        columns=None if columns is None else tuple(columns),
        compression=codec,
        origin=at.origin,
        identity=at.identity,
    )


def open_source(
    data: str | os.PathLike[str],
    read: ReadOptions | None = None,
    stdin: BinaryIO | None = None,
    phases: Phases | None = None,
) -> Source:
    """Resolve an input path (or ``-`` for stdin) and its format, with checks.

    Stdin and FIFOs are spooled to a folder of their own (the phase ``spool``),
    removed by :meth:`Source.close`, or at once if opening fails or is stopped.
    """
    at = _locate(data, stdin, phases or Phases())
    try:
        return _source(at, (read or ReadOptions()).checked())
    except BaseException:
        if at.temp_dir:
            fs.remove(at.temp_dir)
        raise


def frame_batches(lf: pl.LazyFrame, chunk_size: int) -> Iterator[pl.DataFrame]:
    """Stream a lazy query in order, in batches of about ``chunk_size`` rows."""
    yield from lf.collect_batches(chunk_size=chunk_size, maintain_order=True)


def _plain_head(path: Path, head: bytes, codec: str) -> bytes:
    """The first decompressed bytes of a gzip or zstd file (b"" when they cannot be had:
    the reader then reports the corrupt stream)."""
    if codec == "gzip":
        try:
            return zlib.decompressobj(wbits=47).decompress(head, MAX_HEADER_BYTES)
        except zlib.error:
            return b""
    try:  # Python 3.11 has no zstd module: polars decompresses the first lines
        lines = pl.scan_lines(path, n_rows=64).collect()
    except (pl.exceptions.PolarsError, OSError):
        return b""
    return "".join(f"{line}\n" for line in lines.to_series()).encode()


def csv_header(head: bytes, separator: str) -> list[str] | None:
    """The first record of a CSV head, parsed as CSV (``"q""uote"`` is ``q"uote``);
    None when the head holds no complete record."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    if "\n" not in text and len(head) >= MAX_HEADER_BYTES:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"')
    try:
        return next(reader)
    except (StopIteration, csv.Error):
        return None


def check_unique_names(names: list[str], display: str) -> None:
    """Refuse a header that names a column twice (polars would rename the second)."""
    counts = Counter(names)
    for name in names:
        if counts[name] > 1:
            times = "twice" if counts[name] == 2 else f"{counts[name]} times"
            raise DataError(
                f"column {name!r} appears {times} in the header of {display}",
                hint="rename the copies: column names are kept exactly",
            )


def _lines_exceed(path: Path, rows: int) -> bool:
    """True when the (uncompressed) file has more than ``rows`` lines."""
    seen = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            seen += chunk.count(b"\n")
            last = chunk[-1:]
            if seen > rows:
                return True
    return seen + (last != b"\n") > rows


# -- NDJSON: keys and types the inference window did not see ---------------------------

_AFTER = "after the rows used to infer the schema"
_HINT = "pass --infer-schema-length 0 to read them all"
_META = set("\\.+*?()|[]{}^$#&-~")  # what Rust's regex::escape escapes
_ANY = r'(?:[^"\\]|\\.)*'  # the rest of a JSON string's content
_MAX_KEY_UNITS = 100  # deeper tries would pass Rust regex's nesting limit


def _rx(ch: str) -> str:
    return "\\" + ch if ch in _META else ch


def _units(text: str) -> list[str]:
    """A JSON string's text as units: one character, or an escape pair."""
    out, i = [], 0
    while i < len(text):
        step = 2 if text[i] == "\\" and i + 1 < len(text) else 1
        out.append(text[i : i + step])
        i += step
    return out


def _not_any_of(node: dict[str, Any]) -> str:
    """A regex for JSON string content that is none of the words in ``node``'s trie."""
    children = {u: c for u, c in node.items() if u != ""}
    alts = [] if "" in node else [""]  # ending here is another word
    singles = "".join(_rx(u) for u in children if len(u) == 1)
    escapes = "".join(_rx(u[1]) for u in children if len(u) == 2)
    other_escape = f"\\\\[^{escapes}]" if escapes else "\\\\."
    alts.append(f'(?:[^"\\\\{singles}]|{other_escape}){_ANY}')
    for unit, child in children.items():
        alts.append("".join(_rx(c) for c in unit) + f"(?:{_not_any_of(child)})")
    return "|".join(alts)


def unknown_key_regex(names: list[str]) -> str | None:
    """A regex that matches a JSON key (``"name":``) whose text is none of ``names``'
    spellings, or None when the names are too long for one regex.

    It never misses an unknown key: a key's opening quote starts a match unless its
    text is a known spelling. It may match a suffix after an escaped quote, or text
    between strings; the lines it matches are parsed again to be sure.
    """
    trie: dict[str, Any] = {}
    for name in names:
        for text in {json.dumps(name)[1:-1], json.dumps(name, ensure_ascii=False)[1:-1]}:
            units = _units(text)
            if len(units) > _MAX_KEY_UNITS:
                return None
            node = trie
            for unit in units:
                node = node.setdefault(unit, {})
            node[""] = {}
    return f'"(?:{_not_any_of(trie)})"\\s*:'


def _has_struct(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.Struct):
        return True
    inner = getattr(dtype, "inner", None)
    return inner is not None and _has_struct(inner)


def check_ndjson_schema(path: str, schema: pl.Schema, window: int, display: str) -> None:
    """Refuse an NDJSON file whose rows after the inference window hold a key the window
    did not see (polars would drop its whole column) or a type it did not infer.

    A flat schema is checked with one regex pass over the lines (``unknown_key_regex``);
    the few lines it flags are parsed with ``json``. A schema with structs (whose late
    fields polars drops too) is compared with polars' inference over the whole file.
    Values that do not fit a flat column's type are refused by polars while reading.
    """
    names = list(schema)
    rx = None if any(_has_struct(t) for t in schema.values()) else unknown_key_regex(names)
    if rx is not None:
        try:
            pl.Series([""]).str.contains(rx)
        except pl.exceptions.PolarsError:  # too big for the regex engine
            rx = None
    if rx is None:
        _compare_full_schema(path, schema, window, display)
        return
    known = set(names)
    flagged = pl.scan_lines(path, row_index_name="n").filter(pl.col("line").str.contains(rx))
    for batch in flagged.collect_batches(maintain_order=True):
        for n, line in batch.select("n", "line").iter_rows():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # polars reports it while reading
            if not isinstance(row, dict):
                continue
            for key in row:
                if key not in known:
                    raise DataError(
                        f"key {key!r} first appears on line {n + 1:,} of {display}, {_AFTER} "
                        f"(the first {window:,}), so its column would be dropped",
                        hint=_HINT,
                    )


def _compare_full_schema(path: str, schema: pl.Schema, window: int, display: str) -> None:
    full = pl.scan_ndjson(path, infer_schema_length=None).collect_schema()
    found = _difference(schema, full)
    if found is None:
        return
    name, was, now = found
    if was is None:
        raise DataError(
            f"key {name!r} of {display} first appears {_AFTER} (the first {window:,}), "
            "so it would be dropped",
            hint=_HINT,
        )
    raise DataError(
        f"column {name!r} of {display} is {was} in the first {window:,} rows (the rows used "
        f"to infer the schema) but {now} in the whole file",
        hint=_HINT,
    )


def _difference(
    seen: Any, full: Any, prefix: str = ""
) -> tuple[str, pl.DataType | None, pl.DataType] | None:
    """The first key (dotted for struct fields) missing from ``seen`` or typed otherwise."""
    seen_fields = dict(seen.items()) if isinstance(seen, pl.Schema) else seen
    for name, dtype in full.items():
        where = f"{prefix}{name}"
        if name not in seen_fields:
            return where, None, dtype
        was = seen_fields[name]
        if was == dtype:
            continue
        inner_was: Any = was
        inner_now: Any = dtype
        while getattr(inner_was, "inner", None) is not None and type(inner_was) is type(inner_now):
            inner_was, inner_now = inner_was.inner, inner_now.inner
        if isinstance(inner_was, pl.Struct) and isinstance(inner_now, pl.Struct):
            deeper = _difference(
                {f.name: f.dtype for f in inner_was.fields},
                {f.name: f.dtype for f in inner_now.fields},
                f"{where}.",
            )
            if deeper is not None:
                return deeper
        return where, was, dtype
    return None

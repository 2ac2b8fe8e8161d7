"""Inputs: read options, a source ready to scan (stdin spooled to a file), batches."""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ..errors import DataError, InputOutputError, UsageError
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
    infer_schema_length: int | None = 10_000

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
    """An input file ready to scan. ``path`` may be a spooled copy of stdin."""

    path: Path
    display: str
    format: str
    size: int
    read: ReadOptions = field(default_factory=ReadOptions)
    _temp_dir: str | None = field(default=None, repr=False)
    # CSV/TSV: the header's names as written (quotes unescaped); polars' own header
    # parser keeps doubled quotes doubled, so these replace its names
    columns: tuple[str, ...] | None = None

    @property
    def separator(self) -> str:
        return self.read.separator or ("\t" if self.format == "tsv" else ",")

    def scan(self) -> pl.LazyFrame:
        # CSV with its names reads the file's header already
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
        return pl.scan_ndjson(p, infer_schema_length=self.read.infer_schema_length)

    def close(self) -> None:
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def open_source(
    data: str | os.PathLike[str],
    read: ReadOptions | None = None,
    stdin: BinaryIO | None = None,
) -> Source:
    """Resolve an input path (or ``-`` for stdin) and its format, with checks."""
    read = (read or ReadOptions()).checked()
    flag = read.input_format
    temp_dir = None
    if str(data) == STDIO:
        temp_dir = tempfile.mkdtemp(prefix="rebalance-stdin-")
        path = Path(temp_dir) / "stdin"
        stream = stdin if stdin is not None else sys.stdin.buffer
        with open(path, "wb") as fh:
            shutil.copyfileobj(stream, fh, 1 << 20)
        display = "<stdin>"
    else:
        path = Path(data)
        display = str(data)
        if not path.exists():
            raise InputOutputError(f"input {display} does not exist")
        if path.is_dir():
            raise InputOutputError(f"input {display} is a directory, not a file")
        if not os.access(path, os.R_OK):
            raise InputOutputError(f"input {display} is not readable (permission denied)")
    try:
        try:
            with open(path, "rb") as fh:
                head = fh.read(MAX_HEADER_BYTES + 1)
        except OSError as exc:
            raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
        size = path.stat().st_size
        if size == 0:
            raise DataError(f"input {display} is empty (0 bytes)")
        shown = sniff(head)
        codec = compression(head)
        plain = head if codec is None else _plain_head(path, head, codec)
        named = format_from_name(path.name) if temp_dir is None else None
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
        compressed = codec is not None
        one_line = b"\n" not in head[:MAX_HEADER_BYTES] and size > MAX_HEADER_BYTES
        if fmt in ("csv", "tsv", "ndjson") and not compressed and b"\x00" in head[:65536]:
            raise DataError(
                f"input {display} looks binary (it has NUL bytes), not {NAMES[fmt]}",
                hint="check the file, or pass --input-format with the right format",
            )
        if fmt in ("csv", "tsv") and not compressed and one_line:
            raise DataError(
                f"the first line of {display} is longer than 1 MiB, so it is not a "
                f"{NAMES[fmt]} header",
                hint="is it a binary file, or a file without line breaks?",
            )
        columns = None
        if fmt in ("csv", "tsv"):
            sep = read.separator or ("\t" if fmt == "tsv" else ",")
            columns = csv_header(plain, sep)
            if columns is not None:
                check_unique_names(columns, display)
        return Source(
            path,
            display,
            fmt,
            size,
            read,
            temp_dir,
            columns=None if columns is None else tuple(columns),
        )
    except BaseException:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
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

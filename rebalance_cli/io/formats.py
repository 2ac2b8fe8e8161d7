"""File formats: names, extensions, sniffing, and the output format of a path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError, UsageError, did_you_mean

FORMATS: tuple[str, ...] = ("csv", "tsv", "parquet", "ipc", "ndjson")


EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".feather": "ipc",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


# The codec a name ending asks for, read and written alike.
CODECS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
COMPRESSED = tuple(CODECS)


# Formats that may be compressed as a whole: row formats. Parquet and Arrow IPC
# compress inside the file (Parquet output is zstd already).
TEXT_FORMATS = ("csv", "tsv", "ndjson")


NAMES = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
    "ipc": "Arrow IPC",
    "ndjson": "NDJSON",
}


STDIO = "-"


def format_from_name(name: str) -> str | None:
    """The format a file name implies (``.csv.gz`` is CSV), or None."""
    lower = name.lower()
    for ext in COMPRESSED:
        if lower.endswith(ext):
            lower = lower[: -len(ext)]
            break
    return EXTENSIONS.get(Path(lower).suffix)


def check_format_name(fmt: str | None, flag: str) -> str | None:
    if fmt is None:
        return None
    low = fmt.lower()
    low = {"arrow": "ipc", "feather": "ipc", "jsonl": "ndjson", "pq": "parquet"}.get(low, low)
    if low not in FORMATS:
        raise UsageError(
            f"{flag} {fmt!r} is not a format",
            hint=f"{did_you_mean(low, FORMATS)}use one of {', '.join(FORMATS)}",
        )
    return low


def sniff(head: bytes) -> str | None:
    """The format the first bytes show, or None for plain text (CSV-like)."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "ipc"
    return None


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compression(head: bytes) -> str | None:
    """``gzip`` or ``zstd`` when the first bytes are that codec's magic number, else None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def sniff_text(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return "ndjson"
    first = text.split(b"\n", 1)[0]
    if b"\t" in first and b"," not in first:
        return "tsv"
    return "csv"


def compression_from_name(name: str) -> str | None:
    """``gzip`` for ``x.csv.gz``, ``zstd`` for ``x.csv.zst`` or ``.zstd``, else None."""
    lower = name.lower()
    for ext, codec in CODECS.items():
        if lower.endswith(ext):
            return codec
    return None


def _agrees(named: str, chosen: str, name: str) -> bool:
    """Whether a name's extension fits the format asked for: the same format, or a
    ``.txt`` name, which says "text", for CSV and TSV."""
    if named == chosen:
        return True
    plain = name.lower()
    for ext in COMPRESSED:
        plain = plain.removesuffix(ext)
    return plain.endswith(".txt") and chosen in ("csv", "tsv")


def resolve_output_format(output: str, flag: str | None, input_fmt: str, what: str = "-o") -> str:
    """The output format: the flag, else the extension, else (for stdout) the input's.

    A name whose extension says another format than ``--output-format``
    (``-o out.csv --output-format parquet``) is a usage error, as is a compressed
    name for a format that is not a row format (``x.parquet.gz``). ``what`` names
    the option the path came from, for the message.
    """
    chosen = check_format_name(flag, "--output-format")
    if output == STDIO:
        return chosen or input_fmt
    name = Path(output).name
    named = format_from_name(name)
    if chosen and named and not _agrees(named, chosen, name):
        raise UsageError(
            f"{what} {output} ends like {NAMES[named]}, but --output-format says {NAMES[chosen]}",
            hint=f"give {what} a name that ends like the format, or leave out --output-format",
        )
    fmt = chosen or named
    if fmt is None:
        raise UsageError(
            f"cannot tell the output format from {output!r}",
            hint="use an extension such as .csv or .parquet, or --output-format "
            f"({', '.join(FORMATS)})",
        )
    codec = compression_from_name(name)
    if codec is not None and fmt not in TEXT_FORMATS:
        raise UsageError(
            f"{what} {output} asks for {codec} around {NAMES[fmt]}, which is compressed "
            "inside the file already",
            hint=f"leave out the {Path(name).suffix} ending; only CSV, TSV and NDJSON "
            "are written compressed",
        )
    return fmt


def _unwritable(dtype: Any, fmt: str) -> bool:
    """Whether text format ``fmt`` cannot hold ``dtype`` (polars' CSV writer has no
    binary, duration or nested values; its NDJSON writer panics on binary)."""
    import polars as pl

    base = dtype.base_type()
    if base in (pl.Binary, pl.Object):
        return True
    if fmt in ("csv", "tsv"):
        return base in (pl.Duration, pl.List, pl.Array, pl.Struct)
    if base in (pl.List, pl.Array):
        return _unwritable(dtype.inner, fmt)
    if base is pl.Struct:
        return any(_unwritable(f.dtype, fmt) for f in dtype.fields)
    return False


def check_writable(schema: Mapping[str, Any], fmt: str | None, where: str) -> None:
    """Refuse, before any work, a column the output format cannot hold (exit 3), rather
    than failing after the whole run (or, for binary in NDJSON, crashing in polars).
    ``where`` names the target for the message (``-o out.csv``)."""
    if fmt not in TEXT_FORMATS:
        return  # Parquet and Arrow IPC hold every dtype the reader gives
    label = NAMES[fmt]
    for name, dtype in schema.items():
        if _unwritable(dtype, fmt):
            raise DataError(
                f"{where}: column {name!r} is {dtype}, which {label} cannot hold",
                hint="write it to a .parquet or .arrow file instead",
            )

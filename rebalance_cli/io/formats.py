"""File formats: names, extensions, sniffing, and the output format of a path."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError

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


COMPRESSED = (".gz", ".zst", ".zstd")


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
        raise UsageError(f"{flag} {fmt!r} is not a format", hint=f"use one of {', '.join(FORMATS)}")
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


def resolve_output_format(output: str, flag: str | None, input_fmt: str) -> str:
    """The output format: the flag, else the extension, else (for stdout) the input's."""
    chosen = check_format_name(flag, "--output-format")
    if chosen:
        return chosen
    if output == STDIO:
        return input_fmt
    named = format_from_name(Path(output).name)
    if named is None:
        raise UsageError(
            f"cannot tell the output format from {output!r}",
            hint="use an extension such as .csv or .parquet, or --output-format "
            f"({', '.join(FORMATS)})",
        )
    if Path(output).name.lower().endswith(COMPRESSED):
        raise UsageError(f"compressed output ({output}) is not supported; write .parquet instead")
    return named

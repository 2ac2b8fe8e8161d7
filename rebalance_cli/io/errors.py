"""Library and OS failures while reading or writing, as one-line user errors."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator

import polars as pl

from ..errors import DataError, InputOutputError, RebalanceError


def library_errors() -> tuple[type[BaseException], ...]:
    """polars' errors, and pyarrow's when pyarrow was loaded (it is imported lazily)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return (pl.exceptions.PolarsError,)
    return (pl.exceptions.PolarsError, pa.ArrowException)


# "could not parse `1701…` as dtype `i128`" (CSV), "cannot parse '3402…' (u128) as i128"
_TOO_WIDE = re.compile(r"parse [`'][-+]?\d{39,}[`'] .*(?:i128|u128)")


# simd-json (polars' NDJSON reader): "InternalError(TapeError) at character 6 ('N')",
# "ExpectedNull at character 6 ('n')"
_JSON_ERROR = re.compile(r"^[A-Z]\w*(\(\w+\))? at character")


@contextlib.contextmanager
def reading(display: str) -> Iterator[None]:
    """Turn reader failures (polars, pyarrow, the OS) into one-line user errors."""
    try:
        yield
    except RebalanceError:
        raise
    except library_errors() as exc:
        text = first_line(exc)
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
        elif _JSON_ERROR.match(text):  # simd-json's name for what it expected instead
            text = _JSON_ERROR.sub("not valid JSON at character", text, count=1)
            hint = "NaN, Infinity and unquoted words are not JSON values; write them as null"
        elif _TOO_WIDE.search(text):
            hint = "polars reads integers from -2^127 to 2^127-1 only; this value is wider"
        elif (
            "schema" in text.lower()
            or "could not parse" in text.lower()
            or "cannot parse" in text.lower()
            or "null-typed column" in text.lower()
        ):
            hint = (
                "a column's type was inferred from the first rows and a later value does not "
                "fit it; pass --infer-schema-length 0 to read them all"
            )
        raise DataError(f"cannot read {display}: {text}", hint=hint) from None
    except OSError as exc:
        if exc.errno is None:  # not the OS: a decoder (gzip, zstd) found corrupt data
            raise DataError(
                f"cannot read {display}: {first_line(exc)}",
                hint="the file looks truncated or corrupt",
            ) from None
        raise InputOutputError(f"cannot read {display}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {display}: it is not valid UTF-8 ({exc.reason})",
            hint="pass --encoding utf8-lossy, or convert it first with iconv",
        ) from None


@contextlib.contextmanager
def writing(what: str = "output") -> Iterator[None]:
    """Turn writer failures (a full disk, a lost folder) into one-line I/O errors
    that name what was being written (``the output``, ``the test output``, ...)."""
    try:
        yield
    except RebalanceError:
        raise
    except OSError as exc:
        raise InputOutputError(f"cannot write the {what}: {exc.strerror or exc}") from None
    except library_errors() as exc:
        raise InputOutputError(f"cannot write the {what}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()

"""Input and output: formats, sources, sinks, and how their failures read."""

from . import fs
from .errors import first_line, reading, writing
from .formats import (
    FORMATS,
    STDIO,
    check_format_name,
    check_writable,
    compression_from_name,
    format_from_name,
    resolve_output_format,
)
from .sinks import (
    TMP_SUFFIX,
    AtomicFile,
    SinkStopped,
    check_target,
    commit_all,
    dictionary_columns,
    group_rows,
    open_frame_writer,
    open_writer,
    remove_stale,
    same_file,
    write_frames,
)
from .sources import ReadOptions, Source, frame_batches, open_source

__all__ = [
    "FORMATS",
    "STDIO",
    "TMP_SUFFIX",
    "AtomicFile",
    "ReadOptions",
    "SinkStopped",
    "Source",
    "check_format_name",
    "check_target",
    "check_writable",
    "commit_all",
    "compression_from_name",
    "dictionary_columns",
    "first_line",
    "format_from_name",
    "frame_batches",
    "fs",
    "group_rows",
    "open_frame_writer",
    "open_source",
    "open_writer",
    "reading",
    "remove_stale",
    "resolve_output_format",
    "same_file",
    "write_frames",
    "writing",
]

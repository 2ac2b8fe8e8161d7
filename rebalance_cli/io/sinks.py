"""Outputs: target checks, atomic files, and the writers of every format."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import DataError, InputOutputError, RefusedError
from ..phases import POLL_S, check, stop_for, wait_for
from . import fs
from .formats import NAMES, STDIO

if TYPE_CHECKING:  # pyarrow is imported only where it is used: it costs ~50 MB of RSS
    import pyarrow as pa


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file (through links and ./ spellings too)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_target(target: str, force: bool, inputs: list[Path], what: str) -> Path | None:
    """Refuse to overwrite the input, or an existing file without --force.

    A symbolic link is a file of its own here: with --force it is replaced (the
    link, not the file it points to); a link to a missing file is refused without
    --force, as it would otherwise be replaced silently.
    """
    if target == STDIO:
        return None
    path = Path(target)
    for src in inputs:
        if same_file(path, src):
            raise RefusedError(
                f"the {what} {target} is the input file; refusing to overwrite it",
                hint="write to another path",
            )
    if path.is_dir():
        raise RefusedError(f"the {what} {target} is a directory", hint="give a file path")
    if path.exists() and not path.is_file():
        return path  # a FIFO or a device (/dev/null): written through, never replaced
    if path.is_symlink() and not path.exists() and not force:
        raise RefusedError(
            f"the {what} {target} is a symbolic link to a missing file",
            hint="pass --force to replace the link itself with the file, or remove the link",
        )
    if path.exists() and not force:
        raise RefusedError(f"the {what} {target} already exists", hint="pass --force to replace it")
    if not path.parent.exists():
        raise InputOutputError(f"the folder of the {what} ({path.parent}) does not exist")
    return path


TMP_SUFFIX = ".rebalance-tmp"


def remove_stale(target: Path | None) -> list[Path]:
    """Remove the temporary files of ``target`` left by runs that no longer live.

    A run's temporary files beside ``target`` are named ``.{name}.{pid}.{random}``
    with the suffix ``.rebalance-tmp``; those whose pid names no live process were
    left by a run that was killed (SIGKILL, a crash, a power cut), and are removed
    (a folder too: ``--shuffle``'s spill files). Names of other shapes (another
    target's, an older version's without a pid) are left alone. For stdout, a FIFO
    or a device (``target`` None), the spooled copies ``rebalance-out-{pid}-*`` in
    the temp folder are.
    """
    if target is None:
        return fs.remove_dead(Path(tempfile.gettempdir()), "rebalance-out-", "-", "")
    return fs.remove_dead(target.parent, f".{target.name}.", ".", TMP_SUFFIX)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class AtomicFile:
    """A temporary file beside the target, put in place only on commit.

    The temporary file is ``.{name}.{pid}.{random}.rebalance-tmp`` in the target's
    folder (the pid lets a later run tell a killed run's leftovers from a live
    run's files: :func:`remove_stale`). For stdout, a FIFO or a device, which
    cannot be renamed over, it lives in the temp folder and its bytes are copied
    to the target on commit, so a failed run prints nothing. Several files are
    committed together by :func:`commit_all`.
    """

    def __init__(self, target: Path | None, what: str = "output") -> None:
        self.target = target
        self.what = what
        # stdout, FIFOs and devices cannot be renamed over: they get the bytes on commit
        self.stream = target is None or (target.exists() and not target.is_file())
        beside = None if self.stream or target is None else target
        pid = os.getpid()
        try:
            if beside is None:
                self.tmp = fs.temp_file(Path(tempfile.gettempdir()), f"rebalance-out-{pid}-", "")
            else:
                self.tmp = fs.temp_file(beside.parent, f".{beside.name}.{pid}.", TMP_SUFFIX)
        except OSError as exc:
            where = "the temp folder" if beside is None else str(beside.parent)
            raise InputOutputError(f"cannot write the {what} in {where}: {_why(exc)}") from None
        self.committed = False
        # set by place(): the renamed file's identity, and a link to the file it replaced
        self.placed: tuple[int, int] | None = None
        self.backup: Path | None = None

    @property
    def shown(self) -> str:
        """The target as the user named it, for messages."""
        return "stdout" if self.target is None else str(self.target)

    def commit(self) -> None:
        """Put this file alone in place."""
        commit_all([self])

    def written_bytes(self) -> int:
        """The size of what was written so far (the report's ``bytes``). A temporary file
        that vanished (its folder removed during the run) is an I/O error."""
        try:
            return self.tmp.stat().st_size
        except OSError as exc:
            message = f"cannot write the {self.what} in {self.tmp.parent}: {_why(exc)}"
            raise InputOutputError(message) from None

    def seal(self) -> None:
        """Flush the written temporary file to disk (a late write error shows here)."""
        try:
            fs.sync_file(self.tmp)
        except OSError as exc:
            raise InputOutputError(f"cannot write the {self.what}: {_why(exc)}") from None

    def place(self) -> None:
        """Rename the temporary file over the target, keeping a hard link to the file
        it replaces (when there was one and the file system has hard links) so that
        :meth:`undo` can put it back."""
        assert self.target is not None and not self.stream
        try:
            if os.path.lexists(self.target):
                self.backup = fs.link_aside(
                    self.target, f".{self.target.name}.{os.getpid()}.", TMP_SUFFIX
                )
            fs.chmod(self.tmp, 0o666 & ~_umask())
            st = os.stat(self.tmp)
            # Noted before the rename: a signal's exception can land as the rename returns,
            # and undo() must still find this file to take back (it compares identities, so
            # a rename that never happened is left alone).
            self.placed = (st.st_dev, st.st_ino)
            fs.replace(self.tmp, self.target)
        except OSError as exc:
            self.placed = None
            self._drop_backup()
            raise InputOutputError(f"cannot put the {self.what} in place: {_why(exc)}") from None
        self.committed = True

    def deliver(self) -> None:
        """Copy the bytes to stdout, a FIFO or a device."""
        try:
            with open(self.tmp, "rb") as fh:
                if self.target is None:
                    out = sys.stdout.buffer
                    while chunk := fh.read(1 << 20):
                        fs.write_stream(out, chunk)
                    out.flush()
                else:
                    with fs.create(self.target) as dest:
                        fs.copy_into(fh, dest)
        except BrokenPipeError:
            raise  # the reader of stdout went away: the CLI exits quietly
        except OSError as exc:
            if self.target is None:
                raise InputOutputError(
                    f"cannot write the {self.what} to stdout: {_why(exc)}"
                ) from None
            raise InputOutputError(f"cannot put the {self.what} in place: {_why(exc)}") from None
        self.committed = True
        with contextlib.suppress(OSError):
            fs.unlink(self.tmp)

    def undo(self) -> None:
        """Take a placed file back: the file it replaced returns, or the target is
        removed when there was none. Nothing is done if another process has
        replaced the target since."""
        if self.placed is None or self.target is None:
            return
        with contextlib.suppress(OSError):
            st = os.lstat(self.target)
            if (st.st_dev, st.st_ino) == self.placed:
                if self.backup is not None:
                    fs.replace(self.backup, self.target)
                    self.backup = None
                else:
                    fs.unlink(self.target)
        self.placed = None

    def _drop_backup(self) -> None:
        if self.backup is not None:
            with contextlib.suppress(OSError):
                fs.unlink(self.backup)
            self.backup = None

    def discard(self) -> None:
        """Remove what is left: the temporary file if it was not committed, the backup."""
        if not self.committed:
            with contextlib.suppress(OSError):
                fs.unlink(self.tmp)
        self._drop_backup()


def commit_all(sinks: list[AtomicFile]) -> None:
    """Put every file of a run in place, all or nothing as far as the OS allows.

    1. every temporary file (already completely written) is synced to disk; a
       failure here leaves every target as it was;
    2. the files are renamed over their targets, in order, and their folders
       synced; a failure takes back the files already renamed;
    3. the streams (FIFOs and devices, then stdout) get their bytes; a failure
       of the first one still takes back the renamed files, but a stream already
       written cannot be taken back.

    The caller discards every sink afterwards (backups and leftover temporary files).
    """
    files = [s for s in sinks if not s.stream]
    streams = sorted((s for s in sinks if s.stream), key=lambda s: s.target is None)

    def seal_all() -> None:
        for s in sinks:
            s.seal()

    wait_for(seal_all, "rebalance-fsync")  # a long fsync does not hold off a signal
    try:
        for s in files:
            s.place()
        _sync_folders([s.target for s in files if s.target is not None])
        for s in streams:
            s.deliver()
    except BrokenPipeError:
        raise  # the reader of stdout went away (`| head`): a success, the files stay
    except BaseException:
        for s in reversed(files):
            s.undo()
        raise
    finally:
        for s in files:
            s._drop_backup()


def _sync_folders(targets: list[Path]) -> None:
    """Make the renames durable (where the file system can sync a folder)."""
    for folder in dict.fromkeys(t.parent for t in targets):
        try:
            fs.sync_folder(folder)
        except OSError as exc:
            raise InputOutputError(
                f"cannot sync the folder {folder} after renaming the files into it: {_why(exc)}"
            ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _GroupedWriter:
    """Parquet/IPC: frames are regrouped into fixed-size row groups.

    The group size depends on the schema only, so the bytes written do not
    depend on how the input was cut into batches.
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        schema: pl.Schema,
        dictionaries: dict[str, list[str]] | None = None,
    ) -> None:
        import pyarrow as pa
        import pyarrow.ipc as pa_ipc
        import pyarrow.parquet as pq

        empty = pl.DataFrame(schema=schema).to_arrow()
        self.schema = empty.schema
        self.rows = group_rows(schema)
        # polars gives each batch its own dictionary for Categorical columns; one
        # fixed dictionary per column keeps the bytes independent of batching and
        # keeps Arrow IPC files free of dictionary replacements.
        self.dictionaries: dict[int, pa.Array] = {}
        for name, values in (dictionaries or {}).items():
            i = self.schema.get_field_index(name)
            value_type = self.schema.field(i).type.value_type
            self.dictionaries[i] = pa.array(values, type=value_type)
        self.buf: list[pl.DataFrame] = []
        self.buffered = 0
        self.fh = fs.create(path)
        self.sink: Any
        try:
            if fmt == "parquet":
                self.sink = pq.ParquetWriter(self.fh, self.schema, compression="zstd")
            else:
                self.sink = pa_ipc.new_file(self.fh, self.schema)
        except BaseException:
            self.fh.abandon()
            raise
        self.fmt = fmt

    def _emit(self, df: pl.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = df.to_arrow()
        for i, dictionary in self.dictionaries.items():
            field = self.schema.field(i)
            plain = table.column(i).cast(field.type.value_type)
            codes = pc.index_in(plain, value_set=dictionary).cast(field.type.index_type)
            encoded = pa.chunked_array(
                [pa.DictionaryArray.from_arrays(c, dictionary) for c in codes.chunks],
                type=field.type,
            )
            table = table.set_column(i, field, encoded)
        if table.schema != self.schema:
            table = table.cast(self.schema)
        if self.fmt == "parquet":
            self.sink.write_table(table, row_group_size=self.rows)
        else:
            # one record batch per group, whatever chunks the frames arrived in
            self.sink.write_table(_clean_nulls(table.combine_chunks()), max_chunksize=self.rows)

    def write(self, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        self.buf.append(df)
        self.buffered += df.height
        if self.buffered >= self.rows:
            whole = pl.concat(self.buf, rechunk=False)
            full = (whole.height // self.rows) * self.rows
            for start in range(0, full, self.rows):
                self._emit(whole.slice(start, self.rows))
            rest = whole.slice(full)
            self.buf = [rest] if rest.height else []
            self.buffered = rest.height

    def close(self) -> None:
        """The last row group, the footer, and the file closed; a failure is raised."""
        if self.buf:
            self._emit(pl.concat(self.buf, rechunk=False))
            self.buf = []
        self.sink.close()
        self.fh.close()

    def abandon(self) -> None:
        """Stop writing (the file is being thrown away): nothing more reaches the disk."""
        self.buf = []
        with contextlib.suppress(Exception):
            self.sink.close()  # else pyarrow closes it at garbage collection, into a closed file
        self.fh.abandon()


def _clean_nulls(table: Any) -> Any:
    """Variable-width columns rebuilt with empty null slots.

    An Arrow array may keep bytes under a null (left there by a filter upstream);
    IPC writes its buffers as they are, so those bytes would depend on how the rows
    were batched. Rebuilding through ``if_else`` gives null slots no bytes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column_field in enumerate(table.schema):
        t = column_field.type
        if not (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
        ):
            continue
        col = table.column(i)
        if not col.null_count:
            continue
        chunks = []
        for chunk in col.chunks:
            filled = pc.fill_null(chunk, pa.scalar(b"" if "binary" in str(t) else "", type=t))
            valid = pc.is_valid(chunk)  # a fresh bitmap at offset 0
            if filled.offset:  # not seen: fill_null allocates; keep the chunk as it is
                chunks.append(chunk)
                continue
            chunks.append(
                pa.Array.from_buffers(
                    t,
                    len(chunk),
                    [valid.buffers()[1], *filled.buffers()[1:]],
                    null_count=chunk.null_count,
                )
            )
        table = table.set_column(i, column_field, pa.chunked_array(chunks, type=t))
    return table


def group_rows(schema: pl.Schema) -> int:
    """Rows per Parquet row group / IPC batch: ~32 MB of estimated width, at most 128k."""
    width = 0
    for dtype in schema.values():
        if dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean:
            width += 8
        else:
            width += 32
    return max(1024, min(131_072, (32 << 20) // max(1, width)))


def dictionary_columns(schema: pl.Schema, fmt: str) -> list[str]:
    """Columns whose Arrow dictionary must be fixed before writing ``fmt``."""
    if fmt not in ("parquet", "ipc"):
        return []
    return [name for name, dtype in schema.items() if dtype == pl.Categorical]


def _is_wide(dtype: Any) -> bool:
    if dtype in (pl.Int128, pl.UInt128):
        return True
    if isinstance(dtype, pl.Struct):
        return any(_is_wide(f.dtype) for f in dtype.fields)
    inner = getattr(dtype, "inner", None)
    return inner is not None and _is_wide(inner)


def wide_integer_columns(schema: pl.Schema) -> list[str]:
    """Columns holding Int128/UInt128 values (what polars infers for 20+-digit integers).

    Arrow (so pyarrow) has no 128-bit integer type; polars' own Parquet and IPC
    writers store them, in files that polars reads back exactly.
    """
    return [name for name, dtype in schema.items() if _is_wide(dtype)]


def _refuse_wide(schema: pl.Schema, fmt: str, why: str) -> None:
    wide = wide_integer_columns(schema)
    if wide:
        raise DataError(
            f"column {wide[0]!r} is {schema[wide[0]]}, which {why} cannot hold as "
            f"{NAMES[fmt]} (Arrow has no 128-bit integer type)",
            hint="write CSV, TSV or NDJSON instead, which keep every digit",
        )


def open_writer(
    path: Path,
    fmt: str,
    schema: pl.Schema,
    dictionaries: dict[str, list[str]] | None = None,
) -> _GroupedWriter:
    """A pyarrow writer of Parquet or IPC; ``dictionaries`` fixes Categorical values.

    128-bit integer columns are refused (pyarrow cannot hold them): the main output
    goes through polars' sinks instead (``write_frames``); the test split and the
    bags, written frame by frame, have no such sink.
    """
    _refuse_wide(schema, fmt, "the writer of the test split and bags")
    return _GroupedWriter(path, fmt, schema, dictionaries)


GZIP_LEVEL = 6  # gzip's own default: about as small as 9, several times faster


class CompressedFile:
    """A write-only binary file that compresses what it is given into a file of the
    file layer (:class:`fs.File`, so its writes are the layer's like any other).

    One stream per file, never flushed midway, so the bytes depend only on the
    bytes written, not on how the writer cut them (its ``flush`` does nothing):
    gzip by zlib at level 6, with no file name and time 0 in the header; zstd
    by pyarrow at its default level. A rerun writes the same file.
    """

    def __init__(self, out: fs.File, codec: str) -> None:
        self.codec = codec
        self.closed = False
        self._file = out
        self._zlib: Any = None
        self._zstd: Any = None
        if codec == "gzip":
            self._zlib = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        elif codec == "zstd":
            import pyarrow as pa

            self._zstd = pa.CompressedOutputStream(pa.PythonFile(out, mode="w"), "zstd")
        else:
            raise ValueError(f"unknown codec {codec!r}")

    @property
    def error(self) -> OSError | None:
        """The OS error of a write, kept as it was (polars and pyarrow, which call
        write(), hand it back as text of their own)."""
        return self._file.error

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._zlib is not None:
            self._file.write(self._zlib.compress(data))
        else:
            self._zstd.write(data)
        return memoryview(data).nbytes

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        """Nothing: a flush would end a compressed block where the writer called it."""

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self._zlib is not None:
                self._file.write(self._zlib.flush())
            else:
                self._zstd.close()  # the end of the frame; it leaves the file open
        except BaseException:
            self._file.abandon()
            raise
        self._file.close()

    def abandon(self) -> None:
        """Close without ending the stream (the file is being thrown away)."""
        self.closed = True
        self._file.abandon()


def open_binary(path: Path, compression: str | None = None) -> fs.File | CompressedFile:
    """A binary file of the file layer at ``path``, compressed when asked."""
    out = fs.create(path)
    return out if compression is None else CompressedFile(out, compression)


class _TextWriter:
    """CSV, TSV or NDJSON written frame by frame (row formats: the bytes do not
    depend on how the rows were cut into frames), compressed when asked."""

    def __init__(
        self, path: Path, fmt: str, schema: pl.Schema, compression: str | None = None
    ) -> None:
        self.fh: Any = open_binary(path, compression)  # a binary file, to polars
        self.fmt = fmt
        self.schema = schema
        self.header = fmt in ("csv", "tsv")

    def write(self, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        with self._os_error():
            if self.fmt == "ndjson":
                df.write_ndjson(self.fh)
                return
            df.write_csv(
                self.fh, separator="\t" if self.fmt == "tsv" else ",", include_header=self.header
            )
        self.header = False

    def close(self) -> None:
        with self._os_error():
            if self.header:  # no row came: the header alone, as the streaming sink writes it
                pl.DataFrame(schema=self.schema).write_csv(
                    self.fh, separator="\t" if self.fmt == "tsv" else ","
                )
                self.header = False
        self.fh.close()

    @contextlib.contextmanager
    def _os_error(self) -> Iterator[None]:
        """polars re-raises a failed write as an error of its own: raise the OS's."""
        try:
            yield
        except Exception:
            if self.fh.error is not None:
                raise self.fh.error from None
            raise

    def abandon(self) -> None:
        """Stop writing (the file is being thrown away)."""
        self.fh.abandon()


def open_frame_writer(
    path: Path,
    fmt: str,
    schema: pl.Schema,
    dictionaries: dict[str, list[str]] | None = None,
    compression: str | None = None,
) -> _GroupedWriter | _TextWriter:
    """A writer that takes frames one at a time, in the calling thread.

    For runs with several outputs (the test split, bags), where one input
    stream feeds several files. Parquet and IPC go through pyarrow with fixed
    row groups; the bytes do not depend on the batching. CSV, TSV and NDJSON may
    be compressed (``gzip``, ``zstd``) as they are written.
    """
    if fmt in ("parquet", "ipc"):
        return open_writer(path, fmt, schema, dictionaries)
    return _TextWriter(path, fmt, schema, compression)


class SinkStopped(Exception):
    """Raised inside a frame stream when the main thread asks the sink to stop."""


STOP_WAIT_S = 0.5
"""How long an interrupted write waits for the sink's thread to stop before it leaves."""


def _close(frames: Iterator[pl.DataFrame]) -> None:
    close = getattr(frames, "close", None)
    if close is not None:
        close()


def _write_with_pyarrow(
    frames: Iterator[pl.DataFrame],
    path: Path,
    fmt: str,
    schema: pl.Schema,
    dictionaries: dict[str, list[str]] | None,
) -> None:
    """Write the frames through a pyarrow writer, in the calling thread."""
    writer = open_writer(path, fmt, schema, dictionaries)
    try:
        for frame in frames:
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abandon()
        raise
    finally:
        _close(frames)


class _FrameSource:
    """The frame stream as a polars IO source: read once at most, stopped between
    frames when ``stop`` is set, its failure kept for the main thread."""

    def __init__(self, frames: Iterator[pl.DataFrame], stop: threading.Event) -> None:
        self.frames = frames
        self.stop = stop
        self.failure: list[BaseException] = []
        self.calls = 0
        self.done = threading.Event()

    def __call__(
        self,
        with_columns: list[str] | None,
        predicate: Any,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        self.calls += 1
        if self.calls > 1:  # the stream can be read once only
            raise RuntimeError("the output stream was asked for twice")
        try:
            for frame in self.frames:
                if self.stop.is_set():
                    raise SinkStopped
                yield frame if with_columns is None else frame.select(with_columns)
        except BaseException as exc:
            self.failure.append(exc)
            _close(self.frames)  # runs the stream's cleanup (temp files) now, in this thread
            raise
        finally:
            self.done.set()


def _sink(
    lazy: pl.LazyFrame,
    out: fs.File | CompressedFile,
    fmt: str,
    schema: pl.Schema,
    errors: list[BaseException],
) -> None:
    """Run polars' streaming sink of ``fmt`` into ``out``; an error goes to ``errors``."""
    target: Any = out  # a binary file, to polars
    try:
        if fmt == "parquet":
            lazy.sink_parquet(target, compression="zstd", row_group_size=group_rows(schema))
        elif fmt == "ipc":  # 128-bit integers, which pyarrow cannot write
            lazy.sink_ipc(target, record_batch_size=group_rows(schema))
        elif fmt in ("csv", "tsv"):
            lazy.sink_csv(target, separator="\t" if fmt == "tsv" else ",")
        else:
            lazy.sink_ndjson(target)
        out.close()
    except BaseException as exc:  # handed to the main thread
        out.abandon()
        errors.append(exc)


def write_frames(
    frames: Iterator[pl.DataFrame],
    path: Path,
    fmt: str,
    schema: pl.Schema,
    dictionaries: dict[str, list[str]] | None = None,
    stop: threading.Event | None = None,
    compression: str | None = None,
) -> None:
    """Write a stream of frames (all of ``schema``) to ``path`` as ``fmt``.

    Parquet, CSV, TSV and NDJSON go through polars' streaming sinks, which encode
    and compress in parallel; the frames are fed to them as a polars IO source.
    The sink runs in a worker thread so that the main thread stays free to take
    SIGINT/SIGTERM: it then stops the source, waits for the sink, and re-raises.
    Arrow IPC goes through pyarrow (polars' IPC sink cuts batches by morsel, so
    its bytes would depend on the batching), unless a column is a 128-bit integer,
    which pyarrow cannot hold: then polars' IPC sink with fixed record batches.
    ``stop`` is set on a signal; the stream should check it between batches and
    raise :class:`SinkStopped`. With ``compression`` (``gzip`` or ``zstd``, for
    CSV, TSV and NDJSON) polars' sink writes into a :class:`CompressedFile`, one
    stream whose bytes do not depend on how polars cut its writes.
    """
    wide = bool(wide_integer_columns(schema))
    if fmt == "parquet" and dictionaries and wide:
        _refuse_wide(schema, fmt, f"the writer of Categorical column {next(iter(dictionaries))!r}")
    if (fmt == "ipc" and not wide) or (fmt == "parquet" and dictionaries):
        _write_with_pyarrow(frames, path, fmt, schema, dictionaries)
        return

    from polars.io.plugins import register_io_source

    stop = stop or threading.Event()
    source = _FrameSource(frames, stop)
    lazy = register_io_source(source, schema=schema)
    sink_error: list[BaseException] = []
    assert compression is None or fmt in ("csv", "tsv", "ndjson"), fmt
    out = open_binary(path, compression)
    worker = threading.Thread(
        target=_sink,
        args=(lazy, out, fmt, schema, sink_error),
        name="rebalance-sink",
        daemon=True,
    )
    try:
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            check()  # a stop whose exception did not reach this thread
    except BaseException as exc:
        stop_for(exc)
        stop.set()
        # the source stops at its next frame (or its next look at the stop flag, in a
        # long neighbour search): wait that long, not for native work to finish
        deadline = time.monotonic() + STOP_WAIT_S
        worker.join(STOP_WAIT_S)
        # polars may return from an interrupted sink while the source is still
        # busy; give it a moment to see `stop` and clean up after itself
        if source.calls:
            source.done.wait(max(0.0, deadline - time.monotonic()))
        raise
    real = [e for e in source.failure if not isinstance(e, GeneratorExit | SinkStopped)]
    if real:
        raise real[0]
    if out.error is not None:  # polars may have wrapped it in an error of its own
        raise out.error
    if sink_error:
        raise sink_error[0]

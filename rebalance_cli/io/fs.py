"""The package's one door to the file system.

Every file the package creates, writes, syncs, renames, links or removes goes
through this module: the outputs and their temporary files, the report, the
test split, the bags, ``--shuffle``'s bucket files, the spooled copy of stdin
(or of a FIFO) and the copy of a stream target. polars and pyarrow write into a
:class:`File` of this module, never to a path of their own.

The first group of functions are the primitives, one system call each:
:func:`open_fd`, :func:`make_dir`, :func:`write`, :func:`fsync`, :func:`chmod`,
:func:`replace`, :func:`link`, :func:`unlink`, :func:`remove_dir`. Everything
else here is built on them, and calls them through this module's globals, so a
test that replaces one of them (``tests/faults.py``) sees, and can fail, every
such call a run makes. Nothing here decides what a failure means: the callers
turn an ``OSError`` into a one-line user error naming what failed.

Not through here: reading the input (polars and pyarrow read it by path), and
the Spark engine's part files (written by Spark through Hadoop's file system).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

# -- primitives: one system call each (the fault points of tests/faults.py) ------------


def open_fd(path: str | os.PathLike[str], flags: int, mode: int = 0o666) -> int:
    """open(2)."""
    return os.open(path, flags | os.O_CLOEXEC, mode)


def make_dir(path: str | os.PathLike[str], mode: int = 0o700) -> None:
    """mkdir(2)."""
    os.mkdir(path, mode)


def write(fd: int, data: memoryview) -> int:
    """write(2): returns the number of bytes written (maybe fewer than given)."""
    return os.write(fd, data)


def write_stream(stream: BinaryIO, data: bytes) -> None:
    """A write to a Python stream the package does not own (``sys.stdout.buffer``)."""
    stream.write(data)


def fsync(fd: int) -> None:
    """fsync(2)."""
    os.fsync(fd)


def chmod(path: str | os.PathLike[str], mode: int) -> None:
    """chmod(2)."""
    os.chmod(path, mode)


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """rename(2), over an existing ``dst``."""
    os.replace(src, dst)


def link(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """link(2) of ``src`` itself (a symbolic link is linked, not followed)."""
    os.link(src, dst, follow_symlinks=False)


def unlink(path: str | os.PathLike[str]) -> None:
    """unlink(2)."""
    os.unlink(path)


def remove_dir(path: str | os.PathLike[str]) -> None:
    """rmdir(2)."""
    os.rmdir(path)


def close(fd: int) -> None:
    """close(2)."""
    os.close(fd)


# -- files ---------------------------------------------------------------------------------


class File:
    """A file open for writing, buffered here: every write(2) is one :func:`write`.

    polars' sinks, pyarrow's writers and the spooling code write into it as
    into any binary file. The first ``OSError`` is kept in ``error``, since a
    library may wrap it in an exception of its own (polars' Parquet sink says
    "File out of specification: underlying IO error").
    """

    BUFFER = 1 << 20

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.error: OSError | None = None
        self._buf = bytearray()
        self._pos = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def write(self, data: Any) -> int:
        if self._closed:
            raise ValueError("I/O operation on a closed file")
        view = memoryview(data).cast("B")
        n = view.nbytes
        if len(self._buf) + n > self.BUFFER:
            self._drain()
            if n >= self.BUFFER:
                self._put(view)
                self._pos += n
                return n
        self._buf += view
        self._pos += n
        return n

    def _put(self, view: memoryview) -> None:
        while view.nbytes:
            try:
                done = write(self.fd, view)
            except OSError as exc:
                if self.error is None:
                    self.error = exc
                raise
            view = view[done:]

    def _drain(self) -> None:
        if self._buf:
            # a new buffer, not a copy of the old one; a failed write is not retried by close()
            pending, self._buf = self._buf, bytearray()
            self._put(memoryview(pending))

    def flush(self) -> None:
        """Nothing: the buffer is written when it is full and on :meth:`close` (nothing
        reads the file before then), so a writer that flushes after every batch does
        not cut the file into small writes."""

    def close(self) -> None:
        """Write what is buffered and close; a failure of either is raised."""
        if self._closed:
            return
        try:
            self._drain()
        finally:
            self._closed = True
            close(self.fd)

    def abandon(self) -> None:
        """Close without writing what is buffered (the file is being thrown away)."""
        if not self._closed:
            self._closed = True
            self._buf.clear()
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def __enter__(self) -> File:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()

    def __del__(self) -> None:  # never a late flush (or its error) at garbage collection
        self.abandon()


def create(path: str | os.PathLike[str]) -> File:
    """Open ``path`` for writing, created or truncated (a FIFO or a device as it is)."""
    fd = open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    return File(fd, str(path))


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """``path`` holds ``data`` (created or truncated)."""
    with create(path) as fh:
        fh.write(data)


def copy_into(source: BinaryIO, out: File, chunk: int = 1 << 20) -> None:
    """Every byte of ``source`` (read in chunks) into ``out``."""
    while True:
        data = source.read(chunk)
        if not data:
            return
        out.write(data)


def _token() -> str:
    return secrets.token_hex(4)


def temp_file(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file ``{prefix}{random}{suffix}`` in ``folder`` (mode 0600)."""
    for _ in range(100):
        path = folder / f"{prefix}{_token()}{suffix}"
        try:
            fd = open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        close(fd)
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def temp_dir(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty folder ``{prefix}{random}{suffix}`` in ``folder`` (mode 0700)."""
    for _ in range(100):
        path = folder / f"{prefix}{_token()}{suffix}"
        try:
            make_dir(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def sync_file(path: str | os.PathLike[str]) -> None:
    """Flush a written file to disk (a late write error of the file system shows here)."""
    fd = open_fd(path, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        close(fd)


# A folder this process may not open, or a file system that cannot sync folders: the
# renames stand, only their durability is not forced. Any other failure is raised.
_UNOPENABLE_FOLDER = frozenset({errno.EACCES, errno.EPERM})
_NO_FOLDER_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF})


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the renames into ``folder`` durable, where the file system can."""
    try:
        fd = open_fd(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in _UNOPENABLE_FOLDER:
            return
        raise
    try:
        fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_SYNC:
            raise
    finally:
        close(fd)


# link(2) says "this file system has no hard links" (or none more for this file) this way
NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS}
)


def link_aside(target: Path, prefix: str, suffix: str) -> Path | None:
    """A hard link to ``target`` (to the link itself if it is a symlink) named
    ``{prefix}{random}{suffix}`` beside it; None where the file system has no hard
    links. Any other failure is raised."""
    for _ in range(100):
        name = target.parent / f"{prefix}{_token()}{suffix}"
        try:
            link(target, name)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno in NO_HARD_LINKS:
                return None
            raise
        return name
    return None


def remove(path: str | os.PathLike[str]) -> bool:
    """Remove a file, or a folder and everything in it; False if something stayed."""
    try:
        is_dir = os.path.isdir(path) and not os.path.islink(path)
    except OSError:
        return False
    if not is_dir:
        try:
            unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True
    clean = True
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    for entry in entries:
        clean = remove(entry.path) and clean
    try:
        remove_dir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return clean


# -- what killed runs leave --------------------------------------------------------------


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_dead(folder: Path, prefix: str, sep: str, suffix: str) -> list[Path]:
    """Remove the entries ``{prefix}{pid}{sep}{random}{suffix}`` of ``folder`` (files
    or folders) whose pid names no live process: what a run killed by SIGKILL, a
    crash or a power cut left. Names of other shapes are left alone."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        pid = _owner(entry.name, prefix, sep, suffix)
        if pid is None or pid == os.getpid() or alive(pid):
            continue
        if remove(entry.path):
            removed.append(Path(entry.path))
    return removed


def _owner(name: str, prefix: str, sep: str, suffix: str) -> int | None:
    """The pid in ``{prefix}{pid}{sep}{random}{suffix}``, or None for another shape."""
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    parts = name[len(prefix) : len(name) - len(suffix)].split(sep)
    if len(parts) != 2 or not parts[1] or "." in parts[1]:
        return None
    if not (parts[0].isascii() and parts[0].isdigit()):
        return None
    pid = int(parts[0])
    return pid if pid > 0 else None

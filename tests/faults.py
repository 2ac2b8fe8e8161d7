"""Fault injection through the package's own file layer (``rebalance_cli/io/fs.py``).

:class:`Faults` replaces the layer's primitives (open, mkdir, write, fsync, chmod,
rename, link) with wrappers that record every call a run makes, by the kind of
call and the file it touches, and that can make one chosen call fail with an
``OSError`` of a chosen errno. A call is named by a :class:`Point`: its kind, a
stable name for its file, and which call of that kind on that file it is.

Stable names: a temporary file or folder (whose real name holds the pid and a
random token) is named at its creation after its shape, ``.o.csv.tmp#1`` for the
first temporary name made for ``o.csv``, ``rebalance-stdin#1``,
``rebalance-out#1``; a file inside one of them is ``<its folder>/<its name>``;
the run's folder and the temp folder are ``<outdir>`` and ``<tmpdir>``; stdout is
``<stdout>``; any other path is its base name. Calls on one file are made by one
thread in order, so a point names the same call in every run of the same
command, even when the main output is written by polars' worker thread while the
test split is written by the main thread.

Unlinks and rmdirs are not faulted: they are the clean-up, and a file that cannot
be removed stays (the one thing a fault can leave).
"""

from __future__ import annotations

import errno
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebalance_cli.io import fs

KINDS = ("open", "mkdir", "write", "fsync", "chmod", "rename", "link")
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES)

_TMP = re.compile(r"\.\d+\.[0-9a-f]{8}\.rebalance-tmp$")
_SPOOL = re.compile(r"^(rebalance-(?:stdin|out))-\d+-[0-9a-f]{8}$")


@dataclass(frozen=True, order=True)
class Point:
    kind: str
    file: str
    nth: int

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.file}:{self.nth}"

    @classmethod
    def parse(cls, text: str) -> Point:
        kind, rest = text.split(":", 1)
        file, nth = rest.rsplit(":", 1)
        return cls(kind, file, int(nth))


def shape(name: str) -> str:
    """A temporary name without its pid and random token."""
    m = _SPOOL.match(name)
    if m:
        return m.group(1)
    return _TMP.sub(".tmp", name)


class Faults:
    """Record (and optionally fail) every call of the file layer's primitives."""

    def __init__(self, monkeypatch: Any, outdir: Path, tmpdir: Path) -> None:
        self.calls: list[Point] = []
        self.names: dict[str, str] = {str(outdir): "<outdir>", str(tmpdir): "<tmpdir>"}
        self.made: Counter[str] = Counter()
        self.seen: Counter[tuple[str, str]] = Counter()
        self.armed: tuple[Point, int] | None = None
        self.fired: Point | None = None
        self.lock = threading.Lock()
        primitives = ("open_fd", "make_dir", "write", "write_stream", "fsync", "chmod", "replace")
        real = {k: getattr(fs, k) for k in (*primitives, "link")}

        def open_fd(path: Any, flags: int, mode: int = 0o666) -> int:
            creates = bool(flags & os.O_CREAT and flags & os.O_EXCL)
            self._call("open", self._name(path, create=creates))
            return real["open_fd"](path, flags, mode)

        def make_dir(path: Any, mode: int = 0o700) -> None:
            self._call("mkdir", self._name(path, create=True))
            real["make_dir"](path, mode)

        def write(fd: int, data: Any) -> int:
            self._call("write", self._name(_fd_path(fd)))
            return real["write"](fd, data)

        def write_stream(stream: Any, data: Any) -> None:
            self._call("write", "<stdout>")
            real["write_stream"](stream, data)

        def fsync(fd: int) -> None:
            self._call("fsync", self._name(_fd_path(fd)))
            real["fsync"](fd)

        def chmod(path: Any, mode: int) -> None:
            self._call("chmod", self._name(path))
            real["chmod"](path, mode)

        def replace(src: Any, dst: Any) -> None:
            self._call("rename", self._name(dst))
            real["replace"](src, dst)

        def link(src: Any, dst: Any) -> None:
            self._call("link", self._name(src))
            real["link"](src, dst)

        for name, fn in [
            ("open_fd", open_fd),
            ("make_dir", make_dir),
            ("write", write),
            ("write_stream", write_stream),
            ("fsync", fsync),
            ("chmod", chmod),
            ("replace", replace),
            ("link", link),
        ]:
            monkeypatch.setattr(fs, name, fn)

    def arm(self, point: Point, err: int) -> None:
        """Make the call ``point`` fail with ``err`` (once)."""
        self.armed = (point, err)

    def _name(self, path: Any, create: bool = False) -> str:
        text = os.fspath(path)
        if text.endswith(" (deleted)"):
            text = text[: -len(" (deleted)")]
        with self.lock:
            if text in self.names:
                return self.names[text]
            p = Path(text)
            parent = self.names.get(str(p.parent))
            if create and shape(p.name) != p.name:
                base = shape(p.name)
                if parent is not None and not parent.startswith("<"):
                    base = f"{parent}/{base}"
                self.made[base] += 1
                self.names[text] = f"{base}#{self.made[base]}"
                return self.names[text]
            if parent is not None and not parent.startswith("<"):
                return f"{parent}/{p.name}"
            return p.name

    def _call(self, kind: str, name: str) -> None:
        with self.lock:
            self.seen[(kind, name)] += 1
            point = Point(kind, name, self.seen[(kind, name)])
            self.calls.append(point)
            if self.armed is not None and self.armed[0] == point:
                err = self.armed[1]
                self.armed = None
                self.fired = point
                raise OSError(err, os.strerror(err))


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"<fd {fd}>"


def points(calls: list[Point]) -> list[Point]:
    """The distinct fault points of a recorded run, in the order they were first made."""
    return list(dict.fromkeys(calls))

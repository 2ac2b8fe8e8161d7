"""The phases of a run: what it is doing, how far it got, and where it stops.

A run announces its phases in order and reports progress inside them:

    spool       stdin copied to a file (bytes; the total is unknown)
    read        the source opened: its format, its schema
    count       pass 1: the rows of every cell
    plan        the plan of every cell and the program of pass 2
    write       pass 2: the output rows written from the input
    neighbours  a neighbour search: SMOTE's in one grown class, a cleaning strategy's
                (tomek, enn) over the rows of a group, before pass 2
    synthesise  the synthetic rows
    shuffle     --shuffle: the bucket files read back, sorted and written
    commit      every file synced and renamed into place

Observers subscribe to the events (:class:`PhaseEvent`): the command line's
progress bar, a library caller's callback, and the test hook below. An observer
runs in the thread that reports (polars' sink thread during pass 2), so it must be
quick and thread-safe; an exception it raises ends the run.

Every announcement and every tick is also a place where a run that was asked to
stop (:func:`request_stop`: a signal) stops, by raising :class:`Interrupted`.
Long native work (a polars collect, a k-d tree, BLAS) is run by :func:`wait_for` in
a worker thread while the calling thread waits in short timed joins, so a signal
handler (main thread) or the stop flag (any other thread) ends the wait at once;
the abandoned work finishes in the background (the command line leaves with
``os._exit`` after its one line, which ends it).

For tests only: ``REBALANCE_TEST_SIGNAL=PHASE:SIGNAL[:N]`` makes the process send
itself SIGNAL (``SIGINT``, ``SIGTERM``, ``SIGHUP``, ...) when PHASE starts, or at
its N-th progress event; with ``REBALANCE_TEST_SIGNAL_STAMP=FILE`` it first writes
the ``time.monotonic()`` of that moment to FILE. Nothing else reads them.

This module imports nothing of the package but the exception family.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from .errors import Interrupted

PHASES: tuple[str, ...] = (
    "spool",
    "read",
    "count",
    "plan",
    "write",
    "neighbours",
    "synthesise",
    "shuffle",
    "commit",
)

State = Literal["start", "progress", "end"]


@dataclass(frozen=True)
class PhaseEvent:
    """One report of a run: a phase started, moved on, or ended.

    ``done`` and ``total`` count ``unit`` (rows of the output for ``write``,
    ``synthesise`` and ``shuffle``; rows of the class for ``neighbours``; bytes for
    ``spool``); ``total`` is None where it is not known. ``detail`` says what the
    phase works on (``class 'b'``, ``all rows``, ``group city=x`` for ``neighbours``).
    """

    phase: str
    state: State
    done: int = 0
    total: int | None = None
    unit: str = "rows"
    detail: str = ""


Observer = Callable[[PhaseEvent], None]
Tick = Callable[[int, int], None]
"""``tick(done, total)``: progress inside a phase, and a place to stop (it may raise)."""

TEST_SIGNAL = "REBALANCE_TEST_SIGNAL"
TEST_SIGNAL_STAMP = "REBALANCE_TEST_SIGNAL_STAMP"
POLL_S = 0.05
"""How often a waiting thread looks at the stop flag (and lets signal handlers run)."""


class _Stop:
    """Process-wide: whether a stop was asked for, by which signal, and whether the
    run's files were already committed when it came."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal = 0
        self.final = False  # asked by the command line's handler: the process ends
        self.committed = False
        self.lock = threading.Lock()


_STOP = _Stop()


def request_stop(signum: int, final: bool = False) -> bool:
    """Ask every run in this process to stop; True if this is the first request.

    ``final`` (the command line's signal handler): the process is ending, and no
    later run of it forgets the request (:func:`clear_stop`).
    """
    with _STOP.lock:
        first = not _STOP.event.is_set()
        if first:
            _STOP.signal = signum
            _STOP.event.set()
        _STOP.final = _STOP.final or final
        return first


def stop_requested() -> int:
    """The signal that asked the process to stop (0: none)."""
    return _STOP.signal if _STOP.event.is_set() else 0


def clear_stop() -> None:
    """A new run starts: forget a stop asked of an earlier one (a library caller's
    KeyboardInterrupt), unless the process is ending."""
    with _STOP.lock:
        _STOP.committed = False
        if _STOP.final:
            return
        _STOP.signal = 0
        _STOP.event.clear()


def mark_committed() -> None:
    """The run's files are in place: an interrupt from now on does not undo them."""
    _STOP.committed = True


def interrupted(signum: int) -> Interrupted:
    """The error for ``signum``, saying whether the files were committed before it came."""
    return Interrupted(signum, committed=_STOP.committed)


def check() -> None:
    """Raise :class:`Interrupted` if the process was asked to stop."""
    if _STOP.event.is_set():
        raise interrupted(_STOP.signal or signal.SIGINT)


def stop_for(exc: BaseException) -> None:
    """The calling thread was interrupted by ``exc``: tell the rest of the run to stop."""
    if isinstance(exc, Interrupted):
        request_stop(exc.signal_number)
    elif isinstance(exc, KeyboardInterrupt):
        request_stop(signal.SIGINT)


T = TypeVar("T")


def wait_for(work: Callable[[], T], name: str = "rebalance-work") -> T:
    """``work()`` run in a worker thread while this thread waits in short timed joins.

    A signal handler of the main thread runs during the wait (a native call such
    as a polars collect would hold it off until it returns); any other thread sees
    the stop flag within ``POLL_S``. Either way the wait ends with the exception and
    every other part of the run is told to stop; the work itself is abandoned (it
    is a daemon thread). Its result, or its exception, is this call's.
    """
    check()
    box: list[tuple[bool, object]] = []

    def target() -> None:
        try:
            box.append((True, work()))
        except BaseException as exc:  # handed to the waiting thread (or dropped)
            box.append((False, exc))

    worker = threading.Thread(target=target, name=name, daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            check()
    except BaseException as exc:
        stop_for(exc)
        raise
    ok, value = box[0]
    if ok:
        return value  # type: ignore[return-value]
    assert isinstance(value, BaseException)
    raise value


class Phase:
    """One phase of a run, while it lasts: report progress with :meth:`update`."""

    def __init__(
        self, phases: Phases, name: str, total: int | None, unit: str, detail: str
    ) -> None:
        self._phases = phases
        self.name = name
        self.total = total
        self.unit = unit
        self.detail = detail
        self.done = 0

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units of ``total`` (the last total when None); stops a stopped run."""
        check()
        self.done = done
        if total is not None:
            self.total = total
        self._phases.emit(self._event("progress"))

    def advance(self, n: int) -> None:
        """``n`` more units done."""
        self.update(self.done + n)

    def tick(self, done: int, total: int) -> None:
        """:data:`Tick` for code below this layer (the neighbour search)."""
        self.update(done, total)

    def _event(self, state: State) -> PhaseEvent:
        return PhaseEvent(self.name, state, self.done, self.total, self.unit, self.detail)


class Phases:
    """The phases of one run and their observers."""

    def __init__(self, observers: Iterable[Observer | None] = ()) -> None:
        self.observers = [o for o in observers if o is not None]

    @classmethod
    def for_run(cls, observer: Observer | None = None) -> Phases:
        """A new run's phases: a stop asked of an earlier run is forgotten, and the
        test hook of ``REBALANCE_TEST_SIGNAL`` subscribes when it is set."""
        clear_stop()
        return cls([observer, signal_hook_from_env()])

    def emit(self, event: PhaseEvent) -> None:
        for observer in self.observers:
            observer(event)

    @contextmanager
    def phase(
        self, name: str, total: int | None = None, unit: str = "rows", detail: str = ""
    ) -> Iterator[Phase]:
        """Announce ``name``; its end is announced when the block completes (a failing
        run announces no end)."""
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}")
        check()
        current = Phase(self, name, total, unit, detail)
        self.emit(current._event("start"))
        yield current
        self.emit(current._event("end"))

    def committed(self) -> None:
        """Every file of the run is in place (see :func:`mark_committed`)."""
        mark_committed()


def signal_hook_from_env() -> Observer | None:
    """The test hook of ``REBALANCE_TEST_SIGNAL`` (see the module's doc), or None."""
    spec = os.environ.get(TEST_SIGNAL)
    if not spec:
        return None
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in PHASES:
        raise ValueError(f"{TEST_SIGNAL}={spec!r}: expected PHASE:SIGNAL[:N]")
    phase, sig = parts[0], signal.Signals[parts[1]]
    after = int(parts[2]) if len(parts) == 3 else 0
    stamp = os.environ.get(TEST_SIGNAL_STAMP)
    fired: list[bool] = []
    ticks = [0]
    lock = threading.Lock()

    def hook(event: PhaseEvent) -> None:
        if event.phase != phase:
            return
        with lock:
            if fired:
                return
            if after == 0 and event.state != "start":
                return
            if after > 0:
                if event.state != "progress":
                    return
                ticks[0] += 1
                if ticks[0] < after:
                    return
            fired.append(True)
        if stamp:
            with open(stamp, "w") as fh:
                fh.write(f"{time.monotonic()!r}\n")
        os.kill(os.getpid(), sig)

    return hook

"""The progress bar of ``rebalance apply``: the run's phases, on a terminal only.

An observer of :mod:`rebalance_cli.phases`: each phase gets a line of its own while
it lasts (the neighbour search of each grown class too), counting what the phase
counts: output rows while writing, synthesising and shuffling, the class's rows
while its neighbours are found, bytes while stdin is spooled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..phases import Observer, PhaseEvent

if TYPE_CHECKING:
    from rich.console import Console

LABELS = {
    "spool": "reading stdin",
    "read": "reading",
    "count": "counting",
    "plan": "planning",
    "write": "writing",
    "neighbours": "finding neighbours",
    "synthesise": "synthesising",
    "shuffle": "shuffling",
    "commit": "committing",
}


def describe(event: PhaseEvent) -> str:
    """The words a phase is shown with ("finding neighbours of class 'b'")."""
    label = LABELS.get(event.phase, event.phase)
    return f"{label} of {event.detail}" if event.detail else label


def amount(event: PhaseEvent) -> str:
    """How far a phase got: "1,234/5,000 rows", "12.5 MB" (no total: the count alone)."""
    if event.unit == "bytes":
        done = f"{event.done / 1e6:,.1f} MB"
        return done if event.total is None else f"{done}/{event.total / 1e6:,.1f} MB"
    if event.total is None:
        return f"{event.done:,} {event.unit}" if event.done else ""
    return f"{event.done:,}/{event.total:,} {event.unit}"


class PhaseBar:
    """A rich progress display fed by phase events (from any thread)."""

    def __init__(self, console: Console, refresh: bool = True) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            auto_refresh=refresh,
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def __call__(self, event: PhaseEvent) -> None:
        key = (event.phase, event.detail)
        if event.state == "start" or key not in self.tasks:
            if key in self.tasks:  # the same phase again (a second run)
                self.progress.remove_task(self.tasks.pop(key))
            self.tasks[key] = self.progress.add_task(
                describe(event), total=event.total, amount=amount(event)
            )
        task = self.tasks[key]
        if event.state == "end":
            self.progress.remove_task(self.tasks.pop(key))
            return
        self.progress.update(task, completed=event.done, total=event.total, amount=amount(event))


@contextmanager
def phase_bar(console: Console) -> Iterator[Observer]:
    """A :class:`PhaseBar` shown while the block runs (and removed after)."""
    bar = PhaseBar(console)
    with bar.progress:
        yield bar
